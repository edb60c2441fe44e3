package rig

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgBin holds the PostgreSQL 15 binaries of Debian's postgresql package.
const pgBin = "/usr/lib/postgresql/15/bin"

// pgReadyTimeout bounds how long a starting cluster may take to accept
// connections.
const pgReadyTimeout = 15 * time.Second

// monitorUser is the role every rig cluster creates for the collector.
const monitorUser = "pggraph_mon"

// Postgres is one PostgreSQL 15 cluster run by the rig: a postgres process
// started in the foreground as the postgres user, listening on 127.0.0.1
// and on a private socket directory, with fsync off. Host connections use
// scram-sha-256, the local socket trusts everyone.
//
// The methods may be called from several goroutines; the exported fields
// are written by Start and Stop (Port and PID) and should be read when no
// Start or Stop is running.
type Postgres struct {
	Host      string // always "127.0.0.1"
	Superuser string // always "postgres"
	Port      int
	SocketDir string // unix_socket_directories; the socket is SocketDir/.s.PGSQL.<Port>
	DataDir   string
	LogFile   string // the server's stderr (log_connections is on)

	SuperPassword   string // password of Superuser over TCP
	MonitorUser     string // "pggraph_mon": LOGIN, member of pg_monitor
	MonitorPassword string
	PID             int // postmaster PID, 0 when stopped

	name     string // for messages
	dir      string
	cred     *syscall.Credential
	logf     func(format string, args ...any)
	onChange func() error // set by the rig to refresh Dir/pids and Dir/rig.env

	mu   sync.Mutex
	proc *process
}

// StartPostgres creates a new cluster in dir (created if missing; dir and
// every parent must be searchable by the postgres user, which rules out
// t.TempDir()) with initdb and starts it on a free port, with the role
// MonitorUser created. Progress lines go to log (nil discards them). It
// must run as root. The caller stops the cluster with Stop and removes dir.
func StartPostgres(ctx context.Context, dir string, log io.Writer) (*Postgres, error) {
	if err := requireRoot(); err != nil {
		return nil, err
	}
	pl := newProgress(log)
	p, err := initPostgres(ctx, dir, filepath.Base(dir), "", pl.logf)
	if err != nil {
		return nil, err
	}
	if err := p.startFresh(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// initPostgres prepares a stopped cluster in dir/data: a copy of the
// template data directory when template is not "" (with a new system
// identifier), else a fresh initdb.
func initPostgres(ctx context.Context, dir, name, template string, logf func(string, ...any)) (*Postgres, error) {
	p, err := newPostgres(dir, name, logf)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if template == "" {
		if err := initdb(ctx, p.dir, p.DataDir, p.cred); err != nil {
			return nil, fmt.Errorf("init postgres %s: %w", name, err)
		}
		logf("postgres %s: initdb done in %v", name, time.Since(t0).Round(time.Millisecond))
		return p, nil
	}
	if err := cloneCluster(ctx, template, p.DataDir, p.cred); err != nil {
		return nil, fmt.Errorf("init postgres %s: %w", name, err)
	}
	logf("postgres %s: cloned template in %v", name, time.Since(t0).Round(time.Millisecond))
	return p, nil
}

// newPostgres returns a stopped cluster whose data directory, dir/data,
// does not exist yet: dir and its socket directory are made, with new
// passwords.
func newPostgres(dir, name string, logf func(string, ...any)) (*Postgres, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("init postgres %s: %w", name, err)
	}
	cred, err := credential("postgres")
	if err != nil {
		return nil, fmt.Errorf("init postgres %s: %w", name, err)
	}
	p := &Postgres{
		Host:            "127.0.0.1",
		Superuser:       "postgres",
		SocketDir:       filepath.Join(dir, "sock"),
		DataDir:         filepath.Join(dir, "data"),
		LogFile:         filepath.Join(dir, "postgres.log"),
		SuperPassword:   rand.Text(),
		MonitorUser:     monitorUser,
		MonitorPassword: rand.Text(),
		name:            name,
		dir:             dir,
		cred:            cred,
		logf:            logf,
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("init postgres %s: %w", name, err)
	}
	if err := searchable(dir, cred); err != nil {
		return nil, fmt.Errorf("init postgres %s: %w", name, err)
	}
	if err := os.Mkdir(p.SocketDir, 0o755); err != nil {
		return nil, fmt.Errorf("init postgres %s: %w", name, err)
	}
	if err := os.Chown(p.SocketDir, int(cred.Uid), int(cred.Gid)); err != nil {
		return nil, fmt.Errorf("init postgres %s: %w", name, err)
	}
	return p, nil
}

// initdb creates a cluster in dataDir (which must not exist; its parent dir
// must be searchable by cred). The superuser gets a throwaway password:
// startFresh sets the real one, so copies of a template differ.
func initdb(ctx context.Context, dir, dataDir string, cred *syscall.Credential) error {
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		return err
	}
	if err := os.Chown(dataDir, int(cred.Uid), int(cred.Gid)); err != nil {
		return err
	}
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(rand.Text()+"\n"), 0o600); err != nil {
		return fmt.Errorf("write pwfile: %w", err)
	}
	defer os.Remove(pwfile)
	if err := os.Chown(pwfile, int(cred.Uid), int(cred.Gid)); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(pgBin, "initdb"),
		"-D", dataDir, "-U", "postgres", "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// searchable checks that cred can walk down to dir: postgres runs as
// another user and must reach its data directory.
func searchable(dir string, cred *syscall.Credential) error {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		sys := st.Sys().(*syscall.Stat_t)
		perm := st.Mode().Perm()
		var ok bool
		switch {
		case sys.Uid == cred.Uid:
			ok = perm&0o100 != 0
		case inGroups(sys.Gid, cred):
			ok = perm&0o010 != 0
		default:
			ok = perm&0o001 != 0
		}
		if !ok {
			return fmt.Errorf("directory %s (mode %v) is not searchable by uid %d: postgres could not reach %s", d, perm, cred.Uid, dir)
		}
		if d == "/" || d == "." {
			return nil
		}
	}
}

func inGroups(gid uint32, cred *syscall.Credential) bool {
	if gid == cred.Gid {
		return true
	}
	for _, g := range cred.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// startFresh starts the cluster for the first time, on a free port,
// trying other ports when one turns out to be taken, then sets the
// superuser's password and creates the monitor role (over the socket,
// which trusts local users).
func (p *Postgres) startFresh(ctx context.Context) error {
	if err := p.startOnFreePort(ctx); err != nil {
		return err
	}
	sql := fmt.Sprintf("ALTER ROLE %s PASSWORD %s; CREATE ROLE %s LOGIN PASSWORD %s IN ROLE pg_monitor",
		pgx.Identifier{p.Superuser}.Sanitize(), sqlString(p.SuperPassword),
		pgx.Identifier{p.MonitorUser}.Sanitize(), sqlString(p.MonitorPassword))
	conn, err := pgx.Connect(ctx, p.socketConnString())
	if err == nil {
		_, err = conn.Exec(ctx, sql)
		conn.Close(ctx)
	}
	if err != nil {
		_ = p.Stop()
		return fmt.Errorf("set up roles on postgres %s: %w", p.name, err)
	}
	return nil
}

// startOnFreePort starts the cluster for the first time on a free port,
// trying other ports when one turns out to be taken.
func (p *Postgres) startOnFreePort(ctx context.Context) error {
	var err error
	for range bindAttempts {
		p.Port, err = freePort()
		if err != nil {
			return fmt.Errorf("start postgres %s: %w", p.name, err)
		}
		err = p.Start(ctx)
		if !errors.Is(err, errPortInUse) {
			break
		}
		p.logf("postgres %s: port %d taken, trying another", p.name, p.Port)
	}
	return err
}

// socketConnString is a connection string for the superuser over the unix
// socket, which needs no password.
func (p *Postgres) socketConnString() string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=postgres",
		dsnQuote(p.SocketDir), p.Port, dsnQuote(p.Superuser))
}

// sqlString quotes s as an SQL string literal.
func sqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// Start starts the cluster on its port (again, after Stop) and waits until
// it accepts connections, for at most 15 s.
// Starting a running cluster does nothing. On failure the error holds the
// tail of LogFile.
func (p *Postgres) Start(ctx context.Context) error {
	err := p.start(ctx)
	if err == nil && p.onChange != nil {
		err = p.onChange()
	}
	return err
}

func (p *Postgres) start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != nil && !p.proc.exited() {
		return nil
	}
	what := fmt.Sprintf("start postgres %s on 127.0.0.1:%d", p.name, p.Port)
	logFile, err := openLog(p.LogFile)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	offset := fileSize(p.LogFile)
	cmd := exec.Command(filepath.Join(pgBin, "postgres"),
		"-D", p.DataDir,
		"-p", strconv.Itoa(p.Port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+p.SocketDir,
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=200",
		// Debian's default, as users get it: the pages' benchmarks read
		// a month of rollups, which 16MB could not keep.
		"-c", "shared_buffers=128MB",
		"-c", "huge_pages=off",
		// What the metric groups read beyond the defaults: statement and
		// wait-event sampling, function call counts, I/O timings, and
		// logical replication (publications and subscriptions).
		"-c", "shared_preload_libraries=pg_stat_statements,pg_wait_sampling",
		"-c", "track_functions=all",
		"-c", "track_io_timing=on",
		"-c", "wal_level=logical",
		"-c", "log_connections=on",
		"-c", "log_line_prefix=%m [%p] %q%u@%d ",
	)
	cmd.Dir = p.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// SIGQUIT is PostgreSQL's immediate shutdown: the postmaster takes its
	// backends down with it when the test process dies.
	proc, err := spawn(cmd, p.cred, syscall.SIGQUIT)
	logFile.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	p.proc, p.PID = proc, proc.pid
	if err := p.waitReady(ctx, offset); err != nil {
		_ = proc.stop([]stopStep{{syscall.SIGQUIT, 5 * time.Second}}, nil)
		p.proc, p.PID = nil, 0
		if errors.Is(err, errPortInUse) {
			return fmt.Errorf("%s: %w", what, err)
		}
		return fmt.Errorf("%s: %w%s", what, err, tail(p.LogFile, 20))
	}
	p.logf("postgres %s: ready on 127.0.0.1:%d (pid %d)", p.name, p.Port, p.PID)
	return nil
}

// waitReady polls a superuser connection over the socket until it
// succeeds, the process exits or the deadline passes. The postmaster binds
// its TCP address before the socket, so a working socket means TCP works.
func (p *Postgres) waitReady(ctx context.Context, logOffset int64) error {
	ctx, cancel := context.WithTimeout(ctx, pgReadyTimeout)
	defer cancel()
	var last error
	for {
		if p.proc.exited() {
			if strings.Contains(logSince(p.LogFile, logOffset), "Address already in use") {
				return errPortInUse
			}
			return fmt.Errorf("postgres exited: %v", p.proc.err)
		}
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, p.socketConnString())
		ccancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		last = err
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return fmt.Errorf("not ready after %v: %w (last: %v)", pgReadyTimeout, err, last)
		}
	}
}

// Stop shuts the cluster down like pg_ctl -m fast (SIGINT to the
// postmaster), escalating to SIGQUIT after 10 s and SIGKILL after 5 s more,
// and waits for it to exit. Stopping a stopped cluster does nothing.
func (p *Postgres) Stop() error {
	p.mu.Lock()
	var err error
	if p.proc != nil {
		err = p.proc.stop([]stopStep{{syscall.SIGINT, 10 * time.Second}, {syscall.SIGQUIT, 5 * time.Second}},
			func(s string) { p.logf("postgres %s: %s", p.name, s) })
		if err == nil {
			p.proc, p.PID = nil, 0
		}
	}
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("stop postgres %s: %w", p.name, err)
	}
	if p.onChange != nil {
		return p.onChange()
	}
	return nil
}

// pid returns the PID under the lock, for files written while the server
// may be changing state.
func (p *Postgres) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.PID
}

// ConnString returns a keyword/value connection string for the superuser
// over TCP to database, with every value quoted.
func (p *Postgres) ConnString(database string) string {
	return fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=disable",
		dsnQuote(p.Host), p.Port, dsnQuote(p.Superuser), dsnQuote(p.SuperPassword), dsnQuote(database))
}

// dsnQuote quotes a value of a keyword/value connection string.
func dsnQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// Exec runs sql with args in database as the superuser, on a connection of
// its own. Without args several statements may be given at once.
func (p *Postgres) Exec(ctx context.Context, database, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, p.ConnString(database))
	if err != nil {
		return fmt.Errorf("connect to postgres %s database %s: %w", p.name, database, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("exec on postgres %s database %s: %w", p.name, database, err)
	}
	return nil
}
