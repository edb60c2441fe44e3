// Command pggraph-forward holds a tunnel to a client's PostgreSQL open on
// 127.0.0.1:<[remote] local_port>, so that the operator can test the
// tunnel with psql, as the original's forwarder did.
//
// Usage:
//
//	pggraph-forward [-v] [-no-check] DIR|config.ini
//
// It prints "Initializing tunnel..", opens the SSH chain config.ini
// describes, logs in to the remote PostgreSQL once as [remote] user to
// prove the whole path (unless -no-check), prints the psql line to test
// with, and forwards every connection to the local port until interrupted.
//
// Exit codes: 0 stopped by SIGINT or SIGTERM; 1 the tunnel, the remote
// login or the local port failed; 2 bad usage or config.ini. Every failure
// is one line on stderr: pggraph-forward: <client>: <step>: <cause>.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pggraph/pggraph/internal/cli"
	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/logging"
	"github.com/pggraph/pggraph/tunnel"
)

// keepalive is the SSH keepalive interval of a held-open tunnel.
const keepalive = 30 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pggraph-forward: "+cli.OneLine(err))
	}
	os.Exit(exitCode(err))
}

// failure is an error with the step it happened in and its exit code.
type failure struct {
	client, step string
	code         int
	err          error
}

func (f *failure) Error() string {
	if f.client == "" {
		return f.step + ": " + f.err.Error()
	}
	return f.client + ": " + f.step + ": " + f.err.Error()
}

func (f *failure) Unwrap() error { return f.err }

func exitCode(err error) int {
	var f *failure
	switch {
	case err == nil:
		return 0
	case errors.As(err, &f):
		return f.code
	default:
		return 1
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("pggraph-forward", flag.ContinueOnError)
	fs.SetOutput(stderr)
	verbose := fs.Bool("v", false, "log each step and connection")
	noCheck := fs.Bool("no-check", false, "do not log in to the remote PostgreSQL before forwarding")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: pggraph-forward [-v] [-no-check] DIR|config.ini")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return &failure{step: "usage", code: 2, err: err}
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &failure{step: "usage", code: 2, err: errors.New("want exactly one install directory or config.ini")}
	}

	cfg, err := config.Load(fs.Arg(0))
	if err != nil {
		return &failure{step: "config", code: 2, err: err}
	}
	client := cfg.Local.Prefix
	log := logging.New(stderr, logging.Level(*verbose, false)).With(logging.Client, client)
	for _, w := range cfg.Warnings {
		log.Warn(w, logging.Step, "config")
	}
	fail := func(step string, err error) error { return &failure{client: client, step: step, code: 1, err: err} }

	fmt.Fprintln(stdout, "Initializing tunnel..")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Remote.LocalPort))
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			err = fmt.Errorf("%s is already in use (another pggraph-forward?): stop it or change [remote] local_port", addr)
		}
		return fail("listen", err)
	}
	defer ln.Close()

	tc := tunnel.FromConfig(cfg, getenv("SSH_AUTH_SOCK"))
	tc.Keepalive = keepalive
	tc.Logger = log.With(logging.Step, "tunnel")
	tun, err := tunnel.Open(ctx, tc)
	if err != nil {
		return fail("tunnel", err)
	}
	defer tun.Close()

	if !*noCheck {
		version, err := checkLogin(ctx, tun, cfg)
		if err != nil {
			return fail("remote login", err)
		}
		fmt.Fprintf(stdout, "Remote PostgreSQL answers as %s: %s\n", cfg.Remote.User, version)
	}
	via := "directly"
	if hops := tun.Hops(); len(hops) > 0 {
		via = "via " + strings.Join(hops, " -> ")
	}
	fmt.Fprintf(stdout, "Forwarding %s to %s %s (%s). Test it with:\n", addr, tun.Target(), via, cfg.TunnelMode())
	fmt.Fprintf(stdout, "  psql -d template1 -U %s -h localhost -p %d\n", cfg.Remote.User, cfg.Remote.LocalPort)
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")

	if err := tun.Forward(ctx, ln); err != nil {
		return fail("forward", err)
	}
	fmt.Fprintln(stdout, "Stopped.")
	return nil
}

// checkLogin logs in to template1 through the tunnel and returns the
// server's version.
func checkLogin(ctx context.Context, tun *tunnel.Tunnel, cfg *config.Config) (string, error) {
	conn, err := tun.Connect(ctx, cfg.Remote.User, cfg.Remote.Password, "template1")
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var version string
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version')").Scan(&version); err != nil {
		return "", fmt.Errorf("query server_version: %w", err)
	}
	return "PostgreSQL " + version, nil
}
