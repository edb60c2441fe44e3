// Command pggraph-rig runs pggraph's integration-test rig by hand.
//
// Usage:
//
//	pggraph-rig up [--central] [--base DIR]
//
// up starts a rig (see package rig), prints its environment as
// shell-sourceable KEY='value' lines on stdout and "rig ready; Ctrl-C to
// stop" on stderr, and waits. SIGINT or SIGTERM stops every server; the
// rig directory is kept so that its logs can be read, and its path is
// printed (deploy/rig down DIR removes it).
//
// Exit codes: 0 ok, 1 runtime failure, 2 usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/pggraph/pggraph/internal/rig"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pggraph-rig:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError marks a bad command line (exit code 2).
type usageError struct{ error }

// run dispatches the subcommand in args.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New("usage: pggraph-rig up [--central] [--base DIR]")}
	}
	switch args[0] {
	case "up":
		return up(ctx, args[1:], stdout, stderr)
	default:
		return usageError{fmt.Errorf("unknown command %q; usage: pggraph-rig up [--central] [--base DIR]", args[0])}
	}
}

// up starts a rig and holds it until ctx ends.
func up(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	central := fs.Bool("central", false, "also start the central PostgreSQL cluster")
	base := fs.String("base", "", "parent of the rig directory (default /run/pggraph-rig)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("up: unexpected arguments %q", fs.Args())}
	}
	r, err := rig.Start(ctx, rig.Options{Base: *base, Central: *central, Keep: true, Log: stderr})
	if err != nil {
		return err
	}
	if err := r.WriteEnv(stdout); err != nil {
		_ = r.Close()
		return err
	}
	fmt.Fprintln(stderr, "rig ready; Ctrl-C to stop")
	<-ctx.Done()
	fmt.Fprintln(stderr, "stopping rig")
	if err := r.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "rig stopped; logs kept in %s (deploy/rig down %s removes it)\n", r.Dir, r.Dir)
	return nil
}
