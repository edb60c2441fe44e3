package main

import (
	"context"
	"log/slog"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/pggraph/pggraph/internal/logging"
)

// How the FastCGI server keeps the images users look at drawn: those of
// the pages shown in the last hotFor, at most hotMax per client, are
// drawn again as soon as a new collection of the client is stored. It
// looks for one every refreshEvery: one read of the client's one-row
// state table.
const (
	hotFor       = 24 * time.Hour
	hotMax       = 200
	refreshEvery = 5 * time.Second
)

// ahead draws images before browsers ask for them, for the FastCGI
// server (a CGI process ends with its response, so it draws nothing
// ahead):
//
//   - a page's images as soon as the page is rendered, while the browser
//     is still reading it;
//   - after each collection of a client, the images of its pages shown
//     lately (hotFor), as Munin draws its graphs after each run but only
//     those somebody looks at.
//
// They go to the client's image cache. A request for an image being
// drawn waits for that drawing instead of doing it again. At most slots
// images are drawn ahead at once; a browser's own requests are not
// limited by it.
type ahead struct {
	// ctx is the server's: the drawing ends when it does.
	ctx   context.Context
	log   *slog.Logger
	slots chan struct{}
	wg    sync.WaitGroup

	mu      sync.Mutex
	drawing map[string]*flight // by cache key
	hot     map[string]*hotSet // by cache directory: one per client
}

// flight is one image being drawn ahead: done is closed when it is over,
// e is then the image, or nil when it could not be drawn (the request
// waiting for it draws it itself, and answers why).
type flight struct {
	done chan struct{}
	e    *entry
}

// hotSet is the images of one client's pages shown lately.
type hotSet struct {
	h      *handler // the client's newest (its config.ini's latest)
	images map[string]hotImage
	// last is the newest collection they were drawn from.
	last time.Time
	// failing: reading when it was last collected failed last time
	// (said once, not every refreshEvery).
	failing bool
}

// hotImage is one image of a page shown: its query string, when, and
// its place on the page.
type hotImage struct {
	query string
	seen  time.Time
	place int
}

func newAhead(ctx context.Context, slots int, log *slog.Logger) *ahead {
	return &ahead{ctx: ctx, log: log, slots: make(chan struct{}, slots),
		drawing: map[string]*flight{}, hot: map[string]*hotSet{}}
}

// page starts drawing h's page's images srcs (the src of each <img>, in
// page order) that are neither cached nor being drawn, and remembers
// them as shown.
func (a *ahead) page(h *handler, srcs []string) {
	now := h.now()
	var reqs []request
	var keys []string
	a.mu.Lock()
	set := a.hot[h.cache.dir]
	if set == nil {
		set = &hotSet{images: map[string]hotImage{}}
		a.hot[h.cache.dir] = set
	}
	set.h = h
	for place, src := range srcs {
		u, err := url.Parse(src)
		if err != nil {
			continue
		}
		req, ok := h.imageRequest(u.RawQuery)
		if !ok {
			continue
		}
		key := h.cacheKey(req)
		set.images[key] = hotImage{query: u.RawQuery, seen: now, place: place}
		reqs, keys = append(reqs, req), append(keys, key)
	}
	set.trim()
	a.mu.Unlock()
	for i, req := range reqs {
		a.start(set, h, req, keys[i], time.Time{})
	}
}

// imageRequest parses an image's query string, false when it is
// not one.
func (h *handler) imageRequest(rawQuery string) (request, bool) {
	req, perr := h.parse(rawQuery)
	return req, perr == nil && req.Kind == kindGraph && !req.CSV
}

// trim keeps the hotMax images shown last. The caller holds a.mu.
func (s *hotSet) trim() {
	if len(s.images) <= hotMax {
		return
	}
	keys := make([]string, 0, len(s.images))
	for k := range s.images {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return s.images[keys[i]].seen.After(s.images[keys[j]].seen) })
	for _, k := range keys[hotMax:] {
		delete(s.images, k)
	}
}

// start draws req (key) into h's cache in the background unless it is
// being drawn, or cached from collection since or a later one.
func (a *ahead) start(set *hotSet, h *handler, req request, key string, since time.Time) {
	if e := h.cache.get(key); e != nil && !e.Last.Before(since) {
		return
	}
	a.mu.Lock()
	if a.drawing[key] != nil {
		a.mu.Unlock()
		return
	}
	f := &flight{done: make(chan struct{})}
	a.drawing[key] = f
	a.mu.Unlock()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer func() {
			a.mu.Lock()
			delete(a.drawing, key)
			if f.e != nil && f.e.Last.After(set.last) {
				set.last = f.e.Last
			}
			a.mu.Unlock()
			close(f.done)
		}()
		select {
		case a.slots <- struct{}{}:
		case <-a.ctx.Done():
			return
		}
		defer func() { <-a.slots }()
		e, err := h.drawEntry(a.ctx, req)
		if err != nil {
			// The browser's own request draws it again, and answers
			// (and logs) the error as it must.
			a.log.Debug("draw ahead: "+err.Error(), logging.Client, h.site.Prefix, logging.Step, "draw ahead")
			return
		}
		if e == nil {
			return
		}
		if err := h.cache.put(key, e); err != nil {
			a.log.Debug(err.Error(), logging.Client, h.site.Prefix, logging.Step, "cache")
		}
		f.e = e
	}()
}

// wait returns the image of key once it is drawn ahead, nil when it is
// not being drawn, could not be, or ctx ends first.
func (a *ahead) wait(ctx context.Context, key string) *entry {
	a.mu.Lock()
	f := a.drawing[key]
	a.mu.Unlock()
	if f == nil {
		return nil
	}
	select {
	case <-f.done:
		return f.e
	case <-ctx.Done():
		return nil
	}
}

// run refreshes every refreshEvery until the server stops.
func (a *ahead) run() {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		t := time.NewTicker(refreshEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				a.refresh()
			case <-a.ctx.Done():
				return
			}
		}
	}()
}

// refresh forgets the images not shown for hotFor and, for each client
// with images left, reads when it was last collected: when that is newer
// than its images, it starts drawing them again.
func (a *ahead) refresh() {
	type client struct {
		set *hotSet
		h   *handler
	}
	var clients []client
	a.mu.Lock()
	for dir, set := range a.hot {
		now := set.h.now()
		for k, im := range set.images {
			if now.Sub(im.seen) > hotFor {
				delete(set.images, k)
			}
		}
		if len(set.images) == 0 {
			delete(a.hot, dir)
			continue
		}
		clients = append(clients, client{set, set.h})
	}
	a.mu.Unlock()
	for _, c := range clients {
		last, err := c.h.lastCollected(a.ctx)
		a.mu.Lock()
		was := c.set.failing
		c.set.failing = err != nil
		if err != nil {
			a.mu.Unlock()
			if !was {
				a.log.Warn("draw ahead: "+err.Error(), logging.Client, c.h.site.Prefix, logging.Step, "draw ahead")
			}
			continue
		}
		if !last.After(c.set.last) {
			a.mu.Unlock()
			continue
		}
		c.set.last = last
		shown := make([]hotImage, 0, len(c.set.images))
		for _, im := range c.set.images {
			shown = append(shown, im)
		}
		a.mu.Unlock()
		// The page shown last first, in page order.
		sort.Slice(shown, func(i, j int) bool {
			if !shown[i].seen.Equal(shown[j].seen) {
				return shown[i].seen.After(shown[j].seen)
			}
			return shown[i].place < shown[j].place
		})
		for _, im := range shown {
			if req, ok := c.h.imageRequest(im.query); ok {
				a.start(c.set, c.h, req, c.h.cacheKey(req), last)
			}
		}
	}
}

// stop waits for the drawing to end: the server's ctx ended, or every
// drawing did.
func (a *ahead) stop() { a.wg.Wait() }
