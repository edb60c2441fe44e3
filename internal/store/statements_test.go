package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pggraph/pggraph/metric"
)

func TestStatementSpan(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.DateTime, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name     string
		res      Resolution
		from, to string
		coarse   Resolution
		want     [2]string // the coarse span
	}{
		{"a month of hours: whole days between", ResolutionHour, "2026-11-06 04:32:19", "2026-12-06 04:32:19", ResolutionDay, [2]string{"2026-11-07 00:00:00", "2026-12-06 00:00:00"}},
		{"a day ends with the hour starting before to", ResolutionHour, "2026-11-06 00:00:00", "2026-11-06 23:00:01", ResolutionDay, [2]string{"2026-11-06 00:00:00", "2026-11-07 00:00:00"}},
		{"to on 23:00 leaves the day's last hour out", ResolutionHour, "2026-11-06 00:00:00", "2026-11-06 23:00:00", ResolutionDay, [2]string{"2026-11-06 00:00:00", "2026-11-06 00:00:00"}},
		{"less than a day", ResolutionHour, "2026-11-06 04:00:00", "2026-11-06 20:00:00", ResolutionDay, [2]string{"2026-11-07 00:00:00", "2026-11-07 00:00:00"}},
		{"raw: whole hours between", ResolutionRaw, "2026-11-06 04:32:00", "2026-11-07 04:32:00", ResolutionHour, [2]string{"2026-11-06 05:00:00", "2026-11-07 04:00:00"}},
		{"raw: to on the hour", ResolutionRaw, "2026-11-06 04:00:00", "2026-11-06 06:00:00", ResolutionHour, [2]string{"2026-11-06 04:00:00", "2026-11-06 06:00:00"}},
		{"days: nothing coarser", ResolutionDay, "2025-11-06 04:32:00", "2026-11-06 04:32:00", "", [2]string{"2025-11-06 04:32:00", "2025-11-06 04:32:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := statementSpan(tt.res, at(tt.from), at(tt.to))
			if sp.coarse != tt.coarse || !sp.from.Equal(at(tt.want[0])) || !sp.to.Equal(at(tt.want[1])) {
				t.Errorf("span %s [%s, %s), want %s [%s, %s)", sp.coarse, sp.from.Format(time.DateTime), sp.to.Format(time.DateTime), tt.coarse, tt.want[0], tt.want[1])
			}
		})
	}
}

// TestStatementsExact writes three days of runs, 20 minutes apart, of
// two statements and the other row through the store (its own rollups),
// and checks that Statements sums exactly the rows of the range at its
// resolution whatever mix of raw, hourly and daily rows it reads: ranges
// over whole days and across midnight, ending at the last run (today's
// day row not closed yet) or an hour later, shorter than an hour.
func TestStatementsExact(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, metric.StoredGroups())
	const prefix = "stmtsum"
	if _, err := s.RemoveClient(ctx, prefix); err != nil && !errors.Is(err, ErrNoClient) {
		t.Fatal(err)
	}
	g := metric.StatementGroup()
	dbGroup, _ := metric.GroupByName("database")
	first := time.Date(2026, 3, 1, 21, 10, 0, 0, time.UTC)
	const step = 20 * time.Minute
	last := first.Add(3*metric.Day + 40*time.Minute) // not the first run of its hour
	keys := []string{"101/10/t", "202/10/t", metric.StatementOther}
	// value is a statement's value of column c in the run at i: whole
	// numbers, so sums are exact.
	value := func(k, c, i int) float64 { return float64((i*7+k*13+c*3)%50 + 1) }
	type sample struct {
		ts   time.Time
		k    int
		vals []float64
	}
	var written []sample
	for i, ts := 0, first; !ts.After(last); i, ts = i+1, ts.Add(step) {
		dbVals := make([]float64, len(dbGroup.Columns))
		for j := range dbVals {
			dbVals[j] = math.NaN()
		}
		samples := []metric.Sample{{Group: "database", Key: "16384", Name: "app", Seconds: step.Seconds(), Values: dbVals}}
		for k, key := range keys {
			vals := make([]float64, len(g.Columns))
			for c := range vals {
				vals[c] = value(k, c, i)
			}
			name, _, _ := strings.Cut(key, "/")
			samples = append(samples, metric.Sample{Group: g.Name, Database: 16384, Key: key, Name: name, Seconds: step.Seconds(), Values: vals})
			written = append(written, sample{ts, k, vals})
		}
		tx, err := s.Begin(ctx, prefix)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Write(ctx, &metric.Snapshot{Taken: ts}, samples); err != nil {
			t.Fatal(err)
		}
		if err := tx.(metric.StatementTx).WriteStatements(ctx, metric.StatementRun{Status: metric.StatementsCollected, Evicted: 0, KeepTexts: true}); err != nil {
			t.Fatal(err)
		}
		if err := tx.Maintain(ctx, metric.Retention{}); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// want sums the samples whose bucket of res starts in [from, to).
	want := func(res Resolution, from, to time.Time) map[int][]float64 {
		width, _ := res.native()
		out := map[int][]float64{}
		for _, w := range written {
			b := w.ts
			if width > 0 {
				b = w.ts.Truncate(width)
			}
			if b.Before(from) || !b.Before(to) {
				continue
			}
			if out[w.k] == nil {
				out[w.k] = make([]float64, len(w.vals))
			}
			for c, v := range w.vals {
				out[w.k][c] += v
			}
		}
		return out
	}
	tests := []struct {
		name     string
		res      Resolution
		from, to time.Time
	}{
		{"hours and days, to at the last run", ResolutionHour, first.Add(7 * time.Minute), last},
		{"hours and days, to an hour after", ResolutionHour, first.Add(-time.Hour), last.Add(time.Hour)},
		{"hours and days, to past midnight with no run since", ResolutionHour, first, last.Add(3 * time.Hour)},
		{"hours and days, to before the last day", ResolutionHour, first.Add(3 * time.Hour), last.Add(-20*time.Hour - 5*time.Minute)},
		{"hours across midnight", ResolutionHour, first.Add(2 * time.Hour), first.Add(9 * time.Hour)},
		{"raw and hours over a day", ResolutionRaw, last.Add(-25*time.Hour - 5*time.Minute), last.Add(time.Minute)},
		{"raw and hours, on the hour", ResolutionRaw, first.Add(50 * time.Minute), first.Add(5*time.Hour + 50*time.Minute)},
		{"raw within an hour", ResolutionRaw, first.Add(time.Minute), first.Add(50 * time.Minute)},
		{"days (closed ones: the last lags by an hour)", ResolutionDay, first.Add(-metric.Day), last.Truncate(metric.Day)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Statements(ctx, StatementQuery{Prefix: prefix, Database: "app", Resolution: tt.res, From: tt.from, To: tt.to})
			if err != nil {
				t.Fatal(err)
			}
			exp := want(tt.res, tt.from, tt.to)
			if len(got) != len(exp) {
				t.Fatalf("%d statements, want %d", len(got), len(exp))
			}
			for _, st := range got {
				k := 2
				if !st.Other {
					name, _, _ := strings.Cut(keys[0], "/")
					k = map[bool]int{true: 0, false: 1}[strconv.FormatInt(st.QueryID, 10) == name]
				}
				if fmt.Sprint(st.Values) != fmt.Sprint(exp[k]) {
					t.Errorf("statement %s: sums %v, want %v", keys[k], st.Values, exp[k])
				}
			}
		})
	}
}
