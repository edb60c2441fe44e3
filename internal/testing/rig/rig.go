// Package rig starts the real servers pggraph's integration tests run
// against: a client ("remote") PostgreSQL 15, optionally a second
// independent "central" cluster, two OpenSSH servers (a bastion whose
// PermitOpen limits where it forwards, and a db host) and the original's
// manual bastion tunnel (an `ssh -N -L` client held open to the db host).
//
// Everything listens on 127.0.0.1 ports chosen at run time, lives in one
// directory (Options.Base/<random>), is started as a child process and
// stopped by PID. The servers log to files inside that directory so tests
// can assert on what happened (for example that a connection went through
// the bastion). Every child gets a parent-death signal, so a test binary
// that dies takes its servers with it; a rig directory whose owner died is
// cleaned up by the next Start.
//
// PG and Central are copies of a template cluster that the first Start
// under a Base makes with initdb (Base/.pg15-template-v1), each given a
// system identifier of its own: a copy costs a fraction of initdb's CPU
// second.
//
// Children are started by a goroutine locked to its OS thread for the
// child's whole life and given Pdeathsig: Linux sends that signal when the
// forking *thread* ends, and Go ends a thread whenever a goroutine locked
// to it returns, so forking from an ordinary goroutine would let any later
// LockOSThread user kill the rig's servers at random.
//
// The rig needs root (it runs postgres as the postgres user, starts sshd
// and creates the login user) and Debian's postgresql (15),
// postgresql-15-pg-wait-sampling (preloaded with pg_stat_statements),
// openssh-server and openssh-client packages: see deploy/deps.sh.
//
// Typical use, once per package test binary:
//
//	func TestMain(m *testing.M) {
//		r, err := rig.Start(context.Background(), rig.Options{})
//		if err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		code := m.Run()
//		r.Close()
//		os.Exit(code)
//	}
package rig

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// defaultBase is the parent of rig directories when Options.Base is empty.
const defaultBase = "/run/pggraph-rig"

// Options configures Start. The zero value starts a rig without a central
// cluster under /run/pggraph-rig, removes its directory on Close and logs
// nothing.
type Options struct {
	// Base is the parent of the rig directory; "" means /run/pggraph-rig.
	// It must not sit under a group- or world-writable directory: sshd's
	// StrictModes checks every directory above AuthorizedKeysFile. Start
	// creates Base 0755 root-owned when missing and refuses an unsafe one.
	Base string
	// Central also starts a second, independent PostgreSQL cluster as
	// Rig.Central.
	Central bool
	// Keep makes Close leave the rig directory (logs, keys, data) in
	// place; the next Start does not clean it up either.
	Keep bool
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Rig is a running set of servers; see Start. Close stops it. The servers'
// Start and Stop methods may be called while tests run; the exported
// fields change only in those calls (PIDs, LegacyPID) and in Close.
type Rig struct {
	// Dir is this rig's directory, Base/<random>. It holds rig.env
	// (WriteEnv's output, 0600), pids ("name pid" lines of the running
	// processes) and one subdirectory per server with its logs.
	Dir string
	// User is the SSH login user on both sshd: "pggraph-rig".
	User string
	// Keys are the client key files, all but Keys.Unauthorized authorized
	// on both sshd.
	Keys Keys
	// KnownHosts is a known_hosts file holding only the ed25519 host keys
	// of Bastion and DBHost, as "[127.0.0.1]:PORT ssh-ed25519 AAAA…"
	// lines. Both servers also offer ecdsa and rsa host keys.
	KnownHosts string
	// Bastion is the jump host. Its PermitOpen allows only
	// "127.0.0.1:<DBHost.Port>" and "127.0.0.1:<LegacyPort>" (literal
	// strings: "localhost:…" is refused).
	Bastion *SSHD
	// DBHost is the client's database host; it forwards anywhere.
	DBHost *SSHD
	// LegacyPort is the original's manual bastion tunnel: on the
	// "bastion", an OpenSSH client holds
	// `ssh -N -L 127.0.0.1:LegacyPort:127.0.0.1:<PG.Port>` open to DBHost
	// with Keys.ED25519, so 127.0.0.1:LegacyPort reaches PG.
	LegacyPort int
	// LegacyPID is the PID of that ssh client, 0 once stopped.
	LegacyPID int
	// PG is the client ("remote") PostgreSQL cluster.
	PG *Postgres
	// Central is the central pggraph cluster, nil unless Options.Central.
	Central *Postgres

	opt    Options
	base   string
	logf   func(format string, args ...any)
	legacy *legacyTunnel

	mu     sync.Mutex // serialises state files and Close
	closed bool
}

// Keys are the client key files of a rig, inside Dir/keys. Every private
// key file has its public key beside it (path + ".pub"); all are 0600 and
// owned by root.
type Keys struct {
	// ED25519, ECDSA and RSA (2048 bit) are unencrypted private keys in
	// OpenSSH format, authorized on both sshd.
	ED25519, ECDSA, RSA string
	// Protected is an ed25519 key encrypted with Passphrase, authorized.
	Protected  string
	Passphrase string
	// DSA is a DSA key in PEM format ("BEGIN DSA PRIVATE KEY"), the
	// original's id_dsa; it is authorized but sshd refuses DSA anyway.
	DSA string
	// DSAOpenSSH is a DSA key in the new OpenSSH format, which
	// golang.org/x/crypto/ssh cannot parse; authorized like DSA.
	DSAOpenSSH string
	// Unauthorized is an ed25519 key that is in no authorized_keys.
	Unauthorized string
}

// Start starts a rig: it removes stale rigs under Base, creates the login
// user if missing, generates keys, starts PG (and Central), DBHost, the
// legacy tunnel and Bastion, and writes Dir/rig.env and Dir/pids. It must
// run as root. On failure it stops whatever it started, removes the
// directory (unless Options.Keep) and returns an error naming the step,
// with the tail of the failing server's log.
func Start(ctx context.Context, opt Options) (*Rig, error) {
	if err := requireRoot(); err != nil {
		return nil, err
	}
	pl := newProgress(opt.Log)
	base := opt.Base
	if base == "" {
		base = defaultBase
	}
	base, err := filepath.Abs(base)
	if err != nil {
		return nil, fmt.Errorf("start rig: base %s: %w", opt.Base, err)
	}
	if err := prepareBase(base); err != nil {
		return nil, fmt.Errorf("start rig: %w", err)
	}
	cleanStale(base, pl.logf)
	dir, err := os.MkdirTemp(base, "")
	if err != nil {
		return nil, fmt.Errorf("start rig: create directory: %w", err)
	}
	r := &Rig{Dir: dir, User: rigUser, opt: opt, base: base, logf: pl.logf}
	if err := r.start(ctx); err != nil {
		if cerr := r.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, fmt.Errorf("start rig %s: %w", dir, err)
	}
	pl.logf("ready in %v: %s", pl.elapsed(), dir)
	return r, nil
}

// start does Start's work in r.Dir; Start cleans up after a failure.
func (r *Rig) start(ctx context.Context) error {
	if err := os.Chmod(r.Dir, 0o755); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	if err := writeOwner(r.Dir); err != nil {
		return err
	}
	r.KnownHosts = filepath.Join(r.Dir, "known_hosts")
	authorizedKeys := filepath.Join(r.Dir, "authorized_keys")

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		cancel()
	}

	// Three branches: the SSH side (user, keys, host keys, then DBHost, and
	// once PG listens the legacy tunnel and Bastion), PG, and Central.
	pgUp := make(chan struct{})
	wg.Go(func() {
		if err := r.startSSH(ctx, authorizedKeys, pgUp); err != nil {
			fail(err)
		}
	})
	startPG := func(name string, set func(*Postgres)) error {
		template, err := ensureTemplate(ctx, r.base, r.logf)
		if err != nil {
			return err
		}
		p, err := initPostgres(ctx, filepath.Join(r.Dir, name), name, template, r.logf)
		if err != nil {
			return err
		}
		set(p)
		return p.startFresh(ctx)
	}
	wg.Go(func() {
		if err := startPG("pg", func(p *Postgres) { r.PG = p }); err != nil {
			fail(err)
			return
		}
		close(pgUp)
	})
	if r.opt.Central {
		wg.Go(func() {
			if err := startPG("central", func(p *Postgres) { r.Central = p }); err != nil {
				fail(err)
			}
		})
	}
	wg.Wait()
	if err := firstErrors(errs); err != nil {
		return err
	}
	r.Bastion.afterStart = func(context.Context) error { return r.writeState() }
	r.Bastion.afterStop = r.writeState
	r.DBHost.afterStart = r.legacyUp
	r.DBHost.afterStop = r.legacyDown
	for _, p := range []*Postgres{r.PG, r.Central} {
		if p != nil {
			p.onChange = r.writeState
		}
	}
	return r.writeState()
}

// startSSH creates the login user and the keys, starts DBHost, and once
// pgUp is closed (PG.Port is final) the legacy tunnel and then Bastion,
// whose PermitOpen names the legacy port.
func (r *Rig) startSSH(ctx context.Context, authorizedKeys string, pgUp <-chan struct{}) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	wg.Go(func() {
		if err := ensureUser(ctx); err != nil {
			fail(err)
		}
	})
	wg.Go(func() {
		keys, err := makeKeys(ctx, filepath.Join(r.Dir, "keys"), authorizedKeys)
		if err != nil {
			fail(err)
			return
		}
		r.Keys = keys
		r.logf("client keys generated")
	})
	var db, bastion *SSHD
	wg.Go(func() {
		var err error
		if db, err = newSSHD(ctx, filepath.Join(r.Dir, "dbhost"), "dbhost", authorizedKeys, r.logf); err != nil {
			fail(err)
		}
	})
	wg.Go(func() {
		var err error
		if bastion, err = newSSHD(ctx, filepath.Join(r.Dir, "bastion"), "bastion", authorizedKeys, r.logf); err != nil {
			fail(err)
		}
	})
	wg.Wait()
	r.DBHost, r.Bastion = db, bastion
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.logf("host keys generated")
	if err := db.startFresh(ctx); err != nil {
		return err
	}
	// The legacy tunnel needs DBHost in known_hosts.
	if err := r.writeKnownHosts(db); err != nil {
		return err
	}
	select {
	case <-pgUp:
	case <-ctx.Done():
		return ctx.Err()
	}
	lt, err := startLegacy(ctx, filepath.Join(r.Dir, "legacy"), r.Keys, r.KnownHosts, db, r.PG.Port, r.logf)
	if err != nil {
		return err
	}
	r.legacy, r.LegacyPort, r.LegacyPID = lt, lt.port, lt.proc.pid
	bastion.permitOpen = []string{db.Addr, fmt.Sprintf("127.0.0.1:%d", r.LegacyPort)}
	if err := bastion.startFresh(ctx); err != nil {
		return err
	}
	return r.writeKnownHosts(bastion, db)
}

// firstErrors joins errs without the cancellations that the first failure
// caused in the other branches of a parallel start.
func firstErrors(errs []error) error {
	var keep []error
	for i, err := range errs {
		if i == 0 || !errors.Is(err, context.Canceled) {
			keep = append(keep, err)
		}
	}
	return errors.Join(keep...)
}

// makeKeys generates the client keys in dir and writes authorizedKeys.
func makeKeys(ctx context.Context, dir, authorizedKeys string) (Keys, error) {
	k := Keys{
		ED25519:      filepath.Join(dir, "id_ed25519"),
		ECDSA:        filepath.Join(dir, "id_ecdsa"),
		RSA:          filepath.Join(dir, "id_rsa"),
		Protected:    filepath.Join(dir, "id_ed25519_protected"),
		Passphrase:   rand.Text(),
		DSA:          filepath.Join(dir, "id_dsa"),
		DSAOpenSSH:   filepath.Join(dir, "id_dsa_openssh"),
		Unauthorized: filepath.Join(dir, "id_ed25519_unauthorized"),
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return k, fmt.Errorf("generate keys: %w", err)
	}
	type spec struct {
		path, typ, pass string
		pem, authorized bool
	}
	specs := []spec{
		{k.ED25519, "ed25519", "", false, true},
		{k.ECDSA, "ecdsa", "", false, true},
		{k.RSA, "rsa", "", false, true},
		{k.Protected, "ed25519", k.Passphrase, false, true},
		{k.DSA, "dsa", "", true, true},
		{k.DSAOpenSSH, "dsa", "", false, true},
		{k.Unauthorized, "ed25519", "", false, false},
	}
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Go(func() {
			errs[i] = keygen(ctx, s.path, s.typ, s.pass, "pggraph-rig "+filepath.Base(s.path), s.pem)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return k, fmt.Errorf("generate keys: %w", err)
	}
	var auth strings.Builder
	for _, s := range specs {
		for _, f := range []string{s.path, s.path + ".pub"} {
			if err := os.Chmod(f, 0o600); err != nil {
				return k, fmt.Errorf("generate keys: %w", err)
			}
		}
		if !s.authorized {
			continue
		}
		pub, err := os.ReadFile(s.path + ".pub")
		if err != nil {
			return k, fmt.Errorf("generate keys: %w", err)
		}
		auth.WriteString(strings.TrimSpace(string(pub)) + "\n")
	}
	// Root-owned and 0644: sshd reads it as the login user, and StrictModes
	// accepts a file owned by root.
	if err := os.WriteFile(authorizedKeys, []byte(auth.String()), 0o644); err != nil {
		return k, fmt.Errorf("write authorized_keys: %w", err)
	}
	return k, nil
}

// writeKnownHosts writes KnownHosts with the ed25519 key of each server.
func (r *Rig) writeKnownHosts(servers ...*SSHD) error {
	var b strings.Builder
	for _, s := range servers {
		line, err := s.hostKeyLine()
		if err != nil {
			return fmt.Errorf("write known_hosts: %w", err)
		}
		b.WriteString(line)
	}
	if err := writeFileAtomic(r.KnownHosts, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write known_hosts: %w", err)
	}
	return nil
}

// Close stops everything the rig started, by PID: the legacy tunnel, both
// sshd (with their open connections) and the clusters. It then removes Dir,
// unless Options.Keep: a kept directory is marked so that later Starts
// leave it alone (deploy/rig down removes it). Closing twice does nothing.
func (r *Rig) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()

	var errs []error
	if err := r.legacy.stop(); err != nil {
		errs = append(errs, err)
	}
	r.mu.Lock()
	r.LegacyPID = 0
	r.mu.Unlock()
	for _, s := range []*SSHD{r.Bastion, r.DBHost} {
		if s != nil {
			s.afterStart, s.afterStop = nil, nil
			if err := s.Stop(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, p := range []*Postgres{r.PG, r.Central} {
		if p != nil {
			p.onChange = nil
			if err := p.Stop(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if r.opt.Keep {
		if err := os.WriteFile(filepath.Join(r.Dir, "kept"), nil, 0o644); err != nil {
			errs = append(errs, fmt.Errorf("mark kept: %w", err))
		}
		_ = os.Remove(filepath.Join(r.Dir, "owner"))
		if err := r.writeStateLocked(); err != nil {
			errs = append(errs, err)
		}
		r.logf("stopped; kept %s", r.Dir)
	} else {
		if err := os.RemoveAll(r.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", r.Dir, err))
		}
		r.logf("stopped; removed %s", r.Dir)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close rig %s: %w", r.Dir, err)
	}
	return nil
}

// legacyDown stops the legacy tunnel after DBHost stopped (its connection
// died with DBHost anyway) and records the new state.
func (r *Rig) legacyDown() error {
	err := r.legacy.stop()
	r.mu.Lock()
	r.LegacyPID = 0
	r.mu.Unlock()
	return errors.Join(err, r.writeState())
}

// legacyUp restarts the legacy tunnel on LegacyPort after DBHost started
// again, and records the new state.
func (r *Rig) legacyUp(ctx context.Context) error {
	var err error
	if r.legacy != nil && (r.legacy.proc == nil || r.legacy.proc.exited()) {
		r.legacy.proc = nil
		if err = r.legacy.start(ctx, r.DBHost, r.PG.Port); err == nil {
			r.mu.Lock()
			r.LegacyPID = r.legacy.proc.pid
			r.mu.Unlock()
			r.logf("legacy tunnel: restarted on 127.0.0.1:%d (pid %d)", r.LegacyPort, r.LegacyPID)
		}
	}
	return errors.Join(err, r.writeState())
}

// WriteEnv writes shell-sourceable KEY='value' lines describing the rig:
// RIG_DIR, RIG_USER, RIG_KEY (Keys.ED25519), RIG_KNOWN_HOSTS, the ports
// (RIG_BASTION_PORT, RIG_DBHOST_PORT, RIG_LEGACY_PORT, RIG_PG_PORT), PG's
// RIG_PG_SOCKET_DIR, RIG_PG_SUPERPASSWORD, RIG_PG_MONITOR_USER and
// RIG_PG_MONITOR_PASSWORD, the same RIG_CENTRAL_* when Central runs, the
// log files and the PIDs (RIG_*_PID, 0 when stopped).
func (r *Rig) WriteEnv(w io.Writer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writeEnv(w)
}

// writeEnv is WriteEnv with r.mu held.
func (r *Rig) writeEnv(w io.Writer) error {
	var b strings.Builder
	kv := func(k string, v any) {
		fmt.Fprintf(&b, "%s=%s\n", k, shellQuote(fmt.Sprint(v)))
	}
	kv("RIG_DIR", r.Dir)
	kv("RIG_USER", r.User)
	kv("RIG_KEY", r.Keys.ED25519)
	kv("RIG_KEY_PASSPHRASE", r.Keys.Passphrase)
	kv("RIG_KNOWN_HOSTS", r.KnownHosts)
	for _, s := range []struct {
		prefix string
		s      *SSHD
	}{{"RIG_BASTION", r.Bastion}, {"RIG_DBHOST", r.DBHost}} {
		if s.s == nil {
			continue
		}
		kv(s.prefix+"_PORT", s.s.Port)
		kv(s.prefix+"_LOG", s.s.LogFile)
		kv(s.prefix+"_PID", s.s.pid())
	}
	kv("RIG_LEGACY_PORT", r.LegacyPort)
	kv("RIG_LEGACY_PID", r.LegacyPID)
	for _, p := range []struct {
		prefix string
		p      *Postgres
	}{{"RIG_PG", r.PG}, {"RIG_CENTRAL", r.Central}} {
		if p.p == nil {
			continue
		}
		kv(p.prefix+"_PORT", p.p.Port)
		kv(p.prefix+"_SOCKET_DIR", p.p.SocketDir)
		kv(p.prefix+"_DATA_DIR", p.p.DataDir)
		kv(p.prefix+"_LOG", p.p.LogFile)
		kv(p.prefix+"_SUPERPASSWORD", p.p.SuperPassword)
		kv(p.prefix+"_MONITOR_USER", p.p.MonitorUser)
		kv(p.prefix+"_MONITOR_PASSWORD", p.p.MonitorPassword)
		kv(p.prefix+"_PID", p.p.pid())
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write rig env: %w", err)
	}
	return nil
}

// shellQuote quotes s for POSIX shells.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// writeState rewrites Dir/pids and Dir/rig.env.
func (r *Rig) writeState() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writeStateLocked()
}

func (r *Rig) writeStateLocked() error {
	var pids strings.Builder
	add := func(name string, pid int) {
		if pid > 0 {
			fmt.Fprintf(&pids, "%s %d\n", name, pid)
		}
	}
	add("legacy", r.LegacyPID)
	for _, s := range []*SSHD{r.Bastion, r.DBHost} {
		if s != nil {
			add(s.Name, s.pid())
		}
	}
	if r.PG != nil {
		add("pg", r.PG.pid())
	}
	if r.Central != nil {
		add("central", r.Central.pid())
	}
	if err := writeFileAtomic(filepath.Join(r.Dir, "pids"), []byte(pids.String()), 0o644); err != nil {
		return fmt.Errorf("write pids: %w", err)
	}
	var env strings.Builder
	if err := r.writeEnv(&env); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(r.Dir, "rig.env"), []byte(env.String()), 0o600); err != nil {
		return fmt.Errorf("write rig.env: %w", err)
	}
	return nil
}

// writeFileAtomic replaces path with data through a rename.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// requireRoot fails unless the process runs as root.
func requireRoot() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("rig: must run as root (euid is %d): it starts sshd, creates the user %s and runs postgres as the postgres user", os.Geteuid(), rigUser)
	}
	return nil
}

// prepareBase creates base (0755, root) when missing and checks that base
// and every directory above it are root-owned and writable by root only,
// as sshd's StrictModes demands of the path to AuthorizedKeysFile.
func prepareBase(base string) error {
	if _, err := os.Stat(base); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(base, 0o755); err != nil {
			return fmt.Errorf("create base %s: %w", base, err)
		}
		if err := os.Chmod(base, 0o755); err != nil {
			return fmt.Errorf("create base %s: %w", base, err)
		}
	}
	for d := base; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("check base %s: %w", base, err)
		}
		if !st.IsDir() {
			return fmt.Errorf("check base %s: %s is not a directory", base, d)
		}
		uid := st.Sys().(*syscall.Stat_t).Uid
		if uid != 0 || st.Mode().Perm()&0o022 != 0 {
			return fmt.Errorf("check base %s: %s (uid %d, mode %v) must be root-owned and writable only by root, or sshd StrictModes refuses the rig's authorized_keys", base, d, uid, st.Mode().Perm())
		}
		if d == "/" {
			return nil
		}
	}
}

// writeOwner records this process as the owner of dir: "PID STARTTIME".
// The start time tells a recycled PID from the owner.
func writeOwner(dir string) error {
	pid := os.Getpid()
	data := fmt.Sprintf("%d %d\n", pid, procStart(pid))
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(data), 0o644); err != nil {
		return fmt.Errorf("write owner: %w", err)
	}
	return nil
}

// procStart returns the start time of pid in clock ticks since boot
// (field 22 of /proc/PID/stat), 0 when unknown.
func procStart(pid int) uint64 {
	f := statFields(pid)
	if f == nil {
		return 0
	}
	// f[0] is field 3 (state), so field 22 is f[19].
	n, _ := strconv.ParseUint(f[19], 10, 64)
	return n
}

// ownerAlive reports whether the process recorded in an owner file runs.
func ownerAlive(data string) bool {
	f := strings.Fields(data)
	if len(f) == 0 {
		return false
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || !alive(pid) {
		return false
	}
	if len(f) > 1 {
		if start, err := strconv.ParseUint(f[1], 10, 64); err == nil && start != 0 && start != procStart(pid) {
			return false
		}
	}
	return true
}

// cleanStale removes rig directories under base whose owner process is
// gone, after stopping the processes listed in their pids file. Kept
// directories are left alone; a directory without owner file (a Start that
// died at once) is removed after a minute, an abandoned template build
// after ten.
func cleanStale(base string, logf func(string, ...any)) {
	ents, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range ents {
		d := filepath.Join(base, e.Name())
		if strings.HasPrefix(e.Name(), templateName+".tmp-") {
			// A template build that died; a live one takes seconds.
			if st, err := os.Stat(d); err == nil && time.Since(st.ModTime()) > 10*time.Minute {
				_ = os.RemoveAll(d)
			}
			continue
		}
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue // not a rig: the postgres template and its lock
		}
		owner, err := os.ReadFile(filepath.Join(d, "owner"))
		if err != nil {
			if _, err := os.Stat(filepath.Join(d, "kept")); err == nil {
				continue
			}
			if st, err := os.Stat(d); err != nil || time.Since(st.ModTime()) < time.Minute {
				continue
			}
		} else if ownerAlive(string(owner)) {
			continue
		}
		stopListed(d)
		if err := os.RemoveAll(d); err != nil {
			logf("remove stale rig %s: %v", d, err)
			continue
		}
		logf("removed stale rig %s", d)
	}
}

// stopListed stops the processes named in dir/pids, if their command line
// still mentions dir.
func stopListed(dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "pids"))
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if pid, err := strconv.Atoi(f[1]); err == nil {
			killForeign(pid, dir, 5*time.Second)
		}
	}
}

// progress writes timestamped progress lines to an optional writer.
type progress struct {
	mu sync.Mutex
	w  io.Writer
	t0 time.Time
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, t0: time.Now()}
}

func (p *progress) elapsed() time.Duration {
	return time.Since(p.t0).Round(time.Millisecond)
}

func (p *progress) logf(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "rig %6.3fs: %s\n", time.Since(p.t0).Seconds(), fmt.Sprintf(format, args...))
}
