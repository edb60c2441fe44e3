package cli

import (
	"errors"
	"flag"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"none", nil, 0},
		{"help", flag.ErrHelp, 0},
		{"usage", Usage(errors.New("bad flag")), 2},
		{"wrapped usage", fmt.Errorf("user add: %w", Usage(errors.New("bad flag"))), 2},
		{"failure", errors.New("connect: refused"), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.err); got != tt.want {
				t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	err := errors.Join(errors.New("first"), errors.New("  second\n"))
	if got, want := OneLine(err), "first; second"; got != want {
		t.Errorf("OneLine = %q, want %q", got, want)
	}
	if got := Usage(errors.New("x")).Error(); got != "x" {
		t.Errorf("Usage message = %q", got)
	}
}
