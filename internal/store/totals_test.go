package store

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/pggraph/pggraph/metric"
)

// TestObjectTotals ranks wait events written over four runs: a gauge's
// weight is its values summed over the runs, the same read from raw
// samples, hourly and daily rollups; events never above 0 are left out.
func TestObjectTotals(t *testing.T) {
	const prefix = "totals"
	s := openStore(t, metric.Groups())
	if _, err := s.RemoveClient(t.Context(), prefix); err != nil && !errors.Is(err, ErrNoClient) {
		t.Fatal(err)
	}
	g, _ := metric.GroupByName("wait")
	sample := func(event string, sessions float64) metric.Sample {
		v := make([]float64, len(g.Columns))
		for i := range v {
			v[i] = math.NaN()
		}
		v[0] = sessions // "sessions"
		return metric.Sample{Group: "wait", Key: event, Name: event, Seconds: 600, Values: v}
	}
	t0 := time.Date(2025, 4, 1, 10, 5, 0, 0, time.UTC)
	// Lock:relation in runs 1–3 (2, 3, 1 sessions: 6), CPU in every run
	// (1 each: 4), IO:DataFileRead once (2), Client:ClientWrite at 0.
	runs := [][]metric.Sample{
		{sample("CPU", 1), sample("Lock:relation", 2), sample("Client:ClientWrite", 0)},
		{sample("CPU", 1), sample("Lock:relation", 3)},
		{sample("CPU", 1), sample("Lock:relation", 1), sample("IO:DataFileRead", 2)},
		{sample("CPU", 1)},
	}
	for i, samples := range runs {
		run(t, s, prefix, &metric.Snapshot{Taken: t0.Add(time.Duration(i) * 10 * time.Minute)}, samples, metric.Retention{})
	}
	if err := s.Rebuild(t.Context(), prefix, t0.Truncate(time.Hour), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want := []ObjectTotal{{"Lock:relation", 6, 0.5}, {"CPU", 4, 4.0 / 12}, {"IO:DataFileRead", 2, 2.0 / 12}}
	from, to := t0.Truncate(metric.Day), t0.Truncate(metric.Day).Add(metric.Day)
	for _, tc := range []struct {
		res   Resolution
		limit int
		want  []ObjectTotal
	}{
		{ResolutionRaw, 10, want},
		{ResolutionHour, 10, want},
		{ResolutionDay, 10, want},
		// The shares stay those of every event.
		{ResolutionRaw, 2, want[:2]},
	} {
		got, err := s.ObjectTotals(t.Context(), TotalsQuery{Prefix: prefix, Group: "wait", Column: "sessions",
			Resolution: tc.res, From: from, To: to, Limit: tc.limit})
		if err != nil {
			t.Fatalf("%s: %v", tc.res, err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%s limit %d: %v, want %v", tc.res, tc.limit, got, tc.want)
		}
		for i := range got {
			w := tc.want[i]
			if got[i].Name != w.Name || math.Abs(got[i].Total-w.Total) > 1e-9 || math.Abs(got[i].Share-w.Share) > 1e-9 {
				t.Errorf("%s limit %d: #%d = %+v, want %+v", tc.res, tc.limit, i, got[i], w)
			}
		}
	}
	// A client never collected has none; a per-database group or an
	// unknown column is an error.
	if got, err := s.ObjectTotals(t.Context(), TotalsQuery{Prefix: "never", Group: "wait", Column: "sessions",
		Resolution: ResolutionRaw, From: from, To: to, Limit: 5}); err != nil || len(got) != 0 {
		t.Errorf("never collected: %v, %v", got, err)
	}
	for _, q := range []TotalsQuery{
		{Prefix: prefix, Group: "table", Column: "seq_scan", Resolution: ResolutionRaw, From: from, To: to, Limit: 5},
		{Prefix: prefix, Group: "wait", Column: "nope", Resolution: ResolutionRaw, From: from, To: to, Limit: 5},
		{Prefix: prefix, Group: "wait", Column: "sessions", Resolution: ResolutionRaw, From: from, To: to, Limit: 0},
	} {
		if _, err := s.ObjectTotals(t.Context(), q); err == nil {
			t.Errorf("%+v: no error", q)
		}
	}
}
