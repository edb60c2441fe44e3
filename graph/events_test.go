package graph

import (
	"bytes"
	"context"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// periodSeries is a Source whose Series answers a sample every ten
// minutes of the range asked, each column's value a function of time.
type periodSeries struct{ Source }

func (periodSeries) Series(ctx context.Context, q store.SeriesQuery) ([]store.SeriesRow, error) {
	var rows []store.SeriesRow
	for t := q.From.Truncate(10 * time.Minute).Add(10 * time.Minute); t.Before(q.To); t = t.Add(10 * time.Minute) {
		r := store.SeriesRow{T: t}
		for i := range q.Columns {
			v := 600 * (2 + math.Sin(float64(t.Unix())/7200+float64(i)))
			r.Seconds, r.Values = append(r.Seconds, 600), append(r.Values, v)
			r.Min, r.Max = append(r.Min, v/600), append(r.Max, v/600)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func TestPrevious(t *testing.T) {
	end := utc(2026, 3, 31, 12, 0)
	for _, tc := range []struct {
		name, from, to string // range= and from= as on a URL
		want           string // the previous period
	}{
		{RangeDay, "", "", "2026-03-29T12:00:00Z 2026-03-30T12:00:00Z"},
		{RangeWeek, "", "", "2026-03-17T12:00:00Z 2026-03-24T12:00:00Z"},
		{RangeMonth, "", "", "2026-01-28T12:00:00Z 2026-02-28T12:00:00Z"},
		{RangeYear, "", "", "2024-03-31T12:00:00Z 2025-03-31T12:00:00Z"},
		{RangeCustom, "2026-03-30T00:00:00Z", "2026-03-30T06:00:00Z", "2026-03-29T18:00:00Z 2026-03-30T00:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRange(tc.name, tc.from, tc.to, end)
			if err != nil {
				t.Fatal(err)
			}
			p := Previous(r)
			if got := p.From.Format(time.RFC3339) + " " + p.To.Format(time.RFC3339); got != tc.want {
				t.Errorf("Previous = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestComparePrevious: with the previous period, the CSV's added columns
// hold exactly the values of the previous period's own CSV, a period
// later.
func TestComparePrevious(t *testing.T) {
	r, err := ParseRange(RangeDay, "", "", utc(2026, 12, 6, 14, 25))
	if err != nil {
		t.Fatal(err)
	}
	q := Query{Graph: "transactions", Range: r}
	d, err := Load(t.Context(), periodSeries{}, "acme", q)
	if err != nil {
		t.Fatal(err)
	}
	if err := LoadPrevious(t.Context(), periodSeries{}, "acme", d); err != nil {
		t.Fatal(err)
	}
	q.Range = Previous(r)
	before, err := Load(t.Context(), periodSeries{}, "acme", q)
	if err != nil {
		t.Fatal(err)
	}
	cur, prev := readCSV(t, d), readCSV(t, before)
	n := len(d.Series)
	if want := append(append([]string{}, prev[0]...), prev[0][2:]...); len(cur[0]) != 2+2*n {
		t.Fatalf("header %q, want the lines and then theirs of the day before (%q)", cur[0], want)
	}
	for i, h := range cur[0][2+n:] {
		if want := prev[0][2+i] + " (the day before)"; h != want {
			t.Errorf("column %d is %q, want %q", 2+n+i, h, want)
		}
	}
	prevAt := map[string][]string{}
	for _, row := range prev[1:] {
		prevAt[row[0]] = row[2:]
	}
	compared := 0
	for _, row := range cur[1:] {
		tm, err := time.Parse(time.RFC3339Nano, row[0])
		if err != nil {
			t.Fatal(err)
		}
		want, ok := prevAt[tm.Add(-24*time.Hour).Format(time.RFC3339Nano)]
		if !ok {
			continue
		}
		if got := row[2+n:]; strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: previous columns %q, want the day before's %q", row[0], got, want)
		}
		compared++
	}
	if compared != len(prev)-1 {
		t.Errorf("%d of the previous day's %d rows found a day later", compared, len(prev)-1)
	}
}

func readCSV(t *testing.T, d *Data) [][]string {
	t.Helper()
	var buf bytes.Buffer
	if err := d.CSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestEventsGolden draws a graph with events (a restart, a setting, a
// collection gap) and the previous period, compares it with its golden
// image (-update rewrites it), and finds each event's marker at its
// time's pixel column.
func TestEventsGolden(t *testing.T) {
	now := utc(2026, 12, 6, 14, 25)
	r, err := ParseRange(RangeCustom, now.Add(-6*time.Hour).Format(time.RFC3339), now.Format(time.RFC3339), now)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Load(t.Context(), periodSeries{}, "acme", Query{Graph: "transactions", Range: r})
	if err != nil {
		t.Fatal(err)
	}
	if err := LoadPrevious(t.Context(), periodSeries{}, "acme", d); err != nil {
		t.Fatal(err)
	}
	d.Events = []metric.Event{
		{Time: r.From.Add(time.Hour), Kind: metric.EventRestart},
		{Time: r.From.Add(2*time.Hour + 7*time.Minute), Kind: metric.EventSetting},
		{Time: r.From.Add(4 * time.Hour), End: r.From.Add(4*time.Hour + 40*time.Minute), Kind: metric.EventGap},
	}
	var buf bytes.Buffer
	if err := d.PNG(&buf); err != nil {
		t.Fatal(err)
	}
	img := checkPNG(t, buf.Bytes(), defaultWidth, defaultHeight)
	golden := filepath.Join("testdata", "events.png")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if n := differentPixels(t, img, golden); n > 0 {
		t.Errorf("%d pixels differ from %s (go test ./graph -run TestEventsGolden -update rewrites it)", n, golden)
	}
	left, right, bottom := plotBox(t, img)
	row := bottom - 2 // below the lines, which stay above 600/s
	xAt := func(tm time.Time) int {
		f := tm.Sub(r.From).Seconds() / r.To.Sub(r.From).Seconds()
		return int(math.Round(float64(left) + f*float64(right-left)))
	}
	for _, e := range d.Events {
		k, _ := metric.EventKindOf(e.Kind)
		col := shade(hexColor(k.Color), markShade)
		var got []int
		for x := left + 1; x < right; x++ {
			if same(img.At(x, row), col) {
				got = append(got, x)
			}
		}
		want := []int{xAt(e.Time)}
		if !e.End.IsZero() {
			want = append(want, xAt(e.End))
		}
		if len(got) != len(want) || got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
			t.Errorf("%s marker at x %v, want %v", e.Kind, got, want)
		}
	}
}
