package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/testing/centraltest"
	"github.com/pggraph/pggraph/internal/testing/rig"
	"github.com/pggraph/pggraph/metric"
)

// statementRig is a rig of its own for the statement tests: they create
// pg_stat_statements, reset it, restart the server and change
// pg_stat_statements.max, which the package's shared rig must not see.
func statementRig(t *testing.T) *rig.Rig {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	r := rig.StartTest(ctx, t, rig.Options{Central: true})
	if err := centraltest.Setup(ctx, r, centralPassword); err != nil {
		t.Fatal(err)
	}
	return r
}

// statementRuns returns the statement status of each run of a client,
// oldest first, as "status" or "status evicted=N".
func statementRuns(t *testing.T, conn *pgx.Conn, prefix string) []string {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT status || coalesce(' evicted=' || evicted::text, '') FROM `+
		pgx.Identifier{prefix + "_statement_run"}.Sanitize()+` ORDER BY ts`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// remoteQueryID returns the queryid of the statement whose text is text.
func remoteQueryID(t *testing.T, r *rig.Rig, text string) int64 {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), r.PG.ConnString("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var id int64
	if err := conn.QueryRow(t.Context(), `SELECT queryid FROM pg_stat_statements WHERE query = $1 LIMIT 1`, text).Scan(&id); err != nil {
		t.Fatalf("queryid of %q: %v", text, err)
	}
	return id
}

// repeat runs sql n times with args in one session of database db.
func repeat(t *testing.T, r *rig.Rig, db string, n int, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), r.PG.ConnString(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for range n {
		if _, err := conn.Exec(t.Context(), sql, args...); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStatements collects pg_stat_statements through the twin tunnel:
// exact calls and rows of a known workload, a gap and no negative value
// across a reset and a restart, totals that still add up when entries
// are evicted, no text at all with query_text = no, and a server
// without the extension collected without error.
func TestStatements(t *testing.T) {
	r := statementRig(t)
	conn := central(t, r)
	remoteExec(t, r, "postgres", "CREATE DATABASE app")
	remoteExec(t, r, "app", "CREATE TABLE items (id int)", "INSERT INTO items SELECT generate_series(1, 10)")

	t.Run("without the extension", func(t *testing.T) {
		path := clientConfig(t, r, t.TempDir(), "noext", nil)
		mustCollect(t, path)
		mustCollect(t, path)
		if got := statementRuns(t, conn, "noext"); strings.Join(got, ",") != "absent,absent" {
			t.Errorf("runs %v, want absent twice", got)
		}
	})

	remoteExec(t, r, "app", "CREATE EXTENSION pg_stat_statements")
	path := clientConfig(t, r, t.TempDir(), "stmts", func(c *config.Config) { c.PGGraph.TopQueries = 5 })
	notext := clientConfig(t, r, t.TempDir(), "notext", func(c *config.Config) { c.Remote.QueryText = false })

	t.Run("exact calls and rows", func(t *testing.T) {
		mustCollect(t, path)
		mustCollect(t, notext)
		repeat(t, r, "app", 1000, "SELECT id FROM items WHERE id <= $1", 3)
		mustCollect(t, path)
		mustCollect(t, notext)
		id := remoteQueryID(t, r, "SELECT id FROM items WHERE id <= $1")
		for _, prefix := range []string{"stmts", "notext"} {
			got := samples(t, conn, prefix, metric.StatementGroupName, fmt.Sprint(id))
			if len(got) != 1 || got[0]["calls"] != 1000 || got[0]["rows"] != 3000 || !(got[0]["exec_time"] > 0) {
				t.Errorf("%s: samples of the statement %v, want one of 1000 calls and 3000 rows", prefix, got)
			}
		}
		var text string
		if err := conn.QueryRow(t.Context(), `SELECT query FROM stmts_statement_text WHERE queryid = $1`, id).Scan(&text); err != nil || text != "SELECT id FROM items WHERE id <= $1" {
			t.Errorf("stored text %q, %v", text, err)
		}
	})

	t.Run("query_text = no stores no text", func(t *testing.T) {
		var n int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM notext_statement_text`).Scan(&n); err != nil || n != 0 {
			t.Errorf("notext_statement_text has %d rows (%v), want none", n, err)
		}
		// Nowhere else either: no table of the client holds a text
		// pg_stat_statements had.
		for table := range countRows(t, conn, "notext") {
			var found bool
			err := conn.QueryRow(t.Context(), `SELECT EXISTS (SELECT FROM `+pgx.Identifier{table}.Sanitize()+
				` x WHERE x::text LIKE '%items WHERE%')`).Scan(&found)
			if err != nil || found {
				t.Errorf("%s holds a statement text (%v)", table, err)
			}
		}
	})

	t.Run("reset and restart are gaps", func(t *testing.T) {
		repeat(t, r, "app", 10, "SELECT id FROM items WHERE id <= $1", 3)
		remoteExec(t, r, "app", "SELECT pg_stat_statements_reset()")
		repeat(t, r, "app", 7, "SELECT id FROM items WHERE id <= $1", 3)
		mustCollect(t, path) // reset
		repeat(t, r, "app", 5, "SELECT id FROM items WHERE id <= $1", 3)
		mustCollect(t, path) // normal
		if err := r.PG.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := r.PG.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		repeat(t, r, "app", 4, "SELECT id FROM items WHERE id <= $1", 3)
		mustCollect(t, path) // restart
		repeat(t, r, "app", 2, "SELECT id FROM items WHERE id <= $1", 3)
		mustCollect(t, path) // normal
		runs := statementRuns(t, conn, "stmts")
		want := []string{"primed", "collected evicted=0", "reset", "collected evicted=0", "reset", "collected evicted=0"}
		if strings.Join(runs, ",") != strings.Join(want, ",") {
			t.Errorf("runs %v, want %v", runs, want)
		}
		id := remoteQueryID(t, r, "SELECT id FROM items WHERE id <= $1")
		var calls []float64
		for _, s := range samples(t, conn, "stmts", metric.StatementGroupName, fmt.Sprint(id)) {
			calls = append(calls, s["calls"])
		}
		if fmt.Sprint(calls) != "[1000 5 2]" {
			t.Errorf("calls per run %v, want [1000 5 2]: nothing across the reset and the restart", calls)
		}
		noNegatives(t, conn, "stmts")
	})

	t.Run("eviction keeps the totals", func(t *testing.T) {
		remoteExec(t, r, "postgres", "ALTER SYSTEM SET pg_stat_statements.max = 100")
		if err := r.PG.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := r.PG.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		mustCollect(t, path) // restart: reset
		mustCollect(t, path) // normal
		var dbid uint32
		if err := conn.QueryRow(t.Context(), `SELECT key::oid FROM stmts_object WHERE grp = 'database' AND name = 'app'`).Scan(&dbid); err != nil {
			t.Fatal(err)
		}
		before := stateEntries(t, conn, "stmts", dbid)
		var stmts []string
		for i := 1; i <= 300; i++ {
			stmts = append(stmts, "SELECT 0"+strings.Repeat(" + 1", i))
		}
		remoteExec(t, r, "app", stmts...)
		mustCollect(t, path)
		runs := statementRuns(t, conn, "stmts")
		last := runs[len(runs)-1]
		if !strings.HasPrefix(last, "collected evicted=") || strings.HasSuffix(last, "evicted=0") {
			t.Fatalf("last run %q, want collected with evictions", last)
		}
		// The stored rows of the run add up to every entry's growth
		// between the two saved snapshots, as the server counted it.
		want := callsGrowth(before, stateEntries(t, conn, "stmts", dbid))
		var got *float64
		var stored, other int
		err := conn.QueryRow(t.Context(), `SELECT sum(s.calls), count(*) FILTER (WHERE o.key <> 'other'), count(*) FILTER (WHERE o.key = 'other')
FROM stmts_statement s JOIN stmts_object o ON o.id = s.object
WHERE s.ts = (SELECT max(ts) FROM stmts_statement_run) AND o.dbid = $1`, dbid).Scan(&got, &stored, &other)
		if err != nil {
			t.Fatal(err)
		}
		if got == nil || *got != want || other != 1 || want < 50 || stored > 4*5 {
			t.Errorf("database app: stored calls %v in %d rows and %d other rows, want %v (every entry's growth), at most 20 rows and one other row", *got, stored, other, want)
		}
		noNegatives(t, conn, "stmts")
	})
}

// stateEntries returns the values of every pg_stat_statements entry of
// database dbid in the snapshot the client's last run saved, by key
// (NaN for NULL).
func stateEntries(t *testing.T, conn *pgx.Conn, prefix string, dbid uint32) map[string][]float64 {
	t.Helper()
	var data []byte
	if err := conn.QueryRow(t.Context(), `SELECT snapshot FROM `+pgx.Identifier{prefix + "_state"}.Sanitize()).Scan(&data); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Groups map[string][]struct {
			D uint32     `json:"d"`
			K string     `json:"k"`
			V []*float64 `json:"v"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	out := map[string][]float64{}
	for _, e := range st.Groups[metric.StatementRows] {
		if e.D != dbid {
			continue
		}
		vals := make([]float64, len(e.V))
		for i, v := range e.V {
			vals[i] = math.NaN()
			if v != nil {
				vals[i] = *v
			}
		}
		out[e.K] = vals
	}
	return out
}

// callsGrowth is the calls (the first value) of the entries of cur since
// prev: an entry's calls less those before, or all of them when it is
// new or was created again (a value lower than before).
func callsGrowth(prev, cur map[string][]float64) float64 {
	total := 0.0
	for k, c := range cur {
		p, ok := prev[k]
		for i := range c {
			if ok && i < len(p) && c[i] < p[i] {
				ok = false
			}
		}
		if ok {
			total += c[0] - p[0]
		} else {
			total += c[0]
		}
	}
	return total
}
