package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/metric"
)

// rollupColumns lists a rollup table's columns in insert order.
func rollupColumns(g metric.Group) []string {
	cols := []string{"ts", "object", "seconds", "n"}
	for _, c := range g.Columns {
		cols = append(cols, c.Name, c.Name+"_min", c.Name+"_max")
	}
	return cols
}

// upsertTail is the ON CONFLICT clause that replaces a bucket's row.
func upsertTail(cols []string) string {
	var set []string
	for _, c := range cols[2:] {
		set = append(set, ident(c)+" = EXCLUDED."+ident(c))
	}
	return "ON CONFLICT (object, ts) DO UPDATE SET " + strings.Join(set, ", ")
}

// bucketOrigin is a UTC midnight: date_bin from it gives UTC hours and
// days (PostgreSQL 14 or later).
const bucketOrigin = `'2000-01-01 00:00:00+00'`

// bucket is the SQL of the start of ts's bucket of width ("1 hour").
func bucket(width string) string {
	return "date_bin('" + width + "', ts, " + bucketOrigin + ")"
}

// hourSQL recomputes the hourly buckets in [$1, $2) from the raw samples.
// The inner query computes each rate once (OFFSET 0 keeps it from being
// merged into the outer one, which would compute it for min and for max);
// its extra columns have quoted names no group column can have.
func hourSQL(t tables, g metric.Group) string {
	var counters, sel []string
	inner := []string{bucket("1 hour") + ` AS "bucket ts"`, "object", "seconds"}
	for _, c := range g.Columns {
		q := ident(c.Name)
		inner = append(inner, q)
		if c.Kind == metric.Counter {
			counters = append(counters, q+" IS NOT NULL")
			rate := ident("rate " + c.Name)
			inner = append(inner, q+" / nullif(seconds, 0) AS "+rate)
			sel = append(sel, "sum("+q+")", "min("+rate+")", "max("+rate+")")
		} else {
			// sum / count is avg(), without its costlier transition.
			sel = append(sel, "sum("+q+") / nullif(count("+q+"), 0)", "min("+q+")", "max("+q+")")
		}
	}
	seconds := "sum(seconds)"
	if len(counters) > 0 {
		seconds += " FILTER (WHERE " + strings.Join(counters, " OR ") + ")"
	}
	cols := rollupColumns(g)
	return "INSERT INTO " + ident(t.hour(g.Name)) + " (" + columnList(cols) + ")\n" +
		`SELECT "bucket ts", object, ` + seconds + ", count(*)::int,\n\t" + strings.Join(sel, ", ") + "\n" +
		"FROM (SELECT " + strings.Join(inner, ", ") + "\n\tFROM " + ident(t.raw(g.Name)) +
		" WHERE ts >= $1 AND ts < $2 OFFSET 0) r\n" +
		`GROUP BY "bucket ts", object` + "\n" + upsertTail(cols)
}

// daySQL recomputes the daily buckets in [$1, $2) from the hourly ones.
func daySQL(t tables, g metric.Group) string {
	var sel []string
	for _, c := range g.Columns {
		q, lo, hi := ident(c.Name), ident(c.Name+"_min"), ident(c.Name+"_max")
		if c.Kind == metric.Counter {
			sel = append(sel, "sum("+q+")")
		} else {
			// The hours' averages weighted by their sample counts.
			sel = append(sel, "sum("+q+" * n) / nullif(sum(n) FILTER (WHERE "+q+" IS NOT NULL), 0)")
		}
		sel = append(sel, "min("+lo+")", "max("+hi+")")
	}
	cols := rollupColumns(g)
	return "INSERT INTO " + ident(t.day(g.Name)) + " (" + columnList(cols) + ")\n" +
		"SELECT " + bucket("1 day") + ", object, sum(seconds), sum(n)::int,\n\t" +
		strings.Join(sel, ", ") + "\n" +
		"FROM " + ident(t.hour(g.Name)) + " WHERE ts >= $1 AND ts < $2\n" +
		"GROUP BY 1, 2\n" + upsertTail(cols)
}

// rollupSettings are the transaction's settings for rollups: hash
// aggregates in memory, and no JIT (compiling costs more than it saves
// on these statements).
const rollupSettings = `SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true)`

// rebuildWorkers is how many connections Rebuild uses: INSERT … SELECT
// runs on one core, so Rebuild spreads the days over several.
const rebuildWorkers = 2

// Rebuild recomputes a client's rollups over [from, to), widened to whole
// UTC hours (hourly, from the raw samples) and whole UTC days (daily, from
// the hourly rollups): for repairs, imports and benchmarks. Buckets
// without raw samples (older than raw retention) are left as they are.
//
// It works a day at a time (each aggregate's hash table stays small), the
// days shared among two connections: the Store's and one more opened
// with the same settings. Each connection commits its days in one
// transaction; as recomputing is idempotent, a failed Rebuild is simply
// run again. It may run while a collection does: they wait for each
// other's rows.
func (s *Store) Rebuild(ctx context.Context, prefix string, from, to time.Time) error {
	if err := s.EnsureClient(ctx, prefix); err != nil {
		return err
	}
	if !from.Before(to) {
		return fmt.Errorf("rebuild rollups of client %s: empty range %s to %s", prefix, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	ctx, cancel := context.WithTimeout(ctx, rollupTimeout)
	defer cancel()
	t := tables{prefix}
	hfrom, hto := from.Truncate(time.Hour), ceil(to, time.Hour)
	var days []time.Time
	for d := from.Truncate(metric.Day); d.Before(hto); d = d.Add(metric.Day) {
		days = append(days, d)
	}
	conns := []*pgx.Conn{s.samples}
	if len(days) > 1 {
		for range rebuildWorkers - 1 {
			c, err := connect(ctx, s.samples.Config())
			if err != nil {
				return fmt.Errorf("rebuild rollups of client %s: %w", prefix, err)
			}
			defer c.Close(context.WithoutCancel(ctx))
			conns = append(conns, c)
		}
	}
	errs := make([]error, len(conns))
	var wg sync.WaitGroup
	for w, conn := range conns {
		wg.Go(func() {
			b := &pgx.Batch{}
			var steps []string
			for i := w; i < len(days); i += len(conns) {
				d := days[i]
				lo, hi := later(d, hfrom), earlier(d.Add(metric.Day), hto)
				for _, g := range s.groups {
					b.Queue(hourSQL(t, g), lo, hi)
					b.Queue(daySQL(t, g), d, d.Add(metric.Day))
					steps = append(steps, "roll up "+t.hour(g.Name)+" "+d.Format(time.DateOnly),
						"roll up "+t.day(g.Name)+" "+d.Format(time.DateOnly))
				}
			}
			errs[w] = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, rollupSettings); err != nil {
					return err
				}
				return runBatch(ctx, tx, b, steps)
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("rebuild rollups of client %s: %w", prefix, err)
	}
	return nil
}

// ceil rounds t up to a multiple of d (since the zero time, as Truncate).
func ceil(t time.Time, d time.Duration) time.Time {
	if f := t.Truncate(d); !f.Equal(t) {
		return f.Add(d)
	}
	return t
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
