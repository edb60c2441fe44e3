package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pggraph/pggraph/metric"
)

// Remote opens connections to the client's databases (through the tunnel,
// in production). The collector closes what it opens.
type Remote interface {
	Connect(ctx context.Context, database string) (*pgx.Conn, error)
}

// RemoteFunc adapts a function to Remote.
type RemoteFunc func(ctx context.Context, database string) (*pgx.Conn, error)

// Connect calls f.
func (f RemoteFunc) Connect(ctx context.Context, database string) (*pgx.Conn, error) {
	return f(ctx, database)
}

// readParallel is how many databases are read at once: each is one
// connection (one SSH channel) and a few queries.
const readParallel = 3

// Reader reads snapshots of one client's server.
type Reader struct {
	Remote Remote
	Groups []metric.Group
	// Databases are the databases whose Database-scope groups are read;
	// nil means every database that allows connections.
	Databases []string
	// Now is the collector's clock; nil means time.Now.
	Now func() time.Time
	// Statements reads pg_stat_statements (metric.StatementRows and
	// metric.StatementInfo) from the first database that has it.
	Statements bool
	// Logger gets warnings (a listed database that does not exist or
	// refuses the login is skipped) and debug progress. Nil discards.
	Logger *slog.Logger
}

// remoteDB is one database of the client's server.
type remoteDB struct {
	oid  uint32
	name string
}

// Read takes one snapshot: the server's version and start time, its
// catalog state (ServerState: settings, databases, extensions, statistics
// resets), every Server group once, and every Database group in each
// database.
func (r *Reader) Read(ctx context.Context) (*metric.Snapshot, error) {
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}
	first, firstName, err := r.connectFirst(ctx)
	if err != nil {
		return nil, err
	}
	defer first.Close(context.WithoutCancel(ctx))

	snap := &metric.Snapshot{Rows: map[string][]metric.Row{}, Columns: map[string][]string{}}
	err = first.QueryRow(ctx, "SELECT current_setting('server_version_num')::int, pg_postmaster_start_time()").
		Scan(&snap.Version, &snap.ServerStart)
	if err != nil {
		return nil, fmt.Errorf("read server version: %w", err)
	}
	if snap.Server, err = readServerState(ctx, first, snap.Version); err != nil {
		return nil, err
	}
	dbs, err := r.databases(ctx, first, log)
	if err != nil {
		return nil, err
	}
	snap.Taken = now()
	log.Debug("reading", "server_version_num", snap.Version, "databases", len(dbs))

	for _, g := range r.Groups {
		snap.Columns[g.Name] = columnNames(g)
	}
	server, err := applicable(ctx, first, r.Groups, metric.Server, snap.Version)
	if err != nil {
		return nil, err
	}
	for _, q := range server {
		rows, err := readGroup(ctx, first, q.group, q.sql, 0)
		if err != nil {
			return nil, err
		}
		snap.Rows[q.group.Name] = rows
	}
	var stmts statementRead
	if r.Statements {
		stmts.try(ctx, first, firstName, snap.Version)
	}

	// Database groups: one connection per database, a few at once; the
	// first connection is reused for its own database.
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		errs   []error
		tokens = make(chan struct{}, readParallel)
	)
	for _, db := range dbs {
		wg.Go(func() {
			tokens <- struct{}{}
			defer func() { <-tokens }()
			conn := first
			if db.name != firstName {
				c, err := r.Remote.Connect(ctx, db.name)
				if err != nil {
					var pe *pgconn.PgError
					if errors.As(err, &pe) {
						log.Warn("database skipped: login refused", "database", db.name, "error", err)
						return
					}
					mu.Lock()
					errs = append(errs, fmt.Errorf("connect to database %q: %w", db.name, err))
					mu.Unlock()
					return
				}
				defer c.Close(context.WithoutCancel(ctx))
				conn = c
			}
			got, err := readDatabase(ctx, conn, r.Groups, snap.Version, db.oid)
			if err == nil && r.Statements && db.name != firstName {
				stmts.try(ctx, conn, db.name, snap.Version)
			}
			var exts map[string]string
			if err == nil {
				exts, err = readExtensions(ctx, conn)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("database %q: %w", db.name, err))
				return
			}
			snap.Server.Extensions[db.name] = exts
			for name, rows := range got {
				snap.Rows[name] = append(snap.Rows[name], rows...)
			}
		})
		// The first connection serves one database at a time: wait for
		// it before another goroutine could want it (it comes first).
		if db.name == firstName {
			wg.Wait()
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	switch {
	case stmts.err != nil:
		log.Warn("statements not collected", "error", stmts.err)
	case stmts.done:
		snap.Rows[metric.StatementRows] = stmts.rows
		snap.Rows[metric.StatementInfo] = []metric.Row{stmts.info}
		snap.Columns[metric.StatementRows] = columnNames(metric.StatementGroup())
	}
	return snap, nil
}

// connectFirst connects to the first listed database, or with every
// database to postgres (template1 when postgres does not exist).
func (r *Reader) connectFirst(ctx context.Context) (*pgx.Conn, string, error) {
	candidates := []string{"postgres", "template1"}
	if len(r.Databases) > 0 {
		candidates = r.Databases[:1]
	}
	var err error
	for _, name := range candidates {
		var c *pgx.Conn
		c, err = r.Remote.Connect(ctx, name)
		if err == nil {
			return c, name, nil
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "3D000" { // not "database does not exist"
			break
		}
	}
	return nil, "", err
}

// databases lists the databases to read, in name order, sorting out the
// first connection's one to come first. A listed database missing on the
// server is skipped with a warning.
func (r *Reader) databases(ctx context.Context, conn *pgx.Conn, log *slog.Logger) ([]remoteDB, error) {
	sql := `SELECT oid, datname FROM pg_database WHERE datallowconn AND NOT datistemplate
		AND ($1::text[] IS NULL OR datname = ANY($1))
		ORDER BY datname <> current_database(), datname`
	var list []string
	if len(r.Databases) > 0 {
		list = r.Databases
	}
	rows, err := conn.Query(ctx, sql, list)
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	dbs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (remoteDB, error) {
		var d remoteDB
		err := row.Scan(&d.oid, &d.name)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	for _, want := range r.Databases {
		found := false
		for _, d := range dbs {
			found = found || d.name == want
		}
		if !found {
			log.Warn("database skipped: not on the server, or it does not allow connections", "database", want)
		}
	}
	return dbs, nil
}

// readDatabase runs every Database group in one database.
func readDatabase(ctx context.Context, conn *pgx.Conn, groups []metric.Group, version int, db uint32) (map[string][]metric.Row, error) {
	queries, err := applicable(ctx, conn, groups, metric.Database, version)
	if err != nil {
		return nil, err
	}
	out := map[string][]metric.Row{}
	for _, q := range queries {
		rows, err := readGroup(ctx, conn, q.group, q.sql, db)
		if err != nil {
			return nil, err
		}
		out[q.group.Name] = rows
	}
	return out, nil
}

// groupQuery is a group and the SQL it runs on one connection.
type groupQuery struct {
	group metric.Group
	sql   string
}

// applicable returns the groups of scope that run on conn, with their
// SQL: those with a query for version whose Needs, if any, hold on conn.
// Every Needs is checked in one statement, none when no query has one.
func applicable(ctx context.Context, conn *pgx.Conn, groups []metric.Group, scope metric.Scope, version int) ([]groupQuery, error) {
	var (
		out     []groupQuery
		needs   []string
		checked []int // indexes into out of the queries with Needs
		names   []string
	)
	for _, g := range groups {
		if g.Scope != scope {
			continue
		}
		q, ok := g.QueryFor(version)
		if !ok {
			continue
		}
		if q.Needs != "" {
			checked = append(checked, len(out))
			needs = append(needs, "("+q.Needs+") IS TRUE")
			names = append(names, g.Name)
		}
		out = append(out, groupQuery{group: g, sql: q.SQL})
	}
	if len(needs) == 0 {
		return out, nil
	}
	holds := make([]bool, len(needs))
	dest := make([]any, len(needs))
	for i := range holds {
		dest[i] = &holds[i]
	}
	if err := conn.QueryRow(ctx, "SELECT "+strings.Join(needs, ", ")).Scan(dest...); err != nil {
		return nil, fmt.Errorf("check what %s need: %w", strings.Join(names, ", "), err)
	}
	drop := map[int]bool{}
	for i, ok := range holds {
		drop[checked[i]] = !ok
	}
	kept := out[:0]
	for i, q := range out {
		if !drop[i] {
			kept = append(kept, q)
		}
	}
	return kept, nil
}

func columnNames(g metric.Group) []string {
	names := make([]string, len(g.Columns))
	for i, c := range g.Columns {
		names[i] = c.Name
	}
	return names
}

// readGroup runs one group's query and maps its result columns by name.
func readGroup(ctx context.Context, conn *pgx.Conn, g metric.Group, sql string, db uint32) ([]metric.Row, error) {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", g.Name, err)
	}
	defer rows.Close()
	fds := rows.FieldDescriptions()
	if len(fds) == 0 { // pgx reports a failed query's error on Close
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", g.Name, err)
		}
	}
	pos := map[string]int{}
	for i, fd := range fds {
		pos[fd.Name] = i
	}
	at := func(name string) (int, error) {
		i, ok := pos[name]
		if !ok {
			return 0, fmt.Errorf("read %s: the query returns no column %q", g.Name, name)
		}
		return i, nil
	}
	var idx [4]int
	for i, name := range []string{"key", "name", "parent", "stats_reset"} {
		if idx[i], err = at(name); err != nil {
			return nil, err
		}
	}
	cols := make([]int, len(g.Columns))
	for i, c := range g.Columns {
		if cols[i], err = at(c.Name); err != nil {
			return nil, err
		}
	}

	var out []metric.Row
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", g.Name, err)
		}
		key, ok := vals[idx[0]].(string)
		if !ok { // NULL: one-row groups use '' instead
			return nil, fmt.Errorf("read %s: a row has no key", g.Name)
		}
		r := metric.Row{Database: db, Key: key, Values: make([]float64, len(cols))}
		r.Name, _ = vals[idx[1]].(string)
		r.Parent, _ = vals[idx[2]].(string)
		r.StatsReset, _ = vals[idx[3]].(time.Time)
		for i, p := range cols {
			if r.Values[i], err = number(vals[p]); err != nil {
				return nil, fmt.Errorf("read %s: column %s: %w", g.Name, g.Columns[i].Name, err)
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", g.Name, err)
	}
	return out, nil
}

// number converts a decoded numeric value to float64; NULL is NaN.
func number(v any) (float64, error) {
	switch v := v.(type) {
	case nil:
		return math.NaN(), nil
	case int64:
		return float64(v), nil
	case int32:
		return float64(v), nil
	case int16:
		return float64(v), nil
	case float64:
		return v, nil
	case float32:
		return float64(v), nil
	case bool:
		if v {
			return 1, nil
		}
		return 0, nil
	case pgtype.Numeric:
		f, err := v.Float64Value()
		if err != nil {
			return 0, err
		}
		if !f.Valid {
			return math.NaN(), nil
		}
		return f.Float64, nil
	}
	return 0, fmt.Errorf("not a number: %T", v)
}
