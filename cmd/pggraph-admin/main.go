// Command pggraph-admin looks after pggraph's central PostgreSQL: it sets
// up the databases and roles, keeps the web users, and lists and removes
// clients.
//
// Usage:
//
//	pggraph-admin setup [-config FILE] [-db NAME]
//	pggraph-admin client list [-config FILE] [-db NAME]
//	pggraph-admin client remove [-config FILE] [-db NAME] PREFIX
//	pggraph-admin user add [-config FILE] [-stdin] [-cost N] CLIENT USER
//	pggraph-admin user passwd [-config FILE] [-stdin] [-cost N] USER
//	pggraph-admin user del [-config FILE] USER
//	pggraph-admin user list [-config FILE] [CLIENT]
//	pggraph-admin user import [-config FILE] CLIENT FILE
//	pggraph-admin alerts [-config FILE] [CLIENT]
//	pggraph-admin alerts check [-config FILE]
//	pggraph-admin alerts test [-config FILE] CLIENT
//
// It reaches the central PostgreSQL like psql does: PGHOST, PGPORT,
// PGUSER, PGPASSWORD (and the other libpq variables) and ~/.pgpass, or
// the local socket as the current OS user. With -config FILE (a client's
// config.ini or its install directory) it uses that file's [local]
// section instead: host, port, user, password and the samples database.
// On Debian the local socket lets an OS user in only as the role of the
// same name (peer authentication), and root has none: run every
// subcommand as the postgres user, `sudo -u postgres pggraph-admin …`.
// When the server refuses the login itself (SQLSTATE 28000: no such role,
// peer authentication failed, no pg_hba.conf line), the error says so.
//
// setup creates what is missing — roles pggraph and pggraph_web,
// databases pggraph (or -db NAME), pggraph_clients and pggraph_users
// owned by pggraph — and applies pending schema versions; running it again
// changes nothing. It needs a superuser, or a role with CREATEROLE and
// CREATEDB (which then becomes a member of pggraph); once everything
// exists, pggraph itself may run it to apply new schema versions. It sets
// no passwords: give pggraph and pggraph_web one with psql's \password, or
// use peer authentication.
//
// client list prints every registered client with its last collection.
// client remove drops a client's tables in the samples database and
// deletes its row in pggraph_clients.clients, at once and without asking;
// it refuses while a collection of the client runs.
//
// user add, passwd, del, list and import keep the web users in
// pggraph_users.client_users, which Apache checks (HTTP Basic auth) and
// the CGI reads. A user may see one client's pages (CLIENT is its
// prefix); names are unique across clients. add and passwd ask for the
// password twice on the terminal without echo, or read one line of stdin
// with -stdin (never from argv), and store its bcrypt hash (-cost, default
// 10: Apache checks it on every request, ~80 ms of CPU at cost 10). import
// reads htpasswd lines (user:hash, FILE - for stdin) and keeps bcrypt,
// $apr1$, {SHA}, $5$ and $6$ hashes as they are; it refuses, naming the
// line, plain hex MD5 hashes (the original pggraph's: Apache cannot verify
// them, the user needs a new password), other hashes, bad or repeated
// names, and users of another client; the rest is imported in one
// transaction, and it exits 1 when any line was refused.
//
// alerts lists the alerts that are not OK, of every client or of CLIENT,
// worst first. alerts check evaluates the stale check of every client
// (each with the config.ini of its install directory) and sends its
// notifications: run it from cron where each client has a cron line of
// its own (deploy/cron/pggraph); pggraph-collect -all does it
// itself. alerts test sends a test message through the client's [alerts]
// mail and command at once. A client named check or test is listed with
// alerts -config … CLIENT's positional form only.
//
// Exit codes: 0 success; 1 a database step failed; 2 bad usage or
// config.ini. Every failure is one line on stderr:
// pggraph-admin: <subcommand>: <cause>.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/pggraph/pggraph/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "pggraph-admin: "+cli.OneLine(err))
	}
	os.Exit(cli.ExitCode(err))
}

// usage is the summary printed for bad usage and -h.
const usage = `usage:
  pggraph-admin setup [-config FILE] [-db NAME]
  pggraph-admin client list [-config FILE] [-db NAME]
  pggraph-admin client remove [-config FILE] [-db NAME] PREFIX
  pggraph-admin user add [-config FILE] [-stdin] [-cost N] CLIENT USER
  pggraph-admin user passwd [-config FILE] [-stdin] [-cost N] USER
  pggraph-admin user del [-config FILE] USER
  pggraph-admin user list [-config FILE] [CLIENT]
  pggraph-admin user import [-config FILE] CLIENT FILE
  pggraph-admin alerts [-config FILE] [[--] CLIENT]   (-- before a client named check or test)
  pggraph-admin alerts check [-config FILE]
  pggraph-admin alerts test [-config FILE] CLIENT
Without -config, the server is reached like psql: PGHOST, PGPORT, PGUSER,
PGPASSWORD, ~/.pgpass. On Debian: sudo -u postgres pggraph-admin …`

// command is one subcommand.
type command interface {
	// run does the work; args are those after the subcommand's name.
	run(ctx context.Context, args []string) error
}

// streams are where a command reads and writes: stdout for results,
// stderr for usage, warnings and password prompts; stdin for passwords
// (user add, user passwd) and user import -.
type streams struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// run parses the subcommand and runs it. Its errors start with the
// subcommand's name; usage errors are cli.Usage errors.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	s := streams{stdin, stdout, stderr}
	conn := &connFlags{} // the one command's
	user := userFlags{conn: conn}
	commands := map[string]command{
		"setup":         &setupCommand{streams: s, conn: conn},
		"client list":   &clientListCommand{streams: s, conn: conn},
		"client remove": &clientRemoveCommand{streams: s, conn: conn},
		"user add":      &userAddCommand{streams: s, user: user},
		"user passwd":   &userPasswdCommand{streams: s, user: user},
		"user del":      &userDelCommand{streams: s, user: user},
		"user list":     &userListCommand{streams: s, user: user},
		"user import":   &userImportCommand{streams: s, user: user},
		"alerts":        &alertsCommand{streams: s, conn: conn},
		"alerts check":  &alertsCheckCommand{streams: s, conn: conn},
		"alerts test":   &alertsTestCommand{streams: s, conn: conn},
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return cli.Usage(errors.New("no command"))
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	name, rest := args[0], args[1:]
	if want, ok := map[string]string{"client": "list or remove", "user": "add, passwd, del, list or import"}[name]; ok {
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			fmt.Fprintln(stderr, usage)
			return cli.Usage(fmt.Errorf("%s: want %s", name, want))
		}
		name, rest = name+" "+rest[0], rest[1:]
	}
	if name == "alerts" && len(rest) > 0 && (rest[0] == "check" || rest[0] == "test") {
		name, rest = name+" "+rest[0], rest[1:]
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintln(stderr, usage)
		return cli.Usage(fmt.Errorf("unknown command %q", name))
	}
	if err := cmd.run(ctx, rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%s: %w", name, conn.explain(err)) // a usage error stays one
	}
	return nil
}
