package store

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/metric"
)

// benchGroups are groups the size of pggraph's real ones: server-wide
// counters, per-table statistics (pg_stat_user_tables + statio, sizes),
// per-index and per-database statistics.
func benchGroups() []metric.Group {
	cols := func(counters []string, gauges ...string) []metric.Column {
		var out []metric.Column
		for _, c := range counters {
			out = append(out, metric.Column{Name: c, Kind: metric.Counter})
		}
		for _, g := range gauges {
			out = append(out, metric.Column{Name: g, Kind: metric.Gauge})
		}
		return out
	}
	return []metric.Group{
		{Name: "server", Scope: metric.Server, Columns: cols([]string{
			"checkpoints_timed", "checkpoints_req", "buffers_checkpoint", "buffers_clean", "maxwritten_clean",
			"buffers_backend", "buffers_alloc", "wal_records", "wal_bytes", "wal_fpi"},
			"connections", "active", "idle_in_xact", "waiting", "xid_age")},
		{Name: "table", Scope: metric.Database, Columns: cols([]string{
			"seq_scan", "seq_tup_read", "idx_scan", "idx_tup_fetch", "n_tup_ins", "n_tup_upd", "n_tup_del",
			"n_tup_hot_upd", "heap_blks_read", "heap_blks_hit", "idx_blks_read", "idx_blks_hit",
			"toast_blks_read", "toast_blks_hit", "vacuum_count", "autovacuum_count", "analyze_count", "autoanalyze_count"},
			"n_live_tup", "n_dead_tup", "size_bytes")},
		{Name: "index", Scope: metric.Database, Columns: cols([]string{
			"idx_scan", "idx_tup_read", "idx_tup_fetch", "idx_blks_read", "idx_blks_hit"}, "size_bytes")},
		{Name: "database", Scope: metric.Database, Columns: cols([]string{
			"xact_commit", "xact_rollback", "blks_read", "blks_hit", "tup_returned", "tup_fetched", "tup_inserted",
			"tup_updated", "tup_deleted", "conflicts", "temp_files", "temp_bytes", "deadlocks"},
			"numbackends", "size_bytes")},
	}
}

// freshClient removes what an earlier benchmark run left of prefix.
func freshClient(b *testing.B, s *Store, prefix string) {
	b.Helper()
	if _, err := s.RemoveClient(b.Context(), prefix); err != nil && !errors.Is(err, ErrNoClient) {
		b.Fatal(err)
	}
	if err := s.EnsureClient(b.Context(), prefix); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWrite is one run of a large client: 5 databases × (1,000
// tables + 2,000 indexes) = 15,000 samples and snapshot rows, objects
// already known (the steady state): Begin, Write, Commit. The baseline
// (copy-ns/op) is a plain COPY of the same sample rows into tables of the
// same shape, with the object ids already known, and a commit.
func BenchmarkWrite(b *testing.B) {
	s := openStore(b, benchGroups())
	ctx := b.Context()
	const prefix = "bench_write"
	freshClient(b, s, prefix)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	snap, samples := bigSnapshot(t0, 5, 1000)
	write := func(i int) {
		snap.Taken = t0.Add(time.Duration(i) * 10 * time.Minute)
		tx, err := s.Begin(ctx, prefix)
		if err != nil {
			b.Fatal(err)
		}
		if err := tx.Write(ctx, snap, samples); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	write(0) // objects known from now on

	// The baseline's tables and rows.
	groups := benchGroups()
	byGroup := map[string][][]any{}
	for i, sm := range samples {
		row := []any{t0, int32(i + 1), sm.Seconds}
		for _, v := range sm.Values {
			row = append(row, nullFloat(v))
		}
		byGroup[sm.Group] = append(byGroup[sm.Group], row)
	}
	for _, g := range groups {
		if _, err := s.samples.Exec(ctx, `DROP TABLE IF EXISTS bench_copy_`+g.Name+`; CREATE TABLE bench_copy_`+g.Name+
			` (LIKE `+ident(prefix+"_"+g.Name)+` INCLUDING ALL)`); err != nil {
			b.Fatal(err)
		}
	}
	copyRows := func(i int) {
		ts := t0.Add(time.Duration(i) * 10 * time.Minute)
		err := pgx.BeginFunc(ctx, s.samples, func(tx pgx.Tx) error {
			for _, g := range groups {
				rows := byGroup[g.Name]
				if len(rows) == 0 {
					continue
				}
				for _, r := range rows {
					r[0] = ts
				}
				cols := []string{"ts", "object", "seconds"}
				for _, c := range g.Columns {
					cols = append(cols, c.Name)
				}
				if _, err := tx.CopyFrom(ctx, pgx.Identifier{"bench_copy_" + g.Name}, cols, pgx.CopyFromRows(rows)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}

	var copyTime time.Duration
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		write(i)
		b.StopTimer()
		start := time.Now()
		copyRows(i)
		copyTime += time.Since(start)
		b.StartTimer()
	}
	b.StopTimer()
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	copyPerOp := float64(copyTime.Nanoseconds()) / float64(b.N)
	b.ReportMetric(float64(len(samples))/(perOp/1e9), "rows/s")
	b.ReportMetric(copyPerOp, "copy-ns/op")
	b.ReportMetric(perOp/copyPerOp, "x-copy")
}

// BenchmarkMaintain is Maintain in the costliest run of a client's day:
// the 23:50 run, which recomputes the current hour from 5 earlier samples
// + its own, and the day from 24 hourly rows per object. Each iteration
// rolls back. "typical" is the server, 5 databases, 100 tables and 200
// indexes; "large" 5 × (1,000 tables + 2,000 indexes).
func BenchmarkMaintain(b *testing.B) {
	for _, size := range []struct {
		name    string
		objects map[string]int
	}{
		{"typical", map[string]int{"server": 1, "database": 5, "table": 100, "index": 200}},
		{"large", map[string]int{"server": 1, "database": 5, "table": 5000, "index": 10000}},
	} {
		b.Run(size.name, func(b *testing.B) { benchMaintain(b, "bench_maint_"+size.name, size.objects) })
	}
}

func benchMaintain(b *testing.B, prefix string, objects map[string]int) {
	s := openStore(b, benchGroups())
	ctx := b.Context()
	freshClient(b, s, prefix)
	dayStart := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cur := dayStart.Add(23*time.Hour + 50*time.Minute)
	t := tables{prefix}
	for _, g := range benchGroups() {
		var raw, roll []string
		for range g.Columns {
			raw = append(raw, "random() * 1000")
			roll = append(roll, "random() * 1000", "random()", "random() * 10")
		}
		// Raw: the hour's six samples; hourly: the day's 23 earlier hours.
		if _, err := s.samples.Exec(ctx, `INSERT INTO `+ident(t.raw(g.Name))+`
SELECT $1::timestamptz + m * interval '10 minutes', o, 600, `+join(raw)+`
FROM generate_series(1, $2::int) o, generate_series(0, 5) m`, cur.Add(-50*time.Minute), objects[g.Name]); err != nil {
			b.Fatal(err)
		}
		if _, err := s.samples.Exec(ctx, `INSERT INTO `+ident(t.hour(g.Name))+`
SELECT $1::timestamptz + h * interval '1 hour', o, 3600, 6, `+join(roll)+`
FROM generate_series(1, $2::int) o, generate_series(0, 22) h`, dayStart, objects[g.Name]); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.samples.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		tx, err := s.begin(ctx, prefix)
		if err != nil {
			b.Fatal(err)
		}
		tx.prev, tx.prevRead, tx.cur = cur.Add(-10*time.Minute), true, cur
		if err := tx.Maintain(ctx, metric.Retention{}); err != nil {
			b.Fatal(err)
		}
		if err := tx.Rollback(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func join(s []string) string { return strings.Join(s, ", ") }

// BenchmarkRebuild recomputes every rollup of a realistic client over 35
// days of raw samples at 10-minute intervals: the server group (1 object),
// 5 databases and 100 tables, 106 × 5,040 ≈ 534,000 raw rows. The baseline
// (copy-ns) is loading those rows with a plain COPY.
func BenchmarkRebuild(b *testing.B) {
	s := openStore(b, benchGroups())
	ctx := b.Context()
	const prefix = "bench_rebuild"
	freshClient(b, s, prefix)
	t := tables{prefix}
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const runs = 35 * 144
	to := from.Add(runs * 10 * time.Minute)
	objects := map[string]int{"server": 1, "database": 5, "table": 100, "index": 0}
	var rows int
	start := time.Now()
	for _, g := range benchGroups() {
		n := objects[g.Name]
		if n == 0 {
			continue
		}
		cols := []string{"ts", "object", "seconds"}
		for _, c := range g.Columns {
			cols = append(cols, c.Name)
		}
		i := 0
		row := make([]any, len(cols))
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i == runs*n {
				return nil, nil
			}
			run, obj := i/n, i%n
			i++
			row[0] = from.Add(time.Duration(run+1) * 10 * time.Minute)
			row[1] = int32(obj + 1)
			row[2] = 600.0
			for j, c := range g.Columns {
				v := float64((run*7919+obj*104729+j*31)%100000) / 10
				if c.Kind == metric.Counter && (run+obj)%997 == 0 {
					row[3+j] = nil // a reset
				} else {
					row[3+j] = v
				}
			}
			return row, nil
		})
		m, err := s.samples.CopyFrom(ctx, pgx.Identifier{t.raw(g.Name)}, cols, src)
		if err != nil {
			b.Fatal(err)
		}
		rows += int(m)
	}
	copyTime := time.Since(start)
	if _, err := s.samples.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		b.Fatal(err)
	}
	truncate := `TRUNCATE `
	for i, g := range benchGroups() {
		if i > 0 {
			truncate += ", "
		}
		truncate += ident(t.hour(g.Name)) + ", " + ident(t.day(g.Name))
	}
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if _, err := s.samples.Exec(ctx, truncate); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if err := s.Rebuild(ctx, prefix, from, to); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
	}
	b.StopTimer()
	perOp := float64(total.Nanoseconds()) / float64(b.N)
	b.ReportMetric(float64(rows), "raw-rows")
	b.ReportMetric(float64(rows)/(perOp/1e9), "rows/s")
	b.ReportMetric(float64(copyTime.Nanoseconds()), "copy-ns")
	b.ReportMetric(perOp/float64(copyTime.Nanoseconds()), "x-copy")
	var hourly int
	for _, g := range benchGroups() {
		hourly += count(b, s.samples, t.hour(g.Name), "")
	}
	if want := 35 * 24 * 106; hourly != want {
		b.Errorf("%d hourly rows, want %d", hourly, want)
	}
}

// BenchmarkState is a large client's snapshot (15,000 rows) from Go to
// its state table and back: encode, upsert, select, decode, in a
// transaction rolled back each time.
func BenchmarkState(b *testing.B) {
	s := openStore(b, benchGroups())
	ctx := b.Context()
	const prefix = "bench_state"
	freshClient(b, s, prefix)
	snap, _ := bigSnapshot(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), 5, 1000)
	t := tables{prefix}
	var size int
	for b.Loop() {
		tx, err := s.samples.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		data, err := encodeSnapshot(snap)
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
		if _, err := tx.Exec(ctx, `INSERT INTO `+ident(t.state())+` (id, taken, snapshot) VALUES (1, $1, $2)
ON CONFLICT (id) DO UPDATE SET taken = EXCLUDED.taken, snapshot = EXCLUDED.snapshot`, snap.Taken, data); err != nil {
			b.Fatal(err)
		}
		var back []byte
		if err := tx.QueryRow(ctx, `SELECT snapshot FROM `+ident(t.state())).Scan(&back); err != nil {
			b.Fatal(err)
		}
		if _, err := decodeSnapshot(back); err != nil {
			b.Fatal(err)
		}
		if err := tx.Rollback(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size), "bytes")
}
