package rig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// TestRig starts one full rig and checks every server it promises.
func TestRig(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	t0 := time.Now()
	r, err := Start(ctx, Options{Central: true, Log: testLog{t}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("Start took %v", time.Since(t0).Round(time.Millisecond))
	t.Cleanup(func() { _ = r.Close() })

	t.Run("keys", func(t *testing.T) {
		all := map[string]string{
			"ED25519": r.Keys.ED25519, "ECDSA": r.Keys.ECDSA, "RSA": r.Keys.RSA,
			"Protected": r.Keys.Protected, "DSA": r.Keys.DSA, "DSAOpenSSH": r.Keys.DSAOpenSSH,
			"Unauthorized": r.Keys.Unauthorized,
		}
		for name, path := range all {
			if filepath.Dir(path) != filepath.Join(r.Dir, "keys") {
				t.Errorf("%s: %s not in Dir/keys", name, path)
			}
			for _, f := range []string{path, path + ".pub"} {
				st, err := os.Stat(f)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if st.Mode().Perm() != 0o600 || st.Sys().(*syscall.Stat_t).Uid != 0 {
					t.Errorf("%s: %s mode %v uid %d, want 0600 root", name, f, st.Mode().Perm(), st.Sys().(*syscall.Stat_t).Uid)
				}
			}
		}
		for _, tc := range []struct {
			name, path, header string
		}{
			{"DSA", r.Keys.DSA, "-----BEGIN DSA PRIVATE KEY-----"},
			{"DSAOpenSSH", r.Keys.DSAOpenSSH, "-----BEGIN OPENSSH PRIVATE KEY-----"},
			{"ED25519", r.Keys.ED25519, "-----BEGIN OPENSSH PRIVATE KEY-----"},
		} {
			b, err := os.ReadFile(tc.path)
			if err != nil || !bytes.HasPrefix(b, []byte(tc.header)) {
				t.Errorf("%s: want header %q, got %.40q (%v)", tc.name, tc.header, b, err)
			}
		}
		for _, path := range []string{r.Keys.ED25519, r.Keys.ECDSA, r.Keys.RSA} {
			if _, err := ssh.ParsePrivateKey(mustRead(t, path)); err != nil {
				t.Errorf("parse %s: %v", path, err)
			}
		}
		var missing *ssh.PassphraseMissingError
		if _, err := ssh.ParsePrivateKey(mustRead(t, r.Keys.Protected)); !errors.As(err, &missing) {
			t.Errorf("parse protected key without passphrase: got %v, want PassphraseMissingError", err)
		}
		if _, err := ssh.ParsePrivateKeyWithPassphrase(mustRead(t, r.Keys.Protected), []byte(r.Keys.Passphrase)); err != nil {
			t.Errorf("parse protected key with passphrase: %v", err)
		}
		if _, err := ssh.ParsePrivateKey(mustRead(t, r.Keys.DSAOpenSSH)); err == nil {
			t.Errorf("x/crypto parsed the OpenSSH-format DSA key; the rig promises a key it cannot parse")
		}
		auth := string(mustRead(t, filepath.Join(r.Dir, "authorized_keys")))
		for _, path := range []string{r.Keys.ED25519, r.Keys.ECDSA, r.Keys.RSA, r.Keys.Protected, r.Keys.DSA} {
			if !strings.Contains(auth, pubKeyBlob(t, path)) {
				t.Errorf("%s not in authorized_keys", path)
			}
		}
		if strings.Contains(auth, pubKeyBlob(t, r.Keys.Unauthorized)) {
			t.Errorf("the unauthorized key is in authorized_keys")
		}
	})

	t.Run("known_hosts", func(t *testing.T) {
		lines := strings.Split(strings.TrimSpace(string(mustRead(t, r.KnownHosts))), "\n")
		if len(lines) != 2 {
			t.Fatalf("known_hosts has %d lines, want 2:\n%s", len(lines), strings.Join(lines, "\n"))
		}
		for i, s := range []*SSHD{r.Bastion, r.DBHost} {
			want := fmt.Sprintf("[127.0.0.1]:%d ssh-ed25519 %s", s.Port, pubKeyBlob(t, s.HostKeys[0]))
			if lines[i] != want {
				t.Errorf("line %d = %q, want %q", i, lines[i], want)
			}
		}
	})

	t.Run("host key types offered", func(t *testing.T) {
		signer := mustSigner(t, r.Keys.ED25519)
		kh, err := knownhosts.New(r.KnownHosts)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []*SSHD{r.Bastion, r.DBHost} {
			for i, algo := range []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoRSASHA512} {
				want := pubKeyBlob(t, s.HostKeys[i])
				cb := func(host string, remote net.Addr, key ssh.PublicKey) error {
					if algo == ssh.KeyAlgoED25519 {
						return kh(host, remote, key) // the rig's known_hosts must work as is
					}
					if got := strings.Fields(string(ssh.MarshalAuthorizedKey(key)))[1]; got != want {
						return fmt.Errorf("host key %s is not %s", got, s.HostKeys[i])
					}
					return nil
				}
				c, err := dialSSH(ctx, s.Addr, &ssh.ClientConfig{
					User: r.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
					HostKeyAlgorithms: []string{algo}, HostKeyCallback: cb,
				})
				if err != nil {
					t.Errorf("%s with host key %s: %v", s.Name, algo, err)
					continue
				}
				c.Close()
			}
		}
	})

	t.Run("xcrypto client keys", func(t *testing.T) {
		hostKeys, err := knownhosts.New(r.KnownHosts)
		if err != nil {
			t.Fatal(err)
		}
		protected, err := ssh.ParsePrivateKeyWithPassphrase(mustRead(t, r.Keys.Protected), []byte(r.Keys.Passphrase))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name   string
			signer ssh.Signer
			ok     bool
		}{
			{"ecdsa", mustSigner(t, r.Keys.ECDSA), true},
			{"rsa", mustSigner(t, r.Keys.RSA), true},
			{"protected", protected, true},
			{"dsa", mustSigner(t, r.Keys.DSA), false}, // authorized, but sshd refuses DSA
			{"unauthorized", mustSigner(t, r.Keys.Unauthorized), false},
		} {
			for _, s := range []*SSHD{r.Bastion, r.DBHost} {
				c, err := dialSSH(ctx, s.Addr, &ssh.ClientConfig{
					User: r.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(tc.signer)},
					HostKeyAlgorithms: []string{ssh.KeyAlgoED25519}, HostKeyCallback: hostKeys,
				})
				if err == nil {
					c.Close()
				}
				switch {
				case tc.ok && err != nil:
					t.Errorf("%s key on %s: %v", tc.name, s.Name, err)
				case !tc.ok && (err == nil || !strings.Contains(err.Error(), "unable to authenticate")):
					t.Errorf("%s key on %s: got %v, want unable to authenticate", tc.name, s.Name, err)
				}
			}
		}
	})

	t.Run("monitor user", func(t *testing.T) {
		conn := connectMonitor(ctx, t, r.PG, r.PG.Port)
		defer conn.Close(ctx)
		var member bool
		if err := conn.QueryRow(ctx, "select pg_has_role('pggraph_mon', 'pg_monitor', 'member')").Scan(&member); err != nil {
			t.Fatal(err)
		}
		if !member {
			t.Errorf("pggraph_mon is not a member of pg_monitor")
		}
		if err := r.PG.Exec(ctx, "postgres", "create database rigcheck"); err != nil {
			t.Fatal(err)
		}
		c2, err := pgx.Connect(ctx, monitorDSN(r.PG, r.PG.Port, "rigcheck"))
		if err != nil {
			t.Fatalf("monitor user cannot connect to a new database: %v", err)
		}
		c2.Close(ctx)
	})

	t.Run("central is another cluster", func(t *testing.T) {
		if r.Central == nil {
			t.Fatal("Central is nil with Options.Central")
		}
		ids := map[uint64]string{}
		for _, p := range []*Postgres{r.PG, r.Central} {
			conn, err := pgx.Connect(ctx, p.ConnString("postgres"))
			if err != nil {
				t.Fatalf("connect %s: %v", p.DataDir, err)
			}
			var id int64
			var dd string
			err = conn.QueryRow(ctx, "select system_identifier, current_setting('data_directory') from pg_control_system()").Scan(&id, &dd)
			conn.Close(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if dd != p.DataDir {
				t.Errorf("data_directory = %s, want %s", dd, p.DataDir)
			}
			ids[uint64(id)] = dd
		}
		if len(ids) != 2 || r.PG.Port == r.Central.Port {
			t.Errorf("PG and Central share a system identifier or port: %v, ports %d %d", ids, r.PG.Port, r.Central.Port)
		}
	})

	t.Run("openssh forwards through dbhost", func(t *testing.T) {
		for name, key := range map[string]string{"ed25519": r.Keys.ED25519, "ecdsa": r.Keys.ECDSA, "rsa": r.Keys.RSA} {
			t.Run(name, func(t *testing.T) {
				cfg := sshConfig(t, r, key)
				if err := pgThroughSSH(ctx, cfg, "dbhost", r.PG.Port); err != nil {
					t.Error(err)
				}
			})
		}
	})

	t.Run("openssh forwards through bastion", func(t *testing.T) {
		cfg := sshConfig(t, r, r.Keys.ED25519)
		if err := pgThroughSSH(ctx, cfg, "via-bastion", r.PG.Port); err != nil {
			t.Fatal(err)
		}
		log, err := r.Bastion.Log()
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(`server_request_direct_tcpip: .*target 127\.0\.0\.1 port ` + strconv.Itoa(r.DBHost.Port) + `\b`)
		if !re.MatchString(log) {
			t.Errorf("bastion log has no direct-tcpip to the db host:\n%s", tailString(log, 15))
		}
	})

	t.Run("unauthorized key refused", func(t *testing.T) {
		cfg := sshConfig(t, r, r.Keys.Unauthorized)
		out, err := sshCmd(ctx, cfg, "-W", fmt.Sprintf("127.0.0.1:%d", r.PG.Port), "dbhost").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "Permission denied (publickey)") {
			t.Errorf("want Permission denied, got %v:\n%s", err, out)
		}
	})

	t.Run("bastion PermitOpen", func(t *testing.T) {
		cfg := sshConfig(t, r, r.Keys.ED25519)
		for _, target := range []string{
			fmt.Sprintf("127.0.0.1:%d", r.PG.Port),
			fmt.Sprintf("localhost:%d", r.DBHost.Port), // PermitOpen matches literal strings
		} {
			out, err := sshCmd(ctx, cfg, "-W", target, "bastion").CombinedOutput()
			if err == nil {
				t.Errorf("bastion forwarded to %s", target)
				continue
			}
			if !strings.Contains(string(out), "administratively prohibited") {
				t.Errorf("forward to %s: want administratively prohibited, got %v:\n%s", target, err, out)
			}
		}
		log, err := r.Bastion.Log()
		if err != nil {
			t.Fatal(err)
		}
		denied := regexp.MustCompile(`Received request from 127\.0\.0\.1 port \d+ to connect to host 127\.0\.0\.1 port ` + strconv.Itoa(r.PG.Port) + `, but the request was denied`)
		if !denied.MatchString(log) {
			t.Errorf("bastion log does not show the refusal:\n%s", tailString(log, 15))
		}
	})

	t.Run("legacy port", func(t *testing.T) {
		conn := connectMonitor(ctx, t, r.PG, r.LegacyPort)
		conn.Close(ctx)
	})

	t.Run("state files", func(t *testing.T) {
		st, err := os.Stat(filepath.Join(r.Dir, "rig.env"))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("rig.env mode %v, want 0600", st.Mode().Perm())
		}
		env := string(mustRead(t, filepath.Join(r.Dir, "rig.env")))
		for _, want := range []string{
			fmt.Sprintf("RIG_PG_PORT='%d'", r.PG.Port),
			fmt.Sprintf("RIG_CENTRAL_PORT='%d'", r.Central.Port),
			fmt.Sprintf("RIG_LEGACY_PORT='%d'", r.LegacyPort),
			fmt.Sprintf("RIG_KEY='%s'", r.Keys.ED25519),
			"RIG_USER='pggraph-rig'",
			"RIG_PG_MONITOR_USER='pggraph_mon'",
		} {
			if !strings.Contains(env, want+"\n") {
				t.Errorf("rig.env lacks %s", want)
			}
		}
		checkPids(t, r)
	})

	t.Run("sshd stop start", func(t *testing.T) {
		old := r.DBHost.PID
		oldLegacy := r.LegacyPID
		if err := r.DBHost.Stop(); err != nil {
			t.Fatal(err)
		}
		if r.DBHost.PID != 0 || r.LegacyPID != 0 {
			t.Errorf("after Stop: PID %d, LegacyPID %d, want 0", r.DBHost.PID, r.LegacyPID)
		}
		checkGone(t, "dbhost", old)
		checkGone(t, "legacy", oldLegacy)
		if c, err := net.Dial("tcp", r.DBHost.Addr); err == nil {
			c.Close()
			t.Errorf("%s still accepts after Stop", r.DBHost.Addr)
		}
		if err := r.DBHost.Stop(); err != nil {
			t.Errorf("second Stop: %v", err)
		}
		if err := r.DBHost.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if r.DBHost.PID == 0 || r.DBHost.PID == old || r.LegacyPID == 0 {
			t.Errorf("after Start: PID %d (old %d), LegacyPID %d", r.DBHost.PID, old, r.LegacyPID)
		}
		cfg := sshConfig(t, r, r.Keys.ED25519)
		if err := pgThroughSSH(ctx, cfg, "dbhost", r.PG.Port); err != nil {
			t.Error(err)
		}
		conn := connectMonitor(ctx, t, r.PG, r.LegacyPort)
		conn.Close(ctx)
		checkPids(t, r)
	})

	t.Run("postgres stop start", func(t *testing.T) {
		old := r.PG.PID
		if err := r.PG.Stop(); err != nil {
			t.Fatal(err)
		}
		checkGone(t, "pg", old)
		if r.PG.PID != 0 {
			t.Errorf("PID %d after Stop", r.PG.PID)
		}
		if err := r.PG.Exec(ctx, "postgres", "select 1"); err == nil {
			t.Errorf("Exec works on a stopped cluster")
		}
		if err := r.PG.Stop(); err != nil {
			t.Errorf("second Stop: %v", err)
		}
		if err := r.PG.Start(ctx); err != nil {
			t.Fatal(err)
		}
		conn := connectMonitor(ctx, t, r.PG, r.PG.Port)
		conn.Close(ctx)
		checkPids(t, r)
	})

	t.Run("close", func(t *testing.T) {
		pids := map[string]int{
			"pg": r.PG.PID, "central": r.Central.PID, "bastion": r.Bastion.PID,
			"dbhost": r.DBHost.PID, "legacy": r.LegacyPID,
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		for name, pid := range pids {
			if pid == 0 {
				t.Errorf("%s had no PID before Close", name)
			}
			checkGone(t, name, pid)
		}
		if _, err := os.Stat(r.Dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after Close: %v", r.Dir, err)
		}
		if err := r.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

// TestStartRefusesUnsafeBase checks that a Base under a world-writable
// directory (t.TempDir is under /tmp) is refused before anything starts.
func TestStartRefusesUnsafeBase(t *testing.T) {
	_, err := Start(t.Context(), Options{Base: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "StrictModes") {
		t.Fatalf("Start under /tmp: got %v, want a StrictModes error", err)
	}
}

// TestCleanStale checks that a rig directory whose owner died has its
// processes stopped and is removed, while live and kept ones stay.
func TestCleanStale(t *testing.T) {
	base, err := os.MkdirTemp("/run", "pggraph-rig-stale-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })

	dead := exec.Command("/bin/true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := dead.Process.Pid

	stale := filepath.Join(base, "stale")
	live := filepath.Join(base, "live")
	kept := filepath.Join(base, "kept")
	for _, d := range []string{stale, live, kept} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A leftover server of the stale rig: its command line names the dir.
	leftover := exec.Command("/bin/bash", "-c", "sleep 60; true", stale)
	if err := leftover.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { leftover.Wait(); close(done) }()
	t.Cleanup(func() { leftover.Process.Kill(); <-done })
	// Start returns once exec has begun; the kernel fills in the new
	// command line a moment later, and cleanStale rightly leaves alone a
	// process whose command line does not name the rig (a recycled PID).
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(cmdline(leftover.Process.Pid), stale); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("leftover process %d: command line %q", leftover.Process.Pid, cmdline(leftover.Process.Pid))
		}
	}

	write := func(path, data string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(stale, "owner"), fmt.Sprintf("%d 0\n", deadPID))
	write(filepath.Join(stale, "pids"), fmt.Sprintf("pg %d\n", leftover.Process.Pid))
	write(filepath.Join(live, "owner"), fmt.Sprintf("%d %d\n", os.Getpid(), procStart(os.Getpid())))
	write(filepath.Join(kept, "kept"), "")

	cleanStale(base, t.Logf)

	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale dir not removed: %v", err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Errorf("leftover process %d not stopped", leftover.Process.Pid)
	}
	for _, d := range []string{live, kept} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s removed: %v", d, err)
		}
	}
}

// testLog sends the rig's progress lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pubKeyBlob returns the base64 part of path's public key file (path or
// path + ".pub").
func pubKeyBlob(t *testing.T, path string) string {
	t.Helper()
	if !strings.HasSuffix(path, ".pub") {
		path += ".pub"
	}
	f := strings.Fields(string(mustRead(t, path)))
	if len(f) < 2 {
		t.Fatalf("%s: not a public key", path)
	}
	return f[1]
}

func mustSigner(t *testing.T, path string) ssh.Signer {
	t.Helper()
	s, err := ssh.ParsePrivateKey(mustRead(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// dialSSH opens an SSH client connection with a handshake deadline.
func dialSSH(ctx context.Context, addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

func monitorDSN(p *Postgres, port int, db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=%s password=%s dbname=%s sslmode=disable connect_timeout=10",
		port, p.MonitorUser, dsnQuote(p.MonitorPassword), db)
}

// connectMonitor connects as the monitor user to 127.0.0.1:port.
func connectMonitor(ctx context.Context, t *testing.T, p *Postgres, port int) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, monitorDSN(p, port, "postgres"))
	if err != nil {
		t.Fatalf("connect as %s to 127.0.0.1:%d: %v", p.MonitorUser, port, err)
	}
	return conn
}

// sshConfig writes the rig's OpenSSH client config with key.
func sshConfig(t *testing.T, r *Rig, key string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ssh_config")
	if err := r.WriteSSHConfig(path, key); err != nil {
		t.Fatal(err)
	}
	return path
}

func sshCmd(ctx context.Context, cfg string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "/usr/bin/ssh", append([]string{"-F", cfg}, args...)...)
}

// pgThroughSSH proves forwarding: through `ssh -W 127.0.0.1:pgPort host`
// it sends PostgreSQL's SSLRequest and expects the server's 'N'.
func pgThroughSSH(ctx context.Context, cfg, host string, pgPort int) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := sshCmd(ctx, cfg, "-W", fmt.Sprintf("127.0.0.1:%d", pgPort), host)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	// SSLRequest: length 8, code 80877103.
	if _, err := stdin.Write([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}); err != nil {
		return fmt.Errorf("ssh -W via %s: write: %w (%s)", host, err, stderr.String())
	}
	reply := make([]byte, 1)
	_, rerr := io.ReadFull(stdout, reply)
	stdin.Close()
	werr := cmd.Wait()
	if rerr != nil {
		return fmt.Errorf("ssh -W via %s: read reply: %v (exit %v): %s", host, rerr, werr, stderr.String())
	}
	if reply[0] != 'N' {
		return fmt.Errorf("ssh -W via %s: reply %q, want 'N'", host, reply)
	}
	return nil
}

// checkGone fails unless pid no longer exists.
func checkGone(t *testing.T, name string, pid int) {
	t.Helper()
	if pid == 0 {
		return
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("%s pid %d: kill 0 = %v, want ESRCH", name, pid, err)
	}
}

// checkPids compares Dir/pids with the rig's PIDs.
func checkPids(t *testing.T, r *Rig) {
	t.Helper()
	want := fmt.Sprintf("legacy %d\nbastion %d\ndbhost %d\npg %d\ncentral %d\n",
		r.LegacyPID, r.Bastion.PID, r.DBHost.PID, r.PG.PID, r.Central.PID)
	if got := string(mustRead(t, filepath.Join(r.Dir, "pids"))); got != want {
		t.Errorf("pids file:\n%s\nwant:\n%s", got, want)
	}
}

func tailString(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestStartPostgres checks the stand-alone cluster: initdb, start, the
// monitor role, Exec, ConnString quoting, Stop.
func TestStartPostgres(t *testing.T) {
	ctx := t.Context()
	dir, err := os.MkdirTemp("/run", "pggraph-rig-pg-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := StartPostgres(ctx, filepath.Join(dir, "it's"), testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop() })
	if err := p.Exec(ctx, "postgres", "create table t (v text); insert into t values ($1)", "x"); err == nil {
		t.Errorf("several statements with args should fail in the extended protocol")
	}
	if err := p.Exec(ctx, "postgres", "create table t (v text); insert into t values ('a')"); err != nil {
		t.Fatal(err)
	}
	if err := p.Exec(ctx, "postgres", "insert into t values ($1)", "b"); err != nil {
		t.Fatal(err)
	}
	conn := connectMonitor(ctx, t, p, p.Port)
	var n int
	if err := conn.QueryRow(ctx, "select count(*) from pg_stat_activity").Scan(&n); err != nil || n == 0 {
		t.Errorf("monitor sees %d sessions: %v", n, err)
	}
	conn.Close(ctx)
	cfg, err := pgx.ParseConfig(p.ConnString(`it's a \ db`))
	if err != nil {
		t.Fatalf("parse ConnString: %v", err)
	}
	if cfg.Database != `it's a \ db` || cfg.Password != p.SuperPassword || cfg.Port != uint16(p.Port) || cfg.Host != "127.0.0.1" {
		t.Errorf("ConnString round trip: %+v", cfg.Config)
	}
	pid := p.PID
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	checkGone(t, "postgres", pid)
}

// TestPortInUse checks that a server whose port is taken reports
// errPortInUse (so a first start retries elsewhere) and that startFresh
// then settles on another port.
func TestPortInUse(t *testing.T) {
	ctx := t.Context()
	base, err := os.MkdirTemp("/run", "pggraph-rig-port-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port

	t.Run("postgres", func(t *testing.T) {
		template, err := ensureTemplate(ctx, base, t.Logf)
		if err != nil {
			t.Fatal(err)
		}
		p, err := initPostgres(ctx, filepath.Join(base, "pg"), "pg", template, t.Logf)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Stop() })
		p.Port = taken
		if err := p.Start(ctx); !errors.Is(err, errPortInUse) {
			t.Fatalf("Start on a taken port: got %v, want errPortInUse", err)
		}
		if p.PID != 0 {
			t.Errorf("PID %d after a failed start", p.PID)
		}
		if err := p.startFresh(ctx); err != nil {
			t.Fatal(err)
		}
		if p.Port == taken {
			t.Errorf("startFresh kept the taken port")
		}
	})

	t.Run("sshd", func(t *testing.T) {
		s, err := newSSHD(ctx, filepath.Join(base, "sshd"), "test", filepath.Join(base, "authorized_keys"), t.Logf)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Stop() })
		s.Port, s.Addr = taken, fmt.Sprintf("127.0.0.1:%d", taken)
		if err := s.writeConfig(); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(ctx); !errors.Is(err, errPortInUse) {
			t.Fatalf("Start on a taken port: got %v, want errPortInUse", err)
		}
		if err := s.startFresh(ctx); err != nil {
			t.Fatal(err)
		}
		if s.Port == taken || s.PID == 0 {
			t.Errorf("after startFresh: port %d (taken %d), PID %d", s.Port, taken, s.PID)
		}
	})
}
