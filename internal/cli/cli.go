// Package cli is what pggraph's programs share at their edge: the error
// kind for bad usage, the exit codes it maps to, and one-line messages.
package cli

import (
	"errors"
	"flag"
	"strings"
)

// usageError marks bad usage or a bad input file (config.ini, answers).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Usage marks err as bad usage: ExitCode gives 2 for it, also when it is
// wrapped further.
func Usage(err error) error { return usageError{err} }

// IsUsage tells whether err is, or wraps, a Usage error.
func IsUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

// ExitCode is the programs' documented exit code for run's error: 0 for
// none (or -h), 2 for bad usage, 1 for any other failure.
func ExitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case IsUsage(err):
		return 2
	}
	return 1
}

// OneLine is err's message on one line: errors.Join and pgx use line
// breaks, and a failure is one line for cron and the logs.
func OneLine(err error) string {
	var lines []string
	for l := range strings.SplitSeq(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}
