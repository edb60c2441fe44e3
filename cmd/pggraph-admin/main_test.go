package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	osuser "os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/internal/cli"
	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/internal/testing/rig"
	"github.com/pggraph/pggraph/metric"
)

// shared is the package's one rig (with a central PostgreSQL that nothing
// has set up), started on first use; TestMain closes it.
var shared = rig.Lazy{Options: rig.Options{Central: true}}

func TestMain(m *testing.M) {
	code := m.Run()
	if err := shared.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close rig:", err)
	}
	os.Exit(code)
}

// central returns the rig; it fails the test, never skips it, when the
// rig cannot start.
func central(t *testing.T) *rig.Rig {
	t.Helper()
	return shared.Get(t)
}

// superEnv points the libpq variables at the central cluster's superuser,
// as an operator's shell would.
func superEnv(t *testing.T, r *rig.Rig) {
	t.Helper()
	t.Setenv("PGHOST", r.Central.Host)
	t.Setenv("PGPORT", strconv.Itoa(r.Central.Port))
	t.Setenv("PGUSER", r.Central.Superuser)
	t.Setenv("PGPASSWORD", r.Central.SuperPassword)
	t.Setenv("PGSSLMODE", "disable")
	t.Setenv("PGDATABASE", "")
	t.Setenv("PGPASSFILE", filepath.Join(t.TempDir(), "none"))
}

// result is what one pggraph-admin run did.
type result struct {
	stdout, stderr string
	err            error
	code           int
}

// admin runs pggraph-admin in-process with args.
func admin(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(t.Context(), args, strings.NewReader(""), &out, &errb)
	return result{out.String(), errb.String(), err, cli.ExitCode(err)}
}

// setUp runs setup once per test binary (the tests share the cluster).
var setUpOnce sync.Once

func setUp(t *testing.T) *rig.Rig {
	t.Helper()
	r := central(t)
	superEnv(t, r)
	setUpOnce.Do(func() {
		if res := admin(t, "setup"); res.err != nil {
			t.Fatalf("setup: %v\n%s", res.err, res.stdout)
		}
	})
	return r
}

// state is what a second setup must leave as it was: roles (with their
// memberships) and every database's schema_version rows.
func state(t *testing.T, r *rig.Rig) string {
	t.Helper()
	ctx := t.Context()
	var b strings.Builder
	for _, db := range []string{"postgres", "pggraph", "pggraph_clients", "pggraph_users"} {
		conn, err := pgx.Connect(ctx, r.Central.ConnString(db))
		if err != nil {
			t.Fatal(err)
		}
		q := `SELECT version || ' ' || name || ' ' || applied::text FROM schema_version ORDER BY 1`
		if db == "postgres" {
			q = `SELECT rolname || ' ' || oid::text || ' ' || rolcanlogin || ' ' || rolsuper FROM pg_roles
			     UNION ALL SELECT roleid::text || ' > ' || member::text FROM pg_auth_members
			     UNION ALL SELECT datname || ' ' || oid::text || ' ' || pg_get_userbyid(datdba) FROM pg_database
			     ORDER BY 1`
		}
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		fmt.Fprintf(&b, "%s:\n%s\n", db, strings.Join(lines, "\n"))
	}
	return b.String()
}

func TestSetup(t *testing.T) {
	r := central(t)
	superEnv(t, r)
	var first result
	setUpOnce.Do(func() { first = admin(t, "setup") })
	if first.stdout == "" {
		t.Fatal("setup already ran: TestSetup must run first")
	}
	if first.err != nil || first.code != 0 {
		t.Fatalf("setup: %v (exit %d)\n%s", first.err, first.code, first.stdout)
	}
	want := []string{
		"role pggraph: created (LOGIN, no password)",
		"role pggraph_web: created (LOGIN, no password)",
		"database pggraph: created (owner pggraph)",
		"database pggraph_clients: created (owner pggraph)",
		"database pggraph_users: created (owner pggraph)",
		"pggraph: applied 0001_init (version 1)",
		"pggraph_clients: applied 0001_init (version 1)",
		"pggraph_clients: applied 0002_alerts (version 2)",
		"pggraph_users: applied 0001_init (version 1)",
		`set passwords in psql: \password pggraph, \password pggraph_web`,
		"  (or ALTER ROLE … PASSWORD, or use peer authentication and ~/.pgpass)",
	}
	if got := lines(first.stdout); !slices.Equal(got, want) {
		t.Errorf("first setup said\n%s\nwant\n%s", first.stdout, strings.Join(want, "\n"))
	}
	if first.stderr != "" {
		t.Errorf("stderr: %q", first.stderr)
	}

	before := state(t, r)
	second := admin(t, "setup")
	if second.err != nil {
		t.Fatalf("second setup: %v", second.err)
	}
	want = []string{
		"role pggraph: exists",
		"role pggraph_web: exists",
		"database pggraph: exists",
		"database pggraph_clients: exists",
		"database pggraph_users: exists",
		"pggraph: up to date (version 1)",
		"pggraph_clients: up to date (version 2)",
		"pggraph_users: up to date (version 1)",
		"nothing to do",
	}
	if got := lines(second.stdout); !slices.Equal(got, want) {
		t.Errorf("second setup said\n%s\nwant\n%s", second.stdout, strings.Join(want, "\n"))
	}
	if after := state(t, r); after != before {
		t.Errorf("second setup changed something:\nbefore\n%s\nafter\n%s", before, after)
	}
}

func lines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

// ownerConfig writes a client's config.ini whose [local] section reaches
// the central cluster as user, and returns its path.
func ownerConfig(t *testing.T, r *rig.Rig, prefix, user, password string) string {
	t.Helper()
	dir := t.TempDir()
	c := config.Default()
	c.Install = config.Install{Directory: dir, WWWPath: "pggraph/" + prefix, Title: "Client " + prefix}
	c.Local = config.Local{Database: "pggraph", Prefix: prefix, Port: r.Central.Port, Host: r.Central.Host, User: user, Password: config.Secret(password)}
	c.Remote.User = "pggraph_mon"
	path := filepath.Join(dir, "config.ini")
	if err := c.Write(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestClientListRemove(t *testing.T) {
	r := setUp(t)
	ctx := t.Context()
	if err := r.Central.Exec(ctx, "postgres", `ALTER ROLE pggraph PASSWORD 'owner-pw'`); err != nil {
		t.Fatal(err)
	}
	// Two clients as the installer and the collector leave them.
	cfg := ownerConfig(t, r, "acme", "pggraph", "owner-pw")
	c, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	groups := []metric.Group{{Name: "table", Columns: []metric.Column{{Name: "seq_scan", Kind: metric.Counter}}}}
	st, err := store.Open(ctx, c.Local, groups)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	started := time.Date(2025, 8, 1, 9, 30, 0, 0, time.UTC)
	for _, cl := range []store.Client{
		{Prefix: "acme", Title: "ACME Corporation", Directory: "/var/www/pggraph/acme", WWWPath: "pggraph/acme"},
		{Prefix: "acme_eu", Title: "ACME Europe\twith a tab", Directory: "/var/www/pggraph/acme_eu"},
	} {
		if err := st.RegisterClient(ctx, cl); err != nil {
			t.Fatal(err)
		}
		if err := st.EnsureClient(ctx, cl.Prefix); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.RecordRun(ctx, "acme", metric.RunRecord{Started: started, Duration: 2345 * time.Millisecond, Outcome: metric.OK, Samples: 42}); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordRun(ctx, "handmade", metric.RunRecord{Started: started, Outcome: metric.Failed, Error: "tunnel: dial 203.0.113.5:22: connection refused"}); err != nil {
		t.Fatal(err)
	}

	t.Setenv("TZ", "UTC")
	list := admin(t, "client", "list")
	if list.err != nil {
		t.Fatalf("client list: %v", list.err)
	}
	got := lines(list.stdout)
	if len(got) != 4 || !strings.HasPrefix(got[0], "PREFIX") {
		t.Fatalf("client list:\n%s", list.stdout)
	}
	// Aligned: every column starts at the same offset on every line.
	col := strings.Index(got[0], "DIRECTORY")
	for _, want := range []struct{ line, dir string }{{got[1], "/var/www/pggraph/acme "}, {got[2], "/var/www/pggraph/acme_eu"}, {got[3], "- "}} {
		if !strings.HasPrefix(want.line[col:], want.dir) {
			t.Errorf("column DIRECTORY not aligned:\n%s", list.stdout)
		}
	}
	for i, want := range []*regexp.Regexp{
		regexp.MustCompile(`^acme +ACME Corporation +/var/www/pggraph/acme +2025-08-01 09:30 \(2\.3s\) +ok, 42 samples$`),
		regexp.MustCompile(`^acme_eu +ACME Europe with a tab +/var/www/pggraph/acme_eu +never +-$`),
		regexp.MustCompile(`^handmade +handmade +- +2025-08-01 09:30 \(0\.0s\) +failed: tunnel: dial 203\.0\.113\.5:22: connection refused$`),
	} {
		if !want.MatchString(got[i+1]) {
			t.Errorf("line %d = %q, want %s", i+1, got[i+1], want)
		}
	}

	// Removing acme leaves acme_eu, whose prefix extends acme's, alone.
	rm := admin(t, "client", "remove", "acme")
	if rm.err != nil {
		t.Fatalf("client remove: %v\n%s", rm.err, rm.stdout)
	}
	wantOut := []string{
		"acme: dropped table pggraph.acme_event",
		"acme: dropped table pggraph.acme_object",
		"acme: dropped table pggraph.acme_state",
		"acme: dropped table pggraph.acme_table",
		"acme: dropped table pggraph.acme_table_day",
		"acme: dropped table pggraph.acme_table_hour",
		"acme: deleted its row in pggraph_clients.clients",
		"acme: web users in pggraph_users.client_users are kept",
	}
	if got := lines(rm.stdout); !slices.Equal(got, wantOut) {
		t.Errorf("client remove said\n%s\nwant\n%s", rm.stdout, strings.Join(wantOut, "\n"))
	}
	conn, err := pgx.Connect(ctx, r.Central.ConnString("pggraph"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT relname::text FROM pg_class WHERE relname LIKE 'acme%' AND relkind = 'r' ORDER BY 1`)
	left, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"acme_eu_event", "acme_eu_object", "acme_eu_state", "acme_eu_table", "acme_eu_table_day", "acme_eu_table_hour"}; !slices.Equal(left, want) {
		t.Errorf("tables left %v, want %v", left, want)
	}
	if list := admin(t, "client", "list"); strings.Contains(list.stdout, "acme ") || !strings.Contains(list.stdout, "acme_eu") {
		t.Errorf("client list after remove:\n%s", list.stdout)
	}

	again := admin(t, "client", "remove", "acme")
	if again.code != 1 || again.err == nil || !strings.HasPrefix(again.err.Error(), "client remove: ") || !strings.Contains(again.err.Error(), "no such client") {
		t.Errorf("second remove: exit %d, %v", again.code, again.err)
	}

	// A client whose collection runs is not removed.
	unlock, err := st.Lock(ctx, "acme_eu")
	if err != nil {
		t.Fatal(err)
	}
	locked := admin(t, "client", "remove", "acme_eu")
	unlock()
	if locked.code != 1 || !strings.Contains(fmt.Sprint(locked.err), metric.ErrLocked.Error()) {
		t.Errorf("remove while collecting: exit %d, %v", locked.code, locked.err)
	}
}

func TestConfigFlag(t *testing.T) {
	r := setUp(t)
	// The environment points nowhere: only the config is used.
	t.Setenv("PGHOST", "127.0.0.1")
	t.Setenv("PGPORT", "1")
	cfg := ownerConfig(t, r, "viaconfig", r.Central.Superuser, r.Central.SuperPassword)
	res := admin(t, "setup", "-config", cfg)
	if res.err != nil || !strings.Contains(res.stdout, "nothing to do") {
		t.Errorf("setup -config: %v\n%s", res.err, res.stdout)
	}
	res = admin(t, "client", "list", "--config", filepath.Dir(cfg))
	if res.err != nil {
		t.Errorf("client list --config DIR: %v", res.err)
	}
	// The environment alone fails: exit 1, naming where, never the password.
	res = admin(t, "client", "list")
	if res.code != 1 || !strings.Contains(fmt.Sprint(res.err), "127.0.0.1:1 database pggraph as postgres") {
		t.Errorf("client list against a closed port: exit %d, %v", res.code, res.err)
	}
	if strings.Contains(fmt.Sprint(res.err), r.Central.SuperPassword) {
		t.Errorf("error shows the password: %v", res.err)
	}
}

func TestUsage(t *testing.T) {
	setUp(t)
	tests := []struct {
		name string
		args []string
		code int
		want string // in the error, or in stdout for code 0
	}{
		{"no command", nil, 2, "no command"},
		{"unknown", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"user alone", []string{"user"}, 2, "user: want add, passwd, del, list or import"},
		{"user unknown", []string{"user", "rename"}, 2, `unknown command "user rename"`},
		{"client alone", []string{"client"}, 2, "client: want list or remove"},
		{"client unknown", []string{"client", "rename"}, 2, `unknown command "client rename"`},
		{"remove no prefix", []string{"client", "remove"}, 2, "client remove: want one client PREFIX"},
		{"remove two", []string{"client", "remove", "a", "b"}, 2, "client remove: want one client PREFIX"},
		{"remove bad prefix", []string{"client", "remove", "Acme"}, 2, "client remove: client \"Acme\": prefix must match"},
		{"remove dash", []string{"client", "remove", "a-b"}, 2, "prefix must match"},
		{"setup extra", []string{"setup", "now"}, 2, `setup: unexpected argument "now"`},
		{"bad flag", []string{"setup", "-force"}, 2, "setup: flag provided but not defined: -force"},
		{"missing config", []string{"setup", "-config", "/nonexistent/config.ini"}, 2, "setup: config /nonexistent/config.ini"},
		{"help", []string{"-h"}, 0, "usage:"},
		{"sub help", []string{"client", "list", "-h"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := admin(t, tt.args...)
			if res.code != tt.code {
				t.Fatalf("exit %d, want %d (%v)", res.code, tt.code, res.err)
			}
			if tt.code == 0 {
				if !strings.Contains(res.stdout, tt.want) {
					t.Errorf("stdout %q, want %q", res.stdout, tt.want)
				}
				return
			}
			msg := "pggraph-admin: " + cli.OneLine(res.err)
			if !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("message %q, want one line with %q", msg, tt.want)
			}
		})
	}
}

func TestShorten(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"a\tb\nc", 10, "a b c"},
		{"0123456789", 5, "0123…"},
		{"ÄÖÜäöü", 4, "ÄÖÜ…"},
	} {
		if got := shorten(tc.in, tc.n); got != tc.want {
			t.Errorf("shorten(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// TestLoginHint: when the server refuses the login itself (SQLSTATE
// 28000: no such role, as for root on Debian, or failed peer
// authentication), every subcommand's one-line error says how to reach
// the server instead; other connection failures do not.
func TestLoginHint(t *testing.T) {
	r := setUp(t)
	me, err := osuser.Current()
	if err != nil {
		t.Fatal(err)
	}
	// pggraph_peer may log in over the socket only by peer authentication,
	// which this test's OS user (root) cannot pass, as on Debian's
	// "local all all peer". The server restarts to load the line.
	if err := r.Central.Exec(t.Context(), "postgres", `DROP ROLE IF EXISTS pggraph_peer; CREATE ROLE pggraph_peer LOGIN`); err != nil {
		t.Fatal(err)
	}
	hba := filepath.Join(r.Central.DataDir, "pg_hba.conf")
	orig, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(hba, orig, 0o600); err != nil {
			t.Error(err)
		}
		if err := r.Central.Exec(context.Background(), "postgres", `SELECT pg_reload_conf()`); err != nil {
			t.Error(err)
		}
	})
	if err := os.WriteFile(hba, append([]byte("local all pggraph_peer peer\n"), orig...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Central.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := r.Central.Start(t.Context()); err != nil {
		t.Fatal(err)
	}

	// A config.ini whose [local] section names a role the server lacks,
	// over the socket.
	cfg := ownerConfig(t, r, "hint", "no_such_role", "")
	c, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Local.Host = r.Central.SocketDir
	if err := c.Write(cfg); err != nil {
		t.Fatal(err)
	}

	const envHint = "; run it as the postgres user (sudo -u postgres pggraph-admin …) or point it at the server with PGUSER/PGHOST or -config FILE"
	noRole := fmt.Sprintf(`FATAL: role "%s" does not exist (SQLSTATE 28000)`, me.Username)
	peer := `FATAL: Peer authentication failed for user "pggraph_peer" (SQLSTATE 28000)`
	every := [][]string{
		{"setup"}, {"client", "list"}, {"client", "remove", "acme"},
		{"user", "add", "-stdin", "acme", "carol"}, {"user", "passwd", "-stdin", "carol"}, {"user", "del", "carol"},
		{"user", "list"}, {"user", "import", "acme", "-"},
	}
	tests := []struct {
		name     string
		env      map[string]string // "" unsets
		commands [][]string
		want     string // the end of the message
	}{
		{"as root", map[string]string{"PGUSER": ""}, every, noRole + envHint},
		{"peer refused", map[string]string{"PGUSER": "pggraph_peer"}, every, peer + envHint},
		{"config names no role", nil, [][]string{{"setup", "-config", cfg}, {"client", "list", "-config", cfg}, {"user", "list", "-config", cfg}},
			`FATAL: role "no_such_role" does not exist (SQLSTATE 28000); check [local] user and host in ` + cfg},
		{"wrong password", map[string]string{"PGHOST": r.Central.Host, "PGUSER": "postgres", "PGPASSWORD": "wrong"}, [][]string{{"setup"}, {"user", "list"}},
			`FATAL: password authentication failed for user "postgres" (SQLSTATE 28P01)`},
		{"closed port", map[string]string{"PGHOST": r.Central.Host, "PGPORT": "1"}, [][]string{{"client", "list"}},
			"connect: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			superEnv(t, r)
			t.Setenv("PGHOST", r.Central.SocketDir)
			t.Setenv("PGPASSWORD", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
				if v == "" {
					os.Unsetenv(k)
				}
			}
			for _, args := range tt.commands {
				res := adminIn(t, "pw-of-carol\n", args...)
				msg := "pggraph-admin: " + cli.OneLine(res.err)
				if res.code != 1 || !strings.HasSuffix(msg, tt.want) || strings.Contains(msg, "\n") {
					t.Errorf("%s: exit %d, message\n%s\nwant exit 1 and one line ending in\n%s", strings.Join(args, " "), res.code, msg, tt.want)
				}
			}
		})
	}
}

// TestAlertsClientNamedLikeASubcommand: `alerts check` and `alerts test`
// are subcommands, so a client named check is listed with `alerts --
// check`; plain `alerts` lists every client's.
func TestAlertsClientNamedLikeASubcommand(t *testing.T) {
	r := setUp(t)
	ctx := t.Context()
	if err := r.Central.Exec(ctx, "pggraph_clients", `
INSERT INTO clients (prefix, title) VALUES ('check', 'Check Ltd'), ('acmealerts', 'ACME') ON CONFLICT DO NOTHING;
INSERT INTO alert_state (prefix, check_name, object, state, text, since, updated) VALUES
  ('check', 'collection', '', 'CRITICAL', 'collection failed: tunnel down', now(), now()),
  ('acmealerts', 'collection', '', 'WARNING', 'collection slow', now(), now())
ON CONFLICT DO NOTHING`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string // clients listed
	}{
		{"every client", []string{"alerts"}, []string{"check", "acmealerts"}},
		{"the client check", []string{"alerts", "--", "check"}, []string{"check"}},
		{"another client", []string{"alerts", "acmealerts"}, []string{"acmealerts"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := admin(t, tc.args...)
			if res.err != nil {
				t.Fatalf("%v\n%s", res.err, res.stderr)
			}
			var got []string
			for _, l := range lines(res.stdout)[1:] {
				got = append(got, strings.Fields(l)[0])
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("listed %q, want %q\n%s", got, tc.want, res.stdout)
			}
		})
	}
}
