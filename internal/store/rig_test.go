package store

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/testing/rig"
	"github.com/pggraph/pggraph/metric"
)

// Passwords the tests give the roles Setup creates (Setup sets none).
const (
	ownerPassword = "owner-secret-Ü'\\"
	webPassword   = "web-secret"
)

// shared is the package's one rig (client and central PostgreSQL),
// started on first use; TestMain closes it.
var shared = rig.Lazy{Options: rig.Options{Central: true}}

// setup sets the central cluster up once per test binary.
var setup struct {
	once sync.Once
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if err := shared.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close rig:", err)
	}
	os.Exit(code)
}

// central returns the rig with the central cluster set up by Setup (as
// the superuser) and passwords given to pggraph and pggraph_web. It fails
// the test, never skips it, when the rig cannot start.
func central(tb testing.TB) *rig.Rig {
	tb.Helper()
	r := shared.Get(tb)
	setup.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c := r.Central
		if _, setup.err = Setup(ctx, superServer(c), "", nil); setup.err != nil {
			return
		}
		setup.err = c.Exec(ctx, "postgres", fmt.Sprintf(`ALTER ROLE pggraph PASSWORD %s; ALTER ROLE pggraph_web PASSWORD %s`,
			quoteLiteral(ownerPassword), quoteLiteral(webPassword)))
	})
	if setup.err != nil {
		tb.Fatalf("set the central PostgreSQL up: %v", setup.err)
	}
	return r
}

// superServer reaches p as its superuser over TCP.
func superServer(p *rig.Postgres) Server {
	return Server{
		Params:   fmt.Sprintf("host=%s port=%d user=%s sslmode=disable", p.Host, p.Port, p.Superuser),
		Password: config.Secret(p.SuperPassword),
	}
}

// ownerLocal is a config.ini [local] section for the central cluster, as
// the installer writes it: user pggraph.
func ownerLocal(r *rig.Rig, prefix string) config.Local {
	return config.Local{
		Database: "pggraph", Prefix: prefix, Port: r.Central.Port, Host: r.Central.Host,
		User: "pggraph", Password: ownerPassword,
	}
}

// openStore opens a Store on the central cluster as pggraph, closed by
// the test's cleanup.
func openStore(tb testing.TB, groups []metric.Group) *Store {
	tb.Helper()
	r := central(tb)
	s, err := Open(context.Background(), ownerLocal(r, ""), groups)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// superConn is a superuser connection to database of the central cluster.
func superConn(tb testing.TB, database string) *pgx.Conn {
	tb.Helper()
	r := central(tb)
	conn, err := pgx.Connect(context.Background(), r.Central.ConnString(database))
	if err != nil {
		tb.Fatalf("connect to central %s: %v", database, err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// testGroups are small fixtures in the shape of metric.Groups():
// a server-wide group and a per-database group.
func testGroups() []metric.Group {
	return []metric.Group{
		{
			Name: "server", Scope: metric.Server, Help: "server-wide counters",
			Columns: []metric.Column{
				{Name: "xact_commit", Kind: metric.Counter, Unit: metric.Count},
				{Name: "blks_read", Kind: metric.Counter, Unit: metric.Blocks},
				{Name: "numbackends", Kind: metric.Gauge, Unit: metric.Count},
			},
		},
		{
			Name: "table", Scope: metric.Database, Help: "per table",
			Columns: []metric.Column{
				{Name: "seq_scan", Kind: metric.Counter, Unit: metric.Count},
				{Name: "n_tup_ins", Kind: metric.Counter, Unit: metric.Count},
				{Name: "n_live_tup", Kind: metric.Gauge, Unit: metric.Count},
				{Name: "order", Kind: metric.Gauge, Unit: metric.Count}, // a reserved word
			},
		},
	}
}

// run is one collection run of prefix at taken: Begin, Write, Maintain,
// Commit.
func run(tb testing.TB, s *Store, prefix string, cur *metric.Snapshot, samples []metric.Sample, keep metric.Retention) {
	tb.Helper()
	ctx := context.Background()
	tx, err := s.Begin(ctx, prefix)
	if err != nil {
		tb.Fatalf("Begin: %v", err)
	}
	defer tx.Rollback(ctx)
	if err := tx.Write(ctx, cur, samples); err != nil {
		tb.Fatalf("Write: %v", err)
	}
	if err := tx.Maintain(ctx, keep); err != nil {
		tb.Fatalf("Maintain: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		tb.Fatalf("Commit: %v", err)
	}
}

// queryFloats returns the columns of the one row query returns; NULL is
// NaN.
func queryFloats(tb testing.TB, conn *pgx.Conn, query string, args ...any) []float64 {
	tb.Helper()
	rows, err := conn.Query(context.Background(), query, args...)
	if err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	if !rows.Next() {
		tb.Fatalf("%s: no row (%v)", query, rows.Err())
	}
	vals, err := rows.Values()
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]float64, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case nil:
			out[i] = math.NaN()
		case float64:
			out[i] = v
		case int32:
			out[i] = float64(v)
		case int64:
			out[i] = float64(v)
		default:
			tb.Fatalf("%s: column %d: %T", query, i, v)
		}
	}
	if rows.Next() {
		tb.Fatalf("%s: more than one row", query)
	}
	return out
}

// count returns SELECT count(*) FROM table [WHERE …].
func count(tb testing.TB, conn *pgx.Conn, table, where string, args ...any) int {
	tb.Helper()
	q := "SELECT count(*) FROM " + pgx.Identifier(strings.Split(table, ".")).Sanitize()
	if where != "" {
		q += " WHERE " + where
	}
	var n int
	if err := conn.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	return n
}
