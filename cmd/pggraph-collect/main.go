// Command pggraph-collect is pggraph's cron job: one collection per client.
//
// Usage:
//
//	pggraph-collect [-t] [-v|-q] [-jobs N] DIR|config.ini ...
//	pggraph-collect [-t] [-v|-q] [-jobs N] -all ROOT
//
// Each collection opens the client's SSH tunnel, reads its PostgreSQL
// statistics and stores the samples of the interval since the previous run
// in the central database, in one transaction. The first run of a client
// only primes: graphs appear after the next one. -all collects every
// ROOT/*/config.ini, -jobs at once; one failing client never stops the
// others. After each run it evaluates the client's alerts and delivers
// their notifications (README, "Alerts"); -all then evaluates the stale
// check of every client. Mail goes through $PGGRAPH_SENDMAIL, by default
// /usr/sbin/sendmail. -t tests config, tunnel, the client's server and the central
// database, and writes nothing.
//
// On success it prints nothing (cron mails any output), except that a
// client was primed; -v prints each client's result, -q only failures.
// Log lines go to stderr (warnings and up; -v everything) and, when
// [pggraph] log_file is set, to that file (info and up).
//
// Exit codes: 0 every client collected (or tested); 1 at least one failed;
// 2 bad usage, or the one config.ini given is invalid. Each failure is one
// line on stderr: pggraph-collect: <client>: <step>: <cause>.
//
// The original's crontab line works as it was:
//
//	*/10 * * * * pggraph-collect /var/www/pggraph/acme/config.ini
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pggraph/pggraph/alert"
	"github.com/pggraph/pggraph/collector"
	"github.com/pggraph/pggraph/internal/cli"
	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/logging"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	os.Exit(cli.ExitCode(err))
}

// failedError says how many clients failed (already reported): exit 1.
type failedError struct{ failed, total int }

func (e failedError) Error() string { return fmt.Sprintf("%d of %d clients failed", e.failed, e.total) }

// options are the command line's settings.
type options struct {
	test, verbose, quiet bool
	jobs                 int
	all                  string
	getenv               func(string) string
	stdout, stderr       io.Writer
	out                  sync.Mutex // serialises lines on stdout and stderr
	alertOptions         alert.Options
	loaded               map[string]*config.Config // by prefix, under out
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	o := &options{getenv: getenv, stdout: stdout, stderr: stderr, loaded: map[string]*config.Config{}}
	o.alertOptions.Sender.Sendmail = getenv("PGGRAPH_SENDMAIL")
	fs := flag.NewFlagSet("pggraph-collect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.test, "t", false, "test config, tunnel and both databases; write nothing")
	fs.BoolVar(&o.verbose, "v", false, "print each client's result and log every step")
	fs.BoolVar(&o.quiet, "q", false, "print failures only")
	fs.IntVar(&o.jobs, "jobs", 4, "clients collected at once")
	fs.StringVar(&o.all, "all", "", "collect every `ROOT`/*/config.ini")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: pggraph-collect [-t] [-v|-q] [-jobs N] DIR|config.ini ...\n       pggraph-collect [-t] [-v|-q] [-jobs N] -all ROOT")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cli.Usage(err)
	}
	paths := fs.Args()
	switch {
	case o.jobs < 1:
		return o.usage(fs, "-jobs must be at least 1")
	case o.all != "" && len(paths) > 0:
		return o.usage(fs, "give -all ROOT or config files, not both")
	case o.all == "" && len(paths) == 0:
		return o.usage(fs, "no config.ini given")
	case o.all != "":
		var err error
		if paths, err = filepath.Glob(filepath.Join(o.all, "*", "config.ini")); err != nil {
			return o.usage(fs, err.Error())
		}
		if len(paths) == 0 {
			return o.usage(fs, fmt.Sprintf("no %s/*/config.ini", o.all))
		}
		slices.Sort(paths)
	}

	errs := make([]error, len(paths))
	names := make([]string, len(paths))
	var wg sync.WaitGroup
	tokens := make(chan struct{}, o.jobs)
	for i, p := range paths {
		wg.Go(func() {
			tokens <- struct{}{}
			defer func() { <-tokens }()
			names[i], errs[i] = o.collect(ctx, p)
			if errs[i] != nil {
				o.line(o.stderr, "pggraph-collect: "+strings.ReplaceAll(errs[i].Error(), "\n", "; "))
			}
		})
	}
	wg.Wait()
	if o.all != "" && !o.test {
		o.stale(ctx, o.loaded)
	}

	var failed []string
	for i, err := range errs {
		if err != nil {
			failed = append(failed, names[i])
		}
	}
	if len(paths) > 1 && (len(failed) > 0 || o.verbose) {
		did := "collected"
		if o.test {
			did = "tested"
		}
		msg := fmt.Sprintf("pggraph-collect: %d of %d clients %s", len(paths)-len(failed), len(paths), did)
		if len(failed) > 0 {
			msg += "; failed: " + strings.Join(failed, ", ")
		}
		o.line(o.stderr, msg)
	}
	if len(paths) == 1 && errs[0] != nil {
		return errs[0] // a bad config.ini keeps its exit code 2
	}
	if len(failed) > 0 {
		return failedError{len(failed), len(paths)}
	}
	return nil
}

// usage prints the usage and msg, and returns a usage error.
func (o *options) usage(fs *flag.FlagSet, msg string) error {
	fs.Usage()
	o.line(o.stderr, "pggraph-collect: "+msg)
	return cli.Usage(errors.New(msg))
}

// line prints one line, whole, even with several jobs at once.
func (o *options) line(w io.Writer, s string) {
	o.out.Lock()
	defer o.out.Unlock()
	fmt.Fprintln(w, s)
}

// collect runs (or tests) one client. It returns the client's name for
// the summary: the prefix, or the path when the config did not load.
func (o *options) collect(ctx context.Context, path string) (string, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return path, cli.Usage(fmt.Errorf("%s: config: %w", path, err))
	}
	prefix := cfg.Local.Prefix
	o.out.Lock()
	o.loaded[prefix] = cfg
	o.out.Unlock()
	log, closeLog, err := o.logger(cfg)
	if err != nil {
		return prefix, &collector.Error{Client: prefix, Step: "log", Err: err}
	}
	defer closeLog()
	for _, w := range cfg.Warnings {
		log.Warn(w, logging.Client, prefix, logging.Step, "config")
	}

	// A run never outlasts the interval: the next one is due by then.
	ctx, cancel := context.WithTimeout(ctx, cfg.PGGraph.Interval)
	defer cancel()
	groups := metric.Groups()
	st, err := store.Open(ctx, cfg.Local, metric.StoredGroups())
	if err != nil {
		return prefix, &collector.Error{Client: prefix, Step: collector.StepStore, Err: err}
	}
	defer st.Close(context.WithoutCancel(ctx))

	job := collector.Job{Config: cfg, Store: st, Groups: groups, AgentSocket: o.getenv("SSH_AUTH_SOCK"), Logger: log}
	if o.test {
		res, err := collector.Test(ctx, job, st.Check)
		if err != nil {
			return prefix, err
		}
		if !o.quiet {
			o.line(o.stdout, fmt.Sprintf("%s: ok: config, tunnel (%s), client server (%d objects), central database, in %s",
				prefix, cfg.TunnelMode(), res.Objects, res.Duration.Round(time.Millisecond)))
		}
		return prefix, nil
	}
	res, err := collector.Run(ctx, job)
	var ce *collector.Error
	if !errors.As(err, &ce) || ce.Step != collector.StepLock {
		o.alerts(ctx, st, cfg, log, alert.Run{Err: err, Groups: groups, Samples: res.Data})
	}
	if err != nil {
		return prefix, err
	}
	switch {
	case o.quiet:
	case res.Outcome == metric.Primed:
		o.line(o.stdout, fmt.Sprintf("%s: primed: first snapshot saved (%d objects); graphs appear after the next run", prefix, res.Objects))
	case o.verbose:
		o.line(o.stdout, fmt.Sprintf("%s: collected %d samples of %d objects in %s", prefix, res.Samples, res.Objects, res.Duration.Round(time.Millisecond)))
	}
	return prefix, nil
}

// logger builds a client's logger: stderr at the -v/-q level, and the
// client's log_file, if any, at info (debug with -v).
func (o *options) logger(cfg *config.Config) (*slog.Logger, func(), error) {
	handlers := []slog.Handler{
		slog.NewTextHandler(lockedWriter{o}, &slog.HandlerOptions{Level: logging.Level(o.verbose, o.quiet)}),
	}
	closeLog := func() {}
	if path := cfg.PGGraph.LogFile; path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("open [pggraph] log_file: %w", err)
		}
		level := slog.LevelInfo
		if o.verbose {
			level = slog.LevelDebug
		}
		handlers = append(handlers, slog.NewTextHandler(f, &slog.HandlerOptions{Level: level}))
		closeLog = func() { f.Close() }
	}
	return slog.New(slog.NewMultiHandler(handlers...)), closeLog, nil
}

// lockedWriter writes log lines to stderr under the output lock.
type lockedWriter struct{ o *options }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.o.out.Lock()
	defer w.o.out.Unlock()
	return w.o.stderr.Write(p)
}
