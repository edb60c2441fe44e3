package graph

import (
	"fmt"
	"math"
	"time"

	"github.com/pggraph/pggraph/internal/store"
)

// Range names.
const (
	RangeDay    = "day"
	RangeWeek   = "week"
	RangeMonth  = "month"
	RangeYear   = "year"
	RangeCustom = "custom"
)

// maxSpan is the longest range ParseRange accepts: ten years.
const maxSpan = 10 * 366 * 24 * time.Hour

// ParseRange parses a graph's range parameters: name (range=) is day,
// week, month, year or custom, from and to are RFC 3339 times or UTC
// dates (YYYY-MM-DD).
//
//   - All empty: the last day, ending at now.
//   - day, week, month or year without from: the last 24 hours, 7 days,
//     calendar month or 12 calendar months ending at to (now when
//     empty); a month back from March 31 starts February 28 (or 29).
//   - custom (or no name) with from: [from, to), to defaulting to now.
//
// A date as from is its midnight; a date as to is the end of that day,
// so from=2025-01-01&to=2025-01-01 is that whole day. from must be
// before to and the span at most 10 years. Times are returned in UTC,
// and now as the Range's Now.
// Any bad input is an error wrapping ErrBadRange.
func ParseRange(name, from, to string, now time.Time) (Range, error) {
	bad := func(format string, args ...any) (Range, error) {
		return Range{}, fmt.Errorf("%w: "+format, append([]any{ErrBadRange}, args...)...)
	}
	end := now.UTC()
	if to != "" {
		t, err := parseTime(to, true)
		if err != nil {
			return bad("to: %v", err)
		}
		end = t
	}
	if name == "" {
		name = RangeDay
		if from != "" {
			name = RangeCustom
		}
	}
	var start time.Time
	switch name {
	case RangeDay, RangeWeek, RangeMonth, RangeYear:
		if from != "" {
			return bad("range %s takes no from (use range=custom)", name)
		}
		start = map[string]time.Time{
			RangeDay:   end.Add(-24 * time.Hour),
			RangeWeek:  end.AddDate(0, 0, -7),
			RangeMonth: monthsBefore(end, 1),
			RangeYear:  monthsBefore(end, 12),
		}[name]
	case RangeCustom:
		if from == "" {
			return bad("range custom needs from")
		}
		t, err := parseTime(from, false)
		if err != nil {
			return bad("from: %v", err)
		}
		start = t
	default:
		return bad("unknown range %q (day, week, month, year or custom)", name)
	}
	if !start.Before(end) {
		return bad("from %s is not before to %s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	if end.Sub(start) > maxSpan {
		return bad("longer than 10 years")
	}
	return Range{Name: name, From: start, To: end, Now: now.UTC()}, nil
}

// monthsBefore is t, n calendar months earlier: the same day and time,
// or the last day of that month when it is shorter (March 31 → February
// 28), never a day of the next month as time.AddDate gives.
func monthsBefore(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m-time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(d, last)-1)
}

// parseTime parses an RFC 3339 time or a UTC date; a date is its
// midnight, or with endOfDay the next midnight.
func parseTime(s string, endOfDay bool) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if endOfDay {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a date YYYY-MM-DD", s)
	}
	return t.UTC(), nil
}

// Limits of the resolutions: raw samples are read for spans up to rawSpan,
// hourly rollups up to hourSpan, daily rollups beyond; a resolution whose
// retention (Range.Keep) no longer covers the range's start
// gives way to the next.
const (
	rawSpan  = 50 * time.Hour
	hourSpan = 100 * 24 * time.Hour
)

// resolution chooses the table a range is read from: raw samples for up
// to about 2 days (the day range), hourly rollups up to 100 days (week,
// month), daily rollups beyond (year), and a coarser one when the range
// starts before the finer one's retention at r.Now (r.To when zero).
func resolution(r Range) store.Resolution {
	now := r.Now
	if now.IsZero() {
		now = r.To
	}
	keep := r.Keep.WithDefaults()
	span := r.To.Sub(r.From)
	switch {
	case span <= rawSpan && !r.From.Before(now.Add(-keep.Raw)):
		return store.ResolutionRaw
	case span <= hourSpan && !r.From.Before(now.Add(-keep.Hourly)):
		return store.ResolutionHour
	}
	return store.ResolutionDay
}

// plotMargin is the part of an image's width outside the plot: the y
// axis labels (up to about 60 px) and the right margin (20 px).
const plotMargin = 80

// plotColumns is how many pixel columns the plot of an image of width
// pixels has, about.
func plotColumns(width int) int {
	return max(width-plotMargin, width/2, 1)
}

// bucketWidth is the width of one point: the span divided by the plot's
// width in pixel columns, rounded up to whole seconds, or for rollups to
// whole rows (hours or days), so a graph has at most about one point per
// pixel column whatever its range (a month at 800 px: two-hour points).
func bucketWidth(r Range, width int, res store.Resolution) time.Duration {
	if width <= 0 {
		width = defaultWidth
	}
	per := math.Ceil(r.To.Sub(r.From).Seconds() / float64(plotColumns(width)))
	b := time.Duration(max(per, 1)) * time.Second
	var step time.Duration
	switch res {
	case store.ResolutionHour:
		step = time.Hour
	case store.ResolutionDay:
		step = 24 * time.Hour
	default:
		return b
	}
	return (b + step - 1) / step * step
}
