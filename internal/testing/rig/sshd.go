package rig

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	sshdBin   = "/usr/sbin/sshd"
	sshBin    = "/usr/bin/ssh"
	keygenBin = "/usr/bin/ssh-keygen"

	// rigUser is the SSH login user of both sshd.
	rigUser = "pggraph-rig"
	// rigUserHome is the home directory given to rigUser when the rig
	// creates it.
	rigUserHome = "/var/lib/pggraph-rig"

	sshdReadyTimeout = 10 * time.Second
)

// SSHD is one OpenSSH server run by the rig from its own configuration:
// /usr/sbin/sshd -D in the foreground, listening on 127.0.0.1 only, public
// key authentication only, for the user Rig.User, LogLevel DEBUG1.
//
// The methods may be called from several goroutines; the exported fields
// are written by Start and Stop (PID) and should be read when no Start or
// Stop is running.
type SSHD struct {
	Name     string // "bastion" or "dbhost"
	Port     int
	Addr     string   // "127.0.0.1:<Port>"
	Config   string   // sshd_config path
	LogFile  string   // sshd -E log: DEBUG1 lines of the server and of every connection
	PID      int      // PID of the listener, 0 when stopped
	HostKeys []string // private host key files: ed25519, ecdsa, rsa (each with its .pub)

	dir            string
	authorizedKeys string
	permitOpen     []string // PermitOpen targets; empty means no limit
	logf           func(format string, args ...any)
	// afterStart and afterStop are set by the rig: they refresh Dir/pids
	// and Dir/rig.env, and for DBHost also stop or restart the legacy
	// tunnel that depends on it.
	afterStart func(context.Context) error
	afterStop  func() error

	mu   sync.Mutex
	proc *process
}

// newSSHD prepares the directory and host keys of one server; it does not
// write the configuration, which needs the port.
func newSSHD(ctx context.Context, dir, name, authorizedKeys string, logf func(string, ...any)) (*SSHD, error) {
	s := &SSHD{
		Name:           name,
		Config:         filepath.Join(dir, "sshd_config"),
		LogFile:        filepath.Join(dir, "sshd.log"),
		dir:            dir,
		authorizedKeys: authorizedKeys,
		logf:           logf,
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("prepare sshd %s: %w", name, err)
	}
	errs := make(chan error, 3)
	for _, kt := range []string{"ed25519", "ecdsa", "rsa"} {
		path := filepath.Join(dir, "ssh_host_"+kt+"_key")
		s.HostKeys = append(s.HostKeys, path)
		go func() {
			errs <- keygen(ctx, path, kt, "", "host "+name, false)
		}()
	}
	var err error
	for range 3 {
		err = errors.Join(err, <-errs)
	}
	if err != nil {
		return nil, fmt.Errorf("generate host keys of sshd %s: %w", name, err)
	}
	return s, nil
}

// writeConfig writes sshd_config for the current port.
func (s *SSHD) writeConfig() error {
	var b strings.Builder
	fmt.Fprintf(&b, "# pggraph rig sshd %q\n", s.Name)
	fmt.Fprintf(&b, "Port %d\nListenAddress 127.0.0.1\nAddressFamily inet\n", s.Port)
	for _, k := range s.HostKeys {
		fmt.Fprintf(&b, "HostKey %s\n", k)
	}
	fmt.Fprintf(&b, "PidFile %s\n", filepath.Join(s.dir, "sshd.pid"))
	fmt.Fprintf(&b, "AuthorizedKeysFile %s\n", s.authorizedKeys)
	b.WriteString(`StrictModes yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowTcpForwarding yes
AllowAgentForwarding no
AllowStreamLocalForwarding no
X11Forwarding no
GatewayPorts no
PermitTunnel no
AllowUsers ` + rigUser + `
PermitRootLogin no
LogLevel DEBUG1
MaxStartups 100:30:200
MaxSessions 50
UseDNS no
PrintMotd no
`)
	if len(s.permitOpen) > 0 {
		fmt.Fprintf(&b, "PermitOpen %s\n", strings.Join(s.permitOpen, " "))
	}
	if err := os.WriteFile(s.Config, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write config of sshd %s: %w", s.Name, err)
	}
	return nil
}

// startFresh starts the server for the first time on a free port, trying
// other ports when one turns out to be taken.
func (s *SSHD) startFresh(ctx context.Context) error {
	var err error
	for range bindAttempts {
		port, perr := freePort()
		if perr != nil {
			return fmt.Errorf("start sshd %s: %w", s.Name, perr)
		}
		s.Port, s.Addr = port, fmt.Sprintf("127.0.0.1:%d", port)
		if err := s.writeConfig(); err != nil {
			return err
		}
		err = s.start(ctx)
		if !errors.Is(err, errPortInUse) {
			return err
		}
		s.logf("sshd %s: port %d taken, trying another", s.Name, port)
	}
	return err
}

// Start starts the server (again, after Stop) on the same port with the
// same keys and configuration, and waits until it has logged that it
// listens and a connection reads the "SSH-2.0" banner, for at most 10 s.
// Starting a running server does nothing. On failure the error holds the
// tail of LogFile.
func (s *SSHD) Start(ctx context.Context) error {
	err := s.start(ctx)
	if err == nil && s.afterStart != nil {
		err = s.afterStart(ctx)
	}
	return err
}

func (s *SSHD) start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil && !s.proc.exited() {
		return nil
	}
	what := fmt.Sprintf("start sshd %s on %s", s.Name, s.Addr)
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return fmt.Errorf("%s: privilege separation directory: %w", what, err)
	}
	logFile, err := openLog(s.LogFile)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	offset := fileSize(s.LogFile)
	// -E sends the log of the listener and of every connection to LogFile;
	// stderr catches what sshd prints before it opens that file.
	cmd := exec.Command(sshdBin, "-D", "-E", s.LogFile, "-f", s.Config)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin"}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	proc, err := spawn(cmd, nil, syscall.SIGTERM)
	logFile.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	s.proc, s.PID = proc, proc.pid
	if err := s.waitReady(ctx, offset); err != nil {
		_ = proc.stop([]stopStep{{syscall.SIGTERM, 5 * time.Second}}, nil)
		s.proc, s.PID = nil, 0
		if errors.Is(err, errPortInUse) {
			return fmt.Errorf("%s: %w", what, err)
		}
		return fmt.Errorf("%s: %w%s", what, err, tail(s.LogFile, 20))
	}
	s.logf("sshd %s: ready on %s (pid %d)", s.Name, s.Addr, s.PID)
	return nil
}

// waitReady waits for "Server listening on 127.0.0.1 port N." in the log
// (so the port is ours, not another server's) and then for the banner.
func (s *SSHD) waitReady(ctx context.Context, logOffset int64) error {
	ctx, cancel := context.WithTimeout(ctx, sshdReadyTimeout)
	defer cancel()
	listening := fmt.Sprintf("Server listening on 127.0.0.1 port %d.", s.Port)
	for {
		if s.proc.exited() {
			if strings.Contains(logSince(s.LogFile, logOffset), "Address already in use") {
				return errPortInUse
			}
			return fmt.Errorf("sshd exited: %v", s.proc.err)
		}
		if strings.Contains(logSince(s.LogFile, logOffset), listening) {
			banner, err := readBanner(ctx, s.Addr)
			if err == nil && strings.HasPrefix(banner, "SSH-2.0") {
				return nil
			}
			if err == nil {
				err = fmt.Errorf("unexpected banner %q", banner)
			}
			return fmt.Errorf("read banner: %w", err)
		}
		if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
			return fmt.Errorf("not listening after %v: %w", sshdReadyTimeout, err)
		}
	}
}

// readBanner connects to addr and returns the first line the server sends.
// It sends its own identification first so sshd logs a clean disconnect.
func readBanner(ctx context.Context, addr string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := conn.Write([]byte("SSH-2.0-pggraph-rig-probe\r\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// Stop ends the server: SIGTERM to the listener and to every process it
// spawned (the open connections), as when a host goes down; SIGKILL after
// 5 s. It waits for the listener to exit. Stopping a stopped server does
// nothing. Stopping a rig's DBHost also stops the legacy tunnel (its
// connection is gone); DBHost.Start brings it back on the same LegacyPort.
func (s *SSHD) Stop() error {
	s.mu.Lock()
	var err error
	if s.proc != nil {
		kids := descendants(s.proc.pid)
		for _, k := range kids {
			_ = syscall.Kill(k, syscall.SIGTERM)
		}
		err = s.proc.stop([]stopStep{{syscall.SIGTERM, 5 * time.Second}},
			func(m string) { s.logf("sshd %s: %s", s.Name, m) })
		deadline := time.Now().Add(5 * time.Second)
		for _, k := range kids {
			for alive(k) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if alive(k) {
				_ = syscall.Kill(k, syscall.SIGKILL)
			}
		}
		if err == nil {
			s.proc, s.PID = nil, 0
		}
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("stop sshd %s: %w", s.Name, err)
	}
	if s.afterStop != nil {
		return s.afterStop()
	}
	return nil
}

// Log returns the whole log of the server so far, restarts included.
func (s *SSHD) Log() (string, error) {
	b, err := os.ReadFile(s.LogFile)
	if err != nil {
		return "", fmt.Errorf("read log of sshd %s: %w", s.Name, err)
	}
	return string(b), nil
}

func (s *SSHD) pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.PID
}

// hostKeyLine returns the known_hosts line of the server's ed25519 key.
func (s *SSHD) hostKeyLine() (string, error) {
	b, err := os.ReadFile(s.HostKeys[0] + ".pub")
	if err != nil {
		return "", fmt.Errorf("read host key of sshd %s: %w", s.Name, err)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 || f[0] != "ssh-ed25519" {
		return "", fmt.Errorf("host key of sshd %s: unexpected %q", s.Name, string(b))
	}
	return fmt.Sprintf("[127.0.0.1]:%d %s %s\n", s.Port, f[0], f[1]), nil
}

// keygen runs ssh-keygen for one key; pem selects the old PEM format.
func keygen(ctx context.Context, path, keyType, passphrase, comment string, pem bool) error {
	args := []string{"-q", "-t", keyType, "-N", passphrase, "-C", comment, "-f", path}
	switch keyType {
	case "rsa":
		args = append(args, "-b", "2048")
	case "ecdsa":
		args = append(args, "-b", "256")
	}
	if pem {
		args = append(args, "-m", "PEM")
	}
	if err := run(ctx, nil, "/", keygenBin, args...); err != nil {
		return fmt.Errorf("generate %s key %s: %w", keyType, path, err)
	}
	return nil
}

// ensureUser creates the SSH login user when it is missing, with password
// field '*' (a locked '!' account is refused by sshd with UsePAM no).
// Concurrent rigs may race to create it: a failed useradd is retried
// after looking again.
func ensureUser(ctx context.Context) error {
	var last error
	for range 50 {
		if _, err := user.Lookup(rigUser); err == nil {
			return unlockUser(ctx)
		}
		last = run(ctx, nil, "/", "/usr/sbin/useradd", "--system", "--create-home",
			"--home-dir", rigUserHome, "--shell", "/bin/bash", "--password", "*", rigUser)
		if last == nil {
			return nil
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			break
		}
	}
	return fmt.Errorf("create user %s: %w", rigUser, last)
}

// unlockUser replaces a locked password field ('!…') of the rig user by
// '*', so that public key logins work without PAM.
func unlockUser(ctx context.Context) error {
	b, err := os.ReadFile("/etc/shadow")
	if err != nil {
		return fmt.Errorf("read /etc/shadow: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 1 && f[0] == rigUser && strings.HasPrefix(f[1], "!") {
			if err := run(ctx, nil, "/", "/usr/sbin/usermod", "--password", "*", rigUser); err != nil {
				return fmt.Errorf("unlock user %s: %w", rigUser, err)
			}
		}
	}
	return nil
}

// sshClientConfig is an OpenSSH client configuration for a rig's servers:
// host "dbhost", and with a bastionPort host "bastion" and "via-bastion"
// (the db host through the bastion), logging in as the rig user with key,
// trusting only knownHosts, never asking anything. extra are more options
// for every host.
func sshClientConfig(key, knownHosts string, dbPort, bastionPort int, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Host dbhost\n\tHostName 127.0.0.1\n\tPort %d\n", dbPort)
	if bastionPort != 0 {
		fmt.Fprintf(&b, "Host bastion\n\tHostName 127.0.0.1\n\tPort %d\n", bastionPort)
		fmt.Fprintf(&b, "Host via-bastion\n\tHostName 127.0.0.1\n\tPort %d\n\tProxyJump bastion\n", dbPort)
	}
	fmt.Fprintf(&b, `Host *
	User %s
	IdentityFile %s
	IdentitiesOnly yes
	IdentityAgent none
	UserKnownHostsFile %s
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	UpdateHostKeys no
	BatchMode yes
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	ExitOnForwardFailure yes
	ConnectTimeout 10
`, rigUser, key, knownHosts)
	for _, e := range extra {
		b.WriteString("\t" + e + "\n")
	}
	return b.String()
}

// WriteSSHConfig writes an OpenSSH client configuration (0600) for this
// rig to path: hosts "dbhost", "bastion" and "via-bastion" (the db host
// through the bastion, ProxyJump), as User with key, checking host keys
// against KnownHosts only.
func (r *Rig) WriteSSHConfig(path, key string) error {
	cfg := sshClientConfig(key, r.KnownHosts, r.DBHost.Port, r.Bastion.Port)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("rig: write ssh config: %w", err)
	}
	return nil
}

// legacyTunnel is the original's manual bastion tunnel: an OpenSSH client
// forwarding a local port to PostgreSQL through the db host.
type legacyTunnel struct {
	port    int
	config  string
	logFile string
	proc    *process
}

// startLegacy starts `ssh -N -L` on a free port and waits until it accepts,
// trying other ports when one is taken.
func startLegacy(ctx context.Context, dir string, keys Keys, knownHosts string, db *SSHD, pgPort int, logf func(string, ...any)) (*legacyTunnel, error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("start legacy tunnel: %w", err)
	}
	lt := &legacyTunnel{config: filepath.Join(dir, "ssh_config"), logFile: filepath.Join(dir, "ssh.log")}
	cfg := "# pggraph rig: the original's manual bastion tunnel to the db host\n" +
		sshClientConfig(keys.ED25519, knownHosts, db.Port, 0, "ServerAliveInterval 5", "LogLevel DEBUG1")
	if err := os.WriteFile(lt.config, []byte(cfg), 0o600); err != nil {
		return nil, fmt.Errorf("start legacy tunnel: write config: %w", err)
	}
	var err error
	for range bindAttempts {
		if lt.port, err = freePort(); err != nil {
			return nil, fmt.Errorf("start legacy tunnel: %w", err)
		}
		err = lt.start(ctx, db, pgPort)
		if !errors.Is(err, errPortInUse) {
			break
		}
		logf("legacy tunnel: port %d taken, trying another", lt.port)
	}
	if err != nil {
		return nil, err
	}
	logf("legacy tunnel: 127.0.0.1:%d -> dbhost -> 127.0.0.1:%d (pid %d)", lt.port, pgPort, lt.proc.pid)
	return lt, nil
}

func (lt *legacyTunnel) start(ctx context.Context, db *SSHD, pgPort int) error {
	what := fmt.Sprintf("start legacy tunnel 127.0.0.1:%d via %s", lt.port, db.Addr)
	logFile, err := openLog(lt.logFile)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	offset := fileSize(lt.logFile)
	cmd := exec.Command(sshBin, "-F", lt.config, "-N",
		"-L", fmt.Sprintf("127.0.0.1:%d:127.0.0.1:%d", lt.port, pgPort), "dbhost")
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/root"}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	proc, err := spawn(cmd, nil, syscall.SIGTERM)
	logFile.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	lt.proc = proc
	wctx, cancel := context.WithTimeout(ctx, sshdReadyTimeout)
	defer cancel()
	listening := fmt.Sprintf("Local forwarding listening on 127.0.0.1 port %d.", lt.port)
	for {
		if proc.exited() {
			lt.proc = nil
			if strings.Contains(logSince(lt.logFile, offset), "Address already in use") {
				return fmt.Errorf("%s: %w", what, errPortInUse)
			}
			return fmt.Errorf("%s: ssh exited: %v%s", what, proc.err, tail(lt.logFile, 20))
		}
		if strings.Contains(logSince(lt.logFile, offset), listening) {
			var d net.Dialer
			c, err := d.DialContext(wctx, "tcp", fmt.Sprintf("127.0.0.1:%d", lt.port))
			if err == nil {
				c.Close()
				return nil
			}
		}
		if err := sleepCtx(wctx, 10*time.Millisecond); err != nil {
			_ = lt.stop()
			return fmt.Errorf("%s: not accepting after %v: %w%s", what, sshdReadyTimeout, err, tail(lt.logFile, 20))
		}
	}
}

func (lt *legacyTunnel) stop() error {
	if lt == nil || lt.proc == nil {
		return nil
	}
	if err := lt.proc.stop([]stopStep{{syscall.SIGTERM, 5 * time.Second}}, nil); err != nil {
		return fmt.Errorf("stop legacy tunnel: %w", err)
	}
	lt.proc = nil
	return nil
}
