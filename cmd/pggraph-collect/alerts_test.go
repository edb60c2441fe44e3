package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/alert"
	"github.com/pggraph/pggraph/internal/cli"
	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// mailbox is a local user's mailbox on the test host's real MTA (exim4,
// local delivery only): a system user of its own per test, so that tests
// running at once never read each other's mail.
type mailbox struct {
	user, path string
}

func newMailbox(t *testing.T) *mailbox {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	user := "pgam" + hex.EncodeToString(b)
	// exim delivers as the user, who must reach its home: t.TempDir's
	// parent is private.
	home, err := os.MkdirTemp("", "pggraph-mailbox-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("useradd", "--system", "--create-home", "--home-dir", filepath.Join(home, "h"), "--shell", "/usr/sbin/nologin", user).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v: %s", user, err, out)
	}
	m := &mailbox{user: user, path: filepath.Join("/var/mail", user)}
	t.Cleanup(func() {
		for range 50 { // exim's delivery process may still run as the user
			if exec.Command("userdel", user).Run() == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		os.Remove(m.path)
		os.RemoveAll(home)
		// Drop what exim could not deliver to the user, if anything.
		if ids, err := exec.Command("exiqgrep", "-i", "-r", user).Output(); err == nil {
			for _, id := range strings.Fields(string(ids)) {
				exec.Command("exim", "-Mrm", id).Run()
			}
		}
	})
	return m
}

func (m *mailbox) addr() string { return m.user + "@localhost" }

// messages returns the mailbox's messages (mbox format).
func (m *mailbox) messages(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(m.path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, msg := range strings.Split(string(b), "\nFrom ") {
		if strings.TrimSpace(msg) != "" {
			out = append(out, msg)
		}
	}
	return out
}

// expect waits until the mailbox holds n messages (exim delivers in the
// background, right after sendmail returns), then checks that no more
// arrive, and returns their subjects.
func (m *mailbox) expect(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for len(m.messages(t)) < n && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	msgs := m.messages(t)
	var subjects []string
	for _, msg := range msgs {
		for _, line := range strings.Split(msg, "\n") {
			if s, ok := strings.CutPrefix(line, "Subject: "); ok {
				subjects = append(subjects, s)
				break
			}
		}
	}
	if len(msgs) != n {
		t.Fatalf("mailbox %s holds %d messages, want %d: %q", m.user, len(msgs), n, subjects)
	}
	return subjects
}

// collectEnv runs pggraph-collect with env and fails the test unless it
// succeeds; it returns how long the run took.
func collectEnv(t *testing.T, env map[string]string, args ...string) time.Duration {
	t.Helper()
	var o, e bytes.Buffer
	start := time.Now()
	err := run(t.Context(), args, &o, &e, func(k string) string { return env[k] })
	if code := cli.ExitCode(err); code != 0 {
		t.Fatalf("pggraph-collect %v: exit %d\n%s%s", args, code, o.String(), e.String())
	}
	return time.Since(start)
}

func levels(t *testing.T, s string) metric.Levels {
	t.Helper()
	l, err := metric.ParseLevels(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// idleInTransaction opens n sessions of db idle in a transaction until
// the test ends or close is called.
func idleInTransaction(t *testing.T, connString string, n int) (close func()) {
	t.Helper()
	var conns []*pgx.Conn
	for range n {
		c, err := pgx.Connect(t.Context(), connString)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(t.Context(), "BEGIN; SELECT 1"); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	close = func() {
		for _, c := range conns {
			c.Close(t.Context())
		}
		conns = nil
	}
	t.Cleanup(close)
	return close
}

// TestAlertMail: a real workload drives a check WARNING, CRITICAL and
// back; one mail per change lands in a local mailbox, none for runs that
// change nothing; after = 3 lets two samples beyond pass.
func TestAlertMail(t *testing.T) {
	r := env(t)
	box := newMailbox(t)
	remoteExec(t, r, "postgres", "CREATE DATABASE alertdb")
	write := func(after int) string {
		return clientConfig(t, r, filepath.Join(os.TempDir(), "pggraph-alertmail-"+box.user), "alertmail", func(c *config.Config) {
			c.Remote.Databases = []string{"alertdb"}
			c.Alerts.Mail, c.Alerts.After = box.addr(), after
			c.Alerts.Levels = map[string]metric.Levels{"activity.sessions_idle_in_transaction": levels(t, ":1 :3")}
		})
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Join(os.TempDir(), "pggraph-alertmail-"+box.user)) })
	path := write(1)
	conn := r.PG.ConnString("alertdb")
	mustCollect(t, path) // primes
	mustCollect(t, path)
	box.expect(t, 0)

	closeTwo := idleInTransaction(t, conn, 2)
	mustCollect(t, path)
	subjects := box.expect(t, 1)
	if want := "[pggraph] alertmail: WARNING activity.sessions_idle_in_transaction on database alertdb = 2 (warning :1)"; subjects[0] != want {
		t.Errorf("subject %q\nwant %q", subjects[0], want)
	}
	closeTwoMore := idleInTransaction(t, conn, 2)
	mustCollect(t, path)
	mustCollect(t, path)
	subjects = box.expect(t, 2)
	if want := "[pggraph] alertmail: CRITICAL activity.sessions_idle_in_transaction on database alertdb = 4 (critical :3)"; subjects[1] != want {
		t.Errorf("subject %q\nwant %q", subjects[1], want)
	}
	closeTwo()
	closeTwoMore()
	mustCollect(t, path)
	subjects = box.expect(t, 3)
	if want := "[pggraph] alertmail: RECOVERED activity.sessions_idle_in_transaction on database alertdb = 0 (was CRITICAL)"; subjects[2] != want {
		t.Errorf("subject %q\nwant %q", subjects[2], want)
	}

	path = write(3)
	idleInTransaction(t, conn, 2)
	mustCollect(t, path)
	mustCollect(t, path)
	box.expect(t, 3)
	mustCollect(t, path)
	subjects = box.expect(t, 4)
	if !strings.HasPrefix(subjects[3], "[pggraph] alertmail: WARNING activity.sessions_idle_in_transaction") {
		t.Errorf("subject %q, want the WARNING after three samples", subjects[3])
	}

	// Each change is also an event of the client, marked on its graphs.
	_, st := openStore(t, path)
	evs, err := st.Events(t.Context(), store.EventQuery{Prefix: "alertmail", From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Minute), Kind: metric.EventAlert})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		before, _, _ := strings.Cut(e.Detail, ":")
		got = append(got, e.Object+" "+before)
	}
	const obj = "activity.sessions_idle_in_transaction on database alertdb "
	if want := []string{obj + "OK → WARNING", obj + "WARNING → CRITICAL", obj + "CRITICAL → OK", obj + "OK → WARNING"}; !slices.Equal(got, want) {
		t.Errorf("alert events %q\nwant %q", got, want)
	}
}

// TestAlertHostDown: the db host's sshd stopped gives one collection
// alert and nothing else, however many runs fail; restarted, RECOVERED.
func TestAlertHostDown(t *testing.T) {
	r := env(t)
	box := newMailbox(t)
	path := clientConfig(t, r, t.TempDir(), "alertdown", func(c *config.Config) {
		c.Remote.Databases = []string{"postgres"}
		c.Alerts.Mail, c.Alerts.After = box.addr(), 1
		// Always WARNING: it must not change while the host is down.
		c.Alerts.Levels = map[string]metric.Levels{"server.max_connections": levels(t, ":1 -")}
	})
	mustCollect(t, path)
	mustCollect(t, path)
	box.expect(t, 1)
	if err := r.DBHost.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			r.DBHost.Start(t.Context())
		}
	})
	for range 3 {
		if code, _, _ := collect(t, path); code != 1 {
			t.Fatalf("exit %d with the db host down, want 1", code)
		}
	}
	subjects := box.expect(t, 2)
	if !strings.HasPrefix(subjects[1], "[pggraph] alertdown: CRITICAL collection failed: tunnel: ") {
		t.Errorf("subject %q, want the collection alert", subjects[1])
	}
	if err := r.DBHost.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	restarted = true
	mustCollect(t, path)
	subjects = box.expect(t, 3)
	if want := "[pggraph] alertdown: RECOVERED collection ok (was CRITICAL)"; subjects[2] != want {
		t.Errorf("subject %q, want %q", subjects[2], want)
	}
}

// TestAlertUndeliverable: with the MTA missing, a command failing or a
// command hanging, the collection succeeds within the delivery deadline;
// the notification arrives once the MTA is back or the command fixed, and
// never twice.
func TestAlertUndeliverable(t *testing.T) {
	r := env(t)
	box := newMailbox(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "notify")
	got := filepath.Join(dir, "got")
	setScript := func(body string) {
		if err := os.WriteFile(script, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path := clientConfig(t, r, dir, "alertpend", func(c *config.Config) {
		c.Remote.Databases = []string{"postgres"}
		c.Alerts.Mail, c.Alerts.Command, c.Alerts.After = box.addr(), script, 1
		c.Alerts.Levels = map[string]metric.Levels{"server.max_connections": levels(t, ":1 -")}
	})
	noMTA := map[string]string{"PGGRAPH_SENDMAIL": filepath.Join(dir, "no-such-sendmail")}
	lines := func() int {
		b, _ := os.ReadFile(got)
		return strings.Count(string(b), "\n")
	}
	const budget = 10 * time.Second // the run itself, plus the 5 s delivery deadline at most

	setScript("exit 1")
	collectEnv(t, noMTA, path) // primes
	if d := collectEnv(t, noMTA, path); d > budget {
		t.Errorf("run took %v with no MTA and a failing command", d)
	}
	box.expect(t, 0)

	setScript("sleep 60")
	if d := collectEnv(t, noMTA, path); d > budget {
		t.Errorf("run took %v with a hanging command, want the delivery cut at its deadline", d)
	}
	box.expect(t, 0)

	setScript(`printf '%s %s %s\n' "$PGGRAPH_CHECK" "$PGGRAPH_STATE" "$PGGRAPH_PREVIOUS" >> ` + got)
	collectEnv(t, nil, path)
	subjects := box.expect(t, 1)
	if !strings.HasPrefix(subjects[0], "[pggraph] alertpend: WARNING server.max_connections = ") {
		t.Errorf("subject %q", subjects[0])
	}
	if n := lines(); n != 1 {
		t.Errorf("command ran %d times, want 1", n)
	}
	collectEnv(t, nil, path)
	box.expect(t, 1)
	if b, _ := os.ReadFile(got); string(b) != "server.max_connections WARNING OK\n" {
		t.Errorf("command saw %q", b)
	}
}

// TestAlertHostileNames: database names from the client's server reach
// neither a shell nor a mail header: one recipient, names escaped.
func TestAlertHostileNames(t *testing.T) {
	r := env(t)
	box := newMailbox(t)
	marker := filepath.Join(t.TempDir(), "ran")
	names := []string{`quo"te'd`, "$(touch " + marker + ")", "x\nBcc: someone@example.com"}
	for _, n := range names {
		remoteExec(t, r, "postgres", "CREATE DATABASE "+pgx.Identifier{n}.Sanitize())
	}
	dir := t.TempDir()
	env := filepath.Join(dir, "env")
	script := filepath.Join(dir, "notify")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf '%s\\n' \"$PGGRAPH_OBJECT\" >> "+env+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := clientConfig(t, r, dir, "alerthostile", func(c *config.Config) {
		c.Remote.Databases = nil // every database: a line break cannot be written in config.ini
		c.Alerts.Mail, c.Alerts.Command, c.Alerts.After = box.addr(), script, 1
		c.Alerts.Levels = map[string]metric.Levels{"database.size": levels(t, ":1 -")}
	})
	mustCollect(t, path)
	mustCollect(t, path)
	box.expect(t, 1)
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("a database name ran as a command")
	}
	msg := box.messages(t)[0]
	head, body, _ := strings.Cut(msg, "\n\n")
	for _, line := range strings.Split(head, "\n") {
		if strings.HasPrefix(strings.ToLower(line), "bcc:") || strings.HasPrefix(strings.ToLower(line), "cc:") {
			t.Errorf("header %q", line)
		}
	}
	for _, want := range []string{`database "quo\"te'd"`, `database "$(touch ` + marker + `)"`, `database "x\nBcc: someone@example.com"`} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %s:\n%s", want, body)
		}
	}
	b, _ := os.ReadFile(env)
	if !strings.Contains(string(b), `database "x\nBcc: someone@example.com"`) {
		t.Errorf("command saw PGGRAPH_OBJECT %q", b)
	}
	log, _ := os.ReadFile("/var/log/exim4/mainlog")
	if strings.Contains(string(log), "someone@example.com") {
		t.Errorf("exim was asked to deliver to someone@example.com")
	}
}

// TestAlertStale: a client whose collections stopped goes stale within
// three intervals, raised by another client's pggraph-collect -all (as by
// pggraph-admin alerts check), once.
func TestAlertStale(t *testing.T) {
	r := env(t)
	box := newMailbox(t)
	root := t.TempDir()
	clientConfig(t, r, root, "stalebusy", func(c *config.Config) { c.Remote.Databases = []string{"postgres"} })
	stopped := clientConfig(t, r, t.TempDir(), "stalestop", func(c *config.Config) {
		c.Remote.Databases = []string{"postgres"}
		c.Alerts.Mail = box.addr()
	})
	mustCollect(t, stopped)
	conn, err := pgx.Connect(t.Context(), r.Central.ConnString("pggraph_clients"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	// Its install directory, and a last success 29 minutes ago: under
	// three intervals of 10 minutes.
	if _, err := conn.Exec(t.Context(), `UPDATE clients SET directory = $1, last_ok = now() - interval '29 minutes' WHERE prefix = 'stalestop'`, filepath.Dir(stopped)); err != nil {
		t.Fatal(err)
	}
	collectEnv(t, nil, "-all", root)
	box.expect(t, 0)
	if _, err := conn.Exec(t.Context(), `UPDATE clients SET last_ok = now() - interval '31 minutes' WHERE prefix = 'stalestop'`); err != nil {
		t.Fatal(err)
	}
	collectEnv(t, nil, "-all", root)
	collectEnv(t, nil, "-all", root)
	subjects := box.expect(t, 1)
	if !strings.HasPrefix(subjects[0], "[pggraph] stalestop: CRITICAL stale = 3.1 intervals (critical :3.0 intervals): last successful run ") {
		t.Errorf("subject %q", subjects[0])
	}
	mustCollect(t, stopped)
	collectEnv(t, nil, "-all", root)
	subjects = box.expect(t, 2)
	if !strings.HasPrefix(subjects[1], "[pggraph] stalestop: RECOVERED stale = 0.0 intervals (was CRITICAL)") {
		t.Errorf("subject %q", subjects[1])
	}
}

// TestAlertRepeat: with repeat = 30 minutes, a check that stays WARNING
// is mailed once on its change, then once every 30 minutes of the
// runs' clock, through the real store and MTA; its recovery once.
func TestAlertRepeat(t *testing.T) {
	r := env(t)
	box := newMailbox(t)
	root := filepath.Join(os.TempDir(), "pggraph-alertrepeat-"+box.user)
	t.Cleanup(func() { os.RemoveAll(root) })
	path := clientConfig(t, r, root, "alertrepeat", func(c *config.Config) {
		c.Alerts.Mail, c.Alerts.After, c.Alerts.Repeat = box.addr(), 1, 30*time.Minute
		c.Alerts.Levels = map[string]metric.Levels{"database.numbackends": levels(t, ":1 -")}
	})
	mustCollect(t, path) // registers the client (primed: no alerts)
	cfg, st := openStore(t, path)
	g, _ := metric.GroupByName("database")
	sample := func(n float64) metric.Sample {
		v := make([]float64, len(g.Columns))
		for i, c := range g.Columns {
			v[i] = math.NaN()
			if c.Name == "numbackends" {
				v[i] = n
			}
		}
		return metric.Sample{Group: "database", Key: "16384", Name: "app", Seconds: 600, Values: v}
	}
	t0 := time.Now().Truncate(time.Minute)
	// A run every 10 minutes: the change at 0, reminders at 30 and 60,
	// none between, the recovery at 70.
	for i, want := range []int{1, 1, 1, 2, 2, 2, 3, 4} {
		n := 5.0
		if i == 7 {
			n = 0
		}
		now := t0.Add(time.Duration(i) * 10 * time.Minute)
		if _, err := alert.AfterRun(t.Context(), st, cfg, alert.Run{Groups: []metric.Group{g}, Samples: []metric.Sample{sample(n)}},
			alert.Options{Now: func() time.Time { return now }}); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		box.expect(t, want)
	}
	subjects := box.expect(t, 4)
	for i, want := range []string{
		"[pggraph] alertrepeat: WARNING database.numbackends on database app = 5 (warning :1)",
		"[pggraph] alertrepeat: still WARNING database.numbackends on database app = 5 (warning :1)",
		"[pggraph] alertrepeat: still WARNING database.numbackends on database app = 5 (warning :1)",
		"[pggraph] alertrepeat: RECOVERED database.numbackends on database app = 0 (was WARNING)",
	} {
		if subjects[i] != want {
			t.Errorf("message %d: %q\nwant %q", i+1, subjects[i], want)
		}
	}
}
