package graph

import (
	"image/color"
	"math"
	"slices"
	"strings"

	"github.com/pggraph/pggraph/metric"
)

// This file draws alert thresholds on graphs: which line of which graph
// a check of metric.Checks applies to (from the check's value and the
// line's definition, never per graph), where the thresholds sit in the
// line's unit, and how Render draws them. It is pure.

// Threshold is a horizontal line at one level of the checks that apply
// to a graph's lines.
type Threshold struct {
	// Label is drawn at the line's right end: "warning 5 min:
	// idle_in_transaction, oldest_query".
	Label string
	Y     float64 // in the axis's unit
	Color color.RGBA
	// Off, when not 0, is a threshold beyond the plot (1 above, -1
	// below): Render writes its label at that edge and draws no line.
	Off int
}

// Colors of the threshold lines: amber and dark red, dashed.
var (
	warningColor  = color.RGBA{0xe6, 0x9f, 0x00, 0xff}
	criticalColor = color.RGBA{0xb2, 0x18, 0x2b, 0xff}
)

// drawnFactor returns k such that check c's value v is drawn on line l
// of sp at k × (v − c.Offset) / c.Scale, and false when the check is
// not drawn by that line: another group or column, another expression,
// a line summing several objects of a per-object check, a stacked graph
// (whose lines are cumulative), a check per interval (its value depends
// on the interval, the line's does not).
func drawnFactor(sp spec, l line, c metric.Check) (float64, bool) {
	if c.Group != sp.group || sp.stacked || len(c.Num) != 1 || c.Num[0] != l.column {
		return 0, false
	}
	if l.over != overMax && !sp.one {
		return 0, false
	}
	same := func(a, b []string) bool {
		a, b = slices.Clone(a), slices.Clone(b)
		slices.Sort(a)
		slices.Sort(b)
		return slices.Equal(a, b)
	}
	switch {
	case l.other != "":
		// 100 × hit / (hit + miss): rates cancel out in the ratio.
		return 100, same(c.Den, []string{l.column, l.other})
	case l.per != "":
		return 1, same(c.Den, []string{l.per})
	case len(c.Den) > 0:
		return 0, false
	case l.percent:
		return 100, true
	}
	counter, ok := kind(sp.group, l.column)
	if !ok || !counter {
		return 1, ok
	}
	if !perSecond(sp.unit) {
		return 0, false
	}
	switch c.Per {
	case metric.PerSecond:
		return 1, true
	case metric.PerMinute:
		return 1.0 / 60, true
	}
	return 0, false
}

// thresholdsOf returns the thresholds of sp's lines under levels (the
// client's levels by check name; a check missing or without ranges
// draws nothing), one per distinct level and value, in the axis's
// unit; Y only, not yet placed against the plot.
func thresholdsOf(sp spec, levels map[string]metric.Levels) []Threshold {
	if len(levels) == 0 {
		return nil
	}
	type key struct {
		critical bool
		y        float64
	}
	names := map[key][]string{}
	var order []key
	for _, c := range metric.Checks() {
		lv, ok := levels[c.Name]
		if !ok {
			continue
		}
		for _, l := range sp.lines {
			k, ok := drawnFactor(sp, l, c)
			if !ok {
				continue
			}
			scale := c.Scale
			if scale == 0 {
				scale = 1
			}
			for _, r := range []struct {
				critical bool
				r        metric.Range
			}{{false, lv.Warning}, {true, lv.Critical}} {
				var bounds []float64
				if r.r.HasMin {
					bounds = append(bounds, r.r.Min)
				}
				if r.r.HasMax {
					bounds = append(bounds, r.r.Max)
				}
				for _, b := range bounds {
					y := k * (b - c.Offset) / scale
					if math.IsNaN(y) || math.IsInf(y, 0) {
						continue
					}
					kk := key{r.critical, y}
					if _, seen := names[kk]; !seen {
						order = append(order, kk)
					}
					if !slices.Contains(names[kk], c.Name) {
						names[kk] = append(names[kk], c.Name)
					}
				}
			}
		}
	}
	out := make([]Threshold, 0, len(order))
	for _, k := range order {
		level, col := "warning", warningColor
		if k.critical {
			level, col = "critical", criticalColor
		}
		out = append(out, Threshold{
			Label: level + " " + valueLabel(k.y, sp.unit) + ": " + strings.Join(names[k], ", "),
			Y:     k.y, Color: col,
		})
	}
	return out
}

// valueLabel writes v in a y axis's unit as its ticks would: 5 min,
// 1 GB, 90%.
func valueLabel(v float64, unit string) string {
	sc := scaleOf(unit)
	base := unitBase(sc, v, v)
	if sc == duration {
		// The largest unit the value reaches: 1 h, not 60 min.
		for _, b := range []float64{86400, 3600, 60, 1} {
			if math.Abs(v) >= b {
				base = b
				break
			}
		}
	}
	step := math.Pow(10, math.Floor(math.Log10(math.Max(math.Abs(v)/base, 1e-6)))-1) * base
	return formatValue(v, step, sc, base)
}

// placeThresholds decides which thresholds widen the y range of data
// spanning [lo, hi]: one at most the data's span beyond it (so that the
// plot at most doubles and the data keeps half of it) is drawn, the
// range grown to hold it; one further away is marked Off, its label at
// the plot's edge. It returns the thresholds and the range to plot.
func placeThresholds(ts []Threshold, lo, hi float64) ([]Threshold, float64, float64) {
	reach := math.Max(hi-lo, math.Max(math.Abs(hi), math.Abs(lo)))
	nlo, nhi := lo, hi
	out := make([]Threshold, len(ts))
	for i, t := range ts {
		switch {
		case t.Y > hi+reach:
			t.Off = 1
		case t.Y < lo-reach:
			t.Off = -1
		default:
			nlo, nhi = math.Min(nlo, t.Y), math.Max(nhi, t.Y)
		}
		out[i] = t
	}
	return out, nlo, nhi
}

// Look of the threshold lines: dashes of dashOn pixels every
// dashOn + dashOff, one pixel thick.
const (
	dashOn  = 6
	dashOff = 4
)

// thresholds draws the chart's thresholds above the lines: a thin
// dashed line across the plot with its label at the right end, above
// the line; one beyond the plot as its label alone, at that edge.
func (v *canvas) thresholds() {
	// Labels beyond the plot stack inward from their edge, one line each.
	above, below := 0, 0
	for _, t := range v.c.Thresholds {
		w, h := v.measure(t.Label, smallSize)
		x := v.right - w - 4
		switch t.Off {
		case 1:
			v.font(smallSize, t.Color)
			v.r.Text(t.Label+" (above)", x-v.textWidth(" (above)"), v.top+h+2+above*(h+2))
			above++
			continue
		case -1:
			v.font(smallSize, t.Color)
			v.r.Text(t.Label+" (below)", x-v.textWidth(" (below)"), v.bottom-4-below*(h+2))
			below++
			continue
		}
		_, y := v.px(XY{X: v.c.XMin, Y: t.Y})
		for x0 := v.left + 1; x0 < v.right; x0 += dashOn + dashOff {
			v.rect(x0, y, min(x0+dashOn, v.right), y+1, t.Color)
		}
		ly := y - 3
		if ly-h < v.top {
			ly = y + h + 3 // no room above: below the line
		}
		v.font(smallSize, t.Color)
		v.r.Text(t.Label, x, ly)
	}
}

// textWidth is the width of s at the small size.
func (v *canvas) textWidth(s string) int {
	w, _ := v.measure(s, smallSize)
	return w
}

// thresholds returns the data's thresholds (Query.Levels) placed
// against values spanning [lo, hi], and the y range to plot.
func (d *Data) thresholds(lo, hi float64) ([]Threshold, float64, float64) {
	sp, ok := lookup(d.Def.Name)
	if !ok {
		return nil, lo, hi
	}
	ts := thresholdsOf(sp, d.Query.Levels)
	if len(ts) == 0 {
		return nil, lo, hi
	}
	return placeThresholds(ts, lo, hi)
}
