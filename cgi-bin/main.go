// Command pggraph.cgi serves one client's pggraph pages: the server
// overview, a page per database with its tables, a page per table with its
// indexes, every graph as a PNG image and as CSV. Each client's install
// directory holds config.ini and index.cgi, a symlink to the installed
// pggraph.cgi; Apache runs it as a CGI behind its login (form login with
// a session, or HTTP Basic auth: deploy/apache/pggraph.conf), and for
// the login form itself.
//
// Usage:
//
//	pggraph.cgi -serve SOCKET                        FastCGI server (pggraph-web.service)
//	pggraph.cgi                                     as a CGI (Apache, PGGRAPH_CGI)
//	pggraph.cgi -listen ADDR -config FILE [-user U]  development server
//	pggraph.cgi -write-spool FILE                    (started by the CGI itself)
//
// With -serve SOCKET it serves FastCGI on that Unix socket until SIGTERM,
// for Apache's mod_proxy_fcgi (deploy/apache/pggraph.conf's default): one
// process for every client's pages, each request answered as the CGI
// would answer it with the request's parameters as its environment,
// connections to the central PostgreSQL kept between requests, each
// config.ini read again when it changes, and the access log rows spooled
// as the CGI spools them, but written out by the server itself.
//
// Run from the root of the install directories (/pggraph/: index.cgi
// with a config.ini that has no [local] prefix, config.LoadSite), it is
// the all-clients page: every client of pggraph_clients worst first, for
// operators only (web users of client *; others 403, any parameter 400).
//
// Either way it reads config.ini next to the script Apache ran
// (dirname(SCRIPT_FILENAME): the symlink's directory, so each client's
// own), using its [install], [local] and [pggraph] sections. It connects
// to the central PostgreSQL at [local] host, port and database, but as
// role pggraph_web (read-only; PGGRAPH_WEB_USER overrides the name), never
// as [local] user, and never with [local] password: pggraph_web's password
// comes from ~/.pgpass of the user the CGI runs as, or from the file
// PGPASSFILE names (set by Apache's SetEnv). The authenticated user is
// REMOTE_USER; a request without one gets 403, as does a user who is
// not a user of this client: Apache checked the user's client against
// the directory's name (MATCH_CLIENT, from pggraph.conf, which then must
// be [local] prefix), or else the CGI looks it up in pggraph_users
// (client_users.client must be [local] prefix). Run for <www_path>/login
// (SCRIPT_NAME), it shows the login form, without reading a database: to
// anyone, with 401 when Apache shows it in place of a page (ErrorDocument
// 401; REDIRECT_* name that page). Once its response is out it closes
// stdout and stdin, so that Apache ends the request, and then writes its
// access log row.
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
// As a CGI it keeps the images and CSV it drew in cache/ beside
// config.ini for as long, and answers them from there without a database.
// Every request is appended to pggraph_users.client_access_log: as a CGI
// by way of the spool access.spool beside config.ini (one JSON line per
// request). The process that starts the spool runs this program again
// with -write-spool, on its own, which a second later writes every row
// gathered in one statement: a page and its images, fetched at once, cost
// one login to pggraph_users, not one each. When the spool cannot be
// written (the directory is not the CGI user's), each request writes its
// own row.
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
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
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
	socket := fs.String("serve", "", "serve FastCGI on this Unix socket, for Apache's mod_proxy_fcgi, until SIGTERM")
	writeSpool := fs.String("write-spool", "", "write the access log rows spooled beside this config.ini to the database, a second from now (the CGI starts it)")
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

	if *writeSpool != "" {
		quietRuntime(getenv, cgiHeapLimit)
		return writeSpooled(ctx, getenv, *writeSpool, log)
	}

	if *socket != "" {
		ln, err := listenSocket(ctx, *socket)
		if err != nil {
			return err
		}
		quietRuntime(getenv, serverHeapLimit)
		return serveFastCGI(ctx, ln, getenv, log)
	}

	if *listen == "" {
		if getenv("GATEWAY_INTERFACE") == "" {
			return cli.Usage(errors.New("not run by a web server (no GATEWAY_INTERFACE): use -listen ADDR -config FILE to try it"))
		}
		quietRuntime(getenv, cgiHeapLimit)
		path := configPath(getenv("SCRIPT_FILENAME"))
		h, err := newHandler(getenv, path, log, nil)
		if err != nil {
			// Apache shows the client a 500; the cause is in its error log.
			cgiFail(stdout)
			return err
		}
		h.behindApache(path)
		if h.spool != nil {
			h.writeSpool = func() error { return startSpoolWriter(path) }
		}
		uri := getenv("REQUEST_URI")
		finish := func() {}
		err = cgi.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.RequestURI == "" {
				r.RequestURI = uri // cgi.Request parses it into URL only
			}
			finish = h.respond(w, withVisit(r, visitFromEnv(getenv, r.URL)))
		}))
		// Apache ends the request when stdout and stdin close: the
		// client need not wait for the access log and the closing of
		// connections.
		os.Stdout.Close()
		os.Stdin.Close()
		finish()
		return err
	}

	if *cfgPath == "" {
		return cli.Usage(errors.New("-listen needs -config FILE"))
	}
	h, err := newHandler(getenv, *cfgPath, log, nil)
	if err != nil {
		return err
	}
	return serve(ctx, *listen, h, *devUser, stdout)
}

// startSpoolWriter runs this program again, on its own (the CGI need not
// wait for it), to write the access spool beside config.ini at path
// spoolDelay from now.
func startSpoolWriter(path string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("start the spool's writer: %w", err)
	}
	cmd := exec.Command(exe, "-write-spool", path)
	cmd.Stderr = os.Stderr // Apache's error log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the spool's writer: %w", err)
	}
	return cmd.Process.Release()
}

// writeSpooled is -write-spool: after spoolDelay, it writes the access
// spool beside config.ini at path to client_access_log.
func writeSpooled(ctx context.Context, getenv func(string) string, path string, log *slog.Logger) error {
	h, err := newHandler(getenv, path, log, nil)
	if err != nil {
		return err
	}
	select {
	case <-time.After(spoolDelay):
	case <-ctx.Done():
		return ctx.Err()
	}
	h.behindApache(path)
	if h.spool == nil {
		return fmt.Errorf("%s: the all-clients page keeps no access spool", path)
	}
	ctx, cancel := context.WithTimeout(ctx, closeTimeout)
	defer cancel()
	n, err := h.spool.write(ctx, h.openUsers)
	log.Debug("access spool written", logging.Client, h.site.Prefix, "rows", n)
	if err != nil {
		return fmt.Errorf("%s: access log: %w", h.site.Prefix, err)
	}
	// This process runs at most once a second while the pages are
	// visited: it also clears the image cache of what expired.
	if _, err := h.cache.sweep(); err != nil {
		return fmt.Errorf("%s: %w", h.site.Prefix, err)
	}
	return nil
}

// behindApache readies h for requests Apache authenticated, for the
// install directory of the config.ini at path: a user is required, and a
// client's pages keep the access spool and the image cache beside
// config.ini. The all-clients page keeps neither: operators' visits are
// few, and it draws no images.
func (h *handler) behindApache(path string) {
	h.needUser = true
	if h.site.Root {
		return
	}
	dir := filepath.Dir(path)
	h.spool = &spool{path: filepath.Join(dir, spoolName), now: time.Now}
	h.cache = &cache{dir: filepath.Join(dir, cacheDirName), now: time.Now}
}

// Heaps the garbage collector leaves alone: a CGI process, which lives
// for one request, never collects below cgiHeapLimit (a year graph or a
// full page needs less); the FastCGI server, whose live heap is a few
// MiB of templates, config and connections while each image allocates
// one or two MiB of canvas, collects when it reaches serverHeapLimit,
// not every time the heap doubles.
const (
	cgiHeapLimit    = 24 << 20
	serverHeapLimit = 32 << 20
)

// quietRuntime turns the garbage collector off up to limit: collecting
// sooner only costs time (about a tenth of an image's CPU in a CGI,
// half of it in the server at Go's default of collecting at twice the
// live heap). GOGC or GOMEMLIMIT in the environment keep the runtime's
// own settings. (pggraph.conf also sets GOMAXPROCS=1 for the CGI: one
// thread running Go code costs less to start and wake than two, 5–10%
// of its CPU, measured; set in the process instead, it costs more than
// it saves.)
func quietRuntime(getenv func(string) string, limit int64) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(limit)
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
// dependencies: a client's pages, or the all-clients page when the
// config.ini is the root's (config.LoadSite reads either, once). idle,
// when set, keeps its connections for later requests.
func newHandler(getenv func(string) string, path string, log *slog.Logger, idle *store.Idle) (*handler, error) {
	cfg, isRoot, err := config.LoadSite(path)
	if err != nil {
		return nil, cli.Usage(err)
	}
	if isRoot {
		root := cfg
		srv := webServer(getenv, root, idle)
		return &handler{
			site: site{Title: root.Install.Title, WWWPath: root.Install.WWWPath, Root: true},
			openClients: func(ctx context.Context) (clientsSource, error) {
				return retry(ctx, func() (clientsSource, error) { return store.OpenClients(ctx, srv) })
			},
			openUsers: func(ctx context.Context) (users, error) {
				return retry(ctx, func() (users, error) { return store.OpenUsers(ctx, srv) })
			},
			now: time.Now, log: log, version: buildVersion(),
		}, nil
	}
	srv := webServer(getenv, cfg, idle)
	samplesDB := cfg.Local.Database
	groups := metric.StoredGroups()
	return &handler{
		site: site{
			Prefix: cfg.Local.Prefix, Title: cfg.Install.Title, WWWPath: cfg.Install.WWWPath,
			MaxImages: cfg.PGGraph.MaxImages, Interval: cfg.PGGraph.Interval,
			Keep: cfg.PGGraph.Keep, Levels: levelsOf(cfg),
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

// webServer is how the CGI reaches the central PostgreSQL: cfg's [local]
// host and port, as the web role (PGGRAPH_WEB_USER, else pggraph_web),
// with no password: the pgpass file PGPASSFILE names (given to the driver
// as passfile, since a FastCGI request's PGPASSFILE is not the process
// environment the driver reads), else ~/.pgpass.
func webServer(getenv func(string) string, cfg *config.Config, idle *store.Idle) store.Server {
	role := getenv("PGGRAPH_WEB_USER")
	if role == "" {
		role = webRole
	}
	srv := store.LocalServer(config.Local{Host: cfg.Local.Host, Port: cfg.Local.Port, User: role})
	// A request runs each statement once: one round trip each, rather
	// than pgx's prepare and execute for a statement cache the process
	// never uses again.
	srv = srv.WithParam("default_query_exec_mode", "exec")
	if f := getenv("PGPASSFILE"); f != "" {
		srv = srv.WithParam("passfile", f)
	}
	srv.Idle = idle
	return srv
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
	base, dir := h.site.base(), h.site.dir()
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
