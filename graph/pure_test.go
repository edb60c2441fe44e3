package graph

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

var update = flag.Bool("update", false, "rewrite README.md from the catalog and the golden images in testdata/")

func utc(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

func TestParseRange(t *testing.T) {
	now := utc(2025, 6, 18, 14, 37)
	tests := []struct {
		name, rng, from, to string
		want                Range
		bad                 bool
	}{
		{name: "default day", want: Range{Name: "day", From: now.Add(-24 * time.Hour), To: now}},
		{name: "day", rng: "day", want: Range{Name: "day", From: now.Add(-24 * time.Hour), To: now}},
		{name: "week", rng: "week", want: Range{Name: "week", From: now.AddDate(0, 0, -7), To: now}},
		{name: "month", rng: "month", want: Range{Name: "month", From: utc(2025, 5, 18, 14, 37), To: now}},
		{name: "year", rng: "year", want: Range{Name: "year", From: utc(2024, 6, 18, 14, 37), To: now}},
		{name: "month from March 31", rng: "month", to: "2025-03-31T12:00:00Z", want: Range{Name: "month", From: utc(2025, 2, 28, 12, 0), To: utc(2025, 3, 31, 12, 0)}},
		{name: "year from February 29", rng: "year", to: "2024-02-29T00:00:00Z", want: Range{Name: "year", From: utc(2023, 2, 28, 0, 0), To: utc(2024, 2, 29, 0, 0)}},
		{name: "month across new year", rng: "month", to: "2025-01-15T00:00:00Z", want: Range{Name: "month", From: utc(2024, 12, 15, 0, 0), To: utc(2025, 1, 15, 0, 0)}},
		{name: "week ending at to", rng: "week", to: "2025-01-31T00:00:00Z", want: Range{Name: "week", From: utc(2025, 1, 24, 0, 0), To: utc(2025, 1, 31, 0, 0)}},
		{name: "custom dates", rng: "custom", from: "2025-01-01", to: "2025-01-01", want: Range{Name: "custom", From: utc(2025, 1, 1, 0, 0), To: utc(2025, 1, 2, 0, 0)}},
		{name: "from alone is custom to now", from: "2025-06-01", want: Range{Name: "custom", From: utc(2025, 6, 1, 0, 0), To: now}},
		{name: "rfc3339 with offset", rng: "custom", from: "2025-06-01T02:00:00+02:00", to: "2025-06-02T00:00:00Z", want: Range{Name: "custom", From: utc(2025, 6, 1, 0, 0), To: utc(2025, 6, 2, 0, 0)}},
		{name: "unknown name", rng: "fortnight", bad: true},
		{name: "custom without from", rng: "custom", to: "2025-01-01", bad: true},
		{name: "named with from", rng: "week", from: "2025-01-01", bad: true},
		{name: "from after to", rng: "custom", from: "2025-02-01", to: "2025-01-01", bad: true},
		{name: "from equals to", rng: "custom", from: "2025-01-01T00:00:00Z", to: "2025-01-01T00:00:00Z", bad: true},
		{name: "garbage from", rng: "custom", from: "yesterday", bad: true},
		{name: "garbage to", to: "2025-13-01", bad: true},
		{name: "sql in to", to: "2025-01-01'; DROP TABLE x", bad: true},
		{name: "over ten years", from: "2000-01-01", to: "2020-01-01", bad: true},
		{name: "ten years", from: "2010-01-01", to: "2019-12-31", want: Range{Name: "custom", From: utc(2010, 1, 1, 0, 0), To: utc(2020, 1, 1, 0, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRange(tt.rng, tt.from, tt.to, now)
			if tt.bad {
				if !errors.Is(err, ErrBadRange) {
					t.Fatalf("ParseRange = %v, %v; want an error wrapping ErrBadRange", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tt.want.Name || !got.From.Equal(tt.want.From) || !got.To.Equal(tt.want.To) {
				t.Fatalf("ParseRange = %v, want %v", got, tt.want)
			}
			if got.From.Location() != time.UTC || got.To.Location() != time.UTC {
				t.Errorf("times not in UTC: %v", got)
			}
			if !got.Now.Equal(now) {
				t.Errorf("ParseRange's Now = %v, want %v", got.Now, now)
			}
		})
	}
}

func TestResolutionAndBucket(t *testing.T) {
	now := utc(2025, 6, 18, 14, 37)
	rs := ranges(now)
	tests := []struct {
		name   string
		r      Range
		width  int
		res    store.Resolution
		bucket time.Duration
	}{
		{"day", rs["day"], 800, store.ResolutionRaw, 120 * time.Second},
		{"day at 400 px", rs["day"], 400, store.ResolutionRaw, 270 * time.Second},
		{"week", rs["week"], 800, store.ResolutionHour, time.Hour},
		{"month", rs["month"], 800, store.ResolutionHour, 2 * time.Hour},
		{"month at 200 px", rs["month"], 200, store.ResolutionHour, 7 * time.Hour},
		{"year", rs["year"], 800, store.ResolutionDay, 24 * time.Hour},
		{"two days raw", Range{Name: "custom", From: now.Add(-48 * time.Hour), To: now}, 800, store.ResolutionRaw, 240 * time.Second},
		{"three days hourly", Range{Name: "custom", From: now.Add(-72 * time.Hour), To: now}, 800, store.ResolutionHour, time.Hour},
		{"old day past raw retention", Range{Name: "custom", From: now.AddDate(0, 0, -40), To: now.AddDate(0, 0, -39)}, 800, store.ResolutionHour, time.Hour},
		{"old week past hourly retention", Range{Name: "custom", From: now.AddDate(-2, 0, 0), To: now.AddDate(-2, 0, 7)}, 800, store.ResolutionDay, 24 * time.Hour},
		{"200 days daily", Range{Name: "custom", From: now.AddDate(0, 0, -200), To: now}, 800, store.ResolutionDay, 24 * time.Hour},
		{"ten years daily", Range{Name: "custom", From: now.AddDate(-10, 0, 0), To: now}, 800, store.ResolutionDay, 6 * 24 * time.Hour},
		{"width 0 is 800", rs["day"], 0, store.ResolutionRaw, 120 * time.Second},
		{"month 40 to 10 days ago hourly", Range{Name: "custom", From: now.AddDate(0, 0, -40), To: now.AddDate(0, 0, -10)}, 800, store.ResolutionHour, time.Hour},
		{"the same with hourly kept 20 days", Range{Name: "custom", From: now.AddDate(0, 0, -40), To: now.AddDate(0, 0, -10),
			Keep: metric.Retention{Hourly: 20 * 24 * time.Hour}}, 800, store.ResolutionDay, 24 * time.Hour},
		{"a day 3 days ago with raw kept 2 days", Range{Name: "custom", From: now.AddDate(0, 0, -3), To: now.AddDate(0, 0, -2),
			Keep: metric.Retention{Raw: 48 * time.Hour}}, 800, store.ResolutionHour, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.r.Now = now
			res := resolution(tt.r)
			if res != tt.res {
				t.Errorf("resolution = %s, want %s", res, tt.res)
			}
			b := bucketWidth(tt.r, tt.width, res)
			if b != tt.bucket {
				t.Errorf("bucketWidth = %v, want %v", b, tt.bucket)
			}
			w := tt.width
			if w == 0 {
				w = defaultWidth
			}
			if n := int(math.Ceil(float64(tt.r.To.Sub(tt.r.From)) / float64(b))); n > plotColumns(w)+1 {
				t.Errorf("%d points for %d pixels", n, w)
			}
		})
	}
	// Without Now, retention counts back from the range's end: a day
	// that ended 39 days ago was raw then.
	old := Range{Name: "custom", From: now.AddDate(0, 0, -40), To: now.AddDate(0, 0, -39)}
	if res := resolution(old); res != store.ResolutionRaw {
		t.Errorf("resolution without Now = %s, want raw", res)
	}
}

func TestValueTicks(t *testing.T) {
	tests := []struct {
		name      string
		lo, hi    float64
		unit      string
		wantLo    float64
		wantHi    float64
		wantLabel []string
	}{
		{"counts", 3, 87, UnitCount, 0, 100, []string{"0", "20", "40", "60", "80", "100"}},
		{"rates k", 0, 31234, UnitPerSecond, 0, 35000, []string{"0", "5k", "10k", "15k", "20k", "25k", "30k", "35k"}},
		{"small rates", 0, 0.0042, UnitPerSecond, 0, 0.005, []string{"0", "0.001", "0.002", "0.003", "0.004", "0.005"}},
		{"fractions of k", 0, 1390, UnitPerSecond, 0, 1400, []string{"0", "200", "400", "600", "800", "1k", "1.2k", "1.4k"}},
		{"quarter k", 0, 1700, UnitPerSecond, 0, 1750, []string{"0", "250", "500", "750", "1k", "1.25k", "1.5k", "1.75k"}},
		{"millions", 0, 2.6e6, UnitCount, 0, 3e6, []string{"0", "500k", "1M", "1.5M", "2M", "2.5M", "3M"}},
		{"bytes GB", 3e9, 11.1e9, UnitBytes, 0, 12 * (1 << 30), []string{"0", "2 GB", "4 GB", "6 GB", "8 GB", "10 GB", "12 GB"}},
		{"bytes/s KB", 0, 900e3, UnitBytesPerSec, 0, 1000 * 1024, []string{"0", "200 KB", "400 KB", "600 KB", "800 KB", "1000 KB"}},
		{"bytes small", 0, 700, UnitBytes, 0, 700, []string{"0", "100 B", "200 B", "300 B", "400 B", "500 B", "600 B", "700 B"}},
		{"seconds", 0, 42, UnitSeconds, 0, 50, []string{"0", "10 s", "20 s", "30 s", "40 s", "50 s"}},
		{"minutes", 0, 2150, UnitSeconds, 0, 2160, []string{"0", "6 min", "12 min", "18 min", "24 min", "30 min", "36 min"}},
		{"hours", 0, 5.5 * 3600, UnitSeconds, 0, 6 * 3600, []string{"0", "1 h", "2 h", "3 h", "4 h", "5 h", "6 h"}},
		{"days", 0, 9 * 86400, UnitSeconds, 0, 10 * 86400, []string{"0", "2 d", "4 d", "6 d", "8 d", "10 d"}},
		{"percent", 94.2, 99.97, UnitPercent, 94, 100, []string{"94%", "95%", "96%", "97%", "98%", "99%", "100%"}},
		{"percent narrow", 98.717, 98.733, UnitPercent, 98, 99, []string{"98%", "98.2%", "98.4%", "98.6%", "98.8%", "99%"}},
		{"percent flat 100", 100, 100, UnitPercent, 99, 100, []string{"99%", "99.2%", "99.4%", "99.6%", "99.8%", "100%"}},
		{"all zero", 0, 0, UnitPerSecond, 0, 1, []string{"0", "0.2", "0.4", "0.6", "0.8", "1"}},
		{"negative", -5, 12, UnitCount, -5, 12.5, []string{"-5", "-2.5", "0", "2.5", "5", "7.5", "10", "12.5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo, hi, ticks := valueTicks(tt.lo, tt.hi, tt.unit, 8)
			var labels []string
			for _, tk := range ticks {
				labels = append(labels, tk.Label)
			}
			if lo != tt.wantLo || hi != tt.wantHi || strings.Join(labels, " | ") != strings.Join(tt.wantLabel, " | ") {
				t.Errorf("valueTicks = [%g, %g] %q\nwant [%g, %g] %q", lo, hi, labels, tt.wantLo, tt.wantHi, tt.wantLabel)
			}
			if lo > tt.lo || hi < math.Min(tt.hi, 100) {
				t.Errorf("axis [%g, %g] does not hold [%g, %g]", lo, hi, tt.lo, tt.hi)
			}
		})
	}
}

func TestTimeTicks(t *testing.T) {
	end := utc(2025, 6, 18, 14, 37)
	rs := ranges(end)
	tests := []struct {
		name  string
		r     Range
		first string // the first labelled tick, RFC 3339, and its label
		label string
		step  time.Duration // between labelled ticks; 0: calendar months
		want  []string      // every label, when given
	}{
		{"day", rs["day"], "2025-06-17T16:00:00Z", "16:00", 2 * time.Hour,
			[]string{"16:00", "18:00", "20:00", "22:00", "Wed 18", "02:00", "04:00", "06:00", "08:00", "10:00", "12:00", "14:00"}},
		{"week", rs["week"], "2025-06-12T00:00:00Z", "Thu 12", 24 * time.Hour,
			[]string{"Thu 12", "Fri 13", "Sat 14", "Sun 15", "Mon 16", "Tue 17", "Wed 18"}},
		{"month", rs["month"], "2025-05-19T00:00:00Z", "May 19", 7 * 24 * time.Hour,
			[]string{"May 19", "May 26", "Jun 02", "Jun 09", "Jun 16"}},
		{"year", rs["year"], "2024-07-01T00:00:00Z", "Jul", 0,
			[]string{"Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Jan 2025", "Feb", "Mar", "Apr", "May", "Jun"}},
		{"six hours", Range{Name: "custom", From: utc(2025, 6, 18, 9, 5), To: utc(2025, 6, 18, 15, 5)}, "2025-06-18T09:30:00Z", "09:30", 30 * time.Minute, nil},
		{"five years", Range{Name: "custom", From: utc(2020, 3, 1, 0, 0), To: utc(2025, 3, 1, 0, 0)}, "2020-07-01T00:00:00Z", "Jul 2020", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ticks := timeTicks(tt.r.From, tt.r.To, 705)
			var major []Tick
			for _, tk := range ticks {
				if tk.Value < float64(tt.r.From.Unix()) || tk.Value > float64(tt.r.To.Unix()) {
					t.Errorf("tick %v outside the range", tk)
				}
				if tk.Label != "" {
					major = append(major, tk)
				}
			}
			if len(major) < 3 || len(major)*45 > 705 {
				t.Fatalf("%d labelled ticks: %v", len(major), major)
			}
			first := time.Unix(int64(major[0].Value), 0).UTC().Format(time.RFC3339)
			if first != tt.first || major[0].Label != tt.label {
				t.Errorf("first tick %s %q, want %s %q", first, major[0].Label, tt.first, tt.label)
			}
			var labels []string
			for i, tk := range major {
				labels = append(labels, tk.Label)
				if i > 0 && tt.step > 0 && tk.Value-major[i-1].Value != tt.step.Seconds() {
					t.Errorf("ticks %d and %d are %gs apart, want %v", i-1, i, tk.Value-major[i-1].Value, tt.step)
				}
				if tt.step == 0 && time.Unix(int64(tk.Value), 0).UTC().Day() != 1 {
					t.Errorf("tick %q is not on the first of a month", tk.Label)
				}
			}
			if tt.want != nil && strings.Join(labels, " ") != strings.Join(tt.want, " ") {
				t.Errorf("labels %q, want %q", labels, tt.want)
			}
		})
	}
}

func TestSegments(t *testing.T) {
	t0 := utc(2025, 1, 1, 0, 0)
	nan := math.NaN()
	pt := func(min int, secs, v float64) Point {
		return Point{T: t0.Add(time.Duration(min) * time.Minute), Seconds: secs, V: v}
	}
	tests := []struct {
		name   string
		points []Point
		rate   bool
		want   string
	}{
		{"none", nil, false, ""},
		{"joined", []Point{pt(10, 600, 1), pt(20, 600, 2), pt(30, 600, 3)}, false, "[1 2 3]"},
		{"rate", []Point{pt(10, 600, 600), pt(20, 600, 1200)}, true, "[1 2]"},
		{"an uncovered interval splits", []Point{pt(10, 600, 1), pt(30, 600, 2)}, false, "[1] [2]"},
		{"NaN splits", []Point{pt(10, 600, 1), pt(20, 600, nan), pt(30, 600, 3), pt(40, 600, 4)}, false, "[1] [3 4]"},
		{"leading and trailing NaN", []Point{pt(10, 600, nan), pt(20, 600, 2), pt(30, 600, nan)}, false, "[2]"},
		{"Inf splits", []Point{pt(10, 600, 1), pt(20, 600, math.Inf(1)), pt(30, 600, 3)}, false, "[1] [3]"},
		{"zero seconds is no rate", []Point{pt(10, 600, 6), pt(20, 0, 6), pt(30, 600, 6)}, true, "[0.01] [0.01]"},
		{"missing time splits", []Point{pt(10, 600, 1), pt(20, 600, 2), pt(60, 600, 3)}, false, "[1 2] [3]"},
		{"jitter joins", []Point{pt(10, 600, 1), pt(26, 960, 2)}, false, "[1 2]"},
		{"a long interval covers its time", []Point{pt(10, 600, 1), pt(60, 3000, 2)}, false, "[1 2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var parts []string
			for _, seg := range segments(tt.points, tt.rate, 108*time.Second) {
				var ys []string
				for _, p := range seg {
					ys = append(ys, fmt.Sprint(p.Y))
				}
				parts = append(parts, "["+strings.Join(ys, " ")+"]")
			}
			if got := strings.Join(parts, " "); got != tt.want {
				t.Errorf("segments = %s, want %s", got, tt.want)
			}
		})
	}
}

// smallData is a known dataset: two counters at raw resolution with a
// reset (NaN) in the middle.
func smallData() *Data {
	t0 := utc(2025, 1, 1, 0, 0)
	r := Range{Name: "custom", From: t0, To: t0.Add(time.Hour)}
	def, _ := Lookup("transactions")
	pts := func(vs ...float64) []Point {
		var out []Point
		for i, v := range vs {
			out = append(out, Point{T: t0.Add(time.Duration(i+1) * 10 * time.Minute), Seconds: 600, V: v, Min: v / 600, Max: v / 600})
		}
		return out
	}
	return &Data{
		Def: def, Query: Query{Graph: def.Name, Range: r}, Resolution: "raw",
		Series: []Series{
			{Label: "commit", Points: pts(1200, 1234.5, math.NaN(), 0.1, 3e6)},
			{Label: "rollback", Points: pts(3, 0, math.NaN(), 1, 12345678901)},
		},
	}
}

func TestMarkers(t *testing.T) {
	end := utc(2025, 6, 18, 14, 37)
	day := ranges(end)[RangeDay]
	// 87 points over 705 plot pixels: 8.1 px each, marked; 88: not.
	few := synth("transactions", Range{Name: RangeCustom, From: end.Add(-87 * 10 * time.Minute), To: end, Now: end}, 1, time.Time{})
	many := synth("transactions", Range{Name: RangeCustom, From: end.Add(-88 * 10 * time.Minute), To: end, Now: end}, 1, time.Time{})
	tests := []struct {
		name string
		d    *Data
		want bool
	}{
		{"two samples", firstSamples(end.Add(-30*time.Minute), day), true},
		{"87 points", few, true},
		{"88 points", many, false},
		{"a full day", synth("transactions", day, 1, time.Time{}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.d.chart()
			if len(c.Lines) == 0 {
				t.Fatal("no lines")
			}
			for _, l := range c.Lines {
				if l.Markers != tt.want {
					t.Errorf("line %s of %d points: Markers %v, want %v", l.Label, len(tt.d.Series[0].Points), l.Markers, tt.want)
				}
			}
		})
	}
}

func TestCSV(t *testing.T) {
	var b bytes.Buffer
	if err := smallData().CSV(&b); err != nil {
		t.Fatal(err)
	}
	want := `time,seconds,commit,rollback
2025-01-01T00:10:00Z,600,1200,3
2025-01-01T00:20:00Z,600,1234.5,0
2025-01-01T00:30:00Z,600,,
2025-01-01T00:40:00Z,600,0.1,1
2025-01-01T00:50:00Z,600,3000000,12345678901
`
	if b.String() != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestCSVQuotesLabels(t *testing.T) {
	d := &Data{Series: []Series{{Label: `a, "b"`, Points: []Point{{T: utc(2025, 1, 1, 0, 0), Seconds: math.NaN(), V: 1}}}}}
	var b bytes.Buffer
	if err := d.CSV(&b); err != nil {
		t.Fatal(err)
	}
	if want := "time,seconds,\"a, \"\"b\"\"\"\n2025-01-01T00:00:00Z,,1\n"; b.String() != want {
		t.Errorf("CSV %q, want %q", b.String(), want)
	}
}

func TestPNG(t *testing.T) {
	d := smallData()
	var b bytes.Buffer
	if err := d.PNG(&b); err != nil {
		t.Fatal(err)
	}
	img := checkPNG(t, b.Bytes(), 800, 300)
	// Both line colors appear in the plot.
	for _, col := range palette()[:2] {
		found := false
		bounds := img.Bounds()
		for y := bounds.Min.Y; y < bounds.Max.Y && !found; y++ {
			for x := bounds.Min.X; x < bounds.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				if uint8(r>>8) == col.R && uint8(g>>8) == col.G && uint8(bl>>8) == col.B {
					found = true
					break
				}
			}
		}
		if !found {
			t.Errorf("no pixel of color %v", col)
		}
	}
	// A custom size.
	d.Query.Width, d.Query.Height = 400, 200
	b.Reset()
	if err := d.PNG(&b); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, b.Bytes(), 400, 200)
}

func TestPNGNoData(t *testing.T) {
	for name, d := range map[string]*Data{
		"no points": {Def: smallData().Def, Query: smallData().Query, Series: []Series{{Label: "commit"}, {Label: "rollback"}}},
		"all NaN":   {Def: smallData().Def, Query: smallData().Query, Series: []Series{{Label: "commit", Points: []Point{{T: utc(2025, 1, 1, 0, 10), Seconds: 600, V: math.NaN()}}}}},
		"no series": {Def: smallData().Def, Query: smallData().Query},
	} {
		t.Run(name, func(t *testing.T) {
			if c := d.chart(); c.Message != NoData || len(c.Lines) != 0 {
				t.Errorf("chart message %q with %d lines", c.Message, len(c.Lines))
			}
			var b bytes.Buffer
			if err := d.PNG(&b); err != nil {
				t.Fatal(err)
			}
			img := checkPNG(t, b.Bytes(), 800, 300)
			dark := 0
			for y := 100; y < 200; y++ {
				for x := 300; x < 500; x++ {
					if r, _, _, _ := img.At(x, y).RGBA(); r < 0x8000 {
						dark++
					}
				}
			}
			if dark == 0 {
				t.Error("no message in the middle of the image")
			}
		})
	}
}

func TestRenderRefusesBadCharts(t *testing.T) {
	good := smallData().chart()
	tests := map[string]func(c *Chart){
		"NaN point":  func(c *Chart) { c.Lines[0].Segments[0][0].Y = math.NaN() },
		"Inf point":  func(c *Chart) { c.Lines[0].Segments[0][0].X = math.Inf(1) },
		"empty x":    func(c *Chart) { c.XMax = c.XMin },
		"NaN y axis": func(c *Chart) { c.YMax = math.NaN() },
		"tiny":       func(c *Chart) { c.Width = 10 },
		"huge":       func(c *Chart) { c.Height = 100000 },
		"inverted y": func(c *Chart) { c.YMin, c.YMax = c.YMax, c.YMin },
		"short base": func(c *Chart) { c.Lines[0].Base = [][]XY{c.Lines[0].Segments[0][:1]} },
		"NaN base": func(c *Chart) {
			c.Lines[0].Base = [][]XY{append([]XY(nil), c.Lines[0].Segments[0]...)}
			c.Lines[0].Base[0][0].Y = math.NaN()
		},
		"no segments": nil,
	}
	for name, spoil := range tests {
		t.Run(name, func(t *testing.T) {
			c := good
			c.Lines = nil
			for _, l := range good.Lines {
				l2 := l
				l2.Segments = nil
				for _, s := range l.Segments {
					l2.Segments = append(l2.Segments, append([]XY(nil), s...))
				}
				c.Lines = append(c.Lines, l2)
			}
			var b bytes.Buffer
			if spoil == nil {
				if err := Render(&b, c); err != nil {
					t.Fatal(err)
				}
				return
			}
			spoil(&c)
			if err := Render(&b, c); err == nil {
				t.Fatal("Render accepted a bad chart")
			}
			if b.Len() != 0 {
				t.Errorf("Render wrote %d bytes on error", b.Len())
			}
		})
	}
}

func TestPNGUsesBestSpeed(t *testing.T) {
	var b bytes.Buffer
	if err := smallData().PNG(&b); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var def bytes.Buffer
	if err := png.Encode(&def, img); err != nil {
		t.Fatal(err)
	}
	// BestSpeed output is larger than the default compression's.
	if b.Len() <= def.Len() {
		t.Errorf("png %d bytes, default compression %d: not BestSpeed?", b.Len(), def.Len())
	}
}

func TestQueryCheck(t *testing.T) {
	r := Range{Name: "day", From: utc(2025, 1, 1, 0, 0), To: utc(2025, 1, 2, 0, 0)}
	tests := []struct {
		name string
		q    Query
		want error
	}{
		{"server ok", Query{Graph: "transactions", Range: r}, nil},
		{"unknown graph", Query{Graph: "nope", Range: r}, ErrBadQuery},
		{"database without db", Query{Graph: "db_transactions", Range: r}, ErrBadQuery},
		{"table without table", Query{Graph: "table_scans", DB: "app", Range: r}, ErrBadQuery},
		{"table ok", Query{Graph: "table_scans", DB: "app", Table: "public.t", Range: r}, nil},
		{"too wide", Query{Graph: "transactions", Range: r, Width: 5000}, ErrBadQuery},
		{"too small", Query{Graph: "transactions", Range: r, Width: 100, Height: 100}, ErrBadQuery},
		{"empty range", Query{Graph: "transactions"}, ErrBadRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.q.check()
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("check = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestCatalog walks the whole catalog: names, scopes, columns that exist
// in the collector's groups, counters exactly where the unit is per
// second, and graph/README.md in sync (go test -update rewrites it).
func TestCatalog(t *testing.T) {
	nameRE := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	seen := map[string]bool{}
	scope := Server
	for _, s := range catalog() {
		if !nameRE.MatchString(s.name) || seen[s.name] {
			t.Errorf("graph %q: bad or duplicate name", s.name)
		}
		seen[s.name] = true
		if s.scope < scope {
			t.Errorf("graph %s: scope %d after scope %d (page order)", s.name, s.scope, scope)
		}
		scope = s.scope
		if s.title == "" || s.unit == "" || len(s.lines) == 0 || len(s.lines) > len(palette()) {
			t.Errorf("graph %s: title, unit or lines missing, or too many lines", s.name)
		}
		labels := map[string]bool{}
		for _, l := range s.lines {
			if l.label == "" || labels[l.label] {
				t.Errorf("graph %s: empty or duplicate label %q", s.name, l.label)
			}
			labels[l.label] = true
			if l.over != overSum && l.over != overMax {
				t.Errorf("graph %s line %s: combine %q", s.name, l.label, l.over)
			}
			counter, ok := kind(s.group, l.column)
			if !ok {
				t.Errorf("graph %s line %s: group %s has no column %s", s.name, l.label, s.group, l.column)
				continue
			}
			if l.other != "" {
				other, ok := kind(s.group, l.other)
				if !ok || !counter || !other || s.unit != UnitPercent {
					t.Errorf("graph %s line %s: a ratio needs two counters and unit %%", s.name, l.label)
				}
				continue
			}
			if l.per != "" {
				per, ok := kind(s.group, l.per)
				if !ok || !counter || !per || perSecond(s.unit) {
					t.Errorf("graph %s line %s: an amount per event needs two counters and a unit not per second", s.name, l.label)
				}
				continue
			}
			if l.percent {
				g, _ := metric.GroupByName(s.group)
				i := slices.IndexFunc(g.Columns, func(c metric.Column) bool { return c.Name == l.column })
				if counter || g.Columns[i].Unit != metric.Ratio || s.unit != UnitPercent {
					t.Errorf("graph %s line %s: a share needs a Ratio gauge and unit %%", s.name, l.label)
				}
				continue
			}
			if counter != perSecond(s.unit) {
				t.Errorf("graph %s line %s: counter %v with unit %q", s.name, l.label, counter, s.unit)
			}
			if counter && l.over == overMax {
				t.Errorf("graph %s line %s: a counter is summed, not maxed", s.name, l.label)
			}
		}
		if d, ok := Lookup(s.name); !ok || d.Name != s.name || len(d.Lines) != len(s.lines) || d.Group != s.group {
			t.Errorf("Lookup(%s) = %v, %v", s.name, d, ok)
		}
		if s.replaces != "" {
			if r, ok := lookup(s.replaces); !ok || r.scope != s.scope || r.replaces != "" || s.absent == "" {
				t.Errorf("graph %s replaces %q: want an always shown graph of its scope, and itself optional", s.name, s.replaces)
			}
		}
		if strings.Contains(s.absent, "\n") {
			t.Errorf("graph %s: absent text spans lines", s.name)
		}
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup found an unknown graph")
	}
	got := readme()
	if *update {
		if err := os.WriteFile("README.md", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("README.md")
	if err != nil || string(want) != got {
		t.Errorf("README.md is not up to date (go test ./graph -run TestCatalog -update): %v", err)
	}
}

// readme is graph/README.md: every graph and its lines.
func readme() string {
	var b strings.Builder
	b.WriteString(`# Graphs

Every graph pggraph draws, as named in image URLs
(` + "`?graph=NAME&db=D&table=SCHEMA.TABLE&range=R`" + `, add ` + "`&format=csv`" + `
for the data). Generated from the catalog in ` + "`catalog.go`" + ` by
` + "`go test ./graph -run TestCatalog -update`" + `.

Counters are drawn per second (the delta over the interval's seconds);
their CSV columns hold the amount in each point's interval. Overview
graphs sum (or, for ages and lags, take the highest of) every database
or standby; database graphs need ` + "`db=`" + `, table graphs ` + "`db=`" + ` and ` + "`table=`" + `.
Ranges: ` + "`day`" + ` (raw samples), ` + "`week`" + `, ` + "`month`" + ` (hourly rollups), ` + "`year`" + `
(daily rollups), or ` + "`from=`/`to=`" + ` (RFC 3339 or YYYY-MM-DD, UTC). A line
of few points (fewer than one per 8 pixels of plot) has a dot at each;
a lone point between gaps is always a dot.

| graph | scope | title | unit | lines (CSV columns) | source |
| --- | --- | --- | --- | --- | --- |
`)
	scopes := map[Scope]string{Server: "server", Database: "database", Table: "table", Statement: "statement"}
	var notes []string
	for _, s := range catalog() {
		var lines, cols []string
		for _, l := range s.lines {
			lines = append(lines, l.label)
			c := l.column
			switch {
			case l.other != "":
				c = l.column + "/(" + l.column + "+" + l.other + ")"
			case l.percent:
				c = "max 100×" + c
			case l.object != "":
				c += " of " + l.object
			case l.over == overMax:
				c = "max " + c
			}
			cols = append(cols, c)
		}
		title := s.title
		if s.stacked {
			title += " (stacked)"
		}
		if s.absent != "" {
			title += " *"
			note := "- `" + s.name + "`"
			if s.replaces != "" {
				note += " (shown instead of `" + s.replaces + "`)"
			}
			notes = append(notes, note+": "+s.absent)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s: %s |\n", s.name, scopes[s.scope], title, s.unit,
			strings.Join(lines, ", "), s.group, strings.Join(cols, ", "))
	}
	if len(notes) > 0 {
		b.WriteString("\n\\* Shown only when its group has data in the range (for that database or\ntable); otherwise the page says instead:\n\n")
		b.WriteString(strings.Join(notes, "\n") + "\n")
	}
	return b.String()
}

// oneSeries is a Source whose Series answers rows, whatever is asked.
type oneSeries struct {
	Source
	rows []store.SeriesRow
	got  store.SeriesQuery
}

func (o *oneSeries) Series(ctx context.Context, q store.SeriesQuery) ([]store.SeriesRow, error) {
	o.got = q
	return o.rows, nil
}

// objectSeries is a Source whose Series answers, for each object asked,
// the rows of that object.
type objectSeries struct {
	Source
	rows map[string][]store.SeriesRow
}

func (o objectSeries) Series(ctx context.Context, q store.SeriesQuery) ([]store.SeriesRow, error) {
	return o.rows[q.Object], nil
}

// TestLoadObjects draws lines of single objects: one read per object,
// every line at every time any of them has, no value where its object
// has none.
func TestLoadObjects(t *testing.T) {
	r, err := ParseRange(RangeDay, "", "", utc(2026, 1, 2, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	row := func(minutes int, v float64) store.SeriesRow {
		return store.SeriesRow{T: r.From.Add(time.Duration(minutes) * time.Minute), Seconds: []float64{600}, Values: []float64{v}, Min: []float64{v}, Max: []float64{v}}
	}
	src := objectSeries{rows: map[string][]store.SeriesRow{
		"transaction":    {row(10, 1), row(20, 2)},
		"subtransaction": {row(20, 30), row(30, 40)},
	}}
	d, err := Load(t.Context(), src, "acme", Query{Graph: "slru", Range: r})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range d.Series {
		var vs []string
		for _, p := range s.Points {
			vs = append(vs, fmt.Sprintf("%s=%v", p.T.Sub(r.From), p.V))
		}
		got[s.Label] = strings.Join(vs, " ")
	}
	for label, want := range map[string]string{
		"transaction":    "10m0s=1 20m0s=2 30m0s=NaN",
		"subtransaction": "10m0s=NaN 20m0s=30 30m0s=40",
		"other":          "10m0s=NaN 20m0s=NaN 30m0s=NaN",
	} {
		if got[label] != want {
			t.Errorf("%s: %s, want %s", label, got[label], want)
		}
	}
}

// TestLoadShare draws a Ratio gauge in percent: value, minimum and
// maximum times 100, the highest over the objects.
func TestLoadShare(t *testing.T) {
	r, err := ParseRange(RangeDay, "", "", utc(2026, 1, 2, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	src := &oneSeries{rows: []store.SeriesRow{{T: r.From.Add(time.Hour), Seconds: []float64{600}, Values: []float64{0.8}, Min: []float64{0.75}, Max: []float64{0.85}}}}
	d, err := Load(t.Context(), src, "acme", Query{Graph: "db_sequences", DB: "app", Range: r})
	if err != nil {
		t.Fatal(err)
	}
	if c := src.got.Columns; len(c) != 1 || c[0] != (store.SeriesColumn{Name: "used_ratio", Max: true}) {
		t.Errorf("columns asked %+v, want the highest used_ratio", c)
	}
	if p := d.Series[0].Points[0]; p.V != 80 || p.Min != 75 || p.Max != 85 {
		t.Errorf("point %+v, want 80 (75 to 85)", p)
	}
}

// TestStack piles each series on the ones before it: the top of a band
// is the sum so far, its base the sum before; a point without a value
// leaves the series above it without one there too.
func TestStack(t *testing.T) {
	t0 := utc(2026, 1, 2, 0, 0)
	pts := func(vs ...float64) []Point {
		out := make([]Point, len(vs))
		for i, v := range vs {
			out[i] = Point{T: t0.Add(time.Duration(i) * 10 * time.Minute), Seconds: 600, V: v}
		}
		return out
	}
	nan := math.NaN()
	in := []Series{{Label: "a", Points: pts(1, 2, 3)}, {Label: "b", Points: pts(10, nan, 30)}, {Label: "c", Points: pts(100, 200, 300)}}
	tops, bases := stack(in, false)
	values := func(ss []Series) string {
		var out []string
		for _, s := range ss {
			var vs []string
			for _, p := range s.Points {
				vs = append(vs, fmt.Sprint(p.V))
			}
			out = append(out, s.Label+":"+strings.Join(vs, ","))
		}
		return strings.Join(out, " ")
	}
	if got, want := values(tops), "a:1,2,3 b:11,NaN,33 c:111,NaN,333"; got != want {
		t.Errorf("tops %s, want %s", got, want)
	}
	if got, want := values(bases), "a:0,0,0 b:1,2,3 c:11,NaN,33"; got != want {
		t.Errorf("bases %s, want %s", got, want)
	}
	rates, _ := stack([]Series{{Label: "a", Points: pts(600, 1200)}}, true)
	if got := values(rates); got != "a:1,2" {
		t.Errorf("rates %s, want a:1,2", got)
	}

	// Drawn: each line's base is point for point its segments, and the
	// y axis starts at 0.
	def, _ := Lookup("waits")
	r, _ := ParseRange(RangeDay, "", "", t0.Add(time.Hour))
	d := &Data{Def: def, Query: Query{Graph: "waits", Range: r}, Resolution: "raw", Series: in}
	c := d.chart()
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	if c.YMin != 0 || c.YMax < 333 {
		t.Errorf("y axis %v to %v, want 0 to at least 333", c.YMin, c.YMax)
	}
	if b := c.Lines[2].Base; len(b) != 2 || len(b[0]) != 1 || b[0][0].Y != 11 || b[1][0].Y != 33 {
		t.Errorf("line c's base %v, want [[11] [33]] around the gap", b)
	}
}
