package graph

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pggraph/pggraph/metric"
)

// benchEvents are 20 events spread over r, one of them a collection gap
// of a 40th of the range, as the events page's CSV writes them.
func benchEvents(r Range) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"time", "end", "kind", "database", "object", "detail"})
	kinds := metric.EventKinds()
	step := r.To.Sub(r.From) / 21
	for i := 1; i <= 20; i++ {
		at := r.From.Add(time.Duration(i) * step)
		k := kinds[i%len(kinds)]
		end := ""
		if k.Kind == metric.EventGap {
			end = at.Add(r.To.Sub(r.From) / 40).Format(time.RFC3339)
		}
		w.Write([]string{at.Format(time.RFC3339), end, string(k.Kind), "", "object " + strconv.Itoa(i), "detail"})
	}
	w.Flush()
	return buf.Bytes()
}

// BenchmarkEventsCost compares whole render-helper processes on the same
// graph (the CGI's cost of an image): drawn with 20 events and the
// previous period against drawn alone. Each iteration runs both once; it
// reports the medians (with-ms, base-ms) and their ratio (with/base;
// target ≤ 1.15).
func BenchmarkEventsCost(b *testing.B) {
	bin := buildHelper(b)
	rs := ranges(benchEnd)
	for _, name := range benchRanges {
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			r := rs[name]
			d := synth(benchGraph, r, 1, time.Time{})
			// The previous period as LoadPrevious leaves it: other values
			// at this period's times (a period's points are as many).
			d.Previous = synth(benchGraph, r, 2, time.Time{}).Series
			write := func(file string, data []byte) string {
				path := filepath.Join(dir, file)
				if err := os.WriteFile(path, data, 0o644); err != nil {
					b.Fatal(err)
				}
				return path
			}
			var plain, both bytes.Buffer
			if err := (&Data{Def: d.Def, Query: d.Query, Resolution: d.Resolution, Series: d.Series}).CSV(&plain); err != nil {
				b.Fatal(err)
			}
			if err := d.CSV(&both); err != nil {
				b.Fatal(err)
			}
			args := func(csvFile string) []string {
				return []string{"-graph", benchGraph, "-from", r.From.Format(time.RFC3339), "-to", r.To.Format(time.RFC3339),
					"-resolution", d.Resolution, "-csv", csvFile, "-o", filepath.Join(dir, "out.png")}
			}
			baseArgs := args(write("plain.csv", plain.Bytes()))
			withArgs := append(args(write("both.csv", both.Bytes())),
				"-previous", strconv.Itoa(len(d.Previous)), "-events", write("events.csv", benchEvents(r)))
			timed(b, bin, baseArgs...) // warm the page cache
			timed(b, bin, withArgs...)
			var base, with []time.Duration
			for b.Loop() {
				t, _ := timed(b, bin, baseArgs...)
				base = append(base, t)
				t, _ = timed(b, bin, withArgs...)
				with = append(with, t)
			}
			bm, wm := median(base), median(with)
			b.ReportMetric(float64(wm.Microseconds())/1000, "with-ms")
			b.ReportMetric(float64(bm.Microseconds())/1000, "base-ms")
			b.ReportMetric(wm.Seconds()/bm.Seconds(), "with/base")
			if dir := *samples; dir != "" {
				if data, err := os.ReadFile(filepath.Join(filepath.Dir(baseArgs[len(baseArgs)-1]), "out.png")); err == nil {
					os.WriteFile(filepath.Join(dir, "bench-events-"+name+".png"), data, 0o644)
				}
			}
		})
	}
}
