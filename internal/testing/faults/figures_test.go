//go:build hard

package faults

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
)

// figure is one row of the suite's reliability table.
type figure struct {
	Area     string // fault, reset, deadline, security, load, fuzz
	What     string // the fault or the input
	Tries    int    // faults injected, inputs tried, requests sent
	Survived int    // tries after which every invariant held
	Failures int    // tries that broke an invariant
	Note     string // what the tries did, measured figures
}

// figureBook collects the rows of the tests in the order they report.
type figureBook struct {
	mu   sync.Mutex
	rows []figure
}

// figures is the suite's table, printed by TestMain.
var figures figureBook

// add records one row. A test adds its row once it knows the outcome,
// failures included.
func (b *figureBook) add(f figure) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rows = append(b.rows, f)
}

// print writes the table in columns.
func (b *figureBook) print(w io.Writer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.rows) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "area\tfault or input\ttries\tsurvived\tfailures\tnotes")
	for _, f := range b.rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", f.Area, f.What, f.Tries, f.Survived, f.Failures, f.Note)
	}
	tw.Flush()
}

// write appends the rows to path as tab-separated lines (area, what,
// tries, survived, failures, note) for internal/testing/faults/run.sh; "" writes nothing.
func (b *figureBook) write(path string) error {
	if path == "" {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var s strings.Builder
	clean := strings.NewReplacer("\t", " ", "\n", " ")
	for _, f := range b.rows {
		fmt.Fprintf(&s, "%s\t%s\t%d\t%d\t%d\t%s\n", f.Area, clean.Replace(f.What), f.Tries, f.Survived, f.Failures, clean.Replace(f.Note))
	}
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := fh.WriteString(s.String()); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}
