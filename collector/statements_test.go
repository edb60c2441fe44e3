package collector

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/pggraph/pggraph/metric"
)

// stmtSnap is a snapshot of pg_stat_statements entries: key → calls and
// exec_time (the other measures 0), in database 1.
func stmtSnap(at time.Time, version int, reset time.Time, dealloc float64, entries map[string][2]float64) *metric.Snapshot {
	n := len(metric.StatementGroup().Columns)
	s := &metric.Snapshot{Taken: at, Version: version, Rows: map[string][]metric.Row{
		metric.StatementInfo: {{Key: "app", Name: "public", StatsReset: reset, Values: []float64{dealloc}}},
	}}
	for k, v := range entries {
		vals := make([]float64, n)
		vals[0], vals[1] = v[0], v[1]
		s.Rows[metric.StatementRows] = append(s.Rows[metric.StatementRows], metric.Row{Database: 1, Key: k, Values: vals})
	}
	return s
}

func TestStatementDeltas(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(10 * time.Minute)
	r0 := t0.Add(-time.Hour)
	base := map[string][2]float64{"1/10/t": {100, 50}, "2/10/t": {10, 5}, "3/10/t": {7, 7}}
	for _, tc := range []struct {
		name    string
		prev    *metric.Snapshot
		cur     *metric.Snapshot
		top     int
		status  metric.StatementStatus
		calls   map[string]float64 // by key, "other" included
		evicted float64
	}{
		{"first run primes", nil, stmtSnap(t1, 150000, r0, 0, base), 100, metric.StatementsPrimed, nil, math.NaN()},
		{"growth, new and recreated", stmtSnap(t0, 150000, r0, 3, base),
			stmtSnap(t1, 150000, r0, 5, map[string][2]float64{"1/10/t": {160, 80}, "2/10/t": {4, 1}, "3/10/t": {7, 7}, "4/10/t": {1000, 1}}),
			100, metric.StatementsCollected, map[string]float64{"1/10/t": 60, "2/10/t": 4, "4/10/t": 1000}, 2},
		{"the rest in other", stmtSnap(t0, 150000, r0, 0, base),
			stmtSnap(t1, 150000, r0, 0, map[string][2]float64{"1/10/t": {160, 80}, "2/10/t": {13, 6}, "3/10/t": {9, 8}, "4/10/t": {1, 0.5}}),
			1, metric.StatementsCollected, map[string]float64{"1/10/t": 60, "other": 6}, 0},
		{"stats_reset changed", stmtSnap(t0, 150000, r0, 0, base), stmtSnap(t1, 150000, t0, 0, base), 100, metric.StatementsReset, nil, math.NaN()},
		{"reset before 14: nothing kept", stmtSnap(t0, 130000, time.Time{}, math.NaN(), base),
			stmtSnap(t1, 130000, time.Time{}, math.NaN(), map[string][2]float64{"1/10/t": {3, 1}}), 100, metric.StatementsReset, nil, math.NaN()},
		{"no extension", stmtSnap(t0, 150000, r0, 0, base), &metric.Snapshot{Taken: t1}, 100, metric.StatementsAbsent, nil, math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := StatementDeltas(tc.prev, tc.cur, tc.top)
			if got.Run.Status != tc.status {
				t.Errorf("status %s, want %s", got.Run.Status, tc.status)
			}
			if e := got.Run.Evicted; e != tc.evicted && !(math.IsNaN(e) && math.IsNaN(tc.evicted)) {
				t.Errorf("evicted %v, want %v", e, tc.evicted)
			}
			calls := map[string]float64{}
			for _, s := range got.Samples {
				calls[s.Key] = s.Values[0]
				for _, v := range s.Values {
					if v < 0 {
						t.Errorf("%s: negative value %v", s.Key, v)
					}
				}
			}
			if fmt.Sprint(calls) != fmt.Sprint(map[string]float64(tc.calls)) && !(len(calls) == 0 && len(tc.calls) == 0) {
				t.Errorf("calls %v, want %v", calls, tc.calls)
			}
		})
	}
}
