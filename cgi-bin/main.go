// Command pggraph.cgi serves one client's pggraph pages: the server
// overview, a page per database with its tables, a page per table with its
// indexes, every graph as a PNG image and as CSV. Each client's install
// directory holds config.ini and index.cgi, a symlink to the installed
// pggraph.cgi; Apache runs it as a CGI behind HTTP Basic auth
// (deploy/apache/pggraph.conf).
//
// Usage:
//
//	pggraph.cgi                                     as a CGI (Apache)
//	pggraph.cgi -listen ADDR -config FILE [-user U]  development server
//
// As a CGI it reads config.ini next to the script Apache ran
// (dirname(SCRIPT_FILENAME): the symlink's directory, so each client's
// own), using its [install], [local] and [pggraph] sections. It connects
// to the central PostgreSQL at [local] host, port and database, but as
// role pggraph_web (read-only; PGGRAPH_WEB_USER overrides the name), never
// as [local] user, and never with [local] password: pggraph_web's password
// comes from ~/.pgpass of the user the CGI runs as, or from the file
// PGPASSFILE names (set by Apache's SetEnv). The authenticated user is
// REMOTE_USER; one who is not a user of this client (client_users.client
// is not [local] prefix) gets 403.
//
// With -listen ADDR it serves the same handler over HTTP at
// /<www_path>/index.cgi for development, reading -config FILE; -user U
// acts as REMOTE_USER (no password is checked: keep ADDR on loopback).
//
// Query strings (README.md, "Web pages"): page=tables|table, db, table,
// p, sort=busiest|size|dead, graph, range=day|week|month|year|custom,
// from, to, format=png|csv, width, height. Anything else — an unknown,
// repeated, empty or oversized parameter, a bad value — is 400; an unknown
// graph, database or table 404; each with a one-line text body. Responses
// carry an ETag and Last-Modified from the client's last collection and
// stay fresh until the next one is due; a matching If-None-Match gets 304.
// Every request is appended to pggraph_users.client_access_log.
//
// Diagnostics go to stderr (Apache's error log): failures at once, each
// request's steps and timings with -v or PGGRAPH_DEBUG=1 (SetEnv). Exit
// codes: 0 served; 1 the CGI environment or the server failed; 2 bad
// usage or config.ini.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pggraph/pggraph/internal/cli"
	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/logging"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
	schema "github.com/pggraph/pggraph/sql"
)

// webRole is the role the CGI connects as, unless PGGRAPH_WEB_USER says
// otherwise.
const webRole = schema.WebRole

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "pggraph.cgi: "+cli.OneLine(err))
	}
	os.Exit(cli.ExitCode(err))
}

// run is the impure shell: flags, environment, config.ini, then cgi.Serve
// or an HTTP server with the same handler. getenv reads the environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pggraph.cgi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "serve HTTP on this address (development) instead of running as a CGI")
	cfgPath := fs.String("config", "", "config.ini (or install directory) for -listen")
	devUser := fs.String("user", "", "with -listen: act as this authenticated user (REMOTE_USER)")
	verbose := fs.Bool("v", false, "log every request's steps and timing to stderr (as a CGI: PGGRAPH_DEBUG=1)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return cli.Usage(err)
	}
	if fs.NArg() > 0 {
		return cli.Usage(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	log := logging.New(stderr, logging.Level(*verbose || getenv("PGGRAPH_DEBUG") != "", false))

	if *listen == "" {
		if getenv("GATEWAY_INTERFACE") == "" {
			return cli.Usage(errors.New("not run by a web server (no GATEWAY_INTERFACE): use -listen ADDR -config FILE to try it"))
		}
		oneRequestMemory(getenv)
		h, err := newHandler(getenv, configPath(getenv("SCRIPT_FILENAME")), log)
		if err != nil {
			// Apache shows the client a 500; the cause is in its error log.
			cgiFail(stdout)
			return err
		}
		user, uri := getenv("REMOTE_USER"), getenv("REQUEST_URI")
		return cgi.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.RequestURI == "" {
				r.RequestURI = uri // cgi.Request parses it into URL only
			}
			h.ServeHTTP(w, withUser(r, user))
		}))
	}

	if *cfgPath == "" {
		return cli.Usage(errors.New("-listen needs -config FILE"))
	}
	h, err := newHandler(getenv, *cfgPath, log)
	if err != nil {
		return err
	}
	return serve(ctx, *listen, h, *devUser, stdout)
}

// cgiHeapLimit is the Go heap a CGI process may reach before it collects
// garbage at all: a year graph or a full page needs less.
const cgiHeapLimit = 24 << 20

// oneRequestMemory turns the garbage collector off up to cgiHeapLimit: a
// CGI process lives for one request, so collecting would only cost time
// (about a tenth of an image's CPU). GOGC or GOMEMLIMIT in the
// environment keep the runtime's own settings.
func oneRequestMemory(getenv func(string) string) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(cgiHeapLimit)
	debug.SetGCPercent(-1)
}

// configPath is config.ini in the directory of the script Apache ran.
func configPath(scriptFilename string) string {
	if scriptFilename == "" {
		return "config.ini"
	}
	return filepath.Join(filepath.Dir(scriptFilename), "config.ini")
}

// cgiFail writes a bare 500 response for failures before the handler
// exists.
func cgiFail(w io.Writer) {
	fmt.Fprint(w, "Status: 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n500 Internal Server Error: configuration error\n")
}

// newHandler loads config.ini and builds the handler with its real
// dependencies.
func newHandler(getenv func(string) string, path string, log *slog.Logger) (*handler, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, cli.Usage(err)
	}
	role := getenv("PGGRAPH_WEB_USER")
	if role == "" {
		role = webRole
	}
	// [local] host, port and database; the web role; no password (pgpass).
	srv := store.LocalServer(config.Local{Host: cfg.Local.Host, Port: cfg.Local.Port, User: role})
	samplesDB := cfg.Local.Database
	groups := metric.StoredGroups()
	return &handler{
		site: site{
			Prefix: cfg.Local.Prefix, Title: cfg.Install.Title, WWWPath: cfg.Install.WWWPath,
			MaxImages: cfg.PGGraph.MaxImages, Interval: cfg.PGGraph.Interval,
			Keep: cfg.PGGraph.Keep,
		},
		openSamples: func(ctx context.Context) (samples, error) {
			return retry(ctx, func() (samples, error) { return store.OpenServer(ctx, srv, samplesDB, groups) })
		},
		openUsers: func(ctx context.Context) (users, error) {
			return retry(ctx, func() (users, error) { return store.OpenUsers(ctx, srv) })
		},
		now:     time.Now,
		log:     log,
		version: buildVersion(),
	}, nil
}

// retry calls open again, for about a second, while PostgreSQL refuses
// connections for lack of slots (too_many_connections, or
// cannot_connect_now while it starts): a burst of image requests can
// briefly exceed max_connections.
func retry[T any](ctx context.Context, open func() (T, error)) (T, error) {
	wait := 50 * time.Millisecond
	for i := 0; ; i++ {
		v, err := open()
		var pe *pgconn.PgError
		if err == nil || i == 4 || !errors.As(err, &pe) || (pe.Code != "53300" && pe.Code != "57P03") {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// buildVersion identifies the binary for ETags: its VCS revision and
// modification time, or its module version.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" || s.Key == "vcs.time" || s.Key == "vcs.modified" {
			v += " " + s.Value
		}
	}
	if exe, err := os.Executable(); err == nil {
		if st, err := os.Stat(exe); err == nil {
			v += fmt.Sprintf(" %d %d", st.Size(), st.ModTime().UnixNano())
		}
	}
	return v
}

// serve runs the development server until ctx ends: the handler at
// /<www_path>/index.cgi (and /<www_path>/), with user as REMOTE_USER.
func serve(ctx context.Context, addr string, h *handler, user string, stdout io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	base := h.site.base()
	dir := strings.TrimSuffix(base, "index.cgi")
	mux := http.NewServeMux()
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != base && r.URL.Path != dir {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, withUser(r, user))
	})
	mux.Handle(dir, page)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, base, http.StatusFound)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "pggraph.cgi: serving %s at http://%s%s\n", h.site.Title, ln.Addr(), base)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", addr, err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}
