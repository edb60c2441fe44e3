package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/metric"
	schema "github.com/pggraph/pggraph/sql"
)

// Deadlines of the network steps. Each bounds one step even when the
// caller's context has none.
const (
	connectTimeout = 10 * time.Second  // one connection, TCP to login
	lockTimeout    = 10 * time.Second  // taking or releasing a run lock
	ddlTimeout     = 60 * time.Second  // EnsureClient's DDL, client remove
	queryTimeout   = 30 * time.Second  // a small query (state, clients row, check)
	writeTimeout   = 120 * time.Second // Write: objects, samples, state
	rollupTimeout  = 10 * time.Minute  // Maintain, Rebuild
	ddlLockWait    = "10s"             // lock_timeout for ALTER TABLE behind readers
)

// minServerVersion is the oldest central PostgreSQL pggraph runs on:
// date_bin (rollups) and lz4 came with 14.
const minServerVersion = 140000

// lockClass is the first key of every advisory lock pggraph takes ("pggr");
// the second is hashtext(prefix) for a client's run lock.
const lockClass int32 = 0x70676772

// Second keys of pggraph's other advisory locks (transaction-level).
const (
	ddlLockKey     = 1 // EnsureClient's DDL, serialised per database
	migrateLockKey = 2 // schema migrations of one database
)

// Server says how to reach the central PostgreSQL. The zero value is
// psql's behaviour: every setting from the libpq environment (PGHOST,
// PGPORT, PGUSER, PGPASSWORD, PGSSLMODE, …) and ~/.pgpass, or the
// driver's defaults (the local socket, the OS user name).
type Server struct {
	// Params is a libpq keyword/value string without dbname, such as
	// "host='db1' port='5432' user='pggraph'"; what it leaves out comes
	// from the environment. It must not hold a password: use Password.
	Params string
	// Password, when not empty, overrides PGPASSWORD and ~/.pgpass.
	Password config.Secret
	// Idle, when set, keeps the connections closed by a Store, Users or
	// Clients of this server for the next one opened (a process serving
	// many requests); nil closes them.
	Idle *Idle
}

// LocalServer is the server of a config.ini's [local] section. An empty
// Host leaves the choice to the driver (PGHOST or the local socket); an
// empty Password leaves it to ~/.pgpass (or peer authentication).
func LocalServer(l config.Local) Server {
	var p []string
	if l.Host != "" {
		p = append(p, "host="+dsnQuote(l.Host))
	}
	if l.Port != 0 {
		p = append(p, "port="+strconv.Itoa(l.Port))
	}
	if l.User != "" {
		p = append(p, "user="+dsnQuote(l.User))
	}
	return Server{Params: strings.Join(p, " "), Password: l.Password}
}

// WithParam returns s with one more keyword=value setting, such as
// passfile or default_query_exec_mode, its value quoted.
func (s Server) WithParam(key, value string) Server {
	s.Params = strings.TrimSpace(s.Params + " " + key + "=" + dsnQuote(value))
	return s
}

// ConnConfig returns the pgx settings to connect to database. ~/.pgpass is
// matched against database too, as libpq does. application_name defaults
// to "pggraph" and the connect timeout to 10 s.
func (s Server) ConnConfig(database string) (*pgx.ConnConfig, error) {
	dsn := strings.TrimSpace(s.Params + " dbname=" + dsnQuote(database))
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors may quote the string; it holds no password.
		return nil, fmt.Errorf("postgresql settings for database %s: %w", database, err)
	}
	if cc.TLSConfig != nil && loopback(cc.Host) && !strings.Contains(s.Params, "sslmode=") && os.Getenv("PGSSLMODE") == "" {
		// libpq's default, sslmode=prefer, on a loopback address: TLS
		// protects nothing there and costs a handshake per connection (a
		// CGI process makes two per image). sslmode or PGSSLMODE still
		// ask for it. Prefer's plain-text fallback to the same address
		// is then the connection itself.
		cc.TLSConfig = nil
		cc.Fallbacks = slices.DeleteFunc(cc.Fallbacks, func(f *pgconn.FallbackConfig) bool {
			return f.Host == cc.Host && f.Port == cc.Port
		})
	}
	if pw := s.Password.Reveal(); pw != "" {
		cc.Password = pw
	}
	if cc.RuntimeParams["application_name"] == "" {
		cc.RuntimeParams["application_name"] = "pggraph"
	}
	if cc.ConnectTimeout == 0 || cc.ConnectTimeout > connectTimeout {
		cc.ConnectTimeout = connectTimeout
	}
	return cc, nil
}

// loopback tells whether host names this machine over TCP: localhost or a
// loopback address.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// connect opens one connection, bounded by connectTimeout. The error names
// host, port, database and user, never the password.
func connect(ctx context.Context, cc *pgx.ConnConfig) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("connect to postgresql %s database %s as %s: %w", where(cc), cc.Database, cc.User, err)
	}
	return conn, nil
}

// where is host:port of a connection's settings.
func where(cc *pgx.ConnConfig) string {
	return net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port)))
}

// dsnQuote quotes a value of a libpq keyword/value string.
func dsnQuote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// Store is pggraph's central database as the collector, the installer and
// pggraph-admin use it: one connection to the samples database and one to
// pggraph_clients. It implements metric.Store.
//
// A Store is for one goroutine at a time (pgx connections are not shared):
// open one per collection run. Its run locks live in its samples-database
// session and end with it at the latest.
type Store struct {
	samples *pgx.Conn
	srv     Server    // reaches pggraph_clients too
	conns   *pgx.Conn // to pggraph_clients, dialled on first use (see clients)
	pending *prefetch // PrefetchAlerts' work, until a use of conns waits for it
	groups  []metric.Group

	mu      sync.Mutex
	locked  map[string]bool // prefixes whose run lock this Store holds
	ensured map[string]bool // prefixes EnsureClient found complete
}

var (
	_ metric.Store = (*Store)(nil)
	_ metric.Tx    = (*Tx)(nil)
)

// Open connects to the samples database ([local] database) and to
// pggraph_clients on the server of local, as local's user. groups are the
// metric groups whose tables the Store creates and writes (normally
// metric.Groups()); they are checked and copied. local.Prefix is not
// used: every method takes the client's prefix.
func Open(ctx context.Context, local config.Local, groups []metric.Group) (*Store, error) {
	if local.Database == "" {
		return nil, errors.New("open store: [local] database is empty")
	}
	return OpenServer(ctx, LocalServer(local), local.Database, groups)
}

// OpenServer is Open for a Server and the name of the samples database.
func OpenServer(ctx context.Context, srv Server, samplesDB string, groups []metric.Group) (*Store, error) {
	if err := checkGroups(groups); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{
		groups:  cloneGroups(groups),
		locked:  map[string]bool{},
		ensured: map[string]bool{},
	}
	var err error
	if s.samples, err = dial(ctx, srv, samplesDB); err != nil {
		return nil, err
	}
	s.srv = srv
	return s, nil
}

// prefetch is what PrefetchAlerts does in the background: connect to
// pggraph_clients, then read a client's active alerts. Its fields are
// set when done is closed.
type prefetch struct {
	done    chan struct{}
	prefix  string
	conn    *pgx.Conn
	dialErr error
	alerts  []AlertState
	err     error // of reading the alerts
}

// settle waits for PrefetchAlerts' work, if any, and takes its
// connection; it returns that work (nil for none).
func (s *Store) settle(ctx context.Context) (*prefetch, error) {
	p := s.pending
	if p == nil {
		return nil, nil
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("connect to database %s: %w", schema.Clients, ctx.Err())
	}
	s.pending, s.conns = nil, p.conn
	return p, nil
}

// clients returns the connection to pggraph_clients, dialling it on first
// use (or taking PrefetchAlerts'): a collection needs it, but
// pggraph.cgi, a new process for every image, mostly does not, and each
// login costs milliseconds.
func (s *Store) clients(ctx context.Context) (*pgx.Conn, error) {
	p, err := s.settle(ctx)
	switch {
	case err != nil:
		return nil, err
	case p != nil && p.dialErr != nil:
		return nil, p.dialErr
	}
	if s.conns == nil {
		c, err := dial(ctx, s.srv, schema.Clients)
		if err != nil {
			return nil, err
		}
		s.conns = c
	}
	return s.conns, nil
}

// dial connects srv to database.
func dial(ctx context.Context, srv Server, database string) (*pgx.Conn, error) {
	if srv.Idle != nil {
		if c := srv.Idle.take(ctx, idleKey(srv, database)); c != nil {
			return c, nil
		}
	}
	cc, err := srv.ConnConfig(database)
	if err != nil {
		return nil, err
	}
	return connect(ctx, cc)
}

func cloneGroups(groups []metric.Group) []metric.Group {
	out := make([]metric.Group, len(groups))
	for i, g := range groups {
		g.Columns = append([]metric.Column(nil), g.Columns...)
		g.Queries = append([]metric.Query(nil), g.Queries...)
		out[i] = g
	}
	return out
}

// Close closes both connections, which also releases any run lock still
// held; with a Server.Idle, connections in a clean state are kept for
// reuse instead (never while a run lock is held).
func (s *Store) Close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, lockTimeout)
	defer cancel()
	srv := s.srv
	s.mu.Lock()
	if len(s.locked) > 0 {
		// Its run locks end with the session: never kept.
		srv.Idle = nil
	}
	s.mu.Unlock()
	err := hangUp(ctx, srv, s.samples.Config().Database, s.samples)
	// PrefetchAlerts' connection, once its work ends (bounded by
	// connectTimeout and queryTimeout), is closed or kept as the others.
	_, _ = s.settle(context.WithoutCancel(ctx))
	if s.conns != nil {
		err = errors.Join(err, hangUp(ctx, srv, schema.Clients, s.conns))
	}
	return err
}

// group returns the group named name.
func (s *Store) group(name string) (*metric.Group, bool) {
	for i := range s.groups {
		if s.groups[i].Name == name {
			return &s.groups[i], true
		}
	}
	return nil, false
}

// Lock takes the client's run lock: a session-level advisory lock
// (lockClass, hashtext(prefix)) in the samples database, so it holds for
// the whole run and ends with the connection if the process dies. When
// another session (or this Store) holds it, Lock fails at once with an
// error wrapping metric.ErrLocked. Two prefixes whose hashtext collide
// share a lock (a false "locked", about one pair in 4 billion).
//
// unlock releases the lock; it uses a context of its own (bounded, not
// cancelled with ctx), so it may be deferred.
func (s *Store) Lock(ctx context.Context, prefix string) (unlock func(), err error) {
	if err := CheckPrefix(prefix); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	s.mu.Lock()
	held := s.locked[prefix]
	s.mu.Unlock()
	if held {
		return nil, fmt.Errorf("lock client %s: %w", prefix, metric.ErrLocked)
	}
	lctx, cancel := context.WithTimeout(ctx, lockTimeout)
	defer cancel()
	var ok bool
	if err := s.samples.QueryRow(lctx, `SELECT pg_try_advisory_lock($1, hashtext($2))`, lockClass, prefix).Scan(&ok); err != nil {
		return nil, fmt.Errorf("lock client %s: %w", prefix, err)
	}
	if !ok {
		return nil, fmt.Errorf("lock client %s: %w", prefix, metric.ErrLocked)
	}
	s.mu.Lock()
	s.locked[prefix] = true
	s.mu.Unlock()
	uctx := context.WithoutCancel(ctx)
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(uctx, lockTimeout)
			defer cancel()
			// On failure the session is unusable and its end frees the lock.
			s.samples.Exec(ctx, `SELECT pg_advisory_unlock($1, hashtext($2))`, lockClass, prefix)
			s.mu.Lock()
			delete(s.locked, prefix)
			s.mu.Unlock()
		})
	}, nil
}

// Begin creates or completes the client's tables (EnsureClient, which
// does nothing the second time in a Store) and starts the run's
// transaction in the samples database.
//
// When the Store keeps statements (its groups include
// metric.StatementGroup), the transaction is also a metric.StatementTx.
func (s *Store) Begin(ctx context.Context, prefix string) (metric.Tx, error) {
	x, err := s.begin(ctx, prefix)
	if err != nil {
		return nil, err
	}
	if s.statements() {
		return statementTx{x}, nil
	}
	return x, nil
}

func (s *Store) begin(ctx context.Context, prefix string) (*Tx, error) {
	if err := s.EnsureClient(ctx, prefix); err != nil {
		return nil, err
	}
	bctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	tx, err := s.samples.Begin(bctx)
	if err != nil {
		return nil, fmt.Errorf("begin run of client %s: %w", prefix, err)
	}
	return &Tx{s: s, tx: tx, t: tables{prefix}}, nil
}

// RecordRun writes run into the client's row of pggraph_clients.clients
// (last_run, last_duration_ms, last_outcome, last_error, last_samples, and
// last_ok unless the run failed),
// outside any run transaction. A client the installer never registered (a
// hand-written config.ini) gets a minimal row: title = prefix, no
// directory or www_path; the installer fills them in later.
func (s *Store) RecordRun(ctx context.Context, prefix string, run metric.RunRecord) error {
	if err := CheckPrefix(prefix); err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	var lastErr *string
	if run.Error != "" {
		e := oneLine(run.Error)
		lastErr = &e
	}
	conn, err := s.clients(ctx)
	if err != nil {
		return fmt.Errorf("record run in clients row %s: %w", prefix, err)
	}
	_, err = conn.Exec(ctx, `
INSERT INTO clients AS c (prefix, title, last_run, last_duration_ms, last_outcome, last_error, last_samples, last_ok)
VALUES ($1, $1, $2, $3, $4, $5, $6, CASE WHEN $4::text = 'failed' THEN NULL ELSE $2::timestamptz END)
ON CONFLICT (prefix) DO UPDATE SET
	last_run = EXCLUDED.last_run,
	last_duration_ms = EXCLUDED.last_duration_ms,
	last_outcome = EXCLUDED.last_outcome,
	last_error = EXCLUDED.last_error,
	last_samples = EXCLUDED.last_samples,
	last_ok = coalesce(EXCLUDED.last_ok, c.last_ok)`,
		prefix, nullTime(run.Started), run.Duration.Milliseconds(), string(run.Outcome), lastErr, run.Samples)
	if err != nil {
		return fmt.Errorf("record run in clients row %s: %w", prefix, err)
	}
	return nil
}

// Check tests what a collection of the client needs, changing nothing:
// both connections answer, the samples and clients databases are at this
// pggraph's schema versions, and the client's tables are complete or this
// user may create or complete them. It is pggraph-collect -t's store step.
func (s *Store) Check(ctx context.Context, prefix string) error {
	if err := CheckPrefix(prefix); err != nil {
		return fmt.Errorf("check: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	clients, err := s.clients(ctx)
	if err != nil {
		return err
	}
	for _, c := range []struct {
		conn *pgx.Conn
		kind string
	}{{s.samples, schema.Samples}, {clients, schema.Clients}} {
		if err := checkVersion(ctx, c.conn, c.kind); err != nil {
			return err
		}
	}
	p, err := s.plan(ctx, s.samples, prefix)
	if err != nil {
		return err
	}
	return p.permitted(s.samples.Config())
}

// checkVersion fails unless the database on conn is at the latest version
// of its kind.
func checkVersion(ctx context.Context, conn *pgx.Conn, kind string) error {
	db := conn.Config().Database
	v, err := version(ctx, conn)
	if err != nil {
		return fmt.Errorf("check schema of database %s: %w", db, err)
	}
	switch want := schema.Latest(kind); {
	case v == 0:
		return fmt.Errorf("check schema of database %s: not set up: run sudo -u postgres pggraph-admin setup", db)
	case v < want:
		return fmt.Errorf("check schema of database %s: version %d, this pggraph needs %d: run sudo -u postgres pggraph-admin setup", db, v, want)
	case v > want:
		return fmt.Errorf("check schema of database %s: version %d is newer than this pggraph's %d: upgrade pggraph", db, v, want)
	}
	return nil
}

// version returns the highest version in schema_version, 0 when the table
// is missing or empty.
func version(ctx context.Context, conn queryer) (int, error) {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, err
	}
	if !exists {
		return 0, nil
	}
	var v int
	err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}

// queryer is what *pgx.Conn and pgx.Tx share.
type queryer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// nullTime is t, or nil (NULL) when t is zero.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// oneLine joins the lines of s with "; ".
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
}
