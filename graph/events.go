package graph

import (
	"context"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// This file adds to a graph the client's events (vertical markers with a
// one-letter key, a span shaded for a collection gap) and the previous
// period (dashed lines of the same colors).

// EventSource is the central database's events as graph reads them;
// internal/store's *Store implements it.
type EventSource interface {
	Events(ctx context.Context, q store.EventQuery) ([]metric.Event, error)
}

var _ EventSource = (*store.Store)(nil)

// LoadEvents sets d.Events to the events its graph shows: those of its
// range about the whole server, and on a database or table graph those
// of its database too.
func LoadEvents(ctx context.Context, src EventSource, prefix string, d *Data) error {
	q := store.EventQuery{Prefix: prefix, From: d.Query.Range.From, To: d.Query.Range.To}
	if d.Def.Scope != Server {
		q.Database = d.Query.DB
	}
	events, err := src.Events(ctx, q)
	if err != nil {
		return fmt.Errorf("load events of graph %s: %w", d.Def.Name, err)
	}
	d.Events = events
	return nil
}

// Previous returns the period before r, of the same name: the day, the
// week, the calendar month or the 12 months before; for a custom range
// the span of the same length just before it.
func Previous(r Range) Range {
	p := r
	switch r.Name {
	case RangeMonth:
		p.From, p.To = monthsBefore(r.From, 1), r.From
	case RangeYear:
		p.From, p.To = monthsBefore(r.From, 12), r.From
	default:
		p.From, p.To = r.From.Add(-r.To.Sub(r.From)), r.From
	}
	return p
}

// LoadPrevious sets d.Previous to the same graph over the period before
// d's range (Previous), each point moved forward by the time between the
// periods' starts so that it is drawn, and written to CSV, where the
// same time of d's period is.
func LoadPrevious(ctx context.Context, src Source, prefix string, d *Data) error {
	q := d.Query
	q.Range = Previous(d.Query.Range)
	// The previous period is read from the resolution of d's, for the
	// same points: its retention may be shorter, never its resolution finer.
	prev, err := Load(ctx, src, prefix, q)
	if err != nil {
		return fmt.Errorf("load the previous period: %w", err)
	}
	shift := d.Query.Range.From.Sub(q.Range.From)
	d.Previous = make([]Series, len(prev.Series))
	for i, s := range prev.Series {
		ps := Series{Label: s.Label, Points: make([]Point, len(s.Points))}
		for j, p := range s.Points {
			p.T = p.T.Add(shift)
			ps.Points[j] = p
		}
		d.Previous[i] = ps
	}
	d.PreviousRange = q.Range
	return nil
}

// previousText names the previous period in a legend and a CSV header.
func previousText(r Range) string {
	switch r.Name {
	case RangeDay:
		return "the day before"
	case RangeWeek:
		return "the week before"
	case RangeMonth:
		return "the month before"
	case RangeYear:
		return "the year before"
	}
	return "the period before"
}

// Mark is one event on a chart: a thin vertical line at X (a shaded span
// to X2 when X2 > X) with its key drawn above the plot.
type Mark struct {
	X, X2  float64
	Letter string
	Color  color.RGBA
}

// Key is one entry of the events' legend.
type Key struct {
	Letter, Label string
	Color         color.RGBA
}

// marks turns events into the chart's marks and the legend of the kinds
// drawn, in EventKinds' order. Events outside [xmin, xmax] are left out;
// spans are cut to it.
func marks(events []metric.Event, xmin, xmax float64) ([]Mark, []Key) {
	var (
		out  []Mark
		seen = map[metric.EventKind]bool{}
	)
	for _, e := range events {
		k, ok := metric.EventKindOf(e.Kind)
		if !ok {
			continue
		}
		x := unixSeconds(e.Time)
		x2 := x
		if !e.End.IsZero() {
			x2 = unixSeconds(e.End)
		}
		if x2 < xmin || x > xmax {
			continue
		}
		x, x2 = max(x, xmin), min(x2, xmax)
		out = append(out, Mark{X: x, X2: x2, Letter: k.Letter, Color: hexColor(k.Color)})
		seen[e.Kind] = true
	}
	var keys []Key
	for _, k := range metric.EventKinds() {
		if seen[k.Kind] {
			keys = append(keys, Key{Letter: k.Letter, Label: k.Label, Color: hexColor(k.Color)})
		}
	}
	return out, keys
}

// unixSeconds is t as a chart's x value.
func unixSeconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// hexColor parses "#rrggbb" (metric.EventKinds' colors); anything else
// is the theme's dim gray.
func hexColor(s string) color.RGBA {
	if len(s) == 7 && s[0] == '#' {
		if v, err := strconv.ParseUint(s[1:], 16, 32); err == nil {
			return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 0xff}
		}
	}
	return look().dim
}

// Look of the events and of the previous period.
const (
	markRow   = 12 // the letters' row above the plot, pixels
	markShade = 9  // a marker line's coverage, in rampLevels
	spanShade = 2  // a span's fill
	dashLen   = 4  // pixels on, then off, of a dashed line
)

// markLevels are the shades of an event's color a chart holds: its
// span's fill, its marker's line, and four for its letter's edges.
func markLevels() []int { return []int{spanShade, 4, markShade, 8, 12, rampLevels} }

// markColors returns the events' colors, once each.
func (c Chart) markColors() []color.RGBA {
	var out []color.RGBA
	for _, m := range c.Marks {
		if !slices.Contains(out, m.Color) {
			out = append(out, m.Color)
		}
	}
	return out
}

// marks draws the events under the lines: a thin line at each (its
// color, lightened), a span shaded, and its letter above the plot. A
// letter that would overlap the one before moves right of it.
func (v *canvas) marks() {
	lastEnd, lastX, lastLetter := math.MinInt, 0, ""
	for _, m := range v.c.Marks {
		x, _ := v.px(XY{X: m.X, Y: v.c.YMin})
		if m.X2 > m.X {
			x2, _ := v.px(XY{X: m.X2, Y: v.c.YMin})
			v.rect(x, v.top, x2+1, v.bottom, shade(m.Color, spanShade))
			v.rect(x2, v.top, x2+1, v.bottom, shade(m.Color, markShade))
		}
		v.rect(x, v.top, x+1, v.bottom, shade(m.Color, markShade))
		if x == lastX && m.Letter == lastLetter {
			continue // the same key at the same place
		}
		lastX, lastLetter = x, m.Letter
		w, _ := v.measure(m.Letter, smallSize)
		lx := max(x-w/2, lastEnd+2)
		v.font(smallSize, m.Color)
		v.r.Text(m.Letter, lx, v.top-2)
		lastEnd = lx + w
	}
}

// csvSeries are the CSV's columns: the lines, then the previous period's.
func (d *Data) csvSeries() []Series {
	out := slices.Clone(d.Series)
	for _, s := range d.Previous {
		s.Label += " (" + previousText(d.Query.Range) + ")"
		out = append(out, s)
	}
	return out
}

// dashed draws a line of the previous period one pixel wide, dashLen
// pixels on and dashLen off along its length, straight into the image:
// crisp, and far cheaper than a freetype stroke, so that comparing costs
// little more than the lines it adds points to.
func (v *canvas) dashed(l Line) {
	for _, seg := range l.Segments {
		pts := v.pixels(seg)
		if len(pts) == 1 {
			v.rect(pts[0].x, pts[0].y, pts[0].x+1, pts[0].y+1, l.Color)
		}
		run := 0 // pixels along the line so far
		for i := 0; i+1 < len(pts); i++ {
			a, b := pts[i], pts[i+1]
			dx, dy := b.x-a.x, b.y-a.y
			n := max(abs(dx), abs(dy))
			for k := range n {
				if run%(2*dashLen) < dashLen {
					x := a.x + int(math.Round(float64(k*dx)/float64(n)))
					y := a.y + int(math.Round(float64(k*dy)/float64(n)))
					v.rect(x, y, x+1, y+1, l.Color)
				}
				run++
			}
		}
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
