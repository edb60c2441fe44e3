package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/pggraph/pggraph/alert"
	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/logging"
	"github.com/pggraph/pggraph/internal/store"
)

// alertTimeout bounds the alerts of one client after its run (the
// delivery itself has alert.DefaultDeadline), even when the run used its
// whole interval.
const alertTimeout = 30 * time.Second

// alerts evaluates the client's checks after its run and delivers the
// notifications. What goes wrong is logged: it never fails the run.
func (o *options) alerts(ctx context.Context, st *store.Store, cfg *config.Config, log *slog.Logger, run alert.Run) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), alertTimeout)
	defer cancel()
	rep, err := alert.AfterRun(ctx, st, cfg, run, o.alertOptions)
	o.reportAlerts(cfg.Local.Prefix, log, rep, err)
}

// reportAlerts prints the changes with -v and logs a failure.
func (o *options) reportAlerts(prefix string, log *slog.Logger, rep alert.Report, err error) {
	if o.verbose {
		for _, c := range rep.Changes {
			o.line(o.stdout, prefix+": alert: "+c.Text)
		}
	}
	if err != nil {
		log.Warn("alerts: "+err.Error(), logging.Client, prefix, logging.Step, "alerts")
	}
}

// stale evaluates the stale check of every client in the clients table
// with the config.ini of its collection in cfgs (by prefix), or else that
// of its install directory: pggraph-collect -all does it after its runs.
func (o *options) stale(ctx context.Context, cfgs map[string]*config.Config) {
	var any *config.Config
	for _, c := range cfgs {
		any = c
		break
	}
	if any == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, alertTimeout)
	defer cancel()
	st, err := store.Open(ctx, any.Local, nil)
	if err != nil {
		o.line(o.stderr, fmt.Sprintf("pggraph-collect: stale: %v", err))
		return
	}
	defer st.Close(context.WithoutCancel(ctx))
	log := slog.New(slog.NewTextHandler(lockedWriter{o}, &slog.HandlerOptions{Level: logging.Level(o.verbose, o.quiet)}))
	rs, err := alert.StaleAll(ctx, st, func(c store.Client) (*config.Config, error) {
		if cfg, ok := cfgs[c.Prefix]; ok {
			return cfg, nil
		}
		return alert.InstalledConfig(c)
	}, o.alertOptions)
	if err != nil {
		o.line(o.stderr, fmt.Sprintf("pggraph-collect: stale: %v", err))
	}
	for _, r := range rs {
		if r.Config == nil {
			o.line(o.stderr, "pggraph-collect: "+r.Err.Error())
			continue
		}
		o.reportAlerts(r.Client, log, r.Report, r.Err)
	}
}
