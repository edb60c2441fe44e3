package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/internal/testing/rig"
)

// TestCronSchemes follows "Setting up the pggraph host" for both ways of
// running pggraph-collect from cron — deploy/cron/pggraph in /etc/cron.d
// (one -all line for every client) and one crontab line per client — and
// does what pggraph-install's next steps say. Then it runs every cron
// line due in one 10-minute interval, as cron would, and counts the
// client's collections: exactly one in either scheme. The control shows
// the count can fail: the cron.d file plus the per-client line that the
// installer used to print regardless collect the client twice. The same
// installs check that -answers tests the tunnel and that a blank log_file
// becomes <log-dir>/<prefix>.log, which the collection writes to.
func TestCronSchemes(t *testing.T) {
	r := env(t)
	deployed, err := os.ReadFile(filepath.Join("..", "..", "deploy", "cron", "pggraph"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		cronD  bool // /etc/cron.d/pggraph installed (README step 6)
		follow bool // add the per-client line whatever the installer says
		want   int
		said   string // in the installer's cron step
	}{
		{name: "cron.d -all", cronD: true, want: 1, said: "nothing to add"},
		{name: "crontab per client", want: 1, said: "crontab -e"},
		{name: "control: both", cronD: true, follow: true, want: 2, said: "nothing to add"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := fmt.Sprintf("cron%d", i)
			root := t.TempDir()
			www := filepath.Join(root, "www", "pggraph") // /var/www/pggraph
			logs := filepath.Join(root, "log", "pggraph")
			for _, d := range []string{www, logs} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			cronFile := filepath.Join(root, "cron.d", "pggraph")
			var lines []string // what cron runs: cron.d lines (with a user)
			if tc.cronD {
				text := strings.ReplaceAll(string(deployed), "/var/www/pggraph", www)
				if err := os.MkdirAll(filepath.Dir(cronFile), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(cronFile, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				lines = append(lines, strings.Split(text, "\n")...)
			}
			dir := filepath.Join(www, prefix)
			known := filepath.Join(root, "known_hosts")
			answers := writeAnswers(t, r, root, prefix, dir, r.Keys.ED25519,
				fmt.Sprintf("port = %d\nbind_port = %d\nbind_address = 127.0.0.1\nknown_hosts = %s\n", r.DBHost.Port, r.PG.Port, known))
			t.Cleanup(func() { removeClient(t, r, prefix) })
			// hostless() comes first; these later flags win.
			out, last, code := runProgram(t, home(t), "pggraph-install", "-answers", answers, "-yes",
				"-cgi", filepath.Join(root, "_main", "pggraph.cgi"), "-cron", cronFile, "-log-dir", logs)
			if code != 0 {
				t.Fatalf("pggraph-install: exit %d: %s\n%s", code, last, out)
			}
			step := section(out, "2. ", "3. ")
			if !strings.Contains(step, tc.said) {
				t.Fatalf("cron step %q, want it to say %q", step, tc.said)
			}
			if !strings.Contains(out, "Tunnel test: ok.") {
				t.Errorf("no tunnel test with -answers:\n%s", out)
			}
			logFile := filepath.Join(logs, prefix+".log")
			if ini, _ := os.ReadFile(filepath.Join(dir, "config.ini")); !regexp.MustCompile(`(?m)^log_file *= ` + regexp.QuoteMeta(logFile) + `$`).Match(ini) {
				t.Errorf("config.ini has no log_file = %s:\n%s", logFile, ini)
			}
			// The operator adds what the installer shows under "crontab -e"
			// (a crontab line: no user field) or, in the control, the line
			// the installer printed before it read cron.d.
			if add := shownLine(step); add != "" {
				lines = append(lines, withUser(add))
			}
			if tc.follow {
				lines = append(lines, withUser(strings.Join([]string{"*/10 * * * * pggraph-collect", dir}, " ")))
			}

			// Prime (a client's first collection only records where the
			// counters stand), then one interval of cron.
			collect(t, r, "-t", dir) // tunnel only: leaves no sample
			collect(t, r, dir)
			before := collections(t, r, prefix)
			for minute := 20; minute < 30; minute++ {
				for _, l := range lines {
					if args := due(t, l, minute); args != nil {
						collect(t, r, args...)
					}
				}
			}
			if got := collections(t, r, prefix) - before; got != tc.want {
				t.Errorf("collected %d times in one interval, want %d; cron lines:\n%s", got, tc.want, strings.Join(lines, "\n"))
			}
			if st, err := os.Stat(logFile); err != nil || st.Size() == 0 {
				t.Errorf("log file %s after collections: %v %v", logFile, st, err)
			}
		})
	}
}

// section is the text of out from the line starting with from up to the
// line starting with to.
func section(out, from, to string) string {
	i := strings.Index(out, "\n"+from)
	if i < 0 {
		return ""
	}
	rest := out[i+1:]
	if j := strings.Index(rest, "\n"+to); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// shownLine is the indented line of a cron step to add, "" when none.
func shownLine(step string) string {
	sc := bufio.NewScanner(strings.NewReader(step))
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "     ") && strings.Contains(l, "pggraph-collect") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// withUser turns a crontab line into a cron.d line run as root.
func withUser(line string) string {
	f := strings.Fields(line)
	return strings.Join(slices.Concat(f[:5], []string{"root"}, f[5:]), " ")
}

// due returns the pggraph-collect arguments of a cron.d line when it runs
// at minute of an hour (hour, day and month fields are * in every line
// pggraph writes), nil otherwise.
func due(t *testing.T, line string, minute int) []string {
	t.Helper()
	f := strings.Fields(line)
	if len(f) < 7 || strings.HasPrefix(f[0], "#") || strings.Contains(f[0], "=") {
		return nil
	}
	if !slices.Equal(f[1:5], []string{"*", "*", "*", "*"}) {
		t.Fatalf("cron line %q: only the minute field is interpreted here", line)
	}
	if filepath.Base(f[6]) != "pggraph-collect" || !minuteMatches(t, f[0], minute) {
		return nil
	}
	return f[7:]
}

// minuteMatches interprets a cron minute field: *, */N, A-B, A,B,…
func minuteMatches(t *testing.T, field string, minute int) bool {
	t.Helper()
	for _, part := range strings.Split(field, ",") {
		step := 1
		if p, s, ok := strings.Cut(part, "/"); ok {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("minute field %q", field)
			}
			part, step = p, n
		}
		lo, hi := 0, 59
		if part != "*" {
			a, b, isRange := strings.Cut(part, "-")
			var err1, err2 error
			lo, err1 = strconv.Atoi(a)
			hi, err2 = lo, nil
			if isRange {
				hi, err2 = strconv.Atoi(b)
			}
			if err1 != nil || err2 != nil {
				t.Fatalf("minute field %q", field)
			}
		}
		if minute >= lo && minute <= hi && (minute-lo)%step == 0 {
			return true
		}
	}
	return false
}

// collect runs pggraph-collect as cron would and fails the test if it
// fails.
func collect(t *testing.T, r *rig.Rig, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "pggraph-collect"), args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pggraph-collect %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// collections counts the client's collections that wrote samples.
func collections(t *testing.T, r *rig.Rig, prefix string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), r.Central.ConnString("pggraph"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var n int
	table := pgx.Identifier{prefix + "_database"}.Sanitize()
	if err := conn.QueryRow(t.Context(), "SELECT count(DISTINCT ts) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count collections of %s: %v", prefix, err)
	}
	return n
}

// TestAnswersUnreadable: an answers file the installing user (www-data,
// as README.md runs it) cannot read fails with one line naming the file,
// the cause and the fix, exit 2, and creates nothing.
func TestAnswersUnreadable(t *testing.T) {
	// A directory www-data may enter, holding the program and a root-only
	// answers file (t.TempDir is private to root).
	dir, err := os.MkdirTemp("", "pggraph-install-www-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	prog, err := os.ReadFile(filepath.Join(binDir, "pggraph-install"))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "pggraph-install")
	if err := os.WriteFile(bin, prog, 0o755); err != nil {
		t.Fatal(err)
	}
	answers := filepath.Join(dir, "acme.ini")
	if err := os.WriteFile(answers, []byte("[install]\ndirectory = "+filepath.Join(dir, "acme")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("runuser", "-u", "www-data", "--", bin, "-answers", answers, "-cron", filepath.Join(dir, "none"), "-log-dir", filepath.Join(dir, "none"))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("want exit 2, got %v: %s", err, out)
	}
	want := "pggraph-install: answers " + answers + ": permission denied (pggraph-install reads it as the user it runs as: chown that user, www-data, and chmod 600 it)\n"
	if string(out) != want {
		t.Errorf("output\n got %q\nwant %q", out, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "acme")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("install directory: %v", err)
	}
}

// TestAnswersTunnelTestFails: with -answers the tunnel is tested after
// installing; a wrong monitoring password is reported with the fix, and
// the install stands (exit 0).
func TestAnswersTunnelTestFails(t *testing.T) {
	r := env(t)
	root := t.TempDir()
	www := filepath.Join(root, "www")
	if err := os.MkdirAll(www, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(www, "badpw")
	known := filepath.Join(root, "known_hosts")
	answers := writeAnswers(t, r, root, "badpw", dir, r.Keys.ED25519,
		fmt.Sprintf("port = %d\nbind_port = %d\nbind_address = 127.0.0.1\nknown_hosts = %s\n", r.DBHost.Port, r.PG.Port, known))
	text, err := os.ReadFile(answers)
	if err != nil {
		t.Fatal(err)
	}
	text = []byte(strings.Replace(string(text), "password = "+r.PG.MonitorPassword+"\n", "password = wrong-pw-Zq7\n", 1))
	if err := os.WriteFile(answers, text, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeClient(t, r, "badpw") })
	out, last, code := runProgram(t, home(t), "pggraph-install", "-answers", answers, "-yes", "-cgi", filepath.Join(root, "_main", "pggraph.cgi"))
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, last, out)
	}
	for _, want := range []string{"Tunnel test failed: badpw: remote: ", "password authentication failed", "then try pggraph-collect -t " + dir + "."} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "wrong-pw-Zq7") {
		t.Error("the password is in the output")
	}
}
