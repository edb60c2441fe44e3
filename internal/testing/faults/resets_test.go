//go:build hard

package faults

import (
	"encoding/csv"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/graph"
	"github.com/pggraph/pggraph/metric"
)

// resetStep is one interval of TestCounterResets: what happens on the
// client's server before the run that ends it.
type resetStep struct {
	name    string
	inserts int      // rows inserted into table r
	sql     []string // run after the inserts' first half
	restart bool     // restart the client's PostgreSQL
	// gaps are the groups whose counters this interval must leave NULL.
	gaps []string
}

// resetSteps are the intervals after the priming run.
var resetSteps = []resetStep{
	{name: "normal", inserts: 10},
	{name: "pg_stat_reset()", inserts: 25, sql: []string{"SELECT pg_stat_reset()"}, gaps: []string{"table", "index", "database"}},
	{name: "normal", inserts: 7},
	{name: "pg_stat_reset_shared('bgwriter')", sql: []string{"SELECT pg_stat_reset_shared('bgwriter')"}, gaps: []string{"bgwriter"}},
	{name: "normal"},
	{name: "pg_stat_reset_shared('wal')", inserts: 2, sql: []string{"SELECT pg_stat_reset_shared('wal')"}, gaps: []string{"wal"}},
	{name: "normal", inserts: 1},
	{name: "server restart", inserts: 3, restart: true, gaps: []string{"table", "index", "database", "bgwriter", "wal", "archiver"}},
	{name: "normal", inserts: 4},
}

// bgwriterColumns are the columns of graphs checkpoints and
// buffers_written, by CSV label: their values are bounded by what the
// server's counter reads at the end of the interval.
var bgwriterColumns = map[string]string{
	"timed": "checkpoints_timed", "requested": "checkpoints_req",
	"checkpoint": "buffers_checkpoint", "background writer": "buffers_clean", "backends": "buffers_backend",
}

// TestCounterResets: pg_stat_reset(), pg_stat_reset_shared('bgwriter'),
// pg_stat_reset_shared('wal') and a restart of the client's server
// between runs each leave the counters of what they reset NULL for that
// interval (a gap) — in the central tables and in every graph's CSV from
// the CGI through Apache — never a negative value or a spike; the other
// intervals hold the exact counts.
func TestCounterResets(t *testing.T) {
	w := env(t)
	a := webSite(t)
	r := w.rig
	path := webConfig(resetsClient)
	remoteExec(t, r, resetsDB, "CREATE TABLE r (id int) WITH (autovacuum_enabled = off)")
	insert := func(n int) {
		if n > 0 {
			remoteExec(t, r, resetsDB, fmt.Sprintf("INSERT INTO r SELECT generate_series(1, %d)", n))
		}
	}
	// bgwriterNow reads the server's bgwriter counters.
	bgwriterNow := func() map[string]float64 {
		t.Helper()
		conn, err := pgx.Connect(t.Context(), r.PG.ConnString("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		m := map[string]float64{}
		var a, b, c, d, e float64
		if err := conn.QueryRow(t.Context(), `SELECT checkpoints_timed, checkpoints_req, buffers_checkpoint, buffers_clean, buffers_backend FROM pg_stat_bgwriter`).Scan(&a, &b, &c, &d, &e); err != nil {
			t.Fatal(err)
		}
		m["checkpoints_timed"], m["checkpoints_req"], m["buffers_checkpoint"], m["buffers_clean"], m["buffers_backend"] = a, b, c, d, e
		return m
	}
	conn := centralConn(t, r, "pggraph")

	w.mustCollect(t, path) // primes
	first := fingerprintOf(t, conn, resetsClient).taken
	var (
		times  []time.Time          // each interval's sample time
		bounds []map[string]float64 // bgwriter counters just after each run
	)
	for _, s := range resetSteps {
		// Runs at least 1.5 s apart: one CSV point each at 1 s buckets.
		time.Sleep(1500 * time.Millisecond)
		insert(s.inserts / 2)
		if len(s.sql) > 0 {
			remoteExec(t, r, resetsDB, s.sql...)
		}
		if s.restart {
			if err := r.PG.Stop(); err != nil {
				t.Fatal(err)
			}
			if err := r.PG.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		insert(s.inserts - s.inserts/2)
		w.mustCollect(t, path)
		times = append(times, fingerprintOf(t, conn, resetsClient).taken)
		bounds = append(bounds, bgwriterNow())
	}

	checked := 0
	// The central tables.
	for i, s := range resetSteps {
		for _, g := range metric.Groups() {
			gap := slices.Contains(s.gaps, g.Name)
			for _, c := range g.Columns {
				if c.Kind != metric.Counter {
					continue
				}
				var nulls, values, negative int
				sql := fmt.Sprintf("SELECT count(*) FILTER (WHERE %[1]s IS NULL), count(%[1]s), count(*) FILTER (WHERE %[1]s < 0) FROM %[2]s WHERE ts = $1",
					pgx.Identifier{c.Name}.Sanitize(), pgx.Identifier{resetsClient + "_" + g.Name}.Sanitize())
				if err := conn.QueryRow(t.Context(), sql, times[i]).Scan(&nulls, &values, &negative); err != nil {
					t.Fatal(err)
				}
				checked += nulls + values
				switch {
				case negative > 0:
					t.Errorf("interval %d (%s): %s.%s has %d negative values", i+1, s.name, g.Name, c.Name, negative)
				// pg_stat_reset() resets one database's row only: the
				// rows of the others are checked below, by name.
				case gap && values > 0 && (g.Name != "database" || s.restart):
					t.Errorf("interval %d (%s): %s.%s has %d values, want NULL (a gap)", i+1, s.name, g.Name, c.Name, values)
				}
			}
		}
	}
	ins := samplesOf(t, conn, resetsClient, "table", "public.r", "n_tup_ins")
	dbIns := samplesOf(t, conn, resetsClient, "database", resetsDB, "tup_inserted")
	for i, s := range resetSteps {
		want := float64(s.inserts)
		if slices.Contains(s.gaps, "table") {
			want = math.NaN()
		}
		if !sameValue(ins[i], want) || !sameValue(dbIns[i], want) {
			t.Errorf("interval %d (%s): table r n_tup_ins %v, database tup_inserted %v; want %v", i+1, s.name, ins[i], dbIns[i], want)
		}
	}

	// Every graph's CSV, as the client's user sees it.
	q := url.Values{
		"range": {"custom"}, "width": {"2000"}, "format": {"csv"},
		"from": {first.Add(-time.Second).UTC().Format(time.RFC3339)},
		"to":   {time.Now().Add(5 * time.Second).UTC().Format(time.RFC3339)},
	}
	var csvs, cells int
	inserted := map[string]int{} // non-empty "inserted" cells per graph
	for _, d := range graph.Defs() {
		q.Set("graph", d.Name)
		q.Del("db")
		q.Del("table")
		switch d.Scope {
		case graph.Database:
			q.Set("db", resetsDB)
		case graph.Table:
			q.Set("db", resetsDB)
			q.Set("table", "public.r")
		case graph.Statement:
			// One statement's graphs: the statements tests check them
			// across resets, restarts and evictions.
			continue
		}
		status, body, _ := fetch(t, a, "/pggraph/"+resetsClient+"/index.cgi?"+q.Encode(), "bob")
		if status != 200 {
			t.Errorf("%s CSV: %d %s", d.Name, status, body)
			continue
		}
		os.WriteFile(filepath.Join(w.logs, "resets-"+d.Name+".csv"), []byte(body), 0o644)
		csvs++
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil || len(rows) == 0 {
			t.Errorf("%s CSV: %v\n%s", d.Name, err, body)
			continue
		}
		header := rows[0]
		for _, row := range rows[1:] {
			at, err := time.Parse(time.RFC3339Nano, row[0])
			if err != nil {
				t.Errorf("%s CSV: row %q: %v", d.Name, row, err)
				continue
			}
			// The interval a row belongs to: the first sample at or
			// after the row's time (a point starts its bucket).
			i, _ := slices.BinarySearchFunc(times, at, func(a, b time.Time) int { return a.Compare(b) })
			if i >= len(times) || times[i].Sub(at) >= time.Second {
				t.Errorf("%s CSV: row at %v matches no run (runs at %v)", d.Name, at, times)
				continue
			}
			for j := 2; j < len(row); j++ {
				cells++
				if row[j] == "" {
					continue
				}
				v, err := strconv.ParseFloat(row[j], 64)
				label := header[j]
				switch {
				case err != nil:
					t.Errorf("%s CSV: %s = %q: %v", d.Name, label, row[j], err)
				case v < 0:
					t.Errorf("%s CSV, interval %d (%s): %s = %v, negative", d.Name, i+1, resetSteps[i].name, label, v)
				case d.Unit == graph.UnitPercent && v > 100:
					t.Errorf("%s CSV, interval %d: %s = %v %%", d.Name, i+1, label, v)
				case (d.Name == "checkpoints" || d.Name == "buffers_written") && slices.Contains(resetSteps[i].gaps, "bgwriter"):
					t.Errorf("%s CSV, interval %d (%s): %s = %v, want a gap", d.Name, i+1, resetSteps[i].name, label, v)
				case d.Name == "wal" && slices.Contains(resetSteps[i].gaps, "wal"):
					t.Errorf("%s CSV, interval %d (%s): %s = %v, want a gap", d.Name, i+1, resetSteps[i].name, label, v)
				case (d.Name == "checkpoints" || d.Name == "buffers_written") && v > bounds[i][bgwriterColumns[label]]:
					t.Errorf("%s CSV, interval %d (%s): %s = %v, more than the server's counter (%v): a spike", d.Name, i+1, resetSteps[i].name, label, v, bounds[i][bgwriterColumns[label]])
				case (d.Name == "table_tuples" && label == "inserted") || (d.Name == "db_tuples" && label == "inserted"):
					inserted[d.Name]++
					if v != float64(resetSteps[i].inserts) || slices.Contains(resetSteps[i].gaps, "table") {
						t.Errorf("%s CSV, interval %d (%s): inserted = %v, want %d (or a gap after a reset)", d.Name, i+1, resetSteps[i].name, v, resetSteps[i].inserts)
					}
				}
			}
		}
	}
	for _, name := range []string{"table_tuples", "db_tuples"} {
		want := 0
		for _, s := range resetSteps {
			if !slices.Contains(s.gaps, "table") {
				want++
			}
		}
		if inserted[name] != want {
			t.Errorf("%s CSV: %d intervals with inserted rows, want %d", name, inserted[name], want)
		}
	}
	t.Logf("%d intervals, %d stored counters and %d CSV cells of %d graphs checked", len(resetSteps), checked, cells, csvs)
	failures := 0
	if t.Failed() {
		failures = 1
	}
	for _, s := range resetSteps {
		if s.name == "normal" {
			continue
		}
		figures.add(figure{Area: "reset", What: s.name + " between runs", Tries: 1, Survived: 1 - failures, Failures: failures,
			Note: fmt.Sprintf("gap in %s; no negative value or spike in %d stored counters, %d CSV cells of %d graphs", strings.Join(s.gaps, ", "), checked, cells, csvs)})
	}
}

// samplesOf returns one column of every stored sample of one object,
// oldest first, NaN for NULL.
func samplesOf(t testing.TB, conn *pgx.Conn, prefix, group, name, column string) []float64 {
	t.Helper()
	sql := fmt.Sprintf("SELECT t.%s FROM %s t JOIN %s o ON o.id = t.object WHERE o.name = $1 AND o.grp = $2 ORDER BY t.ts",
		pgx.Identifier{column}.Sanitize(), pgx.Identifier{prefix + "_" + group}.Sanitize(), pgx.Identifier{prefix + "_object"}.Sanitize())
	rows, err := conn.Query(t.Context(), sql, name, group)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (float64, error) {
		var v *float64
		if err := row.Scan(&v); err != nil || v == nil {
			return math.NaN(), err
		}
		return *v, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return vals
}

// sameValue is == with NaN equal to NaN.
func sameValue(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
