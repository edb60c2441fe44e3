package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/internal/cli"
	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/testing/rig"
)

// binary is ./bin/pggraph-forward, rebuilt by TestMain so the test runs
// what `make build` ships.
var binary = filepath.Join("..", "..", "bin", "pggraph-forward")

// shared is the package's one rig, started on first use.
var shared rig.Lazy

func TestMain(m *testing.M) {
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build pggraph-forward:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := shared.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close rig:", err)
	}
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// twinConfig is a client reaching the rig's PostgreSQL through the bastion
// and the db host.
func twinConfig(t *testing.T, r *rig.Rig) *config.Config {
	t.Helper()
	c := config.Default()
	c.Install = config.Install{Directory: t.TempDir(), WWWPath: "pggraph/acme", Title: "ACME Corporation"}
	c.Local.Prefix = "acme"
	c.Remote.User = r.PG.MonitorUser
	c.Remote.Password = config.Secret(r.PG.MonitorPassword)
	c.Remote.LocalPort = freePort(t)
	c.PGGraph.Delay = 3 * time.Second
	c.SSH.User = r.User
	c.SSH.Keyfile = r.Keys.ED25519
	c.SSH.KnownHosts = r.KnownHosts
	c.SSH.Server = "127.0.0.1"
	c.SSH.Port = r.Bastion.Port
	c.SSH.TwinTunnel = true
	c.SSH.SecondServer = r.DBHost.Addr
	c.SSH.BindAddress = "127.0.0.1"
	c.SSH.BindPort = r.PG.Port
	return c
}

func writeConfig(t *testing.T, c *config.Config) string {
	t.Helper()
	path := filepath.Join(c.Install.Directory, "config.ini")
	if err := c.Write(path); err != nil {
		t.Fatalf("write config: %v", err)
	}
	return path
}

func TestForwardWithPsql(t *testing.T) {
	r := shared.Get(t)
	c := twinConfig(t, r)
	dir := filepath.Dir(writeConfig(t, c))

	cmd := exec.Command(binary, dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var out []string
	deadline := time.After(20 * time.Second)
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("pggraph-forward ended early: %v\nstdout: %q\nstderr: %s", cmd.Wait(), out, stderr.String())
			}
			out = append(out, l)
			if strings.HasPrefix(l, "Press Ctrl-C") {
				break wait
			}
		case <-deadline:
			t.Fatalf("pggraph-forward not ready after 20s; stdout %q; stderr %s", out, stderr.String())
		}
	}
	go func() {
		for range lines {
		}
	}()
	if out[0] != "Initializing tunnel.." {
		t.Errorf("first line %q, want %q", out[0], "Initializing tunnel..")
	}
	psqlLine := fmt.Sprintf("  psql -d template1 -U %s -h localhost -p %d", r.PG.MonitorUser, c.Remote.LocalPort)
	if !contains(out, psqlLine) {
		t.Errorf("output lacks the psql line %q:\n%s", psqlLine, strings.Join(out, "\n"))
	}

	// Two psql sessions at once: the second is served while the first
	// still runs a statement (seen from a direct connection to the
	// server), which a forwarder serving one connection at a time could
	// not do. No timing: the first runs until it is cancelled.
	pgpass := filepath.Join(t.TempDir(), "pgpass")
	os.WriteFile(pgpass, fmt.Appendf(nil, "localhost:%d:*:%s:%s\n", c.Remote.LocalPort, r.PG.MonitorUser, r.PG.MonitorPassword), 0o600)
	psql := func(ctx context.Context, sql string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "psql", "-X", "-At", "-d", "template1", "-U", r.PG.MonitorUser, "-h", "localhost",
			"-p", strconv.Itoa(c.Remote.LocalPort), "-c", sql)
		cmd.Env = append(os.Environ(), "PGPASSFILE="+pgpass, "PGCONNECT_TIMEOUT=10")
		return cmd
	}
	direct, err := pgx.Connect(t.Context(), r.PG.ConnString("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(context.Background())
	const marker = "SELECT pg_sleep(600) /* pggraph-forward test */"
	running := func() int {
		t.Helper()
		var n int
		if err := direct.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = $1`, marker).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	first := psql(ctx, marker)
	var firstOut bytes.Buffer
	first.Stdout, first.Stderr = &firstOut, &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	firstDone := make(chan error, 1)
	go func() { firstDone <- first.Wait() }()
	for running() == 0 {
		select {
		case err := <-firstDone:
			t.Fatalf("the first psql session ended: %v: %s", err, firstOut.String())
		case <-ctx.Done():
			t.Fatal("the first psql session's statement never ran")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if got, err := psql(ctx, "SELECT 1").CombinedOutput(); err != nil || strings.TrimSpace(string(got)) != "1" {
		t.Errorf("second psql session through pggraph-forward: %v: %s", err, got)
	}
	if n := running(); n != 1 {
		t.Errorf("the first session's statement: %d running after the second session was served, want 1: not served at once", n)
	}
	if _, err := direct.Exec(t.Context(), `SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query = $1`, marker); err != nil {
		t.Fatal(err)
	}
	if err := <-firstDone; err == nil || !strings.Contains(firstOut.String(), "canceling statement") {
		t.Errorf("the first psql session after its cancel: %v: %s", err, firstOut.String())
	}

	cmd.Process.Signal(syscall.SIGTERM)
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v, want 0; stderr: %s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10s after SIGTERM")
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", c.Remote.LocalPort))
	if err != nil {
		t.Fatalf("port not free after exit: %v", err)
	}
	ln.Close()
}

func contains(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

// knownHostsSwapped returns a known_hosts file in which the db host's entry
// carries the bastion's key.
func knownHostsSwapped(t *testing.T, r *rig.Rig) string {
	t.Helper()
	data, err := os.ReadFile(r.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	var bastionKey string
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == fmt.Sprintf("[127.0.0.1]:%d", r.Bastion.Port) {
			bastionKey = f[1] + " " + f[2]
		}
	}
	if bastionKey == "" {
		t.Fatalf("no bastion entry in %s", r.KnownHosts)
	}
	path := filepath.Join(t.TempDir(), "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%d %s\n", r.DBHost.Port, bastionKey)
	os.WriteFile(path, []byte(line), 0o600)
	return path
}

func hostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

// TestFailures: every failure is a non-zero exit within bounded time, with
// one line naming the client, the step and the cause, and no password.
func TestFailures(t *testing.T) {
	r := shared.Get(t)
	const sshPassword = "ssh-pw-never-shown-7Qx"
	tests := []struct {
		name     string
		edit     func(t *testing.T, c *config.Config)
		code     int
		step     string
		cause    string
		maxDelay time.Duration // beyond [pggraph] delay
	}{
		{name: "host key changed", code: 1, step: "tunnel", cause: "changed",
			edit: func(t *testing.T, c *config.Config) { c.SSH.KnownHosts = knownHostsSwapped(t, r) }},
		{name: "unknown host", code: 1, step: "tunnel", cause: "is unknown",
			edit: func(t *testing.T, c *config.Config) {
				path := filepath.Join(t.TempDir(), "known_hosts")
				os.WriteFile(path, nil, 0o600)
				c.SSH.KnownHosts = path
			}},
		{name: "key not accepted", code: 1, step: "tunnel", cause: "ssh login refused",
			edit: func(t *testing.T, c *config.Config) { c.SSH.Keyfile = r.Keys.Unauthorized }},
		{name: "deprecated password refused", code: 1, step: "tunnel", cause: "ssh login refused",
			edit: func(t *testing.T, c *config.Config) {
				c.SSH.Keyfile = ""
				c.SSH.Password = sshPassword
			}},
		{name: "passphrase key", code: 1, step: "tunnel", cause: "passphrase",
			edit: func(t *testing.T, c *config.Config) { c.SSH.Keyfile = r.Keys.Protected }},
		{name: "dsa key", code: 1, step: "tunnel", cause: "DSA",
			edit: func(t *testing.T, c *config.Config) { c.SSH.Keyfile = r.Keys.DSA }},
		{name: "connection refused", code: 1, step: "tunnel", cause: "connection refused",
			edit: func(t *testing.T, c *config.Config) { c.SSH.Port = freePort(t) }},
		{name: "accept and silent", code: 1, step: "tunnel", cause: "no answer in time",
			edit: func(t *testing.T, c *config.Config) {
				c.SSH.TwinTunnel, c.SSH.SecondServer = false, ""
				c.SSH.Server, c.SSH.Port = hostPort(t, rig.Silent(t))
			}},
		{name: "blackholed", code: 1, step: "tunnel", cause: "no answer in time",
			edit: func(t *testing.T, c *config.Config) {
				c.SSH.TwinTunnel, c.SSH.SecondServer = false, ""
				c.SSH.Server, c.SSH.Port = hostPort(t, rig.Blackhole(t))
			}},
		{name: "bastion refuses forward", code: 1, step: "tunnel", cause: "administratively prohibited",
			edit: func(t *testing.T, c *config.Config) { c.SSH.SecondServer = pgTargetAddr(r) }},
		{name: "remote password wrong", code: 1, step: "remote login", cause: "password authentication failed",
			edit: func(t *testing.T, c *config.Config) { c.Remote.Password = "wrong-" + c.Remote.Password }},
		{name: "local port in use", code: 1, step: "listen", cause: "already in use",
			edit: func(t *testing.T, c *config.Config) {
				ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", c.Remote.LocalPort))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ln.Close() })
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := twinConfig(t, r)
			tt.edit(t, c)
			path := writeConfig(t, c)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, path)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			err := cmd.Run()
			took := time.Since(start)

			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tt.code {
				t.Fatalf("exit %v, want code %d; stderr: %s", err, tt.code, stderr.String())
			}
			var fails []string
			for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				if strings.HasPrefix(l, "pggraph-forward: ") {
					fails = append(fails, l)
				}
			}
			if len(fails) != 1 {
				t.Fatalf("want one failure line, got %d:\n%s", len(fails), stderr.String())
			}
			prefix := "pggraph-forward: acme: " + tt.step + ": "
			if !strings.HasPrefix(fails[0], prefix) || !strings.Contains(fails[0], tt.cause) {
				t.Errorf("failure line %q, want prefix %q and cause %q", fails[0], prefix, tt.cause)
			}
			for _, secret := range []string{r.PG.MonitorPassword, sshPassword} {
				if strings.Contains(stdout.String()+stderr.String(), secret) {
					t.Errorf("a password appears in the output:\n%s%s", stdout.String(), stderr.String())
				}
			}
			if limit := c.PGGraph.Delay + 5*time.Second; took > limit {
				t.Errorf("took %s, want at most delay + 5s = %s", took, limit)
			}
		})
	}
}

func pgTargetAddr(r *rig.Rig) string { return fmt.Sprintf("127.0.0.1:%d", r.PG.Port) }

func TestUsageAndConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "config.ini")
	os.WriteFile(bad, []byte("[ssh]\nport = abc\n"), 0o600)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no argument", want: "pggraph-forward: usage: "},
		{name: "missing config", args: []string{filepath.Join(dir, "nope")}, want: "pggraph-forward: config: "},
		{name: "bad port", args: []string{bad}, want: "[ssh] port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tt.args, &stdout, &stderr, func(string) string { return "" })
			if exitCode(err) != 2 {
				t.Fatalf("exit code %d (%v), want 2", exitCode(err), err)
			}
			if got := "pggraph-forward: " + cli.OneLine(err); !strings.Contains(got, tt.want) {
				t.Errorf("message %q lacks %q", got, tt.want)
			}
		})
	}
}
