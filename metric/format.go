package metric

import (
	"math"
	"strconv"
)

// FormatValue writes v in unit for people: 12.4 GB, 85.2%, 5.0 min.
func FormatValue(v float64, unit Unit) string {
	if math.IsNaN(v) {
		return "unknown"
	}
	num := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	round := func(x float64) string {
		if x == math.Trunc(x) {
			return num(x)
		}
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	switch unit {
	case Bytes:
		for _, u := range []struct {
			s string
			n float64
		}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"kB", 1 << 10}} {
			if math.Abs(v) >= u.n {
				return round(v/u.n) + " " + u.s
			}
		}
		return num(v) + " B"
	case Seconds:
		switch d := math.Abs(v); {
		case d >= 2*3600:
			return round(v/3600) + " h"
		case d >= 120:
			return round(v/60) + " min"
		}
		return round(v) + " s"
	case UnitPercent:
		return strconv.FormatFloat(v, 'f', 1, 64) + "%"
	case UnitIntervals:
		return strconv.FormatFloat(v, 'f', 1, 64) + " intervals"
	case Count, Boolean, XIDs, UnitFailed:
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64) + " " + string(unit)
}

// FormatRange writes r with its bounds in unit: ":10 GB", "90%:".
func FormatRange(r Range, unit Unit) string {
	if !r.Set() {
		return "-"
	}
	s := ""
	if r.HasMin {
		s = FormatValue(r.Min, unit)
	}
	s += ":"
	if r.HasMax {
		s += FormatValue(r.Max, unit)
	}
	return s
}
