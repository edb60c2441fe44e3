package graph

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// benchGraph is the graph the benchmarks draw: three counter lines, the
// usual shape of a pggraph graph.
const benchGraph = "buffers_written"

// benchEnd is the end of the benchmarks' ranges.
var benchEnd = time.Date(2025, 6, 18, 14, 37, 0, 0, time.UTC)

// benchRanges are the ranges benchmarked, in order.
var benchRanges = []string{RangeDay, RangeWeek, RangeMonth, RangeYear}

// BenchmarkPNG is the in-process cost of one image (chart, raster, PNG
// encoding) per range, with the number of points Load returns for it
// (day: 144 raw samples per line, week: 168 hours, month: ~720 hours,
// year: 365 days), and the worst case the downsampling prevents: a year
// of raw 10-minute samples (52,560 points per line).
func BenchmarkPNG(b *testing.B) {
	rs := ranges(benchEnd)
	for _, name := range benchRanges {
		d := synth(benchGraph, rs[name], 1, time.Time{})
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if err := d.PNG(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(d.Series[0].Points)), "points/line")
		})
	}
	b.Run("year-raw-52k", func(b *testing.B) {
		d := rawYear()
		for b.Loop() {
			if err := d.PNG(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(d.Series[0].Points)), "points/line")
	})
}

// rawYear is a year of 10-minute samples at raw resolution: what Load
// never returns, the stroking's worst case.
func rawYear() *Data {
	r := ranges(benchEnd)[RangeYear]
	d := synth(benchGraph, Range{Name: RangeDay, From: benchEnd.Add(-24 * time.Hour), To: benchEnd}, 1, time.Time{})
	d.Query.Range = r
	for i := range d.Series {
		var pts []Point
		day := d.Series[i].Points
		for t := r.From.Truncate(10 * time.Minute).Add(10 * time.Minute); t.Before(r.To); t = t.Add(10 * time.Minute) {
			p := day[len(pts)%len(day)]
			p.T = t
			p.V *= 1 + 0.3*math.Sin(float64(t.Unix())/(86400*30))
			pts = append(pts, p)
		}
		d.Series[i].Points = pts
	}
	return d
}

// helper builds internal/testing/cmd/render once per benchmark binary.
var helper struct {
	once sync.Once
	path string
	err  error
}

func buildHelper(b *testing.B) string {
	b.Helper()
	helper.once.Do(func() {
		dir, err := os.MkdirTemp("", "pggraph-render-")
		if err != nil {
			helper.err = err
			return
		}
		helper.path = filepath.Join(dir, "render")
		build := exec.Command("go", "build", "-trimpath", "-o", helper.path, "../internal/testing/cmd/render")
		build.Env = append(os.Environ(), "CGO_ENABLED=0") // as make build does
		out, err := build.CombinedOutput()
		if err != nil {
			helper.err = fmt.Errorf("go build the render helper: %v: %s", err, out)
		}
	})
	if helper.err != nil {
		b.Fatal(helper.err)
	}
	return helper.path
}

// rrdFiles writes d as an RRD (one GAUGE per line holding the drawn
// value, per second for counters, step = the points' spacing) and returns
// the `rrdtool graph` arguments that draw it over d's range at the same
// image size, with title, unit and legend like PNG's.
func rrdFiles(b *testing.B, d *Data, dir string) []string {
	b.Helper()
	pts := d.Series[0].Points
	step := int64(pts[1].T.Sub(pts[0].T).Seconds())
	file := filepath.Join(dir, "data.rrd")
	args := []string{"create", file, "--start", strconv.FormatInt(pts[0].T.Unix()-step, 10), "--step", strconv.FormatInt(step, 10)}
	for i := range d.Series {
		args = append(args, fmt.Sprintf("DS:l%d:GAUGE:%d:U:U", i, 2*step))
	}
	args = append(args, fmt.Sprintf("RRA:AVERAGE:0.5:1:%d", len(pts)+10))
	rrdtool(b, args...)
	rate := perSecond(d.Def.Unit)
	for start := 0; start < len(pts); start += 500 {
		args := []string{"update", file}
		for j := start; j < min(start+500, len(pts)); j++ {
			vals := []string{strconv.FormatInt(pts[j].T.Unix(), 10)}
			for _, s := range d.Series {
				v := drawn(s.Points[j], rate)
				if math.IsNaN(v) {
					vals = append(vals, "U")
				} else {
					vals = append(vals, strconv.FormatFloat(v, 'f', -1, 64))
				}
			}
			args = append(args, strings.Join(vals, ":"))
		}
		rrdtool(b, args...)
	}
	w, h := d.Query.size()
	r := d.Query.Range
	graph := []string{"graph", filepath.Join(dir, "rrd.png"),
		"--start", strconv.FormatInt(r.From.Unix(), 10), "--end", strconv.FormatInt(r.To.Unix(), 10),
		"--full-size-mode", "--width", strconv.Itoa(w), "--height", strconv.Itoa(h),
		"--title", d.Def.Title, "--vertical-label", d.Def.Unit, "--imgformat", "PNG"}
	for i, s := range d.Series {
		c := palette()[i]
		graph = append(graph, fmt.Sprintf("DEF:l%d=%s:l%d:AVERAGE", i, file, i),
			fmt.Sprintf("LINE1.5:l%d#%02x%02x%02x:%s", i, c.R, c.G, c.B, s.Label))
	}
	return graph
}

// rrdtool runs rrdtool with args, failing the benchmark on error.
func rrdtool(b *testing.B, args ...string) {
	b.Helper()
	if out, err := exec.Command("rrdtool", args...).CombinedOutput(); err != nil {
		b.Fatalf("rrdtool %s: %v: %s", args[0], err, out)
	}
}

// timed runs a command and returns its wall time and its standard
// output.
func timed(b *testing.B, name string, args ...string) (time.Duration, string) {
	b.Helper()
	cmd := exec.Command(name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s: %v: %s", name, err, stderr.String())
	}
	return time.Since(start), stdout.String()
}

// peakRSS runs the render helper once more with -rss and returns its
// peak RSS in MB, as the process itself measured it (VmHWM): getrusage's
// ru_maxrss of a child counts the parent's pages it was forked with.
func peakRSS(b *testing.B, bin string, args []string) float64 {
	b.Helper()
	_, out := timed(b, bin, append(args, "-rss")...)
	kb, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
	if err != nil {
		b.Fatalf("render -rss printed %q", out)
	}
	return kb / 1024
}

// median returns the median of ds.
func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// BenchmarkVsRRDtool compares whole processes on the same data and
// window, as a CGI pays for them: `rrdtool graph` of an RRD holding the
// graph's points against the render helper (internal/testing/cmd/render: start,
// read the graph's CSV, draw, encode, write the PNG). Each iteration runs
// both once; it reports the medians (go-ms, rrd-ms), their ratio
// (go/rrd; targets ≤ 0.7 for day, week and month, ≤ 1.0 for year) and
// the helper's peak RSS (go-peak-MB; target < 40 MB for a year). Needs
// rrdtool (Debian package rrdtool).
func BenchmarkVsRRDtool(b *testing.B) {
	if _, err := exec.LookPath("rrdtool"); err != nil {
		b.Fatal("rrdtool is missing: apt-get install rrdtool")
	}
	bin := buildHelper(b)
	rs := ranges(benchEnd)
	for _, name := range benchRanges {
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			d := synth(benchGraph, rs[name], 1, time.Time{})
			var csvData bytes.Buffer
			if err := d.CSV(&csvData); err != nil {
				b.Fatal(err)
			}
			csvFile := filepath.Join(dir, "data.csv")
			if err := os.WriteFile(csvFile, csvData.Bytes(), 0o644); err != nil {
				b.Fatal(err)
			}
			rrdArgs := rrdFiles(b, d, dir)
			r := d.Query.Range
			goArgs := []string{"-graph", benchGraph, "-from", r.From.Format(time.RFC3339), "-to", r.To.Format(time.RFC3339),
				"-resolution", d.Resolution, "-csv", csvFile, "-o", filepath.Join(dir, "go.png")}
			// Warm both (page cache, dynamic loader).
			timed(b, bin, goArgs...)
			timed(b, "rrdtool", rrdArgs...)
			var goT, rrdT []time.Duration
			for b.Loop() {
				t, _ := timed(b, bin, goArgs...)
				goT = append(goT, t)
				t, _ = timed(b, "rrdtool", rrdArgs...)
				rrdT = append(rrdT, t)
			}
			g, rr := median(goT), median(rrdT)
			peak := peakRSS(b, bin, goArgs)
			b.ReportMetric(float64(g.Microseconds())/1000, "go-ms")
			b.ReportMetric(float64(rr.Microseconds())/1000, "rrd-ms")
			b.ReportMetric(g.Seconds()/rr.Seconds(), "go/rrd")
			b.ReportMetric(peak, "go-peak-MB")
			if dir := *samples; dir != "" {
				for _, f := range []string{"go.png", "rrd.png"} {
					if data, err := os.ReadFile(filepath.Join(filepath.Dir(csvFile), f)); err == nil {
						os.WriteFile(filepath.Join(dir, "bench-"+name+"-"+f), data, 0o644)
					}
				}
			}
		})
	}
}
