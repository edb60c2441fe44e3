package installer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/internal/testing/centraltest"
	"github.com/pggraph/pggraph/internal/testing/rig"
	"github.com/pggraph/pggraph/tunnel"
)

var update = flag.Bool("update", false, "rewrite testdata/acme.ini from the test's output")

// shared is the package's one rig, with a central PostgreSQL.
var shared = rig.Lazy{Options: rig.Options{Central: true}}

// centralPassword is role pggraph's password on the rig's central server.
const centralPassword = "central-pw-Inst4"

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if err := shared.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close rig:", err)
	}
	os.Exit(code)
}

// central sets the central databases up once per test binary.
var centralSetup centraltest.Once

// env is the rig with its central databases set up.
func env(t testing.TB) *rig.Rig {
	t.Helper()
	return centralSetup.Do(t, shared.Get(t), centralPassword)
}

// fixture is one install's inputs.
type fixture struct {
	root, dir, known, answers, cgi string
	// none is a path where nothing is: the install's cron.d file and
	// log directory, so that this host's do not count.
	none     string
	defaults *config.Config
}

// newFixture writes an answers file for prefix under a new root; edit may
// change the answers text.
func newFixture(t *testing.T, r *rig.Rig, prefix string, centralPort int, edit func(string) string) fixture {
	t.Helper()
	root := t.TempDir()
	f := fixture{root: root, dir: filepath.Join(root, "www", prefix), known: filepath.Join(root, "ssh", "known_hosts"),
		answers: filepath.Join(root, "answers.ini"), cgi: filepath.Join(root, "_main", "pggraph.cgi"), none: filepath.Join(root, "none")}
	if err := os.MkdirAll(filepath.Join(root, "www"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.defaults = config.Default()
	f.defaults.SSH.KnownHosts = f.known
	text := fmt.Sprintf(`[install]
directory = %s
www_path  = pggraph/%s
title     = %s Corporation

[local]
prefix   = %s
port     = %d
host     = 127.0.0.1
password = %s

[remote]
user       = %s
password   = %s
local_port = 7555

[ssh]
user         = %s
keyfile      = %s
server       = 127.0.0.1
port         = %d
bind_port    = %d
bind_address = 127.0.0.1
`, f.dir, prefix, strings.ToUpper(prefix), prefix, centralPort, centralPassword, r.PG.MonitorUser, r.PG.MonitorPassword,
		r.User, r.Keys.ED25519, r.DBHost.Port, r.PG.Port)
	if edit != nil {
		text = edit(text)
	}
	if err := os.WriteFile(f.answers, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// run loads the answers file and installs from it; an answers file that
// does not load is an error of run, as it is of pggraph-install.
func (f fixture) run(t *testing.T, trust bool) (*config.Config, string, error) {
	t.Helper()
	a, err := LoadAnswers(f.answers)
	if err != nil {
		return nil, "", err
	}
	a.TrustHostKeys = trust
	var out bytes.Buffer
	c, err := Run(t.Context(), Options{Prompter: a, MainCGI: f.cgi, Stdout: &out, Defaults: f.defaults, CronFile: f.none, LogDir: f.none})
	return c, out.String(), err
}

// openCentral connects to the rig's central samples database as pggraph.
func openCentral(t *testing.T, r *rig.Rig) *store.Store {
	t.Helper()
	l := config.Default().Local
	l.Host, l.Port, l.Password = "127.0.0.1", r.Central.Port, centralPassword
	s, err := store.Open(t.Context(), l, nil)
	if err != nil {
		t.Fatalf("open central: %v", err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func clientRow(t *testing.T, r *rig.Rig, prefix string) (store.Client, bool) {
	t.Helper()
	cl, err := openCentral(t, r).ListClients(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cl {
		if c.Prefix == prefix {
			return c, true
		}
	}
	return store.Client{}, false
}

func tableExists(t *testing.T, r *rig.Rig, table string) bool {
	t.Helper()
	// Exec with a query that fails when the table is missing.
	err := r.Central.Exec(t.Context(), "pggraph", "SELECT 1 FROM "+table+" LIMIT 0")
	return err == nil
}

// checkInstalled checks everything an install of prefix leaves behind.
func checkInstalled(t *testing.T, r *rig.Rig, f fixture, prefix string) {
	t.Helper()
	st, err := os.Stat(f.dir)
	if err != nil || !st.IsDir() || st.Mode().Perm() != 0o755 {
		t.Fatalf("install directory: %v %v", st, err)
	}
	ini := filepath.Join(f.dir, "config.ini")
	st, err = os.Stat(ini)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config.ini: %v %v", st, err)
	}
	got, err := os.ReadFile(ini)
	if err != nil {
		t.Fatal(err)
	}
	// The golden file holds placeholders for what differs per run.
	repl := strings.NewReplacer(f.dir, "@DIR@", f.known, "@KNOWN@", r.Keys.ED25519, "@KEY@", centralPassword, "@CENTRALPW@",
		r.PG.MonitorPassword, "@MONPW@", r.User, "@SSHUSER@", r.PG.MonitorUser, "@MONUSER@",
		"port          = "+strconv.Itoa(r.DBHost.Port), "port          = @SSHPORT@",
		"port      = "+strconv.Itoa(r.DBHost.Port), "port      = @SSHPORT@")
	norm := repl.Replace(string(got))
	norm = strings.ReplaceAll(norm, strconv.Itoa(r.Central.Port), "@CENTRALPORT@")
	norm = strings.ReplaceAll(norm, strconv.Itoa(r.PG.Port), "@PGPORT@")
	norm = strings.ReplaceAll(norm, strconv.Itoa(r.DBHost.Port), "@SSHPORT@")
	norm = strings.ReplaceAll(norm, prefix, "@PREFIX@")
	golden := filepath.Join("testdata", "acme.ini")
	if *update {
		if err := os.WriteFile(golden, []byte(norm), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if norm != string(want) {
		t.Errorf("config.ini differs from %s:\n--- got\n%s\n--- want\n%s", golden, norm, want)
	}
	if _, err := config.Load(ini); err != nil {
		t.Errorf("config.ini does not load: %v", err)
	}
	if l, err := os.Readlink(filepath.Join(f.dir, "index.cgi")); err != nil || l != f.cgi {
		t.Errorf("index.cgi -> %q (%v), want %q", l, err, f.cgi)
	}
	if !tableExists(t, r, prefix+"_object") {
		t.Errorf("table %s_object missing", prefix)
	}
	row, ok := clientRow(t, r, prefix)
	if !ok {
		t.Fatalf("no clients row for %s", prefix)
	}
	if row.Directory != f.dir || row.WWWPath != "pggraph/"+prefix || row.Title != strings.ToUpper(prefix)+" Corporation" {
		t.Errorf("clients row = %+v", row)
	}
}

// checkNothing checks that a failed install of prefix left nothing behind.
func checkNothing(t *testing.T, r *rig.Rig, f fixture, prefix string) {
	t.Helper()
	if _, err := os.Lstat(f.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("install directory %s left behind (%v)", f.dir, err)
	}
	if tableExists(t, r, prefix+"_object") {
		t.Errorf("table %s_object left behind", prefix)
	}
	if _, ok := clientRow(t, r, prefix); ok {
		t.Errorf("clients row %s left behind", prefix)
	}
}

func TestAnswersInstall(t *testing.T) {
	r := env(t)
	t.Cleanup(func() { removeClient(t, r, "acme") })
	f := newFixture(t, r, "acme", r.Central.Port, nil)
	c, out, err := f.run(t, true)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	checkInstalled(t, r, f, "acme")
	if c.Path != filepath.Join(f.dir, "config.ini") {
		t.Errorf("Path = %q", c.Path)
	}
	kh, err := os.ReadFile(f.known)
	if err != nil || !strings.Contains(string(kh), fmt.Sprintf("[127.0.0.1]:%d ", r.DBHost.Port)) {
		t.Errorf("known_hosts = %q (%v)", kh, err)
	}
	for _, want := range []string{"pggraph-forward " + f.dir, "-p 7555", "* * * * pggraph-collect " + f.dir,
		"pggraph-admin user add acme USER", CronMinutes("acme", 10*time.Minute), "Apache: nothing to add"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, centralPassword) || strings.Contains(out, r.PG.MonitorPassword) {
		t.Errorf("output shows a password:\n%s", out)
	}

	t.Run("duplicate prefix", func(t *testing.T) {
		f2 := newFixture(t, r, "acme", r.Central.Port, nil)
		_, out, err := f2.run(t, true)
		if err == nil || !strings.Contains(err.Error(), "[local] prefix") || !strings.Contains(err.Error(), "already a client's") {
			t.Fatalf("err = %v\n%s", err, out)
		}
		if _, err := os.Lstat(f2.dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("directory created: %v", err)
		}
		checkInstalled(t, r, f, "acme") // the first install is untouched
	})
}

func TestExistingDirectory(t *testing.T) {
	r := env(t)
	f := newFixture(t, r, "exists", r.Central.Port, nil)
	if err := os.Mkdir(f.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "keep"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, out, err := f.run(t, true)
	if err == nil || !strings.Contains(err.Error(), "[install] directory") || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("err = %v\n%s", err, out)
	}
	ents, _ := os.ReadDir(f.dir)
	if len(ents) != 1 || ents[0].Name() != "keep" {
		t.Errorf("directory changed: %v", ents)
	}
	if _, ok := clientRow(t, r, "exists"); ok {
		t.Error("clients row created")
	}
}

func TestCentralDown(t *testing.T) {
	r := env(t)
	f := newFixture(t, r, "down", 1, nil) // nothing listens on port 1
	_, out, err := f.run(t, true)
	var se *StepError
	if !errors.As(err, &se) || se.Step != "connect central database" {
		t.Fatalf("err = %v\n%s", err, out)
	}
	if strings.Contains(err.Error(), centralPassword) {
		t.Errorf("error shows the password: %v", err)
	}
	checkNothing(t, r, f, "down")
}

// failingStore fails RegisterClient after the tables were created.
type failingStore struct{ Store }

func (s failingStore) RegisterClient(context.Context, store.Client) error {
	return errors.New("injected failure")
}

func TestUndo(t *testing.T) {
	r := env(t)
	f := newFixture(t, r, "undo", r.Central.Port, nil)
	a, err := LoadAnswers(f.answers)
	if err != nil {
		t.Fatal(err)
	}
	a.TrustHostKeys = true
	open := func(ctx context.Context, l config.Local) (Store, error) {
		s, err := store.Open(ctx, l, nil)
		if err != nil {
			return nil, err
		}
		return failingStore{s}, nil
	}
	_, err = Run(t.Context(), Options{Prompter: a, MainCGI: f.cgi, Defaults: f.defaults, Open: open, CronFile: f.none, LogDir: f.none})
	var se *StepError
	if !errors.As(err, &se) || se.Step != "register client" {
		t.Fatalf("err = %v", err)
	}
	checkNothing(t, r, f, "undo")
}

func TestUntrustedHostKey(t *testing.T) {
	r := env(t)
	f := newFixture(t, r, "untrusted", r.Central.Port, nil)
	_, out, err := f.run(t, false)
	var se *StepError
	if !errors.As(err, &se) || se.Step != "host key" || !errors.Is(err, tunnel.ErrUnknownHost) {
		t.Fatalf("err = %v\n%s", err, out)
	}
	if !strings.Contains(out, "SHA256:") {
		t.Errorf("fingerprint not shown:\n%s", out)
	}
	if _, err := os.Stat(f.known); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("known_hosts written: %v", err)
	}
	checkNothing(t, r, f, "untrusted")
}

func TestAnswersErrors(t *testing.T) {
	r := env(t)
	tests := []struct {
		name, from, to, want string
	}{
		{"bad port", "local_port = 7555", "local_port = 70000", `[remote] local_port = "70000": must be 1 to 65535`},
		{"bad prefix", "prefix   = badpfx", "prefix   = Bad-Prefix", `[local] prefix = "Bad-Prefix": must be a lower-case letter`},
		{"relative dir", "directory = /", "directory = rel\n;", `[install] directory = "rel": must be an absolute path`},
		{"dsa key", "keyfile      = ", "keyfile      = " + r.Keys.DSA + "\n;", "[ssh] keyfile"},
		{"protected key", "keyfile      = ", "keyfile      = " + r.Keys.Protected + "\n;", "passphrase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, r, "badpfx", r.Central.Port, func(s string) string { return strings.Replace(s, tt.from, tt.to, 1) })
			_, out, err := f.run(t, true)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q\n%s", err, tt.want, out)
			}
			checkNothing(t, r, f, "badpfx")
		})
	}
	t.Run("interval", func(t *testing.T) {
		f := newFixture(t, r, "badpfx", r.Central.Port, func(s string) string { return s + "\n[pggraph]\ninterval = 61\n" })
		_, _, err := f.run(t, true)
		if err == nil || !strings.Contains(err.Error(), `[pggraph] interval = "61": must be 1 to 60`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "a.ini")
		os.WriteFile(p, []byte("[ssh]\nbogus = 1\n"), 0o600)
		if _, err := LoadAnswers(p); err == nil || !strings.Contains(err.Error(), "[ssh] bogus: unknown key") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCronMinutes(t *testing.T) {
	if got := CronMinutes("d", time.Minute); got != "*" {
		t.Errorf("CronMinutes every minute = %q, want *", got)
	}
	for _, tt := range []struct {
		prefix string
		min    time.Duration
		n      int
	}{{"acme", 10 * time.Minute, 6}, {"b", 15 * time.Minute, 4}, {"c", 60 * time.Minute, 1}, {"e", 7 * time.Minute, 8}} {
		got := strings.Split(CronMinutes(tt.prefix, tt.min), ",")
		if len(got) != tt.n {
			t.Errorf("CronMinutes(%q, %v) = %v", tt.prefix, tt.min, got)
		}
		if got[0] != CronMinutes(tt.prefix, tt.min)[:len(got[0])] {
			t.Errorf("not stable")
		}
	}
}

// TestTwinHostKeys: a twin tunnel's database host is reached through the
// bastion, and its host key is checked and trusted like the bastion's.
func TestTwinHostKeys(t *testing.T) {
	r := env(t)
	twin := func(text string) string {
		text = strings.Replace(text, fmt.Sprintf("port         = %d\n", r.DBHost.Port), fmt.Sprintf("port         = %d\n", r.Bastion.Port), 1)
		return text + fmt.Sprintf("twin_tunnel   = yes\nsecond_server = 127.0.0.1:%d\n", r.DBHost.Port)
	}
	bastionLine := fmt.Sprintf("[127.0.0.1]:%d ", r.Bastion.Port)
	dbLine := fmt.Sprintf("[127.0.0.1]:%d ", r.DBHost.Port)

	t.Run("both trusted", func(t *testing.T) {
		t.Cleanup(func() { removeClient(t, r, "twinkeys") })
		f := newFixture(t, r, "twinkeys", r.Central.Port, twin)
		c, out, err := f.run(t, true)
		if err != nil {
			t.Fatalf("Run: %v\n%s", err, out)
		}
		if !c.SSH.TwinTunnel {
			t.Fatalf("config is not a twin tunnel: %+v", c.SSH)
		}
		kh, err := os.ReadFile(f.known)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{bastionLine, dbLine} {
			if !strings.Contains(string(kh), want) {
				t.Errorf("known_hosts lacks %q:\n%s", want, kh)
			}
		}
		if strings.Count(out, " is unknown: it offers\n") != 2 {
			t.Errorf("want two fingerprints shown:\n%s", out)
		}
		// The collector's tunnel now checks both hops against that file.
		tun, err := tunnel.Open(t.Context(), tunnel.FromConfig(c, ""))
		if err != nil {
			t.Fatalf("twin tunnel with the installed known_hosts: %v", err)
		}
		tun.Close()
	})
	t.Run("db host not trusted", func(t *testing.T) {
		f := newFixture(t, r, "twinnokey", r.Central.Port, twin)
		// The bastion is known already; only the db host is new.
		bastion, err := os.ReadFile(r.KnownHosts)
		if err != nil {
			t.Fatal(err)
		}
		var keep []string
		for _, l := range strings.Split(string(bastion), "\n") {
			if strings.HasPrefix(l, bastionLine) {
				keep = append(keep, l)
			}
		}
		if len(keep) == 0 {
			t.Fatalf("rig known_hosts has no line for the bastion:\n%s", bastion)
		}
		os.MkdirAll(filepath.Dir(f.known), 0o700)
		if err := os.WriteFile(f.known, []byte(strings.Join(keep, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, out, err := f.run(t, false)
		var se *StepError
		if !errors.As(err, &se) || se.Step != "host key" || !strings.Contains(err.Error(), "127.0.0.1:"+strconv.Itoa(r.DBHost.Port)) {
			t.Fatalf("err = %v, want the db host's key not trusted\n%s", err, out)
		}
		if kh, _ := os.ReadFile(f.known); strings.Contains(string(kh), dbLine) {
			t.Errorf("known_hosts got the db host's key:\n%s", kh)
		}
		checkNothing(t, r, f, "twinnokey")
	})
}

// removeClient drops prefix's tables and clients row from the rig's
// central databases.
func removeClient(t *testing.T, r *rig.Rig, prefix string) {
	t.Helper()
	ctx := context.Background()
	l := config.Default().Local
	l.Host, l.Port, l.Password = "127.0.0.1", r.Central.Port, centralPassword
	s, err := store.Open(ctx, l, nil)
	if err != nil {
		t.Errorf("open central: %v", err)
		return
	}
	defer s.Close(ctx)
	if _, err := s.RemoveClient(ctx, prefix); err != nil {
		t.Errorf("remove client %s: %v", prefix, err)
	}
}

// resolve answers every question from the answers file at path as Run
// does, up to "check answers", without the steps' side effects (the
// central database, host keys): the config an install would write.
func resolve(t *testing.T, path string) (*config.Config, error) {
	t.Helper()
	a, err := LoadAnswers(path)
	if err != nil {
		return nil, err
	}
	s := newSession(Options{Prompter: a, Stdout: io.Discard})
	for i := range s.qs {
		s.qs[i].after = nil
	}
	if err := s.answer(t.Context()); err != nil {
		return nil, err
	}
	return s.c, nil
}

// problems returns err's lines without what says where they come from
// ("config FILE: ", a step), so that config.ini's and the installer's
// errors about the same thing compare equal.
func problems(err error, file string) string {
	if err == nil {
		return ""
	}
	var out []string
	for line := range strings.SplitSeq(err.Error(), "\n") {
		for _, prefix := range []string{"ask: ", "check answers: ", "config " + file + ": ", "config: "} {
			line = strings.TrimPrefix(line, prefix)
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// TestAnswersReadLikeConfig feeds the same text to config.ini's loading
// and to the installer as an answers file: both must give the same config
// or the same error.
func TestAnswersReadLikeConfig(t *testing.T) {
	root := t.TempDir()
	t.Setenv("HOME", root)
	keyfile := filepath.Join(root, ".ssh", "id_ed25519")
	writeKey(t, keyfile)
	dir := filepath.Join(root, "same")
	known := filepath.Join(root, "known_hosts")
	base := fmt.Sprintf("[install]\ndirectory = %s\nwww_path = pggraph/same\ntitle = Same Corporation\n[local]\nprefix = same\n[remote]\nuser = mon\n[ssh]\nkeyfile =\nknown_hosts = %s\n", dir, known)
	// written is base as pggraph-install writes it: an installed config.ini.
	c, err := config.Parse(strings.NewReader(base), "base")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(filepath.Join(root, "config.ini")); err != nil {
		t.Fatal(err)
	}
	written, err := os.ReadFile(filepath.Join(root, "config.ini"))
	if err != nil {
		t.Fatal(err)
	}
	ssh := "[ssh]\nkeyfile =\nknown_hosts = " + known + "\n"
	tests := []struct {
		name, text string
		key, value string // a key, as "[section] name", and its value in the result
		err        string // else the error both must give
	}{
		{name: "minimal", text: base, key: "[ssh] known_hosts", value: known},
		{name: "installed config.ini", text: string(written), key: "[remote] databases", value: "*"},
		{name: "databases by spaces", text: base + "[remote]\ndatabases = db1 db2\n", key: "[remote] databases", value: "db1,db2"},
		{name: "databases by commas", text: base + "[remote]\ndatabases = db1,db2, db3\n", key: "[remote] databases", value: "db1,db2,db3"},
		{name: "twin_tunnel y", text: strings.Replace(base, ssh, ssh+"server = bastion\ntwin_tunnel = y\nsecond_server = db\n", 1), key: "[ssh] twin_tunnel", value: "yes"},
		{name: "twin_tunnel off", text: strings.Replace(base, ssh, ssh+"server = db\ntwin_tunnel = off\n", 1), key: "[ssh] twin_tunnel", value: "no"},
		{name: "directory with a slash", text: strings.Replace(base, dir, dir+"/", 1), key: "[install] directory", value: dir},
		{name: "www_path with slashes", text: strings.Replace(base, "pggraph/same", "/pggraph/same/", 1), key: "[install] www_path", value: "pggraph/same"},
		{name: "keyfile with ~", text: strings.Replace(base, "keyfile =", "keyfile = ~/.ssh/id_ed25519", 1), key: "[ssh] keyfile", value: keyfile},
		{name: "quoted password", text: base + "[local]\npassword = `a ;b` ; comment\n", key: "[local] password", value: "a ;b"},
		{name: "log_file, not asked", text: base + "[pggraph]\nlog_file = /var/log/same.log\nkeep_raw_days = 7\n", key: "[pggraph] log_file", value: "/var/log/same.log"},

		{name: "colon", text: strings.Replace(base, "title = ", "title: ", 1), err: "line 4: want key = value, [section] or ; comment"},
		{name: "twin_tunnel maybe", text: strings.Replace(base, ssh, ssh+"server = b\ntwin_tunnel = maybe\n", 1), err: `[ssh] twin_tunnel = "maybe": must be yes or no`},
		{name: "twin without second_server", text: strings.Replace(base, ssh, ssh+"server = b\ntwin_tunnel = yes\n", 1), err: "[ssh] second_server: required when twin_tunnel = yes"},
		{name: "second_server without twin", text: strings.Replace(base, ssh, ssh+"second_server = db\n", 1), err: `[ssh] second_server = "db": second_server is set but twin_tunnel = no`},
		{name: "unknown key", text: base + "[ssh]\ncolour = red\n", err: "[ssh] colour: unknown key"},
		{name: "unknown section", text: base + "[colours]\n", err: "[colours]: unknown section"},
		{name: "set twice", text: base + "[local]\nprefix = other\n", err: "[local] prefix: set twice (lines 6 and 13)"},
		{name: "port not a number", text: base + "[local]\nport = abc\n", err: `[local] port = "abc": not a number`},
		{name: "interval out of range", text: base + "[pggraph]\ninterval = 0\n", err: `[pggraph] interval = "0": must be 1 to 60`},
		{name: "relative directory", text: strings.Replace(base, dir, "same", 1), err: `[install] directory = "same": must be an absolute path`},
		{name: "bad prefix", text: strings.Replace(base, "prefix = same", "prefix = Same", 1), err: `[local] prefix = "Same": must be a lower-case letter`},
		{name: "databases with an empty name", text: base + "[remote]\ndatabases = a,,b\n", err: `[remote] databases = "a,,b": has an empty name`},
		{name: "no title", text: strings.Replace(base, "title = Same Corporation\n", "", 1), err: "[install] title: must not be empty"},
		{name: "ssh user blank with a server", text: strings.Replace(base, ssh, ssh+"server = db\nuser =\n", 1), err: "[ssh] user: must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "same.ini")
			if err := os.WriteFile(path, []byte(tt.text), 0o600); err != nil {
				t.Fatal(err)
			}
			fromConfig, cerr := config.Parse(strings.NewReader(tt.text), path)
			fromAnswers, aerr := resolve(t, path)
			if got, want := problems(aerr, path), problems(cerr, path); got != want {
				t.Fatalf("answers file: %v\nconfig.ini:   %v", aerr, cerr)
			}
			if tt.err != "" {
				if cerr == nil || !strings.Contains(problems(cerr, path), tt.err) {
					t.Fatalf("error %v, want %q", cerr, tt.err)
				}
				return
			}
			if cerr != nil {
				t.Fatal(cerr)
			}
			for _, k := range config.Keys() {
				if a, c := k.Get(fromAnswers), k.Get(fromConfig); a != c {
					t.Errorf("%s = %q from the answers file, %q from config.ini", k, a, c)
				}
				if k.String() == tt.key && k.Get(fromConfig) != tt.value {
					t.Errorf("%s = %q, want %q", k, k.Get(fromConfig), tt.value)
				}
			}
		})
	}
}

// writeKey writes a new ed25519 private key without a passphrase to path.
func writeKey(t *testing.T, path string) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestQuestionOrder pins the original installer's questions, in order
// and word for word.
func TestQuestionOrder(t *testing.T) {
	want := []string{
		"Installation directory?", "Relative WWW path?", "Full text title?",
		"Now for some database configuration..", "Local pggraph database name?", "Table prefix?", "Local database port?",
		"Local pggraph host?", "Local username?", "Password?", "Remote DB username?", "Remote DB password?",
		"Remote DB host?", "Local port to bind to remote PG port?", "Which remote databases to graph?",
		"Some pggraph settings..", "Shortest display interval, in minutes?", "Maximum number of images per page?",
		"Delay before continuing PGGraph startup",
		"Now for the SSH configuration for the PG tunnel.", "SSH User?", "SSH Password?", "Authentication keyfile?",
		"Remote server?", "Port to SSH to?", "Bind to what port?", "Bind to which remote address?",
		"Use a twin tunnel mechanism?", "Address for 2nd server?",
		"Alerts: who is told when a check of this client changes state.", "Alert mail addresses?", "Alert command?",
	}
	var got []string
	for _, q := range newSession(Options{}).qs {
		if q.Intro != "" {
			got = append(got, q.Intro)
		}
		if q.Prompt != "" {
			got = append(got, q.Prompt)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("questions:\n%q\nwant\n%q", got, want)
	}
}
