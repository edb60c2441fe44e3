package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/pggraph/pggraph/internal/cli"
	"github.com/pggraph/pggraph/internal/logging"
	"github.com/pggraph/pggraph/internal/store"
)

// Connections the FastCGI server keeps between requests, per central
// database (every client's pages read the same samples database): enough
// for the requests a browser makes at once (six) and their access log
// rows. They are closed after idleMaxAge unused, or when the server stops.
const (
	idleConns  = 8
	idleMaxAge = time.Minute
)

// aheadSlots is how many images the FastCGI server draws ahead at once:
// one per CPU, and one more to use a CPU while another drawing waits for
// PostgreSQL.
func aheadSlots() int { return runtime.GOMAXPROCS(0) + 1 }

// sweepEvery is how often the FastCGI server clears a client's image
// cache of what expired (the CGI's spool writer does it for the CGI).
const sweepEvery = time.Minute

// listenSocket listens on the Unix socket at path for Apache's
// mod_proxy_fcgi, readable and writable by this user and its group only.
// A socket file left by a server that is gone is replaced; anything else
// at path, or a server still answering there, is an error.
func listenSocket(ctx context.Context, path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("listen on %s: it exists and is not a socket", path)
		}
		var d net.Dialer
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := d.DialContext(dctx, "unix", path)
		cancel()
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("listen on %s: another server is listening there", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("listen on %s: remove the old socket: %w", path, err)
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return ln, nil
}

// serveFastCGI serves FastCGI requests on ln, concurrently, until ctx
// ends (SIGTERM): every client's pages, each by the config.ini beside the
// script Apache ran (SCRIPT_FILENAME, a request parameter like
// REMOTE_USER and the rest of a CGI's environment), with the central
// database's connections kept between requests. The process environment
// (getenv) fills in what a request does not set. Each request's access
// log row is spooled, and its connections handed back, after its
// response is out. Images are drawn ahead (ahead). At the end it waits
// for those and the spool's writing, up to closeTimeout, and for the
// drawing ahead to stop.
func serveFastCGI(ctx context.Context, ln net.Listener, getenv func(string) string, log *slog.Logger) error {
	actx, stopDrawing := context.WithCancel(ctx)
	defer stopDrawing()
	s := &sites{log: log, idle: store.NewIdle(idleConns, idleMaxAge), byKey: map[string]*siteEntry{}, now: time.Now,
		ahead: newAhead(actx, aheadSlots(), log)}
	var running sync.WaitGroup
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		running.Add(1)
		env := fcgi.ProcessEnv(r)
		get := func(k string) string {
			if v, ok := env[k]; ok {
				return v
			}
			return getenv(k)
		}
		e, err := s.site(get, configPath(get("SCRIPT_FILENAME")))
		if err != nil {
			running.Done()
			log.Error(cli.OneLine(err), logging.Step, "config")
			http.Error(w, "500 Internal Server Error: configuration error", http.StatusInternalServerError)
			return
		}
		finish := e.h.respond(w, withVisit(r, visitFromEnv(get, r.URL)))
		go func() {
			defer running.Done()
			finish()
			s.sweep(e)
		}()
	})
	s.ahead.run()
	errc := make(chan error, 1)
	go func() { errc <- fcgi.Serve(ln, h) }()
	// Idle connections go after idleMaxAge, requests or none.
	pctx, stopPruning := context.WithCancel(ctx)
	defer stopPruning()
	go func() {
		prune := time.NewTicker(idleMaxAge / 2)
		defer prune.Stop()
		for {
			select {
			case <-prune.C:
				if err := s.idle.Prune(pctx); err != nil {
					log.Warn(err.Error(), logging.Step, "connections")
				}
			case <-pctx.Done():
				return
			}
		}
	}()
	var err error
	select {
	case err = <-errc:
		err = fmt.Errorf("serve fastcgi: %w", err)
	case <-ctx.Done():
		ln.Close()
		<-errc
	}
	done := make(chan struct{})
	go func() { running.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeTimeout):
		log.Warn("requests still running at exit", logging.Step, "stop")
	}
	stopDrawing()
	s.ahead.stop()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	return errors.Join(err, s.idle.Close(cctx))
}

// sites are the handlers of the FastCGI server, one per config.ini
// (and web role and pgpass file) it has served, each built again when its
// config.ini changes.
type sites struct {
	log   *slog.Logger
	idle  *store.Idle
	ahead *ahead
	now   func() time.Time

	mu    sync.Mutex
	byKey map[string]*siteEntry
}

// siteEntry is one config.ini's handler.
type siteEntry struct {
	h     *handler
	stamp fileStamp

	mu    sync.Mutex
	swept time.Time
}

// fileStamp tells a file's versions apart.
type fileStamp struct {
	mod        time.Time
	size       int64
	dev, inode uint64
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, fmt.Errorf("read %s: %w", path, err)
	}
	st := fileStamp{mod: fi.ModTime(), size: fi.Size()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.dev, st.inode = sys.Dev, sys.Ino
	}
	return st, nil
}

// site returns the handler of the config.ini at path, as getenv (the
// request's environment) sets the web role and pgpass file.
func (s *sites) site(getenv func(string) string, path string) (*siteEntry, error) {
	st, err := stampOf(path)
	if err != nil {
		return nil, err
	}
	key := path + "\x00" + getenv("PGGRAPH_WEB_USER") + "\x00" + getenv("PGPASSFILE")
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.byKey[key]; e != nil && e.stamp == st {
		return e, nil
	}
	h, err := newHandler(getenv, path, s.log, s.idle)
	if err != nil {
		return nil, err
	}
	// The spool is written out by this process (no writeSpool): a second
	// after the request that starts it, in the background, every row
	// gathered meanwhile in one statement.
	h.behindApache(path)
	h.ahead = s.ahead
	e := &siteEntry{h: h, stamp: st}
	s.byKey[key] = e
	return e, nil
}

// sweep clears e's image cache of what expired, at most every sweepEvery.
func (s *sites) sweep(e *siteEntry) {
	if e.h.cache == nil {
		return
	}
	e.mu.Lock()
	due := s.now().Sub(e.swept) >= sweepEvery
	if due {
		e.swept = s.now()
	}
	e.mu.Unlock()
	if !due {
		return
	}
	if _, err := e.h.cache.sweep(); err != nil {
		s.log.Warn(err.Error(), logging.Client, e.h.site.Prefix, logging.Step, "cache")
	}
}
