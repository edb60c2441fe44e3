// Command pggraph-rig runs pggraph's integration-test rig by hand.
//
// Usage:
//
//	pggraph-rig up [--central] [--base DIR] [--apache-root DIR [--apache-pgpass FILE] [--apache-fastcgi PROGRAM]]
//	pggraph-rig screenshot [--timeout D] URL OUT
//
// up starts a rig (see package rig), prints its environment as
// shell-sourceable KEY='value' lines on stdout and "rig ready; Ctrl-C to
// stop" on stderr, and waits. SIGINT or SIGTERM stops every server; the
// rig directory is kept so that its logs can be read, and its path is
// printed (deploy/rig down DIR removes it).
//
// With --apache-root DIR (which needs --central) up also starts Apache
// from deploy/apache (rig.StartApache: httpd-rig.conf around the
// production pggraph.conf) in the rig directory's apache/, serving DIR —
// the /var/www/pggraph of production, one install directory per client —
// at /pggraph on a free 127.0.0.1 port. Basic auth and the CGI reach
// pggraph_users and the samples on the central cluster as pggraph_web,
// whose password libpq reads from --apache-pgpass FILE (a pgpass file
// owned by www-data, mode 0600; it may be written after up starts, since
// nothing connects before the first request). The environment then also
// holds RIG_APACHE_URL, RIG_APACHE_PORT, RIG_APACHE_PID, RIG_APACHE_DIR,
// RIG_APACHE_ERROR_LOG and RIG_APACHE_ACCESS_LOG; Apache stops with the
// rig. With --apache-fastcgi PROGRAM (the installed pggraph.cgi) the
// pages are served as production's pggraph.conf has it by default: by
// PROGRAM -serve, run as www-data before Apache and stopped after it
// (its log is RIG_APACHE_FASTCGI_LOG); without it, as a CGI.
//
// screenshot loads URL in headless Chromium (rig.Screenshot) and writes
// what a person would see, 1200×900, as a PNG to OUT. URL may carry
// credentials (http://user:pass@127.0.0.1:PORT/…); like Chromium's own
// command line they are visible to local users while it runs, so use it
// with throwaway logins only.
//
// Exit codes: 0 ok, 1 runtime failure, 2 usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pggraph/pggraph/internal/testing/rig"
)

// usageLine is the synopsis printed with a usage error.
const usageLine = "usage: pggraph-rig up [--central] [--base DIR] [--apache-root DIR [--apache-pgpass FILE] [--apache-fastcgi PROGRAM]] | pggraph-rig screenshot [--timeout D] URL OUT"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pggraph-rig:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError marks a bad command line (exit code 2).
type usageError struct{ error }

// run dispatches the subcommand in args.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New(usageLine)}
	}
	switch args[0] {
	case "up":
		return up(ctx, args[1:], stdout, stderr)
	case "screenshot":
		return screenshot(ctx, args[1:], stderr)
	default:
		return usageError{fmt.Errorf("unknown command %q; %s", args[0], usageLine)}
	}
}

// up starts a rig (and Apache when asked) and holds it until ctx ends.
func up(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	central := fs.Bool("central", false, "also start the central PostgreSQL cluster")
	base := fs.String("base", "", "parent of the rig directory (default /run/pggraph-rig)")
	webRoot := fs.String("apache-root", "", "also start Apache serving this `directory` of client install directories at /pggraph (needs --central)")
	pgpass := fs.String("apache-pgpass", "", "pgpass `file` with pggraph_web's password, for Apache's Basic auth and the CGI")
	fastcgi := fs.String("apache-fastcgi", "", "serve the pages with this `program` (pggraph.cgi) as a FastCGI server, not as a CGI")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	switch {
	case fs.NArg() > 0:
		return usageError{fmt.Errorf("up: unexpected arguments %q", fs.Args())}
	case *webRoot != "" && !*central:
		return usageError{errors.New("up: --apache-root needs --central (Apache's users live in the central cluster)")}
	case *pgpass != "" && *webRoot == "":
		return usageError{errors.New("up: --apache-pgpass needs --apache-root")}
	case *fastcgi != "" && *webRoot == "":
		return usageError{errors.New("up: --apache-fastcgi needs --apache-root")}
	}
	r, err := rig.Start(ctx, rig.Options{Base: *base, Central: *central, Keep: true, Log: stderr})
	if err != nil {
		return err
	}
	var web *rig.Apache
	if *webRoot != "" {
		if web, err = startApache(ctx, r, *webRoot, *pgpass, *fastcgi, stderr); err != nil {
			return errors.Join(err, r.Close())
		}
	}
	if err := writeEnv(stdout, r, web); err != nil {
		return errors.Join(err, stopApache(web), r.Close())
	}
	fmt.Fprintln(stderr, "rig ready; Ctrl-C to stop")
	<-ctx.Done()
	fmt.Fprintln(stderr, "stopping rig")
	if err := errors.Join(stopApache(web), r.Close()); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "rig stopped; logs kept in %s (deploy/rig down %s removes it)\n", r.Dir, r.Dir)
	return nil
}

// startApache starts Apache for the rig's central cluster, serving root.
func startApache(ctx context.Context, r *rig.Rig, root, pgpass, fastcgi string, log io.Writer) (*rig.Apache, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("apache root %s: %w", root, err)
	}
	if pgpass != "" {
		if pgpass, err = filepath.Abs(pgpass); err != nil {
			return nil, fmt.Errorf("apache pgpass %s: %w", pgpass, err)
		}
	}
	// The samples and the users are on the central cluster; Apache and
	// the CGI log in over TCP, as the clients' [local] host says.
	a, err := rig.StartApache(ctx, filepath.Join(r.Dir, "apache"), rig.ApacheOptions{
		Root:       root,
		DBDParams:  fmt.Sprintf("host=127.0.0.1 port=%d dbname=pggraph_users user=pggraph_web", r.Central.Port),
		PGPassFile: pgpass,
		FastCGI:    fastcgi,
		Log:        log,
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// stopApache stops a, if it runs.
func stopApache(a *rig.Apache) error {
	if a == nil {
		return nil
	}
	return a.Stop()
}

// writeEnv writes the rig's environment and, when web runs, Apache's.
func writeEnv(w io.Writer, r *rig.Rig, web *rig.Apache) error {
	if err := r.WriteEnv(w); err != nil {
		return err
	}
	if web == nil {
		return nil
	}
	var b strings.Builder
	for _, kv := range [][2]string{
		{"RIG_APACHE_URL", web.URL},
		{"RIG_APACHE_PORT", strconv.Itoa(web.Port)},
		{"RIG_APACHE_PID", strconv.Itoa(web.PID)},
		{"RIG_APACHE_DIR", web.Dir},
		{"RIG_APACHE_ERROR_LOG", web.ErrorLog},
		{"RIG_APACHE_ACCESS_LOG", web.AccessLog},
		{"RIG_APACHE_FASTCGI_LOG", web.FastCGILog},
	} {
		fmt.Fprintf(&b, "%s='%s'\n", kv[0], strings.ReplaceAll(kv[1], "'", `'\''`))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write apache env: %w", err)
	}
	return nil
}

// screenshot writes a headless Chromium screenshot of a URL.
func screenshot(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("screenshot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 90*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() != 2 {
		return usageError{errors.New("usage: pggraph-rig screenshot [--timeout D] URL OUT")}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	return rig.Screenshot(ctx, fs.Arg(0), fs.Arg(1))
}
