package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"

	"golang.org/x/crypto/bcrypt"

	"github.com/pggraph/pggraph/internal/cli"
	"github.com/pggraph/pggraph/internal/store"
	schema "github.com/pggraph/pggraph/sql"
)

// userFlags are the flags every user subcommand has: the server, from
// -config FILE or the libpq environment. Users live in pggraph_users, so
// no samples database is needed.
type userFlags struct {
	conn *connFlags
}

func (f *userFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.conn.config, "config", "", "take the server from this config.ini's [local] section (file or install directory)")
}

// open connects to pggraph_users.
func (f *userFlags) open(ctx context.Context, s streams) (*store.Users, error) {
	srv, _, err := f.conn.server(s)
	if err != nil {
		return nil, err
	}
	return store.OpenUsers(ctx, srv)
}

// passwordFlags are -stdin and -cost, for the commands that set a password.
type passwordFlags struct {
	stdin bool
	cost  int
}

func (f *passwordFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.stdin, "stdin", false, "read the password as one line of stdin instead of prompting on the terminal")
	fs.IntVar(&f.cost, "cost", bcrypt.DefaultCost, fmt.Sprintf("bcrypt cost, %d-%d (each step doubles the work Apache does on every request)", bcrypt.MinCost, bcrypt.MaxCost))
}

func (f *passwordFlags) check() error {
	if f.cost < bcrypt.MinCost || f.cost > bcrypt.MaxCost {
		return cli.Usage(fmt.Errorf("-cost %d: want %d-%d", f.cost, bcrypt.MinCost, bcrypt.MaxCost))
	}
	return nil
}

// hash reads user's new password and returns its bcrypt hash.
func (f *passwordFlags) hash(s streams, user string) (string, error) {
	pw, err := passwordSource{streams: s, fromStdin: f.stdin}.read(user)
	if err != nil {
		return "", err
	}
	defer clear(pw)
	return hashPassword(pw, f.cost)
}

// checkUserArg validates a user name given on the command line.
func checkUserArg(name string) error {
	if err := store.CheckUserName(name); err != nil {
		return cli.Usage(err)
	}
	return nil
}

// userAddCommand is pggraph-admin user add.
type userAddCommand struct {
	streams
	user userFlags
	pw   passwordFlags
}

func (c *userAddCommand) run(ctx context.Context, args []string) error {
	fs := newFlags(c.streams, "user add", "[-config FILE] [-stdin] [-cost N] CLIENT USER")
	c.user.register(fs)
	c.pw.register(fs)
	if err := parse(fs, args, 2, "CLIENT USER"); err != nil {
		return err
	}
	client, name := fs.Arg(0), fs.Arg(1)
	if err := store.CheckPrefix(client); err != nil {
		return cli.Usage(err)
	}
	if err := checkUserArg(name); err != nil {
		return err
	}
	if err := c.pw.check(); err != nil {
		return err
	}
	u, err := c.user.open(ctx, c.streams)
	if err != nil {
		return err
	}
	defer u.Close(ctx)
	// Refuse a taken name before asking for a password.
	if other, err := u.UserClient(ctx, name); err == nil {
		return fmt.Errorf("user %s: %w (client %s): use user passwd to change the password", name, store.ErrUserExists, other)
	} else if !errors.Is(err, store.ErrNoUser) {
		return err
	}
	hash, err := c.pw.hash(c.streams, name)
	if err != nil {
		return err
	}
	if err := u.AddUser(ctx, store.User{Name: name, Hash: hash, Client: client}); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "user %s added: may see client %s\n", name, client)
	return nil
}

// userPasswdCommand is pggraph-admin user passwd.
type userPasswdCommand struct {
	streams
	user userFlags
	pw   passwordFlags
}

func (c *userPasswdCommand) run(ctx context.Context, args []string) error {
	fs := newFlags(c.streams, "user passwd", "[-config FILE] [-stdin] [-cost N] USER")
	c.user.register(fs)
	c.pw.register(fs)
	if err := parse(fs, args, 1, "one USER"); err != nil {
		return err
	}
	name := fs.Arg(0)
	if err := checkUserArg(name); err != nil {
		return err
	}
	if err := c.pw.check(); err != nil {
		return err
	}
	u, err := c.user.open(ctx, c.streams)
	if err != nil {
		return err
	}
	defer u.Close(ctx)
	if _, err := u.UserClient(ctx, name); err != nil {
		return fmt.Errorf("user %s: %w", name, err)
	}
	hash, err := c.pw.hash(c.streams, name)
	if err != nil {
		return err
	}
	if err := u.SetPassword(ctx, name, hash); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "user %s: password changed\n", name)
	return nil
}

// userDelCommand is pggraph-admin user del.
type userDelCommand struct {
	streams
	user userFlags
}

func (c *userDelCommand) run(ctx context.Context, args []string) error {
	fs := newFlags(c.streams, "user del", "[-config FILE] USER")
	c.user.register(fs)
	if err := parse(fs, args, 1, "one USER"); err != nil {
		return err
	}
	u, err := c.user.open(ctx, c.streams)
	if err != nil {
		return err
	}
	defer u.Close(ctx)
	client, err := u.DeleteUser(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "user %s deleted (was client %s's); the access log keeps its rows\n", fs.Arg(0), client)
	return nil
}

// userListCommand is pggraph-admin user list.
type userListCommand struct {
	streams
	user userFlags
}

func (c *userListCommand) run(ctx context.Context, args []string) error {
	fs := newFlags(c.streams, "user list", "[-config FILE] [CLIENT]")
	c.user.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return cli.Usage(err)
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return cli.Usage(errors.New("want at most one CLIENT"))
	}
	client := fs.Arg(0)
	if client != "" {
		if err := store.CheckPrefix(client); err != nil {
			return cli.Usage(err)
		}
	}
	u, err := c.user.open(ctx, c.streams)
	if err != nil {
		return err
	}
	defer u.Close(ctx)
	users, err := u.ListUsers(ctx, client)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		if client != "" {
			fmt.Fprintf(c.stdout, "no users of client %s\n", client)
		} else {
			fmt.Fprintln(c.stdout, "no users")
		}
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT\tUSER\tHASH")
	for _, x := range users {
		kind := hashKind(x.Hash)
		switch {
		case kind == "" && md5Hex.MatchString(x.Hash):
			kind = "md5: Apache cannot verify it, needs a new password (user passwd)"
		case kind == "":
			kind = "unknown: Apache may not verify it"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", x.Client, shorten(x.Name, 40), kind)
	}
	return tw.Flush()
}

// userImportCommand is pggraph-admin user import.
type userImportCommand struct {
	streams
	user userFlags
}

func (c *userImportCommand) run(ctx context.Context, args []string) error {
	fs := newFlags(c.streams, "user import", "[-config FILE] CLIENT FILE")
	c.user.register(fs)
	if err := parse(fs, args, 2, "CLIENT FILE (htpasswd lines user:hash; - for stdin)"); err != nil {
		return err
	}
	client, file := fs.Arg(0), fs.Arg(1)
	if err := store.CheckPrefix(client); err != nil {
		return cli.Usage(err)
	}
	in := c.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return cli.Usage(err)
		}
		defer f.Close()
		in = f
	}
	entries, problems, err := parseHtpasswd(in)
	if err != nil {
		return cli.Usage(fmt.Errorf("read %s: %w", file, err))
	}
	u, err := c.user.open(ctx, c.streams)
	if err != nil {
		return err
	}
	defer u.Close(ctx)
	users := make([]store.User, len(entries))
	for i, e := range entries {
		users[i] = store.User{Name: e.User, Hash: e.Hash}
	}
	var res store.Imported
	if len(users) > 0 {
		if res, err = u.ImportUsers(ctx, client, users); err != nil {
			return err
		}
	}
	for _, p := range problems {
		msg := p.String()
		if p.MD5 {
			if _, err := u.UserClient(ctx, p.User); err == nil {
				msg += fmt.Sprintf(": pggraph-admin user passwd %s", p.User)
			} else {
				msg += fmt.Sprintf(": pggraph-admin user add %s %s", client, p.User)
			}
		}
		fmt.Fprintf(c.stderr, "%s: refused %s\n", file, msg)
	}
	for _, r := range res.Refused {
		fmt.Fprintf(c.stderr, "%s: refused user %s: belongs to client %s, left unchanged\n", file, r.Name, r.Client)
	}
	fmt.Fprintf(c.stdout, "client %s: %d added, %d updated, %d refused\n",
		client, len(res.Added), len(res.Updated), len(problems)+len(res.Refused))
	if n := len(problems) + len(res.Refused); n > 0 {
		return fmt.Errorf("%d line(s) of %s refused (see above); the others were imported into %s.client_users", n, file, schema.Users)
	}
	return nil
}
