package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/logging"
	"github.com/pggraph/pggraph/metric"
	"github.com/pggraph/pggraph/tunnel"
)

// Steps of a run, as named in errors and logs.
const (
	StepLock   = "lock"
	StepTunnel = "tunnel"
	StepRemote = "remote"
	StepStore  = "store"
)

// recordTimeout bounds writing the clients row after a run, even one whose
// context has ended.
const recordTimeout = 10 * time.Second

// Error is a failed run: which client, at which step, and why.
type Error struct {
	Client string
	Step   string
	Err    error
}

// Error is "client: step: cause", on one line.
func (e *Error) Error() string {
	msg := strings.ReplaceAll(e.Err.Error(), "\n", "; ")
	return e.Client + ": " + e.Step + ": " + msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Job is one collection of one client.
type Job struct {
	Config *config.Config
	Store  metric.Store
	// Groups to collect; nil means Groups().
	Groups []metric.Group
	// AgentSocket is SSH_AUTH_SOCK ("" for none).
	AgentSocket string
	// Logger receives the run's log lines; nil discards. Run adds the
	// client and step attributes.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Result is what a run did.
type Result struct {
	Outcome  metric.Outcome
	Samples  int           // sample rows written
	Objects  int           // objects in the snapshot
	Events   int           // events found (Events)
	Duration time.Duration // the whole run
	// Data are the samples written, for the alerts; nil unless Outcome is
	// metric.OK.
	Data []metric.Sample
}

func (j *Job) setDefaults() {
	if j.Groups == nil {
		j.Groups = metric.Groups()
	}
	if j.Now == nil {
		j.Now = time.Now
	}
	if j.Logger == nil {
		j.Logger = slog.New(slog.DiscardHandler)
	}
}

// Run collects once: it takes the client's lock, opens the tunnel, reads a
// snapshot, and in one transaction derives the samples and the events
// from the previous snapshot, writes them and maintains the rollups.
// Whatever happens, it records the run in the clients table. A failure
// writes no sample; one that the central database did not cause leaves
// an EventGap event, which the next run's gap takes in.
func Run(ctx context.Context, job Job) (Result, error) {
	job.setDefaults()
	prefix := job.Config.Local.Prefix
	log := job.Logger.With(logging.Client, prefix)
	started := job.Now()
	res, err := run(ctx, job, log)
	res.Duration = job.Now().Sub(started)

	rec := metric.RunRecord{Started: started, Duration: res.Duration, Outcome: res.Outcome, Samples: res.Samples}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err != nil {
		rec.Outcome, rec.Samples = metric.Failed, 0
		rec.Error = err.Error()
		var e *Error
		if errors.As(err, &e) && e.Step == StepLock {
			// The run holding the lock records its own outcome.
			return res, err
		}
		if e != nil && e.Step != StepStore {
			if eerr := job.Store.AddEvents(rctx, prefix, []metric.Event{failureEvent(started, e)}); eerr != nil {
				log.Warn("could not record the failed run as an event", logging.Step, StepStore, "error", eerr)
			}
		}
	}
	if rerr := job.Store.RecordRun(rctx, prefix, rec); rerr != nil {
		log.Warn("could not record the run in the clients table", logging.Step, StepStore, "error", rerr)
	}
	return res, err
}

func run(ctx context.Context, job Job, log *slog.Logger) (Result, error) {
	cfg := job.Config
	prefix := cfg.Local.Prefix
	fail := func(step string, err error) (Result, error) {
		return Result{Outcome: metric.Failed}, &Error{Client: prefix, Step: step, Err: err}
	}

	unlock, err := job.Store.Lock(ctx, prefix)
	if err != nil {
		return fail(StepLock, err)
	}
	defer unlock()

	snap, tun, err := read(ctx, job, log)
	if err != nil {
		return fail(stepOf(err), err)
	}
	defer tun.Close()
	objects := 0
	for _, rows := range snap.Rows {
		objects += len(rows)
	}

	tx, err := job.Store.Begin(ctx, prefix)
	if err != nil {
		return fail(StepStore, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	prev, err := tx.Previous(ctx)
	if err != nil {
		return fail(StepStore, err)
	}
	samples := Deltas(job.Groups, prev, snap)
	stx, statements := tx.(metric.StatementTx)
	var stmts statementsOf
	if statements {
		if stmts, err = statementStep(ctx, job, stx, remote(tun, cfg.Remote), prev, snap); err != nil {
			return fail(stepOf(err), err)
		}
		samples = append(samples, stmts.Samples...)
	}
	if err := tx.Write(ctx, snap, samples); err != nil {
		return fail(StepStore, err)
	}
	if statements {
		if err := stx.WriteStatements(ctx, stmts.Run); err != nil {
			return fail(StepStore, err)
		}
	}
	events, err := runEvents(ctx, tx, prev, snap, cfg.PGGraph.Interval)
	if err != nil {
		return fail(StepStore, err)
	}
	if err := tx.Maintain(ctx, cfg.PGGraph.Keep); err != nil {
		return fail(StepStore, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fail(StepStore, err)
	}

	res := Result{Outcome: metric.OK, Samples: len(samples), Objects: objects, Data: samples, Events: len(events)}
	if prev == nil {
		res.Data = nil
		res.Outcome = metric.Primed
		log.Info("primed: first snapshot saved; graphs appear after the next run", logging.Step, StepStore, "objects", objects)
	} else {
		log.Info("collected", logging.Step, StepStore, "samples", len(samples), "objects", objects, "events", len(events), "interval", snap.Taken.Sub(prev.Taken).Round(time.Second))
	}
	return res, nil
}

// Test checks everything a run needs and writes nothing: the tunnel, a
// read of every metric group on the client's server, and, through check,
// the central database.
func Test(ctx context.Context, job Job, check func(ctx context.Context, prefix string) error) (Result, error) {
	job.setDefaults()
	prefix := job.Config.Local.Prefix
	log := job.Logger.With(logging.Client, prefix)
	started := job.Now()
	snap, tun, err := read(ctx, job, log)
	if err != nil {
		return Result{Outcome: metric.Failed}, &Error{Client: prefix, Step: stepOf(err), Err: err}
	}
	tun.Close()
	if err := check(ctx, prefix); err != nil {
		return Result{Outcome: metric.Failed}, &Error{Client: prefix, Step: StepStore, Err: err}
	}
	res := Result{Outcome: metric.OK, Duration: job.Now().Sub(started)}
	for _, rows := range snap.Rows {
		res.Objects += len(rows)
	}
	return res, nil
}

// stepError marks the step an error of read belongs to.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

func stepOf(err error) string {
	var se *stepError
	if errors.As(err, &se) {
		return se.step
	}
	return StepRemote
}

// tunnelSettle is how long a failed read waits for the tunnel to report
// that its SSH connection was lost.
const tunnelSettle = 300 * time.Millisecond

// read opens the tunnel and reads one snapshot through it. The tunnel
// stays open for the statements' texts; the caller closes it.
func read(ctx context.Context, job Job, log *slog.Logger) (*metric.Snapshot, *tunnel.Tunnel, error) {
	cfg := job.Config
	tc := tunnel.FromConfig(cfg, job.AgentSocket)
	tc.Logger = log.With(logging.Step, StepTunnel)
	tun, err := tunnel.Open(ctx, tc)
	if err != nil {
		return nil, nil, &stepError{StepTunnel, err}
	}
	snap, err := readThrough(ctx, job, log, tun)
	if err != nil {
		tun.Close()
		return nil, nil, err
	}
	return snap, tun, nil
}

// readThrough reads one snapshot through an open tunnel.
func readThrough(ctx context.Context, job Job, log *slog.Logger, tun *tunnel.Tunnel) (*metric.Snapshot, error) {
	cfg := job.Config
	r := Reader{
		Remote:     remote(tun, cfg.Remote),
		Groups:     job.Groups,
		Databases:  cfg.Remote.Databases,
		Statements: cfg.Remote.Queries,
		Now:        job.Now,
		Logger:     log.With(logging.Step, StepRemote),
	}
	snap, err := r.Read(ctx)
	if err != nil {
		var pe *pgconn.PgError
		if !errors.As(err, &pe) {
			// A lost SSH connection shows first as a failed read on one of
			// its channels: give the tunnel a moment to notice, so that the
			// failure names the tunnel and its cause.
			select {
			case <-tun.Done():
			case <-time.After(tunnelSettle):
			case <-ctx.Done():
			}
		}
		if terr := tun.Err(); terr != nil {
			return nil, &stepError{StepTunnel, fmt.Errorf("%w (while reading: %w)", terr, err)}
		}
		return nil, &stepError{StepRemote, err}
	}
	return snap, nil
}

// remote connects to the client's databases through the tunnel as [remote]
// user.
func remote(tun *tunnel.Tunnel, r config.Remote) Remote {
	return RemoteFunc(func(ctx context.Context, database string) (*pgx.Conn, error) {
		cc, err := tun.ConnConfig(r.User, r.Password, database)
		if err != nil {
			return nil, err
		}
		// The collector only reads, and never waits long.
		cc.RuntimeParams["default_transaction_read_only"] = "on"
		cc.RuntimeParams["statement_timeout"] = "60s"
		cc.RuntimeParams["lock_timeout"] = "5s"
		ctx, cancel := context.WithTimeout(ctx, cc.ConnectTimeout)
		defer cancel()
		conn, err := pgx.ConnectConfig(ctx, cc)
		if err != nil {
			return nil, fmt.Errorf("log in to database %q as %q: %w", database, r.User, err)
		}
		return conn, nil
	})
}
