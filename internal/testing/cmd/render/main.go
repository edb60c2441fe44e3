// Command render draws one graph from its CSV (as Data.CSV writes it)
// into a PNG, in a fresh process: the benchmark's whole-process
// counterpart to `rrdtool graph`.
//
//	render -graph NAME -from RFC3339 -to RFC3339 -resolution raw|hour|day -csv IN -o OUT.png [-rss]
//	       [-previous N] [-events EVENTS.csv]
//
// -previous N takes the CSV's last N columns as the previous period's
// lines (compare=previous), every column without its empty cells (the
// periods' times need not match); -events reads the events to draw from a CSV
// as ?page=events&format=csv writes it.
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pggraph/pggraph/graph"
	"github.com/pggraph/pggraph/metric"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	name := fs.String("graph", "", "graph name")
	from := fs.String("from", "", "range start, RFC 3339")
	to := fs.String("to", "", "range end, RFC 3339")
	res := fs.String("resolution", "raw", "raw, hour or day")
	in := fs.String("csv", "", "the graph's CSV")
	out := fs.String("o", "", "the PNG to write")
	rss := fs.Bool("rss", false, "print the process's peak RSS (VmHWM, kB) on stdout at the end")
	previous := fs.Int("previous", 0, "the CSV's last N columns are the previous period's")
	eventsFile := fs.String("events", "", "events to draw, as the events page's CSV")
	if err := fs.Parse(args); err != nil {
		return err
	}
	def, ok := graph.Lookup(*name)
	if !ok {
		return fmt.Errorf("unknown graph %q", *name)
	}
	r, err := graph.ParseRange("custom", *from, *to, time.Now())
	if err != nil {
		return err
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return err
	}
	d := &graph.Data{Def: def, Query: graph.Query{Graph: *name, Range: r}, Resolution: *res}
	for _, label := range recs[0][2:] {
		d.Series = append(d.Series, graph.Series{Label: label})
	}
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return math.NaN()
		}
		return v
	}
	for _, rec := range recs[1:] {
		t, err := time.Parse(time.RFC3339Nano, rec[0])
		if err != nil {
			return err
		}
		for i := range d.Series {
			if *previous > 0 && rec[2+i] == "" {
				continue // a row of the other period's times
			}
			d.Series[i].Points = append(d.Series[i].Points, graph.Point{
				T: t, Seconds: num(rec[1]), V: num(rec[2+i]), Min: math.NaN(), Max: math.NaN(),
			})
		}
	}
	if n := *previous; n > 0 && n < len(d.Series) {
		d.Series, d.Previous = d.Series[:len(d.Series)-n], d.Series[len(d.Series)-n:]
	}
	if *eventsFile != "" {
		if d.Events, err = readEvents(*eventsFile); err != nil {
			return err
		}
	}
	w, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := d.PNG(w); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if *rss {
		status, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmHWM:") {
				fmt.Println(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "VmHWM:"), "kB")))
			}
		}
	}
	return nil
}

// readEvents reads events from a CSV of time, end, kind, database,
// object, detail (a header first).
func readEvents(path string) ([]metric.Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read events %s: %w", path, err)
	}
	var out []metric.Event
	for _, rec := range recs[1:] {
		e := metric.Event{Kind: metric.EventKind(rec[2]), Database: rec[3], Object: rec[4], Detail: rec[5]}
		if e.Time, err = time.Parse(time.RFC3339Nano, rec[0]); err != nil {
			return nil, fmt.Errorf("read events %s: %w", path, err)
		}
		if rec[1] != "" {
			if e.End, err = time.Parse(time.RFC3339Nano, rec[1]); err != nil {
				return nil, fmt.Errorf("read events %s: %w", path, err)
			}
		}
		out = append(out, e)
	}
	return out, nil
}
