package graph

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"
)

// CSV writes the graph's data: a header row `time,seconds,<one column per
// line>`, then one row per point time, oldest first. time is the point's
// time (Point.T: a raw sample's time, a rollup bucket's start) in RFC
// 3339, UTC; seconds the length of the intervals the row covers (the largest of
// its points'); a counter's column holds the amount in that interval
// (the stored delta, or the sum of the deltas a rollup point covers), a
// gauge's the value, a ratio's the percentage. No value is an empty
// field. Numbers are written in full (the shortest text that reads back
// exactly). With the previous period (LoadPrevious), its columns follow,
// "<line> (the day before)", each value at its time moved into this
// period.
func (d *Data) CSV(w io.Writer) error {
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	series := d.csvSeries()
	header := []string{"time", "seconds"}
	for _, s := range series {
		header = append(header, s.Label)
	}
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	// The rows: every point time of any series (normally the same times).
	var times []time.Time
	at := make([]map[int64]Point, len(series))
	for i, s := range series {
		at[i] = make(map[int64]Point, len(s.Points))
		for _, p := range s.Points {
			k := p.T.UnixNano()
			if _, seen := at[i][k]; !seen {
				at[i][k] = p
			}
			times = append(times, p.T)
		}
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	times = slices.CompactFunc(times, func(a, b time.Time) bool { return a.Equal(b) })
	row := make([]string, len(header))
	for _, t := range times {
		seconds := math.NaN()
		for i := range series {
			p, ok := at[i][t.UnixNano()]
			row[2+i] = ""
			if ok {
				row[2+i] = number(p.V)
				if !math.IsNaN(p.Seconds) && !(p.Seconds <= seconds) {
					seconds = p.Seconds
				}
			}
		}
		row[0], row[1] = t.UTC().Format(time.RFC3339Nano), number(seconds)
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// number formats v exactly, or "" for NaN and infinities.
func number(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
