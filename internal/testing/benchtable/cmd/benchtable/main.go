// Command benchtable prints pggraph's benchmark table (package
// benchtable) from `go test -bench` output: the files named, or stdin.
//
// Usage:
//
//	benchtable [FILE ...]
//
// Every row shows the median of the runs, the baseline and the ratio where
// there is one, and the target with ✓ or ✗; a last line counts the
// targets met.
//
// Exit codes: 0 every row has a result (met or not); 1 a row's benchmark
// has no result, or the input could not be read; 2 usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/pggraph/pggraph/internal/testing/benchtable"
)

// errUsage marks a bad command line (exit code 2).
var errUsage = errors.New("usage: benchtable [FILE ...]")

func main() {
	err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

// run reads the results, prints the table and the count of targets met.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchtable", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w (%v)", errUsage, err)
	}
	results := benchtable.Results{}
	inputs := fs.Args()
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	for _, name := range inputs {
		r, err := parseInput(name, stdin)
		if err != nil {
			return err
		}
		for bench, units := range r {
			if results[bench] == nil {
				results[bench] = map[string][]float64{}
			}
			for unit, vs := range units {
				results[bench][unit] = append(results[bench][unit], vs...)
			}
		}
	}
	lines := benchtable.Lines(benchtable.Rows(), results)
	if err := benchtable.Write(stdout, lines); err != nil {
		return err
	}
	var targets, met, missing int
	for _, l := range lines {
		if l.Missing {
			missing++
		}
		if l.Target != "—" {
			targets++
			if !l.Failed && !l.Missing {
				met++
			}
		}
	}
	fmt.Fprintf(stdout, "\nTargets met: %d of %d. Each figure and baseline is the median of its runs; a ratio the\n"+
		"benchmark reports is the median of its per-run ratios (both measured in the same loop), so it\n"+
		"need not equal figure ÷ baseline.\n", met, targets)
	if missing > 0 {
		return fmt.Errorf("%d rows have no result: a benchmark failed or did not run", missing)
	}
	return nil
}

// parseInput parses one named input; "-" is stdin.
func parseInput(name string, stdin io.Reader) (benchtable.Results, error) {
	if name == "-" {
		return benchtable.Parse(stdin)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open results: %w", err)
	}
	defer f.Close()
	r, err := benchtable.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}
