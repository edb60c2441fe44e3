package collector

import (
	"math"

	"github.com/pggraph/pggraph/metric"
)

// objectID identifies an object within a group across snapshots.
type objectID struct {
	db  uint32
	key string
}

// Deltas derives the samples of the interval from prev to cur. It is pure.
//
// No samples come from a first run (prev nil): it only primes. An object
// gets a sample only when both snapshots hold it: a new object primes, a
// dropped one stops; but in a group of gauges only (running vacuums, wait
// events), which come and go between runs, an object is sampled as soon
// as it is seen, since a gauge needs no earlier value. Counters become their growth over the interval; all
// of an object's counters are NaN (stored as NULL) when the interval holds
// a reset: the server restarted, the object's stats_reset changed, or one
// of its counters went down. A counter that is NULL at either end is NaN.
// Gauges are the value in cur.
func Deltas(groups []metric.Group, prev, cur *metric.Snapshot) []metric.Sample {
	if prev == nil || cur == nil {
		return nil
	}
	seconds := cur.Taken.Sub(prev.Taken).Seconds()
	if seconds <= 0 {
		return nil // clock went back: no meaningful interval
	}
	restarted := !prev.ServerStart.Equal(cur.ServerStart)
	var out []metric.Sample
	for _, g := range groups {
		before := prev.Rows[g.Name]
		gauges := gaugesOnly(g)
		if len(before) == 0 && !gauges {
			continue
		}
		old := make(map[objectID]metric.Row, len(before))
		for _, r := range before {
			old[objectID{r.Database, r.Key}] = r
		}
		// where[i] is the index in old rows' Values of column i, or -1.
		where := columnIndex(g, prev.Columns[g.Name])
		for _, r := range cur.Rows[g.Name] {
			p, ok := old[objectID{r.Database, r.Key}]
			if !ok && !gauges {
				continue
			}
			out = append(out, metric.Sample{
				Group:    g.Name,
				Database: r.Database,
				Key:      r.Key,
				Name:     r.Name,
				Parent:   r.Parent,
				Seconds:  seconds,
				Values:   rowDelta(g.Columns, where, p, r, restarted),
			})
		}
	}
	return out
}

// gaugesOnly reports whether every column of g is a gauge.
func gaugesOnly(g metric.Group) bool {
	for _, c := range g.Columns {
		if c.Kind != metric.Gauge {
			return false
		}
	}
	return true
}

// columnIndex maps each of g's columns to its position in a snapshot saved
// with the columns named saved (nil: g's own columns).
func columnIndex(g metric.Group, saved []string) []int {
	where := make([]int, len(g.Columns))
	for i, c := range g.Columns {
		where[i] = i
		if saved == nil {
			continue
		}
		where[i] = -1
		for j, name := range saved {
			if name == c.Name {
				where[i] = j
				break
			}
		}
	}
	return where
}

// rowDelta is one object's sample values.
func rowDelta(cols []metric.Column, where []int, prev, cur metric.Row, restarted bool) []float64 {
	reset := restarted || !prev.StatsReset.Equal(cur.StatsReset)
	vals := make([]float64, len(cols))
	for i, c := range cols {
		v := math.NaN()
		if i < len(cur.Values) {
			v = cur.Values[i]
		}
		if c.Kind == metric.Gauge {
			vals[i] = v
			continue
		}
		before := math.NaN()
		if j := where[i]; j >= 0 && j < len(prev.Values) {
			before = prev.Values[j]
		}
		d := v - before // NaN when either is NaN
		if d < 0 {
			reset = true
		}
		vals[i] = d
	}
	if reset {
		for i, c := range cols {
			if c.Kind == metric.Counter {
				vals[i] = math.NaN()
			}
		}
	}
	return vals
}
