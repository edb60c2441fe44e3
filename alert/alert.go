// Package alert turns a client's samples into alert states and tells the
// operator when they change: it evaluates the checks of metric.Checks at
// the end of each collection (and the stale check from runs that are not
// the client's own), keeps the states, their history and the
// notifications not yet delivered in the central database (package
// store), and delivers them by mail (sendmail -t -i) and by a command,
// within a deadline, retrying at the next run what could not be delivered.
//
// It sits after internal/store and before the programs: pggraph-collect
// and pggraph-admin use it; the CGI reads the states through store and the
// check definitions through metric, and links none of this package's
// delivery.
package alert

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// Store is what alerts need of the central database; *store.Store
// implements it.
type Store interface {
	AlertStates(ctx context.Context, prefix string) ([]store.AlertState, error)
	SaveAlerts(ctx context.Context, prefix string, ch store.AlertChanges) error
	Deliver(ctx context.Context, prefix string, send func(ctx context.Context, n store.Notification) error) (int, error)
	// The state changes are also the client's events, marked on its
	// graphs.
	metric.EventWriter
}

var _ Store = (*store.Store)(nil)

// Options are an evaluation's settings; the zero Options are production's.
type Options struct {
	Sender Sender
	// Deadline bounds the delivery of the pending notifications of one
	// client; 0 means DefaultDeadline.
	Deadline time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Checks are the checks; nil means metric.Checks().
	Checks []metric.Check
}

func (o *Options) defaults() {
	if o.Deadline == 0 {
		o.Deadline = DefaultDeadline
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Checks == nil {
		o.Checks = metric.Checks()
	}
}

// Run is what one collection gives the alerts.
type Run struct {
	// Err is the run's failure; nil for a run that wrote its samples.
	Err error
	// Groups and Samples are the run's groups and the samples it wrote;
	// Samples is nil for a first run (primed) or a failed one.
	Groups  []metric.Group
	Samples []metric.Sample
}

// Report is what an evaluation did.
type Report struct {
	Changes []store.AlertEvent // changes and reminders, worst first
	Sent    int                // notifications delivered (also older ones)
}

// ErrPending is wrapped by the error of an evaluation whose notifications
// could not all be delivered: they stay pending for the next run.
var ErrPending = errors.New("notifications pending")

// AfterRun evaluates the client's checks after a collection run and
// delivers the notifications. While collection fails, only the
// collection check changes: the others keep their states and say nothing.
func AfterRun(ctx context.Context, st Store, cfg *config.Config, run Run, opt Options) (Report, error) {
	opt.defaults()
	failed := 0.0
	detail := ""
	if run.Err != nil {
		// The collector's errors start with the client's name, which the
		// message already gives.
		failed, detail = 1, strings.TrimPrefix(run.Err.Error(), cfg.Local.Prefix+": ")
	}
	in := input(cfg, opt)
	in.Values = map[string]Value{metric.CheckCollection: {V: failed, Detail: detail}}
	if run.Err == nil {
		in.Groups, in.Samples = run.Groups, run.Samples
	}
	return evaluate(ctx, st, cfg, in, opt)
}

// Stale evaluates the stale check of the client c (its row of the
// clients table): the time since its last successful run (or since it was
// registered, before any), in collection intervals.
func Stale(ctx context.Context, st Store, cfg *config.Config, c store.Client, opt Options) (Report, error) {
	opt.defaults()
	last := c.LastOK
	if last.IsZero() {
		last = c.Created
	}
	age := opt.Now().Sub(last)
	in := input(cfg, opt)
	in.Only = []string{metric.CheckStale}
	d := "last successful run " + last.UTC().Format("2006-01-02 15:04 UTC")
	if c.LastOK.IsZero() {
		d = "never collected successfully; registered " + last.UTC().Format("2006-01-02 15:04 UTC")
	}
	in.Values = map[string]Value{metric.CheckStale: {V: age.Seconds() / cfg.PGGraph.Interval.Seconds(), Detail: d}}
	return evaluate(ctx, st, cfg, in, opt)
}

func input(cfg *config.Config, opt Options) Input {
	return Input{Now: opt.Now(), Checks: opt.Checks, Levels: cfg.Levels, After: cfg.Alerts.After, Repeat: cfg.Alerts.Repeat}
}

// evaluate evaluates in against the stored states, saves the result with
// its notifications, and delivers every pending notification.
func evaluate(ctx context.Context, st Store, cfg *config.Config, in Input, opt Options) (Report, error) {
	prefix := cfg.Local.Prefix
	prev, err := st.AlertStates(ctx, prefix)
	if err != nil {
		return Report{}, err
	}
	ch := Evaluate(in, prev)
	ch.Outbox = Notifications(cfg, in.Now, ch.Events)
	if err := st.SaveAlerts(ctx, prefix, ch); err != nil {
		return Report{}, err
	}
	rep := Report{Changes: ch.Events}
	rep.Sent, err = Deliver(ctx, st, cfg, opt)
	if evs := events(ch.Events); len(evs) > 0 {
		if eerr := st.AddEvents(ctx, prefix, evs); eerr != nil {
			err = errors.Join(err, fmt.Errorf("%s: alert events: %w", prefix, eerr))
		}
	}
	return rep, err
}

// events are the state changes among cs as the client's events (the
// graphs' "alert" markers); reminders are no change.
func events(cs []store.AlertEvent) []metric.Event {
	var out []metric.Event
	for _, c := range cs {
		if c.Reminder {
			continue
		}
		object := c.Check
		if c.Display != "" {
			object += " on " + c.Display
		}
		out = append(out, metric.Event{Time: c.At, Kind: metric.EventAlert, Object: object,
			Detail: c.Previous.String() + " → " + c.State.String() + ": " + c.Text})
	}
	return out
}

// Deliver delivers the client's pending notifications within
// opt.Deadline; what fails stays pending, and the error wraps
// ErrPending. A notification for a contact config no longer has is
// dropped.
func Deliver(ctx context.Context, st Store, cfg *config.Config, opt Options) (int, error) {
	opt.defaults()
	dctx, cancel := context.WithTimeout(ctx, opt.Deadline)
	defer cancel()
	n, err := st.Deliver(dctx, cfg.Local.Prefix, func(ctx context.Context, n store.Notification) error {
		if (n.Channel == store.ChannelMail && len(cfg.Alerts.MailTo()) == 0) || (n.Channel == store.ChannelCommand && cfg.Alerts.Command == "") {
			return nil // the contact was removed since: drop it
		}
		return opt.Sender.Send(ctx, cfg, n)
	})
	if errors.Is(err, store.ErrNotDelivered) {
		return n, errors.Join(ErrPending, err)
	}
	return n, err
}

// Notifications are the messages for one evaluation's changes: one mail
// listing them all, and one command run per change, for the contacts cfg
// has.
func Notifications(cfg *config.Config, at time.Time, cs []store.AlertEvent) []store.Notification {
	if len(cs) == 0 {
		return nil
	}
	prefix := cfg.Local.Prefix
	var out []store.Notification
	if len(cfg.Alerts.MailTo()) > 0 {
		out = append(out, store.Notification{Channel: store.ChannelMail, Prefix: prefix,
			Subject: Subject(prefix, cs), Body: Body(prefix, cfg.Install.Title, at, cs)})
	}
	if cfg.Alerts.Command != "" {
		for _, c := range cs {
			one := []store.AlertEvent{c}
			value := ""
			if !math.IsNaN(c.Value) {
				value = strconv.FormatFloat(c.Value, 'g', -1, 64)
			}
			out = append(out, store.Notification{Channel: store.ChannelCommand, Prefix: prefix,
				Subject: Subject(prefix, one), Body: Body(prefix, cfg.Install.Title, at, one),
				Env: map[string]string{
					"PGGRAPH_CLIENT":   prefix,
					"PGGRAPH_CHECK":    c.Check,
					"PGGRAPH_OBJECT":   c.Display,
					"PGGRAPH_STATE":    c.State.String(),
					"PGGRAPH_PREVIOUS": c.Previous.String(),
					"PGGRAPH_VALUE":    value,
					"PGGRAPH_SUBJECT":  Subject(prefix, one),
				}})
		}
	}
	return out
}

// Test sends a test message through cfg's contacts at once, storing
// nothing; it fails when there is no contact or one fails.
func Test(ctx context.Context, cfg *config.Config, opt Options) error {
	opt.defaults()
	ev := store.AlertEvent{Check: "test", At: opt.Now(), State: metric.StateOK, Previous: metric.StateOK,
		Value: math.NaN(), Text: "TEST: a test message from pggraph-admin alerts test"}
	ns := Notifications(cfg, opt.Now(), []store.AlertEvent{ev})
	if len(ns) == 0 {
		return errors.New("test notification: [alerts] has neither mail nor command")
	}
	ctx, cancel := context.WithTimeout(ctx, opt.Deadline)
	defer cancel()
	var errs []error
	for _, n := range ns {
		if err := opt.Sender.Send(ctx, cfg, n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Clients is what StaleAll needs of the central database.
type Clients interface {
	Store
	ListClients(ctx context.Context) ([]store.Client, error)
}

// StaleResult is the stale check of one client.
type StaleResult struct {
	Client string
	Config *config.Config // nil when it did not load
	Report Report
	Err    error
}

// StaleAll evaluates the stale check of every client of the clients
// table, each with the config load returns for it (normally its install
// directory's config.ini; nil and no error to skip the client).
func StaleAll(ctx context.Context, st Clients, load func(c store.Client) (*config.Config, error), opt Options) ([]StaleResult, error) {
	cs, err := st.ListClients(ctx)
	if err != nil {
		return nil, err
	}
	var out []StaleResult
	for _, c := range cs {
		r := StaleResult{Client: c.Prefix}
		r.Config, r.Err = load(c)
		if r.Config == nil && r.Err == nil {
			continue
		}
		if r.Err == nil {
			r.Report, r.Err = Stale(ctx, st, r.Config, c, opt)
		}
		out = append(out, r)
	}
	return out, nil
}

// InstalledConfig loads the config.ini of a client's install directory;
// a client without one (never installed, or its directory removed) is
// skipped.
func InstalledConfig(c store.Client) (*config.Config, error) {
	if c.Directory == "" {
		return nil, nil
	}
	path := filepath.Join(c.Directory, "config.ini")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, fmt.Errorf("%s: stale: %w", c.Prefix, err)
	}
	return cfg, nil
}
