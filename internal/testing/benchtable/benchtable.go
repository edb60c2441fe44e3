// Package benchtable turns the output of `go test -bench` (several runs of
// every benchmark, as `make bench` makes them) into pggraph's one table of
// results: per row the median of the runs, the baseline measured in the
// same runs, their ratio, and the target with whether it is met.
//
// The rows are data (Rows): each names the benchmark and the
// b.ReportMetric units it takes its figures from.
package benchtable

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Results are parsed benchmark results: for each benchmark (its name
// without the "Benchmark" prefix and the -GOMAXPROCS suffix, e.g.
// "CGIVsRRDtool/socket/day") and each unit ("ns/op", "cgi-ms", …, and
// Iterations) the values of every run, in order.
type Results map[string]map[string][]float64

// Iterations is the unit under which Parse records each run's iteration
// count (b.N).
const Iterations = "iterations"

// procsSuffix is the -GOMAXPROCS suffix of a benchmark's name.
var procsSuffix = regexp.MustCompile(`-\d+$`)

// Parse reads `go test -bench` output. Lines that are not results (goos,
// pkg, PASS, logs) are skipped; a result line whose values do not parse
// is an error naming its line number.
func Parse(r io.Reader) (Results, error) {
	res := Results{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		// Benchmark<Name>-N  iterations  value unit  [value unit …]
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		iterations, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		name := procsSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		m := res[name]
		if m == nil {
			m = map[string][]float64{}
			res[name] = m
		}
		m[Iterations] = append(m[Iterations], float64(iterations))
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: %s: value %q: %w", n, name, f[i], err)
			}
			m[f[i+1]] = append(m[f[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read benchmark output: %w", err)
	}
	return res, nil
}

// Median returns the median of a benchmark's values in unit and how many
// runs it is taken over; ok is false when there is none.
func (r Results) Median(bench, unit string) (v float64, runs int, ok bool) {
	vs := r[bench][unit]
	if len(vs) == 0 {
		return 0, 0, false
	}
	return median(vs), len(vs), true
}

// median is the median of vs, which must not be empty.
func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Metric is one figure of a row: a unit reported by a benchmark, shown
// scaled in a unit of its own.
type Metric struct {
	// Bench is the benchmark's name as Results keys it.
	Bench string
	// Unit is the unit it reports ("ns/op", "cgi-ms", …).
	Unit string
	// Scale multiplies the value for display; 0 means 1.
	Scale float64
	// Show is the unit displayed after the value ("ms", "MB", "" for a
	// plain number).
	Show string
	// Label, when set, is shown before the value ("per client ").
	Label string
	// Count shows the value as a whole number with thousands separators
	// (rows, objects, images).
	Count bool
}

// value is the metric's median, scaled.
func (m Metric) value(r Results) (float64, int, bool) {
	v, n, ok := r.Median(m.Bench, m.Unit)
	if m.Scale != 0 {
		v *= m.Scale
	}
	return v, n, ok
}

// format shows v with its unit, to about three significant digits.
func (m Metric) format(v float64) string {
	n := number(v)
	if m.Count {
		n = count(v)
	}
	s := m.Label + n
	if m.Show != "" {
		s += " " + m.Show
	}
	return s
}

// number formats v with about three significant digits (two decimals
// below 10), without exponent.
func number(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// count formats v rounded to a whole number, with commas between
// thousands.
func count(v float64) string {
	digits := strconv.FormatFloat(math.Abs(math.Round(v)), 'f', 0, 64)
	var b strings.Builder
	if v <= -0.5 {
		b.WriteByte('-')
	}
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	return b.String()
}

// Check is a target: the figure (or the ratio) must be below (Op "<"),
// at most ("<="), at least (">=") or above (">") Value, in the metric's
// displayed unit.
type Check struct {
	Ratio bool // check the ratio, not the figure
	Op    string
	Value float64
}

// ops are the checks' operators, as the table shows them.
var ops = map[string]string{"<": "<", "<=": "≤", ">=": "≥", ">": ">"}

// met reports whether v meets the check.
func (c Check) met(v float64) bool {
	switch c.Op {
	case "<":
		return v < c.Value
	case ">=":
		return v >= c.Value
	case ">":
		return v > c.Value
	}
	return v <= c.Value
}

// text is the check as the table shows it.
func (c Check) text(figure Metric) string {
	op := ops[c.Op]
	v := strconv.FormatFloat(c.Value, 'f', -1, 64)
	if c.Ratio {
		return "ratio " + op + " " + v
	}
	if figure.Show != "" {
		v += " " + figure.Show
	}
	return op + " " + v
}

// Row is one line of the table.
type Row struct {
	// What describes the measurement.
	What string
	// Figure is the measured value; Baseline, when Bench is set, what it
	// is compared with, measured in the same runs.
	Figure, Baseline Metric
	// Ratio, when Bench is set, is the benchmark's own ratio of the two
	// (the median of its per-run ratios); otherwise, with a baseline, the
	// ratio of the medians.
	Ratio Metric
	// Extra are more figures of the same runs, shown in parentheses
	// after the figure.
	Extra []Metric
	// Targets are the checks; none means no target.
	Targets []Check
}

// Line is a rendered row.
type Line struct {
	What, Figure, Baseline, Ratio, Target, Met string
	// Runs is how many runs the figure is the median of; Iterations the
	// median of their iteration counts (benchmarks that report medians
	// take them over their iterations).
	Runs, Iterations int
	// Missing is true when the figure's benchmark has no result.
	Missing bool
	// Failed is true when a target is not met.
	Failed bool
}

// Lines renders rows from results.
func Lines(rows []Row, r Results) []Line {
	var out []Line
	for _, row := range rows {
		l := Line{What: row.What, Baseline: "—", Ratio: "—", Target: "—", Met: "—"}
		var targets []string
		for _, c := range row.Targets {
			targets = append(targets, c.text(row.Figure))
		}
		if len(targets) > 0 {
			l.Target = strings.Join(targets, ", ")
		}
		fig, runs, ok := row.Figure.value(r)
		if !ok {
			l.Figure, l.Met, l.Missing = "missing", "✗", true
			out = append(out, l)
			continue
		}
		l.Runs = runs
		if n, _, ok := r.Median(row.Figure.Bench, Iterations); ok {
			l.Iterations = int(n)
		}
		l.Figure = row.Figure.format(fig)
		var extra []string
		for _, x := range row.Extra {
			if v, _, ok := x.value(r); ok {
				extra = append(extra, x.format(v))
			}
		}
		if len(extra) > 0 {
			l.Figure += " (" + strings.Join(extra, ", ") + ")"
		}
		ratio, haveRatio := 0.0, false
		if row.Baseline.Bench != "" {
			if base, _, ok := row.Baseline.value(r); ok {
				l.Baseline = row.Baseline.format(base)
				if base != 0 {
					ratio, haveRatio = fig/base, true
				}
			}
		}
		if row.Ratio.Bench != "" {
			ratio, _, haveRatio = row.Ratio.value(r)
		}
		if haveRatio {
			l.Ratio = number(ratio)
		}
		met := true
		for _, c := range row.Targets {
			v := fig
			if c.Ratio {
				v = ratio
			}
			if (c.Ratio && !haveRatio) || !c.met(v) {
				met = false
			}
		}
		if len(row.Targets) > 0 {
			l.Met = "✓"
			if !met {
				l.Met, l.Failed = "✗", true
			}
		}
		out = append(out, l)
	}
	return out
}

// Write prints lines as a Markdown table.
func Write(w io.Writer, lines []Line) error {
	var b strings.Builder
	b.WriteString("| what | figure (median) | baseline | ratio | target | met | runs × iterations |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, l := range lines {
		runs := "—"
		if l.Runs > 0 {
			runs = strconv.Itoa(l.Runs) + " × " + strconv.Itoa(l.Iterations)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", l.What, l.Figure, l.Baseline, l.Ratio, l.Target, l.Met, runs)
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}
