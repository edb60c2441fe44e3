// Command pggraph-install installs pggraph for one client: it asks the
// original installer's questions (or reads them from -answers FILE), then
// creates the install directory with config.ini (mode 0600) and an index.cgi
// symlink to the installed pggraph.cgi, creates the client's tables and its
// row in pggraph_clients, and prints the next steps.
//
// Usage:
//
//	pggraph-install [-cgi PATH] [-answers FILE [-yes]]
//
// -answers FILE answers every question from a file read like config.ini
// (any valid config.ini is a valid answers file): a missing key takes the
// question's default, an invalid one fails naming [section] key. An
// unknown SSH host key is refused with -answers unless -yes trusts it.
// After installing, the tunnel test (what pggraph-collect -t does) is
// offered on a terminal, and skipped with -answers.
//
// Exit codes: 0 installed; 1 a step failed (nothing is left behind); 2 bad
// usage or a bad answers file. Failures are one line on stderr:
// pggraph-install: <step>: <cause>.
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

	"github.com/pggraph/pggraph/collector"
	"github.com/pggraph/pggraph/installer"
	"github.com/pggraph/pggraph/internal/cli"
	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pggraph-install: "+cli.OneLine(err))
	}
	os.Exit(cli.ExitCode(err))
}

func run(ctx context.Context, args []string, stdin *os.File, stdout *os.File, stderr io.Writer) error {
	fs := flag.NewFlagSet("pggraph-install", flag.ContinueOnError)
	fs.SetOutput(stderr)
	answers := fs.String("answers", "", "answer every question from this ini `file` (config.ini's sections and keys)")
	cgi := fs.String("cgi", installer.DefaultMainCGI, "the installed pggraph.cgi `path` that index.cgi links to")
	yes := fs.Bool("yes", false, "with -answers: trust an unknown SSH host key")
	cron := fs.String("cron", installer.DefaultCronFile, "the host's cron.d `file` for pggraph, read to tell whether the client needs a cron line")
	logDir := fs.String("log-dir", installer.DefaultLogDir, "`directory` of the client's log file <prefix>.log when [pggraph] log_file is blank (used only if it exists)")
	if err := fs.Parse(args); err != nil {
		return cli.Usage(fmt.Errorf("usage: %w", err))
	}
	if fs.NArg() > 0 {
		return cli.Usage(fmt.Errorf("usage: unexpected argument %q", fs.Arg(0)))
	}
	if *yes && *answers == "" {
		return cli.Usage(errors.New("usage: -yes needs -answers (a terminal asks instead)"))
	}
	agent := os.Getenv("SSH_AUTH_SOCK")
	opt := installer.Options{MainCGI: *cgi, Stdout: stdout, AgentSocket: agent, TestTunnel: testTunnel(agent), CronFile: *cron, LogDir: *logDir}
	if *answers != "" {
		a, err := installer.LoadAnswers(*answers)
		if err != nil {
			return cli.Usage(err)
		}
		a.TrustHostKeys = *yes
		opt.Prompter = a
	} else {
		opt.Prompter = installer.NewSurvey(stdin, stdout, stderr)
	}
	_, err := installer.Run(ctx, opt)
	var se *installer.StepError
	if *answers != "" && errors.As(err, &se) && (se.Step == "ask" || se.Step == "check answers") {
		return cli.Usage(err)
	}
	return err
}

// testTunnel returns what pggraph-collect -t does for a new client: open
// the tunnel, read every metric on the client's server, check the central
// database; nothing is written.
func testTunnel(agent string) func(ctx context.Context, c *config.Config) error {
	return func(ctx context.Context, c *config.Config) error {
		st, err := store.Open(ctx, c.Local, metric.Groups())
		if err != nil {
			return err
		}
		defer st.Close(context.WithoutCancel(ctx))
		_, err = collector.Test(ctx, collector.Job{Config: c, Store: st, AgentSocket: agent}, st.Check)
		return err
	}
}
