package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pggraph/pggraph/internal/cli"
	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/logging"
	"github.com/pggraph/pggraph/internal/store"
	schema "github.com/pggraph/pggraph/sql"
)

// connFlags are the flags that say which server and samples database a
// command works on; every subcommand has them.
type connFlags struct {
	config string
	db     string
}

func (f *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "take the server from this config.ini's [local] section (file or install directory)")
	fs.StringVar(&f.db, "db", "", "samples database (default: [local] database with -config, else pggraph)")
}

// server returns the server and samples database the flags name; a bad
// config.ini is a usage error. Its warnings go to the log.
func (f *connFlags) server(s streams) (store.Server, string, error) {
	db := f.db
	if f.config == "" {
		if db == "" {
			db = schema.Samples
		}
		return store.Server{}, db, nil
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		return store.Server{}, "", cli.Usage(err)
	}
	log := logging.New(s.stderr, logging.Level(false, false))
	for _, w := range cfg.Warnings {
		log.Warn(w, logging.Step, "config")
	}
	if db == "" {
		db = cfg.Local.Database
	}
	return store.LocalServer(cfg.Local), db, nil
}

// explain adds to a refused login how to reach the server instead:
// SQLSTATE 28000 is a role that does not exist, failed peer
// authentication or no pg_hba.conf line, all of which mean pggraph-admin
// logged in as the wrong user or to the wrong place; typically as root,
// whom Debian's PostgreSQL knows no role for. Other errors are returned
// as they are.
func (f *connFlags) explain(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28000" { // invalid_authorization_specification
		return err
	}
	if f.config != "" {
		return fmt.Errorf("%w; check [local] user and host in %s", err, f.config)
	}
	return fmt.Errorf("%w; run it as the postgres user (sudo -u postgres pggraph-admin …) or point it at the server with PGUSER/PGHOST or -config FILE", err)
}

// parse parses args with fs and wants exactly nargs positional arguments.
func parse(fs *flag.FlagSet, args []string, nargs int, names string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return cli.Usage(err)
	}
	if fs.NArg() != nargs {
		fs.Usage()
		if nargs == 0 {
			return cli.Usage(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
		}
		return cli.Usage(fmt.Errorf("want %s", names))
	}
	return nil
}

// newFlags returns a FlagSet for a subcommand with its usage line.
func newFlags(s streams, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(s.stderr)
	fs.Usage = func() {
		fmt.Fprintln(s.stderr, "usage: pggraph-admin "+name+" "+synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// setupCommand is pggraph-admin setup.
type setupCommand struct {
	streams
	conn *connFlags
}

func (c *setupCommand) run(ctx context.Context, args []string) error {
	fs := newFlags(c.streams, "setup", "[-config FILE] [-db NAME]")
	c.conn.register(fs)
	if err := parse(fs, args, 0, ""); err != nil {
		return err
	}
	srv, db, err := c.conn.server(c.streams)
	if err != nil {
		return err
	}
	_, err = store.Setup(ctx, srv, db, func(line string) { fmt.Fprintln(c.stdout, line) })
	return err
}

// clientListCommand is pggraph-admin client list.
type clientListCommand struct {
	streams
	conn *connFlags
}

func (c *clientListCommand) run(ctx context.Context, args []string) error {
	fs := newFlags(c.streams, "client list", "[-config FILE] [-db NAME]")
	c.conn.register(fs)
	if err := parse(fs, args, 0, ""); err != nil {
		return err
	}
	srv, db, err := c.conn.server(c.streams)
	if err != nil {
		return err
	}
	st, err := store.OpenServer(ctx, srv, db, nil)
	if err != nil {
		return err
	}
	defer st.Close(ctx)
	clients, err := st.ListClients(ctx)
	if err != nil {
		return err
	}
	if len(clients) == 0 {
		fmt.Fprintln(c.stdout, "no clients")
		return nil
	}
	return writeClients(c.stdout, clients, time.Local)
}

// writeClients prints clients as aligned columns, times in loc.
func writeClients(w io.Writer, clients []store.Client, loc *time.Location) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PREFIX\tTITLE\tDIRECTORY\tLAST RUN\tOUTCOME")
	for _, cl := range clients {
		dir := cl.Directory
		if dir == "" {
			dir = "-"
		}
		last, outcome := "never", "-"
		if !cl.LastRun.IsZero() {
			last = cl.LastRun.In(loc).Format("2006-01-02 15:04") + fmt.Sprintf(" (%.1fs)", cl.LastDuration.Seconds())
			outcome = string(cl.LastOutcome)
			switch cl.LastOutcome {
			case "ok":
				outcome += fmt.Sprintf(", %d samples", cl.LastSamples)
			case "failed":
				if cl.LastError != "" {
					outcome += ": " + shorten(cl.LastError, 60)
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cl.Prefix, shorten(cl.Title, 30), dir, last, outcome)
	}
	return tw.Flush()
}

// shorten cuts s to at most n runes, marking a cut with "…"; tabs and
// newlines become spaces so the columns hold.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// clientRemoveCommand is pggraph-admin client remove.
type clientRemoveCommand struct {
	streams
	conn *connFlags
}

func (c *clientRemoveCommand) run(ctx context.Context, args []string) error {
	fs := newFlags(c.streams, "client remove", "[-config FILE] [-db NAME] PREFIX")
	c.conn.register(fs)
	if err := parse(fs, args, 1, "one client PREFIX"); err != nil {
		return err
	}
	prefix := fs.Arg(0)
	if err := store.CheckPrefix(prefix); err != nil {
		return cli.Usage(err)
	}
	srv, db, err := c.conn.server(c.streams)
	if err != nil {
		return err
	}
	st, err := store.OpenServer(ctx, srv, db, nil)
	if err != nil {
		return err
	}
	defer st.Close(ctx)
	removed, err := st.RemoveClient(ctx, prefix)
	for _, t := range removed.Tables {
		fmt.Fprintf(c.stdout, "%s: dropped table %s.%s\n", prefix, db, t)
	}
	if err != nil {
		return err
	}
	if len(removed.Tables) == 0 {
		fmt.Fprintf(c.stdout, "%s: no tables in %s\n", prefix, db)
	}
	if removed.Row {
		fmt.Fprintf(c.stdout, "%s: deleted its row in %s.clients\n", prefix, schema.Clients)
	} else {
		fmt.Fprintf(c.stdout, "%s: had no row in %s.clients\n", prefix, schema.Clients)
	}
	fmt.Fprintf(c.stdout, "%s: web users in %s.client_users are kept\n", prefix, schema.Users)
	return nil
}
