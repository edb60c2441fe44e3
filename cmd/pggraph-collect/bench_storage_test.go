package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// storagePrefix is the client BenchmarkStorage collects.
const storagePrefix = "storage"

// storageRuns is how many collections BenchmarkStorage makes after the
// priming one.
const storageRuns = 6

// sizeRows is about how many rows BenchmarkStorage measures per table:
// enough that the last, partly filled pages and the indexes' fixed
// pages weigh less than 1%.
const sizeRows = 40000

// resolution is one of a group's three tables: raw samples, hourly or
// daily rollups.
type resolution struct {
	name   string        // "raw", "hour", "day"
	suffix string        // of the table name: "", "_hour", "_day"
	step   time.Duration // time between two rows of one object
}

// BenchmarkStorage measures what a typical client (the server, 5
// databases, 100 tables, 200 indexes) costs on the central server's disk,
// per client-year.
//
// How: pggraph-collect collects the client (its tables created by the
// collector itself) once to prime and six times more, around a small
// workload; that gives real raw rows and real hourly rollups (and daily
// ones when a run opened an hour). Then, for each group and resolution,
// the newest bucket's rows are copied into a scratch table made LIKE the
// client's (INCLUDING ALL: the primary key on (object, ts) and the BRIN
// index on ts), many times over with ts shifted back by one step (the
// collection interval for raw rows, an hour, a day), oldest first and every
// object per step as the collector inserts them, to about 40,000 rows;
// after VACUUM ANALYZE (which adds the free-space and visibility maps, as
// autovacuum would) pg_total_relation_size ÷ rows is the bytes per row of
// that table, heap, TOAST, indexes and maps included. (Daily rows take the
// hourly rows' values when no run opened an hour: both tables have the
// same columns.)
//
// With R_g, H_g, D_g the bytes per raw, hourly and daily row of group g,
// N_g its objects, runs per day 1440 / interval, and the defaults of
// internal/config ([pggraph] interval 10 min, keep_raw_days 35,
// keep_hourly_days 100, keep_daily_days 1825), the client holds
//
//	Σ_g N_g × (R_g × runs/day × min(days, 35) + H_g × 24 × min(days, 100) + D_g × min(days, 1825))
//
// bytes after collecting for days, plus its object and state tables
// (measured as they are). MB/client-year is that after 365 days. The
// client still grows after that, by its daily rollups until day 1825:
// MB-steady is the plateau from then on.
// Not counted: space that retention's deletes leave to be reused (dead
// rows between vacuums) and the WAL. It also reports the bytes per
// row of each resolution, averaged over the groups weighted by their
// objects (B/raw-row, B/hour-row, B/day-row), and the objects per run.
func BenchmarkStorage(b *testing.B) {
	r := env(b)
	dbs := typicalSchema(b, r)
	ctx := b.Context()
	path := clientConfig(b, r, b.TempDir(), storagePrefix, func(c *config.Config) { c.Remote.Databases = dbs })
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	removeStorageClient(b, cfg.Local)
	conn := central(b, r)

	var steady, firstYear, objects float64
	var perRow map[string]float64
	for b.Loop() {
		for run := range storageRuns + 1 {
			if run > 0 {
				typicalWork(b, r, dbs, run)
			}
			if out, err := exec.CommandContext(ctx, binary, "-q", path).CombinedOutput(); err != nil {
				b.Fatalf("pggraph-collect run %d: %v: %s", run, err, out)
			}
		}
		sizes, err := measureStorage(ctx, conn, storagePrefix, cfg.PGGraph.Interval)
		if err != nil {
			b.Fatal(err)
		}
		keep := cfg.PGGraph
		firstYear = sizes.after(365, keep)
		steady = sizes.after(int(keep.Keep.Daily/metric.Day), keep)
		objects = sizes.objects()
		perRow = sizes.averages()
		removeStorageClient(b, cfg.Local)
	}
	b.ReportMetric(firstYear/1e6, "MB/client-year")
	b.ReportMetric(steady/1e6, "MB-steady")
	for _, res := range resolutions(0) {
		b.ReportMetric(perRow[res.name], "B/"+res.name+"-row")
	}
	b.ReportMetric(objects, "objects")
}

// resolutions are the three tables of a group, with interval as the raw
// step.
func resolutions(interval time.Duration) []resolution {
	return []resolution{{"raw", "", interval}, {"hour", "_hour", time.Hour}, {"day", "_day", 24 * time.Hour}}
}

// groupSize is what BenchmarkStorage measured of one group.
type groupSize struct {
	objects float64            // rows per run
	perRow  map[string]float64 // bytes per row, by resolution name
}

// storageSizes are the measurements of one client.
type storageSizes struct {
	groups   map[string]groupSize
	fixed    float64 // the object and state tables, in bytes
	interval time.Duration
}

// after is the client's bytes after collecting for days with the
// retention of keep.
func (s storageSizes) after(days int, keep config.PGGraph) float64 {
	d := float64(days)
	runsPerDay := float64(24*time.Hour) / float64(s.interval)
	rawDays := min(d, float64(keep.Keep.Raw/metric.Day))
	hourDays := min(d, float64(keep.Keep.Hourly/metric.Day))
	dayDays := min(d, float64(keep.Keep.Daily/metric.Day))
	total := s.fixed
	for _, g := range s.groups {
		total += g.objects * (g.perRow["raw"]*runsPerDay*rawDays + g.perRow["hour"]*24*hourDays + g.perRow["day"]*dayDays)
	}
	return total
}

// objects is the client's objects per run, over all groups.
func (s storageSizes) objects() float64 {
	var n float64
	for _, g := range s.groups {
		n += g.objects
	}
	return n
}

// averages are the bytes per row of each resolution, averaged over the
// groups weighted by their objects.
func (s storageSizes) averages() map[string]float64 {
	out := map[string]float64{}
	n := s.objects()
	for _, g := range s.groups {
		for res, v := range g.perRow {
			out[res] += v * g.objects / n
		}
	}
	return out
}

// measureStorage measures the bytes per row of each of prefix's tables
// with rows, as BenchmarkStorage describes, in a scratch schema it drops
// afterwards.
func measureStorage(ctx context.Context, conn *pgx.Conn, prefix string, interval time.Duration) (storageSizes, error) {
	s := storageSizes{groups: map[string]groupSize{}, interval: interval}
	const scratch = "bench_storage"
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+scratch+" CASCADE; CREATE SCHEMA "+scratch); err != nil {
		return s, fmt.Errorf("create scratch schema: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "DROP SCHEMA IF EXISTS "+scratch+" CASCADE")
	err := conn.QueryRow(ctx, "SELECT pg_total_relation_size($1::regclass) + pg_total_relation_size($2::regclass)",
		pgx.Identifier{prefix + "_object"}.Sanitize(), pgx.Identifier{prefix + "_state"}.Sanitize()).Scan(&s.fixed)
	if err != nil {
		return s, fmt.Errorf("size of object and state tables: %w", err)
	}
	for _, g := range metric.Groups() {
		gs := groupSize{perRow: map[string]float64{}}
		for _, res := range resolutions(interval) {
			table := prefix + "_" + g.Name + res.suffix
			n, err := newestRows(ctx, conn, table)
			if err != nil {
				return s, err
			}
			source := table
			if n == 0 && res.name == "day" {
				// No run opened an hour: the hourly rows have the
				// same columns.
				source = prefix + "_" + g.Name + "_hour"
				if n, err = newestRows(ctx, conn, source); err != nil {
					return s, err
				}
			}
			if n == 0 && res.name == "raw" {
				break // a group without objects on this server
			}
			if n == 0 {
				return s, fmt.Errorf("%s has samples but no %s rollups", prefix+"_"+g.Name, res.name)
			}
			if res.name == "raw" {
				gs.objects = float64(n)
			}
			bytes, rows, err := replicate(ctx, conn, table, source, scratch+"."+pgx.Identifier{table}.Sanitize(), res.step, (sizeRows+n-1)/n)
			if err != nil {
				return s, err
			}
			gs.perRow[res.name] = bytes / rows
		}
		if gs.objects > 0 {
			s.groups[g.Name] = gs
		}
	}
	if len(s.groups) == 0 {
		return s, errors.New("no group has samples")
	}
	return s, nil
}

// newestRows counts the rows of table's newest ts.
func newestRows(ctx context.Context, conn *pgx.Conn, table string) (int, error) {
	var n int
	t := pgx.Identifier{table}.Sanitize()
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+t+" WHERE ts = (SELECT max(ts) FROM "+t+")").Scan(&n); err != nil {
		return 0, fmt.Errorf("count newest rows of %s: %w", table, err)
	}
	return n, nil
}

// replicate creates scratch LIKE table, fills it with copies times the
// newest rows of source, ts shifted back by step each time (oldest
// first), vacuums it and returns its total size in bytes and its rows.
func replicate(ctx context.Context, conn *pgx.Conn, table, source, scratch string, step time.Duration, copies int) (bytes, rows float64, err error) {
	t, src := pgx.Identifier{table}.Sanitize(), pgx.Identifier{source}.Sanitize()
	var cols string
	if err := conn.QueryRow(ctx, `SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
		WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attname <> 'ts'`, t).Scan(&cols); err != nil {
		return 0, 0, fmt.Errorf("columns of %s: %w", table, err)
	}
	sql := fmt.Sprintf(`CREATE TABLE %[1]s (LIKE %[2]s INCLUDING ALL);
		INSERT INTO %[1]s (ts, %[3]s)
		SELECT s.ts - k * make_interval(secs => %[4]d), %[3]s
		FROM (SELECT * FROM %[5]s WHERE ts = (SELECT max(ts) FROM %[5]s)) s, generate_series(%[6]d, 0, -1) k
		ORDER BY k DESC, s.object`, scratch, t, cols, int(step.Seconds()), src, copies-1)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return 0, 0, fmt.Errorf("fill scratch copy of %s: %w", table, err)
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+scratch); err != nil {
		return 0, 0, fmt.Errorf("vacuum scratch copy of %s: %w", table, err)
	}
	if err := conn.QueryRow(ctx, "SELECT pg_total_relation_size($1::regclass), (SELECT count(*) FROM "+scratch+")", scratch).Scan(&bytes, &rows); err != nil {
		return 0, 0, fmt.Errorf("size of scratch copy of %s: %w", table, err)
	}
	return bytes, rows, nil
}

// removeStorageClient drops what an earlier BenchmarkStorage left.
func removeStorageClient(b *testing.B, local config.Local) {
	b.Helper()
	st, err := store.Open(b.Context(), local, metric.Groups())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close(context.Background())
	if _, err := st.RemoveClient(b.Context(), storagePrefix); err != nil && !errors.Is(err, store.ErrNoClient) {
		b.Fatal(err)
	}
}
