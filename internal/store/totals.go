package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pggraph/pggraph/metric"
)

// TotalsQuery asks for the objects of a server-wide group that weigh
// most in one column over [From, To), read at Resolution.
type TotalsQuery struct {
	Prefix, Group, Column string
	Resolution            Resolution
	From, To              time.Time
	// Limit is how many objects to return, heaviest first (> 0).
	Limit int
}

// ObjectTotal is one object's weight in a TotalsQuery's column: the
// column summed over the range's samples. For a counter that is its
// growth over the range; for a gauge the sum of its values at every
// sample (its average times the number of runs), so that objects not
// seen at every run weigh less. Share is that weight over the sum of
// every object's (0 to 1).
type ObjectTotal struct {
	Name         string
	Total, Share float64
}

// ObjectTotals returns q.Limit objects of q's group, heaviest first (ties
// by name), with their shares of every object's total. Objects whose
// total is 0 or unknown are left out. A client never collected has none.
func (s *Store) ObjectTotals(ctx context.Context, q TotalsQuery) ([]ObjectTotal, error) {
	fail := func(err error) ([]ObjectTotal, error) {
		return nil, fmt.Errorf("rank objects of %s.%s of client %s: %w", q.Group, q.Column, q.Prefix, err)
	}
	if err := CheckPrefix(q.Prefix); err != nil {
		return fail(err)
	}
	g, ok := s.group(q.Group)
	if !ok {
		return fail(errors.New("unknown group"))
	}
	if g.Scope != metric.Server {
		return fail(errors.New("not a server-wide group"))
	}
	c, ok := g.Column(q.Column)
	if !ok {
		return fail(errors.New("unknown column"))
	}
	if _, ok := q.Resolution.native(); !ok {
		return fail(fmt.Errorf("unknown resolution %q", q.Resolution))
	}
	if q.Limit <= 0 || !q.From.Before(q.To) {
		return fail(fmt.Errorf("limit %d, range %s to %s", q.Limit, q.From.Format(time.RFC3339), q.To.Format(time.RFC3339)))
	}
	// A rollup row holds a gauge's average over its n samples, a
	// counter's growth.
	weight := ident(c.Name)
	if q.Resolution != ResolutionRaw && c.Kind == metric.Gauge {
		weight += " * s.n"
	}
	t := tables{q.Prefix}
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	rows, err := s.samples.Query(ctx, `SELECT name, total, total / nullif(sum(total) OVER (), 0)
FROM (SELECT o.name, sum(`+weight+`) AS total
      FROM `+ident(t.object())+` o
      JOIN `+ident(t.of(g.Name, q.Resolution))+` s ON s.object = o.id
      WHERE o.grp = $1 AND o.name IS NOT NULL AND s.ts >= $2 AND s.ts < $3
      GROUP BY o.name) w
WHERE total > 0
ORDER BY total DESC, name
LIMIT $4`, g.Name, q.From, q.To, q.Limit)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table: never collected
		return nil, nil
	}
	if err != nil {
		return fail(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ObjectTotal, error) {
		var o ObjectTotal
		var share *float64
		err := r.Scan(&o.Name, &o.Total, &share)
		if share != nil {
			o.Share = *share
		}
		return o, err
	})
	if err != nil {
		return fail(err)
	}
	return out, nil
}
