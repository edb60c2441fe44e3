package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/pggraph/pggraph/alert"
	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/store"
)

// alertsCommand is pggraph-admin alerts [CLIENT]: what is not OK.
type alertsCommand struct {
	streams
	conn *connFlags
}

// open opens the store the connection flags name.
func open(ctx context.Context, s streams, conn *connFlags) (*store.Store, error) {
	srv, db, err := conn.server(s)
	if err != nil {
		return nil, err
	}
	return store.OpenServer(ctx, srv, db, nil)
}

func (c *alertsCommand) run(ctx context.Context, args []string) error {
	fs := newFlags(c.streams, "alerts", "[-config FILE] [-db NAME] [CLIENT]")
	c.conn.register(fs)
	n := 0
	if len(args) > 0 && args[len(args)-1][0] != '-' {
		n = 1
	}
	if err := parse(fs, args, n, "CLIENT"); err != nil {
		return err
	}
	st, err := open(ctx, c.streams, c.conn)
	if err != nil {
		return err
	}
	defer st.Close(ctx)
	active, err := st.ActiveAlerts(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	if len(active) == 0 {
		fmt.Fprintln(c.stdout, "every check is OK")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT\tSTATE\tSINCE\tALERT")
	for _, a := range active {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Prefix, a.State, a.Since.In(time.Local).Format("2006-01-02 15:04"), a.Text)
	}
	return tw.Flush()
}

// alertsCheckCommand is pggraph-admin alerts check: the stale check of
// every client, for hosts with one cron line per client.
type alertsCheckCommand struct {
	streams
	conn *connFlags
}

func (c *alertsCheckCommand) run(ctx context.Context, args []string) error {
	fs := newFlags(c.streams, "alerts check", "[-config FILE] [-db NAME]")
	c.conn.register(fs)
	if err := parse(fs, args, 0, ""); err != nil {
		return err
	}
	st, err := open(ctx, c.streams, c.conn)
	if err != nil {
		return err
	}
	defer st.Close(ctx)
	rs, err := alert.StaleAll(ctx, st, alert.InstalledConfig, alert.Options{})
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range rs {
		for _, ch := range r.Report.Changes {
			fmt.Fprintln(c.stdout, r.Client+": "+ch.Text)
		}
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return errors.Join(errs...)
}

// alertsTestCommand is pggraph-admin alerts test CLIENT.
type alertsTestCommand struct {
	streams
	conn *connFlags
}

func (c *alertsTestCommand) run(ctx context.Context, args []string) error {
	fs := newFlags(c.streams, "alerts test", "[-config FILE] [-db NAME] CLIENT")
	c.conn.register(fs)
	if err := parse(fs, args, 1, "CLIENT"); err != nil {
		return err
	}
	st, err := open(ctx, c.streams, c.conn)
	if err != nil {
		return err
	}
	defer st.Close(ctx)
	clients, err := st.ListClients(ctx)
	if err != nil {
		return err
	}
	var cfg *config.Config
	for _, cl := range clients {
		if cl.Prefix == fs.Arg(0) {
			if cfg, err = alert.InstalledConfig(cl); err != nil {
				return err
			}
		}
	}
	if cfg == nil {
		return fmt.Errorf("client %s: %w, or it has no install directory", fs.Arg(0), store.ErrNoClient)
	}
	if err := alert.Test(ctx, cfg, alert.Options{}); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "test message sent to %s\n", describe(cfg))
	return nil
}

// describe names a config's contacts.
func describe(cfg *config.Config) string {
	s := ""
	if cfg.Alerts.Mail != "" {
		s = cfg.Alerts.Mail
	}
	if cfg.Alerts.Command != "" {
		if s != "" {
			s += " and "
		}
		s += "command " + cfg.Alerts.Command
	}
	return s
}
