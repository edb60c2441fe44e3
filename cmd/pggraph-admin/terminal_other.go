//go:build !linux

package main

import (
	"errors"
	"os"
)

// isTerminal reports false: pggraph runs on Linux, elsewhere only -stdin
// reads a password.
func isTerminal(*os.File) bool { return false }

// readNoEcho is not available off Linux.
func readNoEcho(*os.File) ([]byte, error) {
	return nil, errors.New("no terminal support on this system: use -stdin")
}
