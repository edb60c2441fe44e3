package graph

import (
	"bytes"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/wcharczuk/go-chart/v2"

	"github.com/pggraph/pggraph/metric"
)

// defaultLevels are the check table's default levels by check name.
func defaultLevels() map[string]metric.Levels {
	out := map[string]metric.Levels{}
	for _, c := range metric.Checks() {
		if c.Default.Warning.Set() || c.Default.Critical.Set() {
			out[c.Name] = c.Default
		}
	}
	return out
}

func levels(t *testing.T, kv ...string) map[string]metric.Levels {
	t.Helper()
	out := defaultLevels()
	for i := 0; i < len(kv); i += 2 {
		l, err := metric.ParseLevels(kv[i+1])
		if err != nil {
			t.Fatal(err)
		}
		out[kv[i]] = l
	}
	return out
}

func TestThresholdsOf(t *testing.T) {
	type th struct {
		label string
		y     float64
	}
	tests := []struct {
		name   string
		graph  string
		levels map[string]metric.Levels
		want   []th
	}{
		{"derived checks of the worst session, merged", "oldest", defaultLevels(), []th{
			{"warning 5 min: idle_in_transaction, oldest_query", 300},
			{"critical 1 h: idle_in_transaction, oldest_query", 3600},
		}},
		{"a standby's lag", "replication", defaultLevels(), []th{
			{"warning 1 min: replication_lag", 60}, {"critical 5 min: replication_lag", 300},
		}},
		{"a ratio: one database's cache hit", "db_cache_hit", defaultLevels(), []th{{"warning 90%: cache_hit", 90}}},
		{"a sum over databases is no database's ratio", "cache_hit", defaultLevels(), nil},
		{"per minute drawn per second", "db_deadlocks", defaultLevels(), []th{
			{"warning 0: deadlocks", 0}, {"critical 0.083: deadlocks", 5.0 / 60},
		}},
		{"a group.column gauge of one database", "db_sessions", levels(t, "activity.sessions_active", ":20 30:40"), []th{
			{"warning 20: activity.sessions_active", 20}, {"critical 30: activity.sessions_active", 30}, {"critical 40: activity.sessions_active", 40},
		}},
		{"summed over every database: not drawn", "sessions", levels(t, "activity.sessions_active", ":20 :30"), nil},
		{"a group.column counter per second of one table", "table_scans", levels(t, "table.seq_scan", ":2 -"), []th{{"warning 2: table.seq_scan", 2}}},
		// table_bloat's defaults on the bloat line, merged with an equal
		// level of another line.
		{"bytes", "table_size", levels(t, "table.table_size", ":1073741824 -"), []th{
			{"warning 1 GB: table_bloat, table.table_size", 1 << 30}, {"critical 5 GB: table_bloat", 5 << 30},
		}},
		{"the server group is one object", "connections", levels(t, "server.client_backends", ":90 -"), []th{{"warning 90: server.client_backends", 90}}},
		{"a stacked graph's lines are cumulative", "waits", levels(t, "wait.cpu", ":1 :2"), nil},
		{"a check turned off", "oldest", levels(t, "idle_in_transaction", "- -", "oldest_query", "- -"), nil},
		{"no levels", "oldest", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp, ok := lookup(tt.graph)
			if !ok {
				t.Fatalf("no graph %s", tt.graph)
			}
			var got []th
			for _, x := range thresholdsOf(sp, tt.levels) {
				got = append(got, th{x.Label, x.Y})
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestPlaceThresholds(t *testing.T) {
	tests := []struct {
		name           string
		ys             []float64
		lo, hi         float64
		wantOff        []int
		wantLo, wantHi float64
	}{
		{"within the data", []float64{50}, 0, 100, []int{0}, 0, 100},
		{"up to the data's span above: drawn, range grown", []float64{200}, 0, 100, []int{0}, 0, 200},
		{"further: off the plot, range kept", []float64{201, 3600}, 0, 100, []int{1, 1}, 0, 100},
		{"below", []float64{-5, -101}, 0, 100, []int{0, -1}, -5, 100},
		{"flat data at 0: a threshold at 0 only", []float64{0, 1}, 0, 0, []int{0, 1}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in []Threshold
			for _, y := range tt.ys {
				in = append(in, Threshold{Y: y})
			}
			out, lo, hi := placeThresholds(in, tt.lo, tt.hi)
			var off []int
			for _, x := range out {
				off = append(off, x.Off)
			}
			if !slices.Equal(off, tt.wantOff) || lo != tt.wantLo || hi != tt.wantHi {
				t.Errorf("got off %v, range [%g, %g]; want %v, [%g, %g]", off, lo, hi, tt.wantOff, tt.wantLo, tt.wantHi)
			}
		})
	}
}

// TestThresholdPixels draws a database's oldest transaction at 100 to
// 250 s under the default levels: the warning line at 300 s widens the
// axis and is drawn, dashed, on exactly the row of 300 s; the critical
// one (1 h) is off the plot and drawn nowhere.
func TestThresholdPixels(t *testing.T) {
	t0 := utc(2025, 1, 1, 0, 0)
	def, _ := Lookup("db_oldest")
	var pts []Point
	for i, v := range []float64{100, 150, 250, 200} {
		pts = append(pts, Point{T: t0.Add(time.Duration(i+1) * 10 * time.Minute), Seconds: 600, V: v, Min: v, Max: v})
	}
	nan := func() []Point {
		out := slices.Clone(pts)
		for i := range out {
			out[i].V = math.NaN()
		}
		return out
	}
	d := &Data{Def: def, Resolution: "raw",
		Query:  Query{Graph: def.Name, DB: "app", Range: Range{Name: "custom", From: t0, To: t0.Add(time.Hour)}, Levels: defaultLevels()},
		Series: []Series{{Label: "transaction", Points: pts}, {Label: "query", Points: nan()}, {Label: "idle in transaction", Points: nan()}},
	}
	c := d.chart()
	if len(c.Thresholds) != 2 || c.Thresholds[0].Off != 0 || c.Thresholds[1].Off != 1 || c.YMax < 300 {
		t.Fatalf("thresholds %+v, y axis to %g: want the warning drawn, the critical above the plot", c.Thresholds, c.YMax)
	}
	var b bytes.Buffer
	if err := Render(&b, c); err != nil {
		t.Fatal(err)
	}
	img := checkPNG(t, b.Bytes(), 800, 300)
	// Where Render puts the plot.
	font, err := chart.GetDefaultFont()
	if err != nil {
		t.Fatal(err)
	}
	r, err := chart.PNG(c.Width, c.Height)
	if err != nil {
		t.Fatal(err)
	}
	r.SetDPI(72)
	r.SetFont(font)
	v := &canvas{r: r, c: c, t: look()}
	v.layout()
	_, want := v.px(XY{X: c.XMin, Y: 300})
	rows := map[int]int{} // row → warning-colored pixels in the plot
	for y := v.top; y <= v.bottom; y++ {
		for x := v.left + 1; x < v.left+200; x++ { // left of the label
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if uint8(cr>>8) == warningColor.R && uint8(cg>>8) == warningColor.G && uint8(cb>>8) == warningColor.B {
				rows[y]++
			}
		}
	}
	// 199 pixels hold 20 dashes of 6 every 10, the last one cut.
	if len(rows) != 1 || rows[want] < 6*19 || rows[want] > 6*20 {
		t.Errorf("warning pixels by row %v, want one row %d of dashes", rows, want)
	}
	for y := 0; y < c.Height; y++ {
		for x := 0; x < c.Width; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if uint8(cr>>8) == criticalColor.R && uint8(cg>>8) == criticalColor.G && uint8(cb>>8) == criticalColor.B && y > v.top+20 {
				t.Fatalf("a critical pixel at (%d, %d), below the label at the plot's top", x, y)
			}
		}
	}
}
