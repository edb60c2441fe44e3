package graph

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// This file places ticks and formats their labels: aligned UTC times on
// the x axis, round values in human units on the y axis. It is pure.

// Tick is one labelled position on an axis. An empty label is a minor
// tick: a lighter grid line only.
type Tick struct {
	Value float64 // x: Unix seconds; y: the value
	Label string
}

// timeStep is one choice of x-axis spacing.
type timeStep struct {
	step   time.Duration // a fixed step; 0 with months
	months int           // a calendar step in months
	minor  time.Duration // minor grid spacing, 0 for none
	minorM int           // minor grid spacing in months
	space  int           // pixels a label needs
	label  func(t time.Time) string
}

// Label formats.
func clock(t time.Time) string {
	if t.Hour() == 0 && t.Minute() == 0 {
		return t.Format("Mon 02")
	}
	return t.Format("15:04")
}
func weekday(t time.Time) string { return t.Format("Mon 02") }
func date(t time.Time) string    { return t.Format("Jan 02") }
func month(t time.Time) string {
	if t.Month() == time.January {
		return t.Format("Jan 2006")
	}
	return t.Format("Jan")
}
func monthYear(t time.Time) string { return t.Format("Jan 2006") }
func year(t time.Time) string      { return t.Format("2006") }

// timeSteps are the x-axis spacings, finest first.
func timeSteps() []timeStep {
	const (
		h = time.Hour
		d = 24 * time.Hour
	)
	return []timeStep{
		{step: 10 * time.Minute, minor: 0, space: 50, label: clock},
		{step: 30 * time.Minute, minor: 10 * time.Minute, space: 50, label: clock},
		{step: h, minor: 15 * time.Minute, space: 50, label: clock},
		{step: 2 * h, minor: 30 * time.Minute, space: 50, label: clock},
		{step: 3 * h, minor: h, space: 50, label: clock},
		{step: 6 * h, minor: h, space: 50, label: clock},
		{step: 12 * h, minor: 3 * h, space: 50, label: clock},
		{step: d, minor: 6 * h, space: 55, label: weekday},
		{step: 2 * d, minor: d, space: 55, label: date},
		{step: 7 * d, minor: d, space: 55, label: date}, // Mondays
		{months: 1, space: 52, label: month},
		{months: 3, minorM: 1, space: 60, label: monthYear},
		{months: 6, minorM: 1, space: 60, label: monthYear},
		{months: 12, minorM: 3, space: 45, label: year},
		{months: 24, minorM: 12, space: 45, label: year},
		{months: 60, minorM: 12, space: 45, label: year},
	}
}

// timeTicks returns the x-axis ticks of [from, to] for a plot plotWidth
// pixels wide: the finest step whose labels fit, ticks aligned to UTC
// boundaries (hours, midnights, Mondays, first days of months or years),
// labelled accordingly, with unlabelled minor ticks between.
func timeTicks(from, to time.Time, plotWidth int) []Tick {
	from, to = from.UTC(), to.UTC()
	if !from.Before(to) || plotWidth <= 0 {
		return nil
	}
	steps := timeSteps()
	pick := steps[len(steps)-1]
	span := to.Sub(from)
	for _, s := range steps {
		n := 0
		if s.months > 0 {
			n = int(span.Hours()/24/30.4/float64(s.months)) + 1
		} else {
			n = int(span/s.step) + 1
		}
		if n*s.space <= plotWidth {
			pick = s
			break
		}
	}
	major := alignedTimes(from, to, pick.step, pick.months)
	var minor []time.Time
	if pick.minor > 0 || pick.minorM > 0 {
		minor = alignedTimes(from, to, pick.minor, pick.minorM)
	}
	isMajor := map[int64]bool{}
	var out []Tick
	for _, t := range major {
		isMajor[t.Unix()] = true
		out = append(out, Tick{Value: float64(t.Unix()), Label: pick.label(t)})
	}
	for _, t := range minor {
		if !isMajor[t.Unix()] {
			out = append(out, Tick{Value: float64(t.Unix())})
		}
	}
	return out
}

// alignedTimes returns the times in [from, to] that are multiples of step
// since the zero time (UTC midnights; Mondays for weeks), or the first
// days of every months-th month (counted from January of year 1).
func alignedTimes(from, to time.Time, step time.Duration, months int) []time.Time {
	var out []time.Time
	if months > 0 {
		m := (from.Year()*12 + int(from.Month()) - 1) / months * months
		for ; ; m += months {
			t := time.Date(m/12, time.Month(m%12+1), 1, 0, 0, 0, 0, time.UTC)
			if t.After(to) {
				break
			}
			if !t.Before(from) {
				out = append(out, t)
			}
		}
		return out
	}
	for t := from.Truncate(step); !t.After(to); t = t.Add(step) {
		if !t.Before(from) {
			out = append(out, t)
		}
	}
	return out
}

// scale is a y axis's unit family.
type scale int

const (
	decimal  scale = iota // counts and rates: 1.5k, 2M
	binary                // bytes: 1.5 MB (1024-based, like pg_size_pretty)
	duration              // seconds: 30s, 5 min, 2 h, 3 d
	percent               // 99.5%
)

// scaleOf maps a Def.Unit to its family.
func scaleOf(unit string) scale {
	switch unit {
	case UnitBytes, UnitBytesPerSec:
		return binary
	case UnitSeconds:
		return duration
	case UnitPercent:
		return percent
	}
	return decimal
}

// valueTicks places the y axis of values in [lo, hi] (finite, lo <= hi):
// round steps in the unit's family, at most maxTicks intervals, the
// axis starting at 0 unless values are negative (percentages start at a
// round value below the lowest, span one point at least and end at 100
// at most). It returns the
// axis's bounds and its labelled ticks.
func valueTicks(lo, hi float64, unit string, maxTicks int) (float64, float64, []Tick) {
	sc := scaleOf(unit)
	if maxTicks < 1 {
		maxTicks = 1
	}
	if sc != percent && lo > 0 {
		lo = 0
	}
	if sc == percent && hi-lo < 1 {
		// At least one percentage point: a steady ratio is a flat line,
		// not its noise magnified.
		lo = math.Floor(lo)
		hi = lo + 1
		if hi > 100 {
			lo, hi = 99, 100
		}
	}
	if hi <= lo {
		switch {
		case sc == percent:
			lo, hi = math.Min(lo, hi)-1, math.Min(hi, 99)+1
		case hi == 0:
			hi = 1
		default:
			lo, hi = math.Min(lo, 0), math.Abs(hi)*2
		}
	}
	base := unitBase(sc, lo, hi)
	step := niceStep((hi-lo)/base, maxTicks, sc == duration && base > 1) * base
	a, b := math.Floor(lo/step+1e-9)*step, math.Ceil(hi/step-1e-9)*step
	if sc == percent && b > 100 {
		b = math.Max(100, a+step)
	}
	var ticks []Tick
	for i := 0; ; i++ {
		v := a + float64(i)*step
		if v > b+step*1e-9 {
			break
		}
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		ticks = append(ticks, Tick{Value: v, Label: formatValue(v, step, sc, base)})
	}
	return a, b, ticks
}

// unitBase is the unit step of a family for values in [lo, hi]: 1024^k
// for bytes, a minute, an hour or a day for durations, else 1.
func unitBase(sc scale, lo, hi float64) float64 {
	base := 1.0
	m := math.Max(math.Abs(hi), math.Abs(lo))
	switch sc {
	case binary:
		for base*1024 <= m {
			base *= 1024
		}
	case duration:
		switch {
		case m >= 3*86400:
			base = 86400
		case m >= 3*3600:
			base = 3600
		case m >= 3*60:
			base = 60
		}
	}
	return base
}

// niceStep returns the smallest 1-2-5 step (or, for a clock scale, 1, 2,
// 3, 6, 12, 15, 30 step) that splits span into at most n intervals.
func niceStep(span float64, n int, clockish bool) float64 {
	raw := span / float64(n)
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	if clockish && raw >= 1 {
		for _, s := range []float64{1, 2, 3, 6, 12, 15, 30, 60, 120, 240} {
			if s >= raw {
				return s
			}
		}
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= raw*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// formatValue labels a y tick: the value in the family's unit with the
// decimals the step needs; zero is "0" (but "0%").
func formatValue(v, step float64, sc scale, base float64) string {
	if v == 0 && sc != percent {
		return "0"
	}
	switch sc {
	case binary:
		units := []string{"B", "KB", "MB", "GB", "TB", "PB", "EB"}
		k := int(math.Round(math.Log(base) / math.Log(1024)))
		return trimNumber(v/base, step/base) + " " + units[min(k, len(units)-1)]
	case duration:
		suffix := map[float64]string{1: "s", 60: "min", 3600: "h", 86400: "d"}[base]
		return trimNumber(v/base, step/base) + " " + suffix
	case percent:
		return trimNumber(v, step) + "%"
	}
	div, suffix := 1.0, ""
	for _, s := range []struct {
		div    float64
		suffix string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if math.Abs(v) >= s.div || step >= s.div {
			div, suffix = s.div, s.suffix
			break
		}
	}
	return trimNumber(v/div, step/div) + suffix
}

// trimNumber formats v with as many decimals as step has, at most 6.
func trimNumber(v, step float64) string {
	dec := 0
	for s := step; dec < 6 && math.Abs(s-math.Round(s)) > 1e-6*math.Max(1, math.Abs(s)); s *= 10 {
		dec++
	}
	out := strconv.FormatFloat(v, 'f', dec, 64)
	if strings.Contains(out, ".") {
		out = strings.TrimRight(strings.TrimRight(out, "0"), ".")
	}
	if out == "-0" {
		out = "0"
	}
	return out
}
