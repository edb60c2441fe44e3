package collector

import (
	"math"
	"testing"
	"time"

	"github.com/pggraph/pggraph/metric"
)

// deltaGroup has two counters and a gauge.
var deltaGroup = metric.Group{
	Name:  "t",
	Scope: metric.Database,
	Columns: []metric.Column{
		{Name: "ins", Kind: metric.Counter, Unit: metric.Count},
		{Name: "upd", Kind: metric.Counter, Unit: metric.Count},
		{Name: "live", Kind: metric.Gauge, Unit: metric.Count},
	},
}

// deltaGauges is a group of gauges only.
var deltaGauges = metric.Group{
	Name:  "g",
	Scope: metric.Database,
	Columns: []metric.Column{
		{Name: "running", Kind: metric.Gauge, Unit: metric.Count},
		{Name: "done", Kind: metric.Gauge, Unit: metric.Ratio},
	},
}

func TestDeltas(t *testing.T) {
	nan := math.NaN()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	t1 := t0.Add(10 * time.Minute)
	start := t0.Add(-time.Hour)
	reset := t0.Add(-time.Minute)
	snap := func(taken, started time.Time, rows ...metric.Row) *metric.Snapshot {
		return &metric.Snapshot{Taken: taken, ServerStart: started, Version: 150000, Rows: map[string][]metric.Row{"t": rows}}
	}
	gauges := func(taken time.Time, rows ...metric.Row) *metric.Snapshot {
		return &metric.Snapshot{Taken: taken, ServerStart: start, Version: 150000, Rows: map[string][]metric.Row{"g": rows}}
	}
	row := func(db uint32, key, name string, vals ...float64) metric.Row {
		return metric.Row{Database: db, Key: key, Name: name, Values: vals}
	}
	withReset := func(r metric.Row, at time.Time) metric.Row { r.StatsReset = at; return r }

	tests := []struct {
		name      string
		prev, cur *metric.Snapshot
		want      []metric.Sample // Values compared with NaN == NaN
	}{
		{
			name: "first run primes",
			cur:  snap(t1, start, row(5, "16384", "public.a", 10, 0, 3)),
		},
		{
			name: "counters become growth, gauges values",
			prev: snap(t0, start, row(5, "16384", "public.a", 10, 7, 3)),
			cur:  snap(t1, start, row(5, "16384", "public.a", 1010, 7, 1003)),
			want: []metric.Sample{{Group: "t", Database: 5, Key: "16384", Name: "public.a", Seconds: 600, Values: []float64{1000, 0, 1003}}},
		},
		{
			name: "a counter went down: all the object's counters NULL, gauge kept",
			prev: snap(t0, start, row(5, "16384", "public.a", 10, 7, 3)),
			cur:  snap(t1, start, row(5, "16384", "public.a", 2, 9, 4)),
			want: []metric.Sample{{Group: "t", Database: 5, Key: "16384", Name: "public.a", Seconds: 600, Values: []float64{nan, nan, 4}}},
		},
		{
			name: "stats_reset changed",
			prev: snap(t0, start, withReset(row(5, "1", "db", 10, 7, 3), reset)),
			cur:  snap(t1, start, withReset(row(5, "1", "db", 50, 70, 3), t1.Add(-time.Second))),
			want: []metric.Sample{{Group: "t", Database: 5, Key: "1", Name: "db", Seconds: 600, Values: []float64{nan, nan, 3}}},
		},
		{
			name: "stats_reset first set",
			prev: snap(t0, start, row(5, "1", "db", 10, 7, 3)),
			cur:  snap(t1, start, withReset(row(5, "1", "db", 50, 70, 3), reset)),
			want: []metric.Sample{{Group: "t", Database: 5, Key: "1", Name: "db", Seconds: 600, Values: []float64{nan, nan, 3}}},
		},
		{
			name: "same stats_reset is no reset",
			prev: snap(t0, start, withReset(row(5, "1", "db", 10, 7, 3), reset)),
			cur:  snap(t1, start, withReset(row(5, "1", "db", 50, 70, 3), reset)),
			want: []metric.Sample{{Group: "t", Database: 5, Key: "1", Name: "db", Seconds: 600, Values: []float64{40, 63, 3}}},
		},
		{
			name: "server restarted: every counter NULL even if it grew",
			prev: snap(t0, start, row(5, "1", "a", 10, 7, 3), row(5, "2", "b", 1, 1, 1)),
			cur:  snap(t1, t0.Add(time.Minute), row(5, "1", "a", 20, 8, 3), row(5, "2", "b", 5, 5, 5)),
			want: []metric.Sample{
				{Group: "t", Database: 5, Key: "1", Name: "a", Seconds: 600, Values: []float64{nan, nan, 3}},
				{Group: "t", Database: 5, Key: "2", Name: "b", Seconds: 600, Values: []float64{nan, nan, 5}},
			},
		},
		{
			name: "new object primes, dropped one stops, renamed one keeps its key",
			prev: snap(t0, start, row(5, "1", "public.old", 10, 0, 1), row(5, "2", "public.gone", 1, 1, 1)),
			cur:  snap(t1, start, row(5, "1", "public.renamed", 15, 0, 1), row(5, "3", "public.new", 100, 100, 100)),
			want: []metric.Sample{{Group: "t", Database: 5, Key: "1", Name: "public.renamed", Seconds: 600, Values: []float64{5, 0, 1}}},
		},
		{
			name: "same key in two databases are two objects",
			prev: snap(t0, start, row(5, "16384", "public.a", 10, 0, 0), row(6, "16384", "public.a", 100, 0, 0)),
			cur:  snap(t1, start, row(5, "16384", "public.a", 11, 0, 0), row(6, "16384", "public.a", 200, 0, 0)),
			want: []metric.Sample{
				{Group: "t", Database: 5, Key: "16384", Name: "public.a", Seconds: 600, Values: []float64{1, 0, 0}},
				{Group: "t", Database: 6, Key: "16384", Name: "public.a", Seconds: 600, Values: []float64{100, 0, 0}},
			},
		},
		{
			name: "NULL at either end is NULL for that counter only",
			prev: snap(t0, start, row(5, "1", "a", nan, 7, 3)),
			cur:  snap(t1, start, row(5, "1", "a", 10, 9, nan)),
			want: []metric.Sample{{Group: "t", Database: 5, Key: "1", Name: "a", Seconds: 600, Values: []float64{nan, 2, nan}}},
		},
		{
			name: "gauges only: a new object is sampled at once, a gone one stops",
			prev: gauges(t0, row(5, "1", "public.a", 1, 0.5)),
			cur:  gauges(t1, row(5, "2", "public.b", 1, 0.25)),
			want: []metric.Sample{{Group: "g", Database: 5, Key: "2", Name: "public.b", Seconds: 600, Values: []float64{1, 0.25}}},
		},
		{
			name: "gauges only: sampled though the previous run had none",
			prev: gauges(t0),
			cur:  gauges(t1, row(5, "2", "public.b", 1, 0.25)),
			want: []metric.Sample{{Group: "g", Database: 5, Key: "2", Name: "public.b", Seconds: 600, Values: []float64{1, 0.25}}},
		},
		{
			name: "gauges only: a first run still only primes",
			cur:  gauges(t1, row(5, "2", "public.b", 1, 0.25)),
		},
		{
			name: "clock went back: no interval",
			prev: snap(t1, start, row(5, "1", "a", 1, 1, 1)),
			cur:  snap(t0, start, row(5, "1", "a", 2, 2, 2)),
		},
		{
			name: "snapshot saved with other columns lines up by name",
			prev: func() *metric.Snapshot {
				s := snap(t0, start, row(5, "1", "a", 3, 100, 10)) // live, ins, old
				s.Columns = map[string][]string{"t": {"live", "ins", "old"}}
				return s
			}(),
			cur:  snap(t1, start, row(5, "1", "a", 150, 4, 12)),
			want: []metric.Sample{{Group: "t", Database: 5, Key: "1", Name: "a", Seconds: 600, Values: []float64{50, nan, 12}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Deltas([]metric.Group{deltaGroup, deltaGauges}, tt.prev, tt.cur)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d samples %+v, want %d %+v", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.Group != w.Group || g.Database != w.Database || g.Key != w.Key || g.Name != w.Name || g.Seconds != w.Seconds || !sameFloats(g.Values, w.Values) {
					t.Errorf("sample %d = %+v, want %+v", i, g, w)
				}
				for _, v := range g.Values {
					if v < 0 {
						t.Errorf("negative value in %+v", g)
					}
				}
			}
		})
	}
}

func sameFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}
