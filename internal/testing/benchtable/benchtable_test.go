package benchtable

import (
	"strings"
	"testing"
)

// sample is `go test -bench` output of two runs (-count 2) with the noise
// around the result lines.
const sample = `goos: linux
goarch: amd64
pkg: github.com/pggraph/pggraph/graph
cpu: Intel(R) Xeon(R) Processor
BenchmarkCGIVsRRDtool/socket/day-2         	      20	 195869440 ns/op	        30.00 cgi-ms	        13.97 cgi-peak-MB	         0.6000 cgi/rrd	        50.00 rrd-ms
BenchmarkCGIVsRRDtool/socket/day-2         	      20	 195869440 ns/op	        40.00 cgi-ms	        14.03 cgi-peak-MB	         0.8000 cgi/rrd	        50.00 rrd-ms
BenchmarkCGIVsRRDtool/socket/day-2         	      20	 195869440 ns/op	        32.00 cgi-ms	        14.01 cgi-peak-MB	         0.6400 cgi/rrd	        50.00 rrd-ms
    bench_cgi_test.go:99: a log line
BenchmarkOpen/twin-2   	      30	  121000000 ns/op
BenchmarkOpen/twin-2   	      30	  119000000 ns/op
--- FAIL: BenchmarkOther
PASS
ok  	github.com/pggraph/pggraph/graph	129.692s
`

func TestParse(t *testing.T) {
	r, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		bench, unit string
		want        float64
		runs        int
		ok          bool
	}{
		{"CGIVsRRDtool/socket/day", "cgi-ms", 32, 3, true},
		{"CGIVsRRDtool/socket/day", "cgi/rrd", 0.64, 3, true},
		{"Open/twin", "ns/op", 120000000, 2, true},
		{"Open/twin", "cgi-ms", 0, 0, false},
		{"Other", "ns/op", 0, 0, false},
		{"Open/twin", Iterations, 30, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.bench+" "+tt.unit, func(t *testing.T) {
			v, runs, ok := r.Median(tt.bench, tt.unit)
			if v != tt.want || runs != tt.runs || ok != tt.ok {
				t.Errorf("Median = %v, %d, %v; want %v, %d, %v", v, runs, ok, tt.want, tt.runs, tt.ok)
			}
		})
	}
}

func TestParseBadValue(t *testing.T) {
	_, err := Parse(strings.NewReader("BenchmarkX-2 1 12x3 ns/op\n"))
	if err == nil || !strings.Contains(err.Error(), "line 1: X") {
		t.Fatalf("error %v, want one naming line 1 and X", err)
	}
}

func TestCount(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		want string
	}{{0, "0"}, {14, "14"}, {999.6, "1,000"}, {10020, "10,020"}, {534240, "534,240"}, {1234567, "1,234,567"}, {-4500, "-4,500"}} {
		if got := count(tt.v); got != tt.want {
			t.Errorf("count(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestLines(t *testing.T) {
	r, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	bench := "CGIVsRRDtool/socket/day"
	tests := []struct {
		name string
		row  Row
		want Line
	}{
		{
			name: "ratio of the benchmark, target met",
			row: Row{What: "w", Figure: Metric{Bench: bench, Unit: "cgi-ms", Show: "ms"}, Baseline: Metric{Bench: bench, Unit: "rrd-ms", Show: "ms"},
				Ratio: Metric{Bench: bench, Unit: "cgi/rrd"}, Targets: []Check{{Ratio: true, Op: "<=", Value: 0.7}}},
			want: Line{What: "w", Figure: "32.0 ms", Baseline: "50.0 ms", Ratio: "0.64", Target: "ratio ≤ 0.7", Met: "✓", Runs: 3, Iterations: 20},
		},
		{
			name: "ratio of the medians, target missed",
			row: Row{What: "w", Figure: Metric{Bench: bench, Unit: "cgi-ms", Show: "ms"}, Baseline: Metric{Bench: bench, Unit: "rrd-ms", Show: "ms"},
				Targets: []Check{{Ratio: true, Op: "<", Value: 0.5}}},
			want: Line{What: "w", Figure: "32.0 ms", Baseline: "50.0 ms", Ratio: "0.64", Target: "ratio < 0.5", Met: "✗", Runs: 3, Iterations: 20, Failed: true},
		},
		{
			name: "scaled figure with extras, no target",
			row: Row{What: "w", Figure: Metric{Bench: "Open/twin", Unit: "ns/op", Scale: nsToMS, Show: "ms"},
				Extra: []Metric{{Bench: bench, Unit: "cgi-peak-MB", Show: "MB", Label: "peak "}, {Bench: "Open/twin", Unit: "nothing"}}},
			want: Line{What: "w", Figure: "120 ms (peak 14.0 MB)", Baseline: "—", Ratio: "—", Target: "—", Met: "—", Runs: 2, Iterations: 30},
		},
		{
			name: "figure target",
			row:  Row{What: "w", Figure: Metric{Bench: bench, Unit: "cgi-peak-MB", Show: "MB"}, Targets: []Check{{Op: "<", Value: 40}}},
			want: Line{What: "w", Figure: "14.0 MB", Baseline: "—", Ratio: "—", Target: "< 40 MB", Met: "✓", Runs: 3, Iterations: 20},
		},
		{
			name: "at least, met",
			row:  Row{What: "w", Figure: Metric{Bench: bench, Unit: "cgi-peak-MB", Show: "MB"}, Targets: []Check{{Op: ">=", Value: 14}}},
			want: Line{What: "w", Figure: "14.0 MB", Baseline: "—", Ratio: "—", Target: "≥ 14 MB", Met: "✓", Runs: 3, Iterations: 20},
		},
		{
			name: "above, not met",
			row:  Row{What: "w", Figure: Metric{Bench: bench, Unit: "cgi-peak-MB", Show: "MB"}, Targets: []Check{{Op: ">", Value: 15}}},
			want: Line{What: "w", Figure: "14.0 MB", Baseline: "—", Ratio: "—", Target: "> 15 MB", Met: "✗", Runs: 3, Iterations: 20, Failed: true},
		},
		{
			name: "missing",
			row:  Row{What: "w", Figure: Metric{Bench: "Collect", Unit: "ms-collect"}, Targets: []Check{{Op: "<", Value: 3}}},
			want: Line{What: "w", Figure: "missing", Baseline: "—", Ratio: "—", Target: "< 3", Met: "✗", Missing: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Lines([]Row{tt.row}, r)[0]
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestRows checks that every row of the table names a benchmark and a
// unit, and that targets sit on rows with a ratio when they check one.
func TestRows(t *testing.T) {
	for _, row := range Rows() {
		if row.What == "" || row.Figure.Bench == "" || row.Figure.Unit == "" {
			t.Errorf("row %+v: no description, benchmark or unit", row)
		}
		for _, c := range row.Targets {
			if c.Ratio && row.Ratio.Bench == "" && row.Baseline.Bench == "" {
				t.Errorf("row %q checks a ratio it does not have", row.What)
			}
			if _, ok := ops[c.Op]; !ok {
				t.Errorf("row %q: op %q", row.What, c.Op)
			}
		}
	}
}
