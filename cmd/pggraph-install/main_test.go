package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/internal/testing/centraltest"
	"github.com/pggraph/pggraph/internal/testing/rig"
)

// binDir holds pggraph-install and pggraph-collect, built by TestMain
// into a directory of this package's own: cmd/pggraph-collect's tests
// rebuild ./bin/pggraph-collect while these run (go test ./... runs
// packages at once), and a half-written binary cannot run.
var binDir string

// shared is the package's one rig, with a central PostgreSQL.
var shared = rig.Lazy{Options: rig.Options{Central: true}}

// centralPassword is role pggraph's password on the rig's central server.
const centralPassword = "central-pw-Pty9"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pggraph-install-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	for _, pkg := range []string{".", "../pggraph-collect"} {
		name := filepath.Base(pkg)
		if pkg == "." {
			name = "pggraph-install"
		}
		build := exec.Command("go", "build", "-o", filepath.Join(binDir, name), pkg)
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", name+":", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(binDir)
	if err := shared.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close rig:", err)
	}
	os.Exit(code)
}

// hostless are pggraph-install's flags that keep a test off this host's
// cron.d file and log directory: both point where nothing is.
func hostless() []string {
	return []string{"-cron", filepath.Join(binDir, "no-cron.d"), "-log-dir", filepath.Join(binDir, "no-log-dir")}
}

// central sets the central databases up once per test binary.
var centralSetup centraltest.Once

// env is the rig with its central databases set up.
func env(t testing.TB) *rig.Rig {
	t.Helper()
	return centralSetup.Do(t, shared.Get(t), centralPassword)
}

// home makes a home directory with an empty .ssh for the installer.
func home(t *testing.T) string {
	t.Helper()
	h := t.TempDir()
	if err := os.Mkdir(filepath.Join(h, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	return h
}

// checkInstall checks the directory, config.ini against the installer's
// golden file, the symlink, the tables and the clients row of "acme".
func checkInstall(t *testing.T, r *rig.Rig, dir, known, cgi string) {
	t.Helper()
	ini := filepath.Join(dir, "config.ini")
	st, err := os.Stat(ini)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config.ini: %v %v", st, err)
	}
	got, err := os.ReadFile(ini)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "installer", "testdata", "acme.ini"))
	if err != nil {
		t.Fatal(err)
	}
	exp := strings.NewReplacer("@DIR@", dir, "@KNOWN@", known, "@KEY@", r.Keys.ED25519, "@CENTRALPW@", centralPassword,
		"@MONPW@", r.PG.MonitorPassword, "@SSHUSER@", r.User, "@MONUSER@", r.PG.MonitorUser,
		"@SSHPORT@", strconv.Itoa(r.DBHost.Port), "@CENTRALPORT@", strconv.Itoa(r.Central.Port),
		"@PGPORT@", strconv.Itoa(r.PG.Port), "@PREFIX@", "acme").Replace(string(want))
	if string(got) != exp {
		t.Errorf("config.ini:\n--- got\n%s\n--- want\n%s", got, exp)
	}
	if l, err := os.Readlink(filepath.Join(dir, "index.cgi")); err != nil || l != cgi {
		t.Errorf("index.cgi -> %q (%v)", l, err)
	}
	if err := r.Central.Exec(t.Context(), "pggraph", "SELECT 1 FROM acme_object LIMIT 0"); err != nil {
		t.Errorf("acme_object: %v", err)
	}
	if err := r.Central.Exec(t.Context(), "pggraph_clients", "DO $$BEGIN IF NOT EXISTS (SELECT FROM clients WHERE prefix = 'acme' AND directory = '"+dir+"') THEN RAISE 'no row'; END IF; END$$"); err != nil {
		t.Errorf("clients row: %v", err)
	}
}

// tmux drives one terminal session on a private tmux server.
type tmux struct {
	t    *testing.T
	sock string
}

func (x tmux) cmd(args ...string) string {
	x.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", x.sock}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %s: %v: %s", args[0], err, out)
	}
	return string(out)
}

func (x tmux) screen() string { return x.cmd("capture-pane", "-p", "-t", "inst", "-S", "-200") }

// waitLast waits until the last non-empty line of the screen contains s.
func (x tmux) waitLast(s string) {
	x.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		scr := x.screen()
		lines := strings.Split(strings.TrimRight(scr, "\n "), "\n")
		if strings.Contains(lines[len(lines)-1], s) {
			return
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("waiting for %q; screen:\n%s", s, scr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// answer waits for prompt, types text and presses Enter.
//
// Keys that arrive before survey reads the terminal are discarded when it
// switches the terminal to raw mode (seen on a loaded machine), so it
// types until the answer shows (as stars for a password), then presses
// Enter.
func (x tmux) answer(prompt, text string) {
	x.t.Helper()
	x.waitLast(prompt)
	if text != "" {
		echo := text
		if strings.Contains(strings.ToLower(prompt), "password") {
			echo = strings.Repeat("*", utf8.RuneCountInString(text))
		}
		for try := 1; ; try++ {
			x.cmd("send-keys", "-t", "inst", "-l", text)
			if x.lastEndsWith(echo, 5*time.Second) {
				break
			}
			if try == 3 {
				x.t.Fatalf("typed %q at %q three times, never shown; screen:\n%s", text, prompt, x.screen())
			}
		}
	}
	// Enter too may come before raw mode (an empty answer, the default,
	// is only Enter): press it until the prompt line changes.
	before := x.lastLine()
	for try := 1; ; try++ {
		x.cmd("send-keys", "-t", "inst", "Enter")
		if x.lastChanged(before, 5*time.Second) {
			return
		}
		if try == 3 {
			x.t.Fatalf("pressed Enter at %q three times, no answer taken; screen:\n%s", prompt, x.screen())
		}
	}
}

// lastLine is the last non-empty line of the screen.
func (x tmux) lastLine() string {
	lines := strings.Split(strings.TrimRight(x.screen(), "\n "), "\n")
	return strings.TrimRight(lines[len(lines)-1], " ")
}

// lastChanged waits up to d for the last non-empty line to differ from
// before.
func (x tmux) lastChanged(before string, d time.Duration) bool {
	x.t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if x.lastLine() != before {
			return true
		}
	}
	return false
}

// lastEndsWith waits up to d for the last non-empty line of the screen to
// end with s.
func (x tmux) lastEndsWith(s string, d time.Duration) bool {
	x.t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if strings.HasSuffix(x.lastLine(), s) {
			return true
		}
	}
	return false
}

func TestTerminal(t *testing.T) {
	r := env(t)
	h := home(t)
	root := t.TempDir()
	dir := filepath.Join(root, "acme")
	cgi := filepath.Join(root, "_main", "pggraph.cgi")
	done := filepath.Join(root, "exit-code")
	x := tmux{t: t, sock: filepath.Join(root, "tmux.sock")}
	script := fmt.Sprintf("HOME=%s TERM=xterm %s %s -cgi %s; echo $? > %s; sleep 60", h, filepath.Join(binDir, "pggraph-install"), strings.Join(hostless(), " "), cgi, done)
	t.Cleanup(func() { removeClient(t, r, "acme") })
	x.cmd("new-session", "-d", "-s", "inst", "-x", "200", "-y", "50", script)
	t.Cleanup(func() { exec.Command("tmux", "-S", x.sock, "kill-server").Run() })

	x.answer("Installation directory?", dir)
	x.answer("Relative WWW path?", "pggraph/acme")
	x.answer("Full text title?", "ACME Corporation")
	x.answer("Local pggraph database name?", "")
	x.answer("Table prefix?", "acme")
	x.answer("Local database port?", "99999") // invalid: re-asked
	x.waitLast("Local database port?")
	if !strings.Contains(x.screen(), "must be 1 to 65535") {
		t.Fatalf("no reason shown for the invalid port:\n%s", x.screen())
	}
	x.answer("Local database port?", strconv.Itoa(r.Central.Port))
	x.answer("Local pggraph host?", "127.0.0.1")
	x.answer("Local username?", "")
	x.answer("Password?", centralPassword)
	x.answer("Remote DB username?", r.PG.MonitorUser)
	x.answer("Remote DB password?", r.PG.MonitorPassword)
	x.answer("Remote DB host?", "")
	x.answer("Local port to bind to remote PG port?", "")
	x.answer("Which remote databases to graph?", "")
	x.answer("Shortest display interval, in minutes?", "")
	x.answer("Maximum number of images per page?", "")
	x.answer("Delay before continuing PGGraph startup", "")
	x.answer("SSH User?", r.User)
	x.answer("SSH Password?", "")
	// The default key does not exist in the fresh home: type the rig's.
	x.answer("Authentication keyfile?", r.Keys.ED25519)
	x.answer("Remote server?", "127.0.0.1")
	x.answer("Port to SSH to?", strconv.Itoa(r.DBHost.Port))
	x.answer("Trust this host key", "y")
	x.answer("Bind to what port?", strconv.Itoa(r.PG.Port))
	x.answer("Bind to which remote address?", "127.0.0.1")
	x.answer("Use a twin tunnel mechanism?", "")
	x.answer("Alert mail addresses?", "")
	x.answer("Alert command?", "")
	x.answer("Test the tunnel now?", "y")

	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(done)
		if err == nil && strings.TrimSpace(string(b)) != "" {
			if code := strings.TrimSpace(string(b)); code != "0" {
				t.Fatalf("exit code %s; screen:\n%s", code, x.screen())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("installer did not finish; screen:\n%s", x.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
	scr := x.screen()
	for _, want := range []string{"Tunnel test: ok.", "pggraph-admin user add acme USER", "Now for the SSH configuration for the PG tunnel."} {
		if !strings.Contains(scr, want) {
			t.Errorf("screen lacks %q:\n%s", want, scr)
		}
	}
	if strings.Contains(scr, centralPassword) || strings.Contains(scr, r.PG.MonitorPassword) {
		t.Errorf("screen shows a password:\n%s", scr)
	}
	checkInstall(t, r, dir, filepath.Join(h, ".ssh", "known_hosts"), cgi)
}

// cronRE finds the printed crontab line.
var cronRE = regexp.MustCompile(`(?m)^\s*([0-9,]+) \* \* \* \* (pggraph-collect .*)$`)

func TestAnswersFile(t *testing.T) {
	r := env(t)
	h := home(t)
	root := t.TempDir()
	dir := filepath.Join(root, "acme2")
	cgi := filepath.Join(root, "_main", "pggraph.cgi")
	answers := filepath.Join(root, "answers.ini")
	write := func(prefix, dir string, port int) {
		text := fmt.Sprintf("[install]\ndirectory = %s\nwww_path = pggraph/%s\ntitle = T\n[local]\nprefix = %s\nport = %d\nhost = 127.0.0.1\npassword = %s\n[remote]\nuser = %s\npassword = %s\n[ssh]\nuser = %s\nkeyfile = %s\nserver = 127.0.0.1\nport = %d\nbind_port = %d\nbind_address = 127.0.0.1\n",
			dir, prefix, prefix, port, centralPassword, r.PG.MonitorUser, r.PG.MonitorPassword, r.User, r.Keys.ED25519, r.DBHost.Port, r.PG.Port)
		if err := os.WriteFile(answers, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	install := func(args ...string) (string, int) {
		cmd := exec.Command(filepath.Join(binDir, "pggraph-install"), append(hostless(), args...)...)
		cmd.Env = append(os.Environ(), "HOME="+h)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}

	t.Cleanup(func() { removeClient(t, r, "acme2") })
	write("acme2", dir, r.Central.Port)
	if out, code := install("-answers", answers, "-cgi", cgi); code != 1 || !strings.Contains(out, "pggraph-install: host key: ") {
		t.Fatalf("unknown host key without -yes: code %d\n%s", code, out)
	}
	out, code := install("-answers", answers, "-cgi", cgi, "-yes")
	if code != 0 {
		t.Fatalf("install: code %d\n%s", code, out)
	}
	// The crontab line's command collects, twice (the first run primes).
	collect := func(out string) {
		t.Helper()
		m := cronRE.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no crontab line in:\n%s", out)
		}
		for i := range 2 {
			c := exec.Command("sh", "-c", m[2])
			c.Env = append(os.Environ(), "HOME="+h, "PATH="+binDir+":"+os.Getenv("PATH"))
			if b, err := c.CombinedOutput(); err != nil {
				t.Fatalf("collect %d (%s): %v\n%s", i+1, m[2], err, b)
			}
		}
	}
	collect(out)

	overviewServesPNGs(t, r, root, cgi, filepath.Join(dir, "index.cgi"))

	// The installed config.ini, with only [install] directory and [local]
	// prefix changed, is an answers file for another client (its
	// known_hosts, a key the installer does not ask, holds the server's
	// key now: no -yes), and that client collects.
	t.Run("copy of config.ini", func(t *testing.T) {
		t.Cleanup(func() { removeClient(t, r, "acme3") })
		installed, err := os.ReadFile(filepath.Join(dir, "config.ini"))
		if err != nil {
			t.Fatal(err)
		}
		dir3 := filepath.Join(root, "acme3")
		edit := regexp.MustCompile(`(?m)^(directory *= ).*$`).ReplaceAllString(string(installed), "${1}"+dir3)
		edit = regexp.MustCompile(`(?m)^(prefix *= ).*$`).ReplaceAllString(edit, "${1}acme3")
		if diff := strings.Count(edit, "\n") - strings.Count(string(installed), "\n"); diff != 0 || !strings.Contains(edit, "acme3") || strings.Contains(edit, "prefix   = acme2") {
			t.Fatalf("edit of config.ini failed:\n%s", edit)
		}
		copied := filepath.Join(root, "copy.ini")
		if err := os.WriteFile(copied, []byte(edit), 0o600); err != nil {
			t.Fatal(err)
		}
		out, code := install("-answers", copied, "-cgi", cgi)
		if code != 0 {
			t.Fatalf("install from a copy of config.ini: code %d\n%s", code, out)
		}
		got, err := os.ReadFile(filepath.Join(dir3, "config.ini"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != edit {
			t.Errorf("new config.ini differs from the answers file:\n--- got\n%s\n--- want\n%s", got, edit)
		}
		collect(out)
	})

	if out, code := install("-answers", answers, "-cgi", cgi, "-yes"); code != 2 || !strings.Contains(out, "[install] directory") {
		t.Errorf("existing directory: code %d\n%s", code, out)
	}
	write("acme2", filepath.Join(root, "other"), r.Central.Port)
	if out, code := install("-answers", answers, "-cgi", cgi, "-yes"); code != 2 || !strings.Contains(out, "[local] prefix") {
		t.Errorf("duplicate prefix: code %d\n%s", code, out)
	}
	write("down", filepath.Join(root, "down"), 1)
	out, code = install("-answers", answers, "-cgi", cgi, "-yes")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; code != 1 || !strings.HasPrefix(last, "pggraph-install: connect central database: ") || strings.Contains(out, centralPassword) {
		t.Errorf("central down: code %d\n%s", code, out)
	}
	if _, err := os.Lstat(filepath.Join(root, "down")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory left behind: %v", err)
	}
}

// removeClient drops a client's tables and row, so a test can run again.
func removeClient(t *testing.T, r *rig.Rig, prefix string) {
	l := config.Default().Local
	l.Host, l.Port, l.Password = "127.0.0.1", r.Central.Port, centralPassword
	s, err := store.Open(context.Background(), l, nil)
	if err != nil {
		t.Errorf("open central: %v", err)
		return
	}
	defer s.Close(context.Background())
	if _, err := s.RemoveClient(context.Background(), prefix); err != nil && !errors.Is(err, store.ErrNoClient) {
		t.Errorf("remove client %s: %v", prefix, err)
	}
}

// overviewServesPNGs builds pggraph.cgi where the install's index.cgi
// symlink points, then, as Apache would, asks index.cgi for the overview
// page and for every image on it: each must be a PNG that decodes.
func overviewServesPNGs(t *testing.T, r *rig.Rig, root, cgi, script string) {
	t.Helper()
	if out, err := exec.Command("go", "build", "-o", cgi, "../../cgi-bin").CombinedOutput(); err != nil {
		t.Fatalf("go build pggraph.cgi: %v: %s", err, out)
	}
	const webPassword = "install-web-pw"
	if err := r.Central.Exec(t.Context(), "postgres", "ALTER ROLE pggraph_web PASSWORD '"+webPassword+"'"); err != nil {
		t.Fatal(err)
	}
	pgpass := filepath.Join(root, "web.pgpass")
	os.WriteFile(pgpass, fmt.Appendf(nil, "127.0.0.1:%d:*:pggraph_web:%s\n", r.Central.Port, webPassword), 0o600)
	get := func(query string) (header string, body []byte) {
		t.Helper()
		cmd := exec.Command(script)
		cmd.Env = []string{"GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=GET", "SERVER_PROTOCOL=HTTP/1.1", "HTTP_HOST=127.0.0.1",
			"SCRIPT_FILENAME=" + script, "SCRIPT_NAME=/pggraph/acme2/index.cgi", "REQUEST_URI=/pggraph/acme2/index.cgi?" + query,
			"QUERY_STRING=" + query, "REMOTE_ADDR=127.0.0.1", "PGPASSFILE=" + pgpass, "PATH=/usr/bin:/bin",
			// As Apache runs it for a user it let in to this client's
			// directory (pggraph.conf's MATCH_CLIENT).
			"REMOTE_USER=operator", "AUTH_TYPE=Basic", "MATCH_CLIENT=acme2"}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("index.cgi?%s: %v", query, err)
		}
		h, b, ok := bytes.Cut(out, []byte("\r\n\r\n"))
		if !ok {
			t.Fatalf("index.cgi?%s: no header: %.200q", query, out)
		}
		return string(h), b
	}
	header, page := get("")
	if !strings.Contains(header, "text/html") {
		t.Fatalf("overview: %s", header)
	}
	srcs := regexp.MustCompile(`<img[^>]* src="([^"]+)"`).FindAllSubmatch(page, -1)
	if len(srcs) == 0 {
		t.Fatalf("overview has no images:\n%s", page)
	}
	for _, m := range srcs {
		src := html.UnescapeString(string(m[1]))
		_, query, _ := strings.Cut(src, "?")
		header, body := get(query)
		if !strings.Contains(header, "Content-Type: image/png") {
			t.Errorf("%s: %s", src, header)
			continue
		}
		if _, err := png.Decode(bytes.NewReader(body)); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
	t.Logf("overview of the new install: %d images, each a PNG", len(srcs))
}
