// Package logging builds the one slog.Logger each pggraph program uses and
// names the attribute keys every log line shares.
package logging

import (
	"io"
	"log/slog"
)

// Attribute keys shared by every program's log lines.
const (
	// Client is the client's table prefix.
	Client = "client"
	// Step is the step of the work: config, tunnel, collect, store, …
	Step = "step"
)

// Level picks the level for the usual -v and -q flags: debug when verbose,
// errors only when quiet, warnings and up otherwise.
func Level(verbose, quiet bool) slog.Level {
	switch {
	case verbose:
		return slog.LevelDebug
	case quiet:
		return slog.LevelError
	default:
		return slog.LevelWarn
	}
}

// New returns a text logger writing to w at level. Secrets in attributes
// are redacted by their own LogValue methods (see config.Secret).
func New(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
