package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/pggraph/pggraph/graph"
	"github.com/pggraph/pggraph/internal/logging"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// requestTimeout bounds one request: connecting, reading and drawing.
const requestTimeout = 60 * time.Second

// site is what the pages need of the client's config.ini.
type site struct {
	Prefix    string        // [local] prefix: the client's tables
	Title     string        // [install] title
	WWWPath   string        // [install] www_path: links are /<WWWPath>/index.cgi…
	MaxImages int           // [pggraph] max_images: tables per page
	Interval  time.Duration // [pggraph] interval: how often data changes
	// Keep is [pggraph] keep_*_days: which tables still cover a range.
	Keep metric.Retention
	// Levels are the alert levels of the checks that have some
	// ([alerts], else the defaults): graphs draw them.
	Levels map[string]metric.Levels
	// Root: this is the all-clients page at the root of the install
	// directories (config.LoadSite), not a client's; Prefix is empty.
	Root bool
}

// dir is the URL path of the client's directory, which holds the pages
// (index.cgi), the login form and the logout.
func (s site) dir() string { return "/" + strings.Trim(s.WWWPath, "/") + "/" }

// base is the URL path of the client's pages.
func (s site) base() string { return s.dir() + "index.cgi" }

// samples is the central database as the pages read it; *store.Store
// implements it.
type samples interface {
	graph.Source
	graph.EventSource
	// LastCollected is when the client's data last changed (zero when
	// never).
	LastCollected(ctx context.Context, prefix string) (time.Time, error)
	// DataSince is when the client's oldest kept sample starts (zero
	// when it has none); pages read it, images never.
	DataSince(ctx context.Context, prefix string) (time.Time, error)
	// GroupsSeen names the metric groups with objects in [from, to), of
	// the client, a database or a table (store.Store.GroupsSeen); pages
	// show their optional graphs by it.
	GroupsSeen(ctx context.Context, prefix, db, table string, from, to time.Time) (map[string]bool, error)
	Close(ctx context.Context) error
}

// users is pggraph_users as the CGI uses it; *store.Users implements it.
type users interface {
	// UserClient returns the client a web user may see, an error
	// wrapping store.ErrNoUser for an unknown user.
	UserClient(ctx context.Context, name string) (string, error)
	// LogAccess appends rows to client_access_log.
	LogAccess(ctx context.Context, rows ...store.Access) error
	Close(ctx context.Context) error
}

var (
	_ samples = (*store.Store)(nil)
	_ users   = (*store.Users)(nil)
)

// handler serves one client's pages, images and CSV. It is an ordinary
// http.Handler: cgi.Serve runs it in production, net/http with -listen
// for development, httptest in tests. It may serve requests concurrently:
// each opens its own connections.
type handler struct {
	site site
	// openSamples and openUsers connect to the central databases, once
	// per request.
	openSamples func(ctx context.Context) (samples, error)
	openUsers   func(ctx context.Context) (users, error)
	// openClients connects to pggraph_clients for the all-clients page
	// (site.Root).
	openClients func(ctx context.Context) (clientsSource, error)
	now         func() time.Time
	log         *slog.Logger
	// version identifies the program build; it is part of every ETag, so
	// a new pggraph.cgi invalidates cached pages.
	version string
	// needUser refuses requests without an authenticated user (403): as
	// a CGI, the web server must have checked a login. The development
	// server serves its -user, or anyone.
	needUser bool
	// spool, when set, gathers the access log rows (the CGI); else each
	// request writes its own.
	spool *spool
	// writeSpool, when set, has another process write the spool out
	// spoolDelay from now; else the request that starts the spool does,
	// after waiting that long itself.
	writeSpool func() error
	// cache, when set, keeps the images and CSV drawn until the next
	// collection is due (the CGI).
	cache *cache
	// ahead, when set (with cache), draws a page's images as soon as the
	// page is rendered (the FastCGI server).
	ahead *ahead
}

// recorder remembers the status a handler sent.
type recorder struct {
	http.ResponseWriter
	status int
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// pending is a connection being opened in the background; get waits for
// it, once.
type pending[T any] struct {
	ch  chan struct{}
	v   T
	err error
}

func openAsync[T any](ctx context.Context, open func(context.Context) (T, error)) *pending[T] {
	p := &pending[T]{ch: make(chan struct{})}
	go func() {
		p.v, p.err = open(ctx)
		close(p.ch)
	}()
	return p
}

func (p *pending[T]) get() (T, error) {
	<-p.ch
	return p.v, p.err
}

// closeTimeout bounds the cleanup after a response: closing connections,
// writing the access log row.
const closeTimeout = 10 * time.Second

// ServeHTTP answers one request: the login form when the visit asks for
// it (no database read, no log row), else authorization (403), the query
// string (400, 404), then the page, image or CSV, 304 when the client's
// copy is current. Internal faults are one line with 500, never a stack
// trace. Every request but the login form's is logged to
// client_access_log; a failure to log goes to the logger only.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.respond(w, r)()
}

// respond is ServeHTTP up to the response; it returns the rest, which
// the client need not wait for: closing the connections and the access
// log. The CGI runs that once its response is out.
func (h *handler) respond(rw http.ResponseWriter, r *http.Request) (finish func()) {
	v := visitOf(r)
	if v.Login != nil {
		h.loginPage(rw, r, v.Login)
		return func() {}
	}
	w := &recorder{ResponseWriter: rw}
	log := h.log.With(logging.Client, h.site.Prefix)
	start := time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	// The connections open while the request is parsed. pggraph_users is
	// needed for the user's client, unless Apache checked it for this
	// client's directory, and for the access log row, unless the spool
	// takes it.
	conns := &conns{}
	if (v.User != "" && (v.Client == "" || h.site.Root)) || h.spool == nil {
		conns.users = openAsync(ctx, h.openUsers)
	}
	var req request
	var perr *httpError
	if h.site.Root {
		if req, perr = parseRoot(r.URL.RawQuery); perr == nil {
			conns.clients = openAsync(ctx, h.openClients)
		}
	} else if req, perr = h.parse(r.URL.RawQuery); perr == nil {
		if req.Kind == kindGraph && h.cache != nil {
			key := h.cacheKey(req)
			if conns.hit = h.cache.get(key); conns.hit == nil && h.ahead != nil {
				conns.hit = h.ahead.wait(ctx, key)
			}
		}
		if conns.hit == nil {
			conns.samples = openAsync(ctx, h.openSamples)
		}
	}
	func() {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error(fmt.Sprintf("panic: %v", v), logging.Step, "serve", "stack", string(debug.Stack()))
				if w.status == 0 {
					h.fail(w, &httpError{http.StatusInternalServerError, "internal error"})
				}
			}
		}()
		herr := h.serve(ctx, log, w, r, conns, req, perr)
		if h.ahead != nil && h.cache != nil && len(conns.images) > 0 {
			h.ahead.page(h, conns.images)
		}
		if herr != nil {
			if herr.Status >= 500 {
				log.Error(herr.Msg, logging.Step, "serve", "query", r.URL.RawQuery)
				herr = &httpError{herr.Status, herr.public()}
			}
			h.fail(w, herr)
		}
	}()
	return func() {
		defer cancel()
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer ccancel()
		if conns.samples != nil {
			if src, err := conns.samples.get(); err == nil {
				if err := src.Close(cctx); err != nil {
					log.Warn(err.Error(), logging.Step, "samples")
				}
			}
		}
		if conns.clients != nil {
			if src, err := conns.clients.get(); err == nil {
				if err := src.Close(cctx); err != nil {
					log.Warn(err.Error(), logging.Step, "clients")
				}
			}
		}
		if conns.drawn != nil && h.cache != nil {
			if err := h.cache.put(h.cacheKey(req), conns.drawn); err != nil {
				log.Debug(err.Error(), logging.Step, "cache")
			}
		}
		h.logAccess(cctx, log, conns.users, r, w.status, start)
		log.Debug("request done", "status", w.status, "cached", conns.hit != nil, "ms", time.Since(start).Milliseconds())
	}
}

// conns are a request's connections to the central databases, each nil
// when the request needs none, and its cache entries: the one that
// answers it (hit), or the one it drew (drawn).
type conns struct {
	users      *pending[users]
	samples    *pending[samples]
	clients    *pending[clientsSource]
	hit, drawn *entry
	// images are the srcs of the images of the page it rendered.
	images []string
}

// logAccess writes the request's row to client_access_log: to the spool,
// and when this process is the one to write the spool out, that too,
// spoolDelay after the request started; else (no spool, or it failed)
// straight through the users connection, opened now if p is nil. It
// closes the users connection.
func (h *handler) logAccess(ctx context.Context, log *slog.Logger, p *pending[users], r *http.Request, status int, start time.Time) {
	if status == 0 {
		status = http.StatusOK
	}
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	a := store.Access{Login: visitOf(r).User, Date: h.now(), Request: uri, IP: remoteIP(r.RemoteAddr), Status: status}
	var u users
	if p != nil {
		var err error
		if u, err = p.get(); err != nil {
			u = nil
			log.Error("access log: "+err.Error(), logging.Step, "users")
		}
	}
	defer func() {
		if u != nil {
			if err := u.Close(ctx); err != nil {
				log.Warn(err.Error(), logging.Step, "users")
			}
		}
	}()
	if h.spool != nil {
		write, err := h.spool.add(a)
		if err == nil {
			if write {
				h.startWriting(ctx, log, start)
			}
			return
		}
		log.Warn(err.Error()+"; writing the row at once (the install directory must be writable by the CGI's user)", logging.Step, "access log")
	}
	if u == nil {
		var err error
		if u, err = h.openUsers(ctx); err != nil {
			u = nil
			log.Error("access log: "+err.Error(), logging.Step, "users")
			return
		}
	}
	if err := u.LogAccess(ctx, a); err != nil {
		log.Error(err.Error(), logging.Step, "access log")
	}
}

// startWriting has the spool written out spoolDelay after start: by
// writeSpool's process, or else (or when it cannot start) by this one.
func (h *handler) startWriting(ctx context.Context, log *slog.Logger, start time.Time) {
	if h.writeSpool != nil {
		err := h.writeSpool()
		if err == nil {
			return
		}
		log.Warn(err.Error()+"; writing the spool from this process", logging.Step, "access log")
	}
	select {
	case <-time.After(time.Until(start.Add(spoolDelay))):
	case <-ctx.Done():
	}
	n, err := h.spool.write(ctx, h.openUsers)
	if err != nil {
		log.Error(err.Error(), logging.Step, "access log")
	}
	log.Debug("access spool written", "rows", n)
}

// Kinds of internal fault the client is told about.
const (
	msgUsersDown   = "user database unavailable"
	msgSamplesDown = "central database unavailable"
)

// public is the text of an error the client may see: the message of a
// 4xx, or for a 5xx only what kind of fault it was.
func (e *httpError) public() string {
	if e.Status < 500 {
		return e.Msg
	}
	for _, m := range []string{msgUsersDown, msgSamplesDown} {
		if strings.HasPrefix(e.Msg, m) {
			return m
		}
	}
	return "internal error"
}

// serve does the request's work; an error is the response to send.
func (h *handler) serve(ctx context.Context, log *slog.Logger, w http.ResponseWriter, r *http.Request, c *conns, req request, perr *httpError) *httpError {
	start := time.Now()
	step := func(name string) {
		log.Debug(name, logging.Step, "serve", "ms", float64(time.Since(start).Microseconds())/1000)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return &httpError{http.StatusMethodNotAllowed, "only GET and HEAD"}
	}
	// Who may see what comes before anything about the request.
	user := visitOf(r).User
	if user == "" && h.needUser {
		return &httpError{http.StatusForbidden, "no login: the web server did not authenticate the request"}
	}
	switch {
	case user != "" && visitOf(r).Client != "" && !h.site.Root:
		// Apache checked the user against the client of this directory
		// (pggraph.conf's dbd-group): it must be this config.ini's.
		if c := visitOf(r).Client; c != h.site.Prefix {
			log.Error(fmt.Sprintf("Apache serves this directory as client %s's, but its config.ini is client %s's: name the directory %s", c, h.site.Prefix, h.site.Prefix), logging.Step, "serve")
			return &httpError{http.StatusForbidden, "user " + quoteValue(user) + " may not see this client"}
		}
	case user != "":
		u, err := c.users.get()
		if err != nil {
			return &httpError{http.StatusInternalServerError, msgUsersDown + ": " + err.Error()}
		}
		step("users connected")
		client, err := u.UserClient(ctx, user)
		step("user checked")
		switch {
		case h.site.Root && (errors.Is(err, store.ErrNoUser) || (err == nil && client != store.AllClients)):
			return &httpError{http.StatusForbidden, "user " + quoteValue(user) + " may not see every client (operators only: web users of client *)"}
		case errors.Is(err, store.ErrNoUser) || (err == nil && client != h.site.Prefix && client != store.AllClients):
			return &httpError{http.StatusForbidden, "user " + quoteValue(user) + " may not see this client"}
		case err != nil:
			return &httpError{http.StatusInternalServerError, msgUsersDown + ": " + err.Error()}
		}
	}
	if perr != nil {
		return perr
	}
	if h.site.Root {
		body, herr := h.clientsPage(ctx, c.clients, visitOf(r))
		if herr != nil {
			return herr
		}
		step("rendered")
		// Per user, and new at every collection of any client.
		w.Header().Set("Cache-Control", "no-store")
		h.send(w, r, req, "text/html; charset=utf-8", body)
		return nil
	}
	if e := c.hit; e != nil {
		step("cached")
		if !h.cached(w, r, e.ETag, e.Last) {
			h.send(w, r, req, e.Type, e.Body)
		}
		return nil
	}
	src, err := c.samples.get()
	if err != nil {
		return &httpError{http.StatusInternalServerError, msgSamplesDown + ": " + err.Error()}
	}
	step("samples connected")
	last, err := src.LastCollected(ctx, h.site.Prefix)
	if err != nil {
		return &httpError{http.StatusInternalServerError, msgSamplesDown + ": " + err.Error()}
	}
	step("last collection read")
	tag := h.etag(req, last, visitOf(r))
	if h.cached(w, r, tag, last) {
		return nil
	}
	var body []byte
	var ctype string
	var herr *httpError
	switch {
	case req.Kind == kindGraph:
		body, ctype, herr = h.graph(ctx, src, req)
	case req.Kind == pageQueries && req.CSV:
		body, herr = h.queriesCSV(ctx, src, req)
		ctype = "text/csv; charset=utf-8"
	case req.Kind == pageEvents && req.CSV:
		body, herr = h.eventsCSV(ctx, src, req)
		ctype = "text/csv; charset=utf-8"
	case req.Kind == pageAlerts && req.CSV:
		body, herr = h.alertsCSV(ctx, src)
		ctype = "text/csv; charset=utf-8"
	default:
		body, c.images, herr = h.page(ctx, src, req, last, visitOf(r))
		ctype = "text/html; charset=utf-8"
	}
	if herr != nil {
		return herr
	}
	step("rendered")
	h.send(w, r, req, ctype, body)
	if req.Kind == kindGraph && !last.IsZero() {
		c.drawn = h.entryOf(req, last, ctype, body)
	}
	return nil
}

// entryOf is the cache entry of req's image or CSV, drawn from the data
// collected at last: it lasts until the next collection is due.
func (h *handler) entryOf(req request, last time.Time, ctype string, body []byte) *entry {
	return &entry{ETag: h.etag(req, last, visit{}), Type: ctype, Last: last, Expires: last.Add(h.site.Interval), Body: body}
}

// parse parses a request's query string at h's now, for h's client.
func (h *handler) parse(rawQuery string) (request, *httpError) {
	req, perr := parseRequest(rawQuery, h.now())
	req.Range.Keep = h.site.Keep
	return req, perr
}

// withSamples runs fn with a connection of its own to the samples
// database, closed (or kept, Server.Idle) after it.
func (h *handler) withSamples(ctx context.Context, fn func(samples) error) (err error) {
	src, err := h.openSamples(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", msgSamplesDown, err)
	}
	defer func() {
		if cerr := src.Close(ctx); cerr != nil && err == nil {
			err = cerr
		}
	}()
	return fn(src)
}

// lastCollected reads when the client was last collected, with a
// connection of its own.
func (h *handler) lastCollected(ctx context.Context) (last time.Time, err error) {
	err = h.withSamples(ctx, func(src samples) error {
		last, err = src.LastCollected(ctx, h.site.Prefix)
		return err
	})
	return last, err
}

// drawEntry draws req's image (or CSV) with a connection of its own, as
// a cache entry; nil when nothing is collected yet.
func (h *handler) drawEntry(ctx context.Context, req request) (e *entry, err error) {
	err = h.withSamples(ctx, func(src samples) error {
		last, err := src.LastCollected(ctx, h.site.Prefix)
		if err != nil || last.IsZero() {
			return err
		}
		body, ctype, herr := h.graph(ctx, src, req)
		if herr != nil {
			return errors.New(herr.Msg)
		}
		e = h.entryOf(req, last, ctype, body)
		return nil
	})
	return e, err
}

// send writes a 200 response to req, its caching headers set.
func (h *handler) send(w http.ResponseWriter, r *http.Request, req request, ctype string, body []byte) {
	hd := w.Header()
	hd.Set("Content-Type", ctype)
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	hd.Set("X-Content-Type-Options", "nosniff")
	if req.CSV {
		hd.Set("Content-Disposition", fmt.Sprintf(`inline; filename="%s.csv"`, cmp.Or(req.Graph, req.Kind)))
	}
	if req.Kind != kindGraph {
		hd.Set("Content-Security-Policy", csp)
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// fail sends an error response: the status and one line of text.
func (h *handler) fail(w http.ResponseWriter, e *httpError) {
	hd := w.Header()
	hd.Del("ETag")
	hd.Del("Last-Modified")
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	fmt.Fprintf(w, "%d %s: %s\n", e.Status, http.StatusText(e.Status), oneLine(e.Msg))
}

// cached sets the validators of a response about data collected at last,
// tagged tag, and answers 304 when the client's copy matches. Nothing is
// cached before the first collection.
func (h *handler) cached(w http.ResponseWriter, r *http.Request, tag string, last time.Time) bool {
	hd := w.Header()
	if last.IsZero() {
		hd.Set("Cache-Control", "no-cache")
		return false
	}
	hd.Set("ETag", tag)
	hd.Set("Last-Modified", last.UTC().Format(http.TimeFormat))
	hd.Set("Cache-Control", "private, max-age="+strconv.Itoa(maxAge(last, h.site.Interval, h.now())))
	notModified := false
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		notModified = etagMatch(inm, tag)
	} else if ims, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil {
		notModified = !last.Truncate(time.Second).After(ims)
	}
	if notModified {
		w.WriteHeader(http.StatusNotModified)
	}
	return notModified
}

// maxAge is how many seconds a response stays fresh: until the next
// collection is due (last + interval), at least 0.
func maxAge(last time.Time, interval time.Duration, now time.Time) int {
	return max(0, int(last.Add(interval).Sub(now)/time.Second))
}

// etag identifies a response: the data's version, the request, the site
// settings, the login a page shows (an image shows none), and the
// program's build.
func (h *handler) etag(req request, last time.Time, who visit) string {
	sum := sha256.New()
	if req.Kind != kindGraph {
		fmt.Fprintf(sum, "%s\x00%t\x00", who.User, who.Form)
	}
	fmt.Fprintf(sum, "%s\x00%d\x00%s\x00%s\x00%s\x00%d\x00%d\x00",
		h.version, last.UnixNano(), h.site.Prefix, h.site.Title, h.site.WWWPath, h.site.MaxImages, h.site.Interval)
	fmt.Fprintf(sum, "%v\x00", h.site.Levels) // fmt sorts a map's keys
	fmt.Fprintf(sum, "%s\x00%s\x00%s\x00%d\x00%s\x00%s\x00%t\x00%d\x00%d\x00%s\x00%s\x00%s\x00%t\x00%t\x00%s",
		req.Kind, req.DB, req.Table+"\x00"+req.ID, req.Page, req.Sort, req.Graph, req.CSV, req.Width, req.Height, req.RangeName, req.From, req.To,
		req.NoEvents, req.Compare, req.EventKind)
	return `"` + hex.EncodeToString(sum.Sum(nil)[:12]) + `"`
}

// cacheKey names req's image or CSV in the cache: its ETag but for the
// data's version, which the entry holds.
func (h *handler) cacheKey(req request) string {
	return strings.Trim(h.etag(req, time.Time{}, visit{}), `"`)
}

// etagMatch reports whether an If-None-Match header matches tag (weak
// comparison, as RFC 9110 asks for If-None-Match).
func etagMatch(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == tag {
			return true
		}
	}
	return false
}

// remoteIP is the address part of RemoteAddr ("host:port", or a bare
// host from a CGI environment without REMOTE_PORT).
func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// graph draws one image or writes its CSV.
func (h *handler) graph(ctx context.Context, src samples, req request) ([]byte, string, *httpError) {
	d, err := graph.Load(ctx, src, h.site.Prefix, graph.Query{
		Graph: req.Graph, DB: req.DB, Table: req.Table, Range: req.Range, Width: req.Width, Height: req.Height,
		Levels: h.site.Levels,
	})
	if herr := dataError(err, req); herr != nil {
		return nil, "", herr
	}
	if req.Compare {
		if err := graph.LoadPrevious(ctx, src, h.site.Prefix, d); err != nil {
			return nil, "", dataError(err, req)
		}
	}
	if !req.NoEvents && !req.CSV {
		if err := graph.LoadEvents(ctx, src, h.site.Prefix, d); err != nil {
			return nil, "", dataError(err, req)
		}
	}
	var buf bytes.Buffer
	if req.CSV {
		if err := d.CSV(&buf); err != nil {
			return nil, "", &httpError{http.StatusInternalServerError, err.Error()}
		}
		return buf.Bytes(), "text/csv; charset=utf-8", nil
	}
	if err := d.PNG(&buf); err != nil {
		return nil, "", &httpError{http.StatusInternalServerError, err.Error()}
	}
	return buf.Bytes(), "image/png", nil
}

// dataError maps an error of package graph to a response: an unknown
// database or table is 404, a query no data can answer 400, anything
// else 500 (its text for the log only).
func dataError(err error, req request) *httpError {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, graph.ErrNotFound):
		if req.Table != "" {
			return notFound("no table %s in database %s", quoteValue(req.Table), quoteValue(req.DB))
		}
		return notFound("no database %s", quoteValue(req.DB))
	case errors.Is(err, graph.ErrBadQuery), errors.Is(err, graph.ErrBadRange):
		return badRequest("%s", oneLine(err.Error()))
	}
	return &httpError{http.StatusInternalServerError, err.Error()}
}
