package graph

import (
	"image/color"
	"math"
	"time"

	"github.com/pggraph/pggraph/internal/store"
)

// This file turns Data into a Chart, the description Render draws: the
// values as drawn (counters per second), lines split at gaps, ticks and
// labels. It is pure.

// Default image size.
const (
	defaultWidth  = 800
	defaultHeight = 300
	// Bounds of a requested size.
	minWidth, maxWidth   = 200, 4000
	minHeight, maxHeight = 120, 2000
)

// Chart is a graph as Render draws it: everything decided, nothing left
// to the chart library but pixels. X values are Unix seconds (UTC).
type Chart struct {
	Width, Height int
	Title         string
	Subtitle      string // drawn small at the top right: the range
	Unit          string // drawn vertically left of the y axis
	XMin, XMax    float64
	XTicks        []Tick // labelled ticks and unlabelled minor grid lines
	YMin, YMax    float64
	YTicks        []Tick
	Lines         []Line
	// Message, when set, is drawn in the middle of the plot: "no data
	// yet" instead of lines.
	Message string
	// Marks are the events, drawn under the lines; Keys their legend.
	Marks []Mark
	Keys  []Key
	// Previous, when not "", is the legend's text for the dashed lines:
	// the previous period.
	Previous string
	// Thresholds are the alert levels of the checks the lines draw
	// (thresholds.go).
	Thresholds []Threshold
}

// Line is one labelled line: its pieces between gaps, drawn in one color.
type Line struct {
	Label    string
	Color    color.RGBA
	Segments [][]XY // each at least one point, every value finite
	// Base, on a stacked chart, is the lower edge of the line's band,
	// point for point (the same shape as Segments: the line below's
	// values, or 0): the band between is filled with a light shade of
	// Color. Nil draws the line alone.
	Base [][]XY
	// Markers draws a dot at every point, for a line of few points; a
	// segment of one point is a dot either way.
	Markers bool
	// Dashed draws the line dashed, without a legend entry of its own:
	// the previous period of the line of the same color (Chart.Previous).
	Dashed bool
}

// markerSpacing is the plot's width per point, in pixels, above which
// a line's points are marked: a line of fewer points than the plot's
// width / markerSpacing gets a dot at each (Line.Markers), so that a few
// samples read as samples, not as a stray stroke.
const markerSpacing = 8

// XY is one point of a line: X in Unix seconds, Y in the axis's unit.
type XY struct{ X, Y float64 }

// palette returns the line colors, in line order (Tableau 10).
func palette() []color.RGBA {
	return []color.RGBA{
		{0x1f, 0x77, 0xb4, 0xff}, // blue
		{0xff, 0x7f, 0x0e, 0xff}, // orange
		{0x2c, 0xa0, 0x2c, 0xff}, // green
		{0xd6, 0x27, 0x28, 0xff}, // red
		{0x94, 0x67, 0xbd, 0xff}, // purple
		{0x8c, 0x56, 0x4b, 0xff}, // brown
		{0xe3, 0x77, 0xc2, 0xff}, // pink
		{0x7f, 0x7f, 0x7f, 0xff}, // gray
		{0xbc, 0xbd, 0x22, 0xff}, // olive
		{0x17, 0xbe, 0xcf, 0xff}, // cyan
	}
}

// NoData is the message of a graph without a single value.
const NoData = "no data yet"

// perSecond reports whether a unit draws counters as rates.
func perSecond(unit string) bool {
	switch unit {
	case UnitPerSecond, UnitBytesPerSec, UnitBlocksPerSec, UnitMsPerSec, UnitAvgSessions:
		return true
	}
	return false
}

// size returns the query's image size, defaults filled in.
func (q Query) size() (int, int) {
	w, h := q.Width, q.Height
	if w == 0 {
		w = defaultWidth
	}
	if h == 0 {
		h = defaultHeight
	}
	return w, h
}

// drawn returns the value a point is drawn at: a counter's amount per
// second of its interval for per-second units, else the value; NaN for
// none.
func drawn(p Point, rate bool) float64 {
	if !rate {
		return p.V
	}
	if !(p.Seconds > 0) {
		return math.NaN()
	}
	return p.V / p.Seconds
}

// segments splits a line at its gaps: points without a value (NaN or
// ±Inf) and missing time. Two points are joined when the later one is at
// most step + 1.5 × max(step, its Seconds) after the earlier one: a
// point covers its interval (Seconds, several for a rollup) within a
// bucket of width step, with slack for a collector's jitter.
func segments(points []Point, rate bool, step time.Duration) [][]XY {
	var (
		out  [][]XY
		cur  []XY
		last time.Time
	)
	for _, p := range points {
		y := drawn(p, rate)
		if math.IsNaN(y) || math.IsInf(y, 0) {
			if len(cur) > 0 {
				out, cur = append(out, cur), nil
			}
			continue
		}
		if len(cur) > 0 {
			cover := step
			if s := p.Seconds; s > 0 && s < 1e9 {
				cover = max(cover, time.Duration(s*float64(time.Second)))
			}
			allowed := step + cover*3/2
			if p.T.Sub(last) > allowed {
				out, cur = append(out, cur), nil
			}
		}
		cur = append(cur, XY{X: float64(p.T.Unix()) + float64(p.T.Nanosecond())/1e9, Y: y})
		last = p.T
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// step returns the width of one of the data's points.
func (d *Data) step() time.Duration {
	w, _ := d.Query.size()
	return bucketWidth(d.Query.Range, w, store.Resolution(d.Resolution))
}

// chart describes the data's graph: what PNG draws.
func (d *Data) chart() Chart {
	w, h := d.Query.size()
	r := d.Query.Range
	c := Chart{
		Width: w, Height: h,
		Title:    d.title(),
		Subtitle: subtitle(r),
		Unit:     d.Def.Unit,
		XMin:     float64(r.From.Unix()), XMax: float64(r.To.Unix()),
	}
	plotW, plotH := w-95, h-95 // about what Render leaves for the plot
	c.XTicks = timeTicks(r.From, r.To, plotW)
	rate := perSecond(d.Def.Unit)
	step := d.step()
	lo, hi := math.Inf(1), math.Inf(-1)
	colors := palette()
	series, bases, previous := d.Series, []Series(nil), d.Previous
	lineRate := rate
	if d.Def.Stacked {
		series, bases = stack(d.Series, rate)
		previous, _ = stack(d.Previous, rate)
		lineRate = false // stack drew the rates already
	}
	var dashed []Line
	for i, s := range previous {
		dashed = append(dashed, Line{Label: s.Label, Color: colors[i%len(colors)], Segments: segments(s.Points, lineRate, step), Dashed: true})
	}
	if d.Previous != nil {
		c.Previous = "dashed: " + previousText(d.Query.Range)
	}
	c.Marks, c.Keys = marks(d.Events, c.XMin, c.XMax)
	for i, s := range series {
		l := Line{Label: s.Label, Color: colors[i%len(colors)], Segments: segments(s.Points, lineRate, step)}
		if bases != nil {
			l.Base = baseOf(l.Segments, bases[i].Points)
		}
		n := 0
		for _, seg := range l.Segments {
			n += len(seg)
			for _, p := range seg {
				lo, hi = math.Min(lo, p.Y), math.Max(hi, p.Y)
			}
		}
		l.Markers = n > 0 && n < plotW/markerSpacing
		c.Lines = append(c.Lines, l)
	}
	for _, l := range dashed {
		for _, seg := range l.Segments {
			for _, p := range seg {
				lo, hi = math.Min(lo, p.Y), math.Max(hi, p.Y)
			}
		}
	}
	// Under the period's lines, which they must not hide.
	c.Lines = append(dashed, c.Lines...)
	if math.IsInf(lo, 1) {
		// Not a single value: an empty plot with the message.
		c.Lines = nil
		c.Message = NoData
		c.YMin, c.YMax = 0, 1
		return c
	}
	c.Thresholds, lo, hi = d.thresholds(lo, hi)
	c.YMin, c.YMax, c.YTicks = valueTicks(lo, hi, d.Def.Unit, max(2, min(8, plotH/35)))
	return c
}

// stack returns the series as a stacked chart draws them: each point
// the sum of the drawn values (rates, for rate) of that series and the
// ones before it, and, per series, its band's lower edge: the sum of the
// ones before it (0 for the first). A point with no value has none in
// the series above it either: their sum is unknown there. Every series
// holds the same times (Data's promise); a point's Seconds stays, for
// segments' gap rule.
func stack(in []Series, rate bool) (tops, bases []Series) {
	var below []float64
	for i, s := range in {
		top := Series{Label: s.Label, Points: make([]Point, len(s.Points))}
		base := Series{Label: s.Label, Points: make([]Point, len(s.Points))}
		for j, p := range s.Points {
			lower := 0.0
			if i > 0 {
				lower = math.NaN()
				if j < len(below) {
					lower = below[j]
				}
			}
			v := lower + drawn(p, rate)
			top.Points[j] = Point{T: p.T, Seconds: p.Seconds, V: v, Min: math.NaN(), Max: math.NaN()}
			base.Points[j] = Point{T: p.T, Seconds: p.Seconds, V: lower, Min: math.NaN(), Max: math.NaN()}
		}
		below = make([]float64, len(top.Points))
		for j, p := range top.Points {
			below[j] = p.V
		}
		tops, bases = append(tops, top), append(bases, base)
	}
	return tops, bases
}

// baseOf returns the lower edges of segs: for each of their points the
// value of base at the same time. stack makes every top point's base
// finite where the top is.
func baseOf(segs [][]XY, base []Point) [][]XY {
	at := make(map[float64]float64, len(base))
	for _, p := range base {
		at[float64(p.T.Unix())+float64(p.T.Nanosecond())/1e9] = p.V
	}
	out := make([][]XY, len(segs))
	for i, seg := range segs {
		out[i] = make([]XY, len(seg))
		for j, p := range seg {
			out[i][j] = XY{X: p.X, Y: at[p.X]}
		}
	}
	return out
}

// title is the graph's title with the object it is about.
func (d *Data) title() string {
	switch d.Def.Scope {
	case Database:
		return d.Def.Title + " — " + d.Query.DB
	case Table:
		return d.Def.Title + " — " + d.Query.Table + " in " + d.Query.DB
	case Statement:
		return d.Def.Title + " — statement " + d.Query.Table + " in " + d.Query.DB
	}
	return d.Def.Title
}

// subtitle describes a range: "last day" and its dates, in UTC.
func subtitle(r Range) string {
	layout := "2006-01-02 15:04"
	return r.From.UTC().Format(layout) + " to " + r.To.UTC().Format(layout) + " UTC"
}
