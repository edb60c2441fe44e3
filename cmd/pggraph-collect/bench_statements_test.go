package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/testing/rig"
	"github.com/pggraph/pggraph/metric"
)

// The remote of BenchmarkCollectStatements: database stmtDB with
// stmtTables tables, and stmtShapes distinct statements on each, so
// stmtTables × len(stmtShapes) distinct entries in pg_stat_statements.
const (
	stmtDB     = "stmts"
	stmtTables = 1000
	// stmtMax is the pg_stat_statements.max the benchmark sets: room for
	// its statements and everyone else's, so none is evicted.
	stmtMax = 10000
)

// stmtShapes are the statements run on every table (%[1]d its number):
// one queryid each.
var stmtShapes = []string{
	"SELECT v FROM t%[1]d WHERE id = 1",
	"SELECT count(*) FROM t%[1]d",
	"UPDATE t%[1]d SET v = v + 1 WHERE id = 1",
	"SELECT id FROM t%[1]d WHERE v > 0 ORDER BY id LIMIT 5",
	"SELECT max(v), min(v) FROM t%[1]d",
}

// statementSchema makes the rig's client server ready for
// BenchmarkCollectStatements, once per rig: pg_stat_statements.max at
// stmtMax (a restart), database stmtDB with its tables and the
// extension.
func statementSchema(b *testing.B, r *rig.Rig) {
	b.Helper()
	ctx := b.Context()
	conn, err := pgx.Connect(ctx, r.PG.ConnString("postgres"))
	if err != nil {
		b.Fatal(err)
	}
	var have int
	var exists bool
	err = conn.QueryRow(ctx, `SELECT current_setting('pg_stat_statements.max')::int, EXISTS (SELECT FROM pg_database WHERE datname = $1)`, stmtDB).Scan(&have, &exists)
	conn.Close(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if have < stmtMax {
		remoteExec(b, r, "postgres", fmt.Sprintf("ALTER SYSTEM SET pg_stat_statements.max = %d", stmtMax))
		if err := r.PG.Stop(); err != nil {
			b.Fatal(err)
		}
		if err := r.PG.Start(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if exists {
		return
	}
	remoteExec(b, r, "postgres", "CREATE DATABASE "+stmtDB)
	remoteExec(b, r, stmtDB, "CREATE EXTENSION pg_stat_statements", fmt.Sprintf(`DO $$ BEGIN FOR i IN 1..%d LOOP
		EXECUTE format('CREATE TABLE t%%s (id int PRIMARY KEY, v int)', i);
		EXECUTE format('INSERT INTO t%%s SELECT g, g FROM generate_series(1, 10) g', i);
	END LOOP; END $$`, stmtTables))
}

// statementWork runs every distinct statement of the benchmark once, as
// top-level statements (one multi-statement query), and returns how many
// entries of stmtDB pg_stat_statements holds and how many it has evicted
// since its last reset.
func statementWork(b *testing.B, r *rig.Rig) (entries, evicted int) {
	b.Helper()
	var sql strings.Builder
	for i := 1; i <= stmtTables; i++ {
		for _, s := range stmtShapes {
			fmt.Fprintf(&sql, s+";\n", i)
		}
	}
	remoteExec(b, r, stmtDB, sql.String())
	conn, err := pgx.Connect(b.Context(), r.PG.ConnString(stmtDB))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	err = conn.QueryRow(b.Context(), `SELECT (SELECT count(*) FROM pg_stat_statements(false) s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1),
		(SELECT dealloc FROM pg_stat_statements_info)`, stmtDB).Scan(&entries, &evicted)
	if err != nil {
		b.Fatal(err)
	}
	return entries, evicted
}

// BenchmarkCollectStatements measures what collecting pg_stat_statements
// adds to a run: the client's server holds 5,000 distinct statements of
// one database (stmtTables tables × len(stmtShapes) shapes, every one run
// again before each iteration, so each has grown), and two clients
// collect it through the twin tunnel with the same config but [remote]
// queries = yes (stored: the top 100 by each measure, the rest summed,
// the texts the store lacks read) and queries = no. Each iteration runs
// both pggraph-collect processes, in turn first, after the same
// workload; both were primed and collected once before (the statements'
// first texts read). It reports the medians of the runs with
// (ms-queries-yes) and without (ms-queries-no), the median of each
// iteration's difference (ms-added; target ≤ 1 s), the entries of the
// database in pg_stat_statements (entries; none evicted) and the
// statement rows one run stores (rows/run).
func BenchmarkCollectStatements(b *testing.B) {
	r := env(b)
	statementSchema(b, r)
	dir := b.TempDir()
	paths := map[bool]string{}
	for _, queries := range []bool{true, false} {
		prefix := map[bool]string{true: "stmtyes", false: "stmtno"}[queries]
		paths[queries] = clientConfig(b, r, dir, prefix, func(c *config.Config) {
			c.Remote.Databases = []string{stmtDB}
			c.Remote.Queries = queries
		})
	}
	collectOnce := func(queries bool) time.Duration {
		start := time.Now()
		if out, err := exec.CommandContext(b.Context(), binary, "-q", paths[queries]).CombinedOutput(); err != nil {
			b.Fatalf("pggraph-collect queries=%v: %v: %s", queries, err, out)
		}
		return time.Since(start)
	}
	_, evictedBefore := statementWork(b, r)
	for range 2 { // prime, then the first texts
		collectOnce(true)
		collectOnce(false)
		statementWork(b, r)
	}
	conn := central(b, r)
	var with, without, added []time.Duration
	var entries, evicted int
	i := 0
	for b.Loop() {
		b.StopTimer()
		entries, evicted = statementWork(b, r)
		b.StartTimer()
		var yes, no time.Duration
		if i%2 == 0 {
			yes, no = collectOnce(true), collectOnce(false)
		} else {
			no, yes = collectOnce(false), collectOnce(true)
		}
		i++
		with, without, added = append(with, yes), append(without, no), append(added, yes-no)
	}
	if entries < stmtTables*len(stmtShapes) || evicted != evictedBefore {
		b.Fatalf("pg_stat_statements holds %d entries of %s and evicted %d, want ≥ %d and none evicted", entries, stmtDB, evicted-evictedBefore, stmtTables*len(stmtShapes))
	}
	var rows int
	err := conn.QueryRow(b.Context(), `SELECT count(*) FROM `+pgx.Identifier{"stmtyes_" + metric.StatementGroupName}.Sanitize()+
		` WHERE ts = (SELECT max(ts) FROM `+pgx.Identifier{"stmtyes_" + metric.StatementGroupName}.Sanitize()+`)`).Scan(&rows)
	if err != nil {
		b.Fatal(err)
	}
	msOf := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(msOf(medianDuration(with)), "ms-queries-yes")
	b.ReportMetric(msOf(medianDuration(without)), "ms-queries-no")
	b.ReportMetric(msOf(medianDuration(added)), "ms-added")
	b.ReportMetric(float64(entries), "entries")
	b.ReportMetric(float64(rows), "rows/run")
}
