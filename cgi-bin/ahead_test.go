package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pggraph/pggraph/internal/store"
)

// gatedSamples holds every Series read (drawing an image) until gate is
// closed.
type gatedSamples struct {
	*fakeSamples
	gate chan struct{}
}

func (g gatedSamples) Series(ctx context.Context, q store.SeriesQuery) ([]store.SeriesRow, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.fakeSamples.Series(ctx, q)
}

// aheadSite is a handler of client acme with an image cache and an
// ahead, and a count of the connections it opened to the samples.
type aheadSite struct {
	h      *handler
	a      *ahead
	src    *fakeSamples
	gate   chan struct{}
	mu     sync.Mutex
	opened int
	clock  time.Time
}

func newAheadSite(t *testing.T) *aheadSite {
	s := &aheadSite{src: newFakeSamples(), gate: make(chan struct{}), clock: now}
	close(s.gate)
	s.h = testHandler(t, s.src, &fakeUsers{}, nil)
	s.h.now = func() time.Time {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.clock
	}
	s.h.cache = &cache{dir: filepath.Join(t.TempDir(), cacheDirName), now: s.h.now}
	s.h.openSamples = func(context.Context) (samples, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.opened++
		return gatedSamples{s.src, s.gate}, nil
	}
	s.a = newAhead(t.Context(), 2, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.h.ahead = s.a
	return s
}

func (s *aheadSite) serve(target string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	s.h.respond(w, withVisit(r, visit{User: "alice", Client: "acme", Form: true}))()
	return w
}

func (s *aheadSite) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opened
}

// images are the srcs of a page's images, and their cache keys.
func (s *aheadSite) images(t *testing.T, page string) (srcs, keys []string) {
	t.Helper()
	for _, src := range attrs(page, "src") {
		u, err := url.Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		req, ok := s.h.imageRequest(u.RawQuery)
		if !ok {
			t.Fatalf("src %q is no image", src)
		}
		srcs, keys = append(srcs, src), append(keys, s.h.cacheKey(req))
	}
	if len(srcs) < 3 {
		t.Fatalf("the page has %d images", len(srcs))
	}
	return srcs, keys
}

// TestAheadDrawsPageImages: once a page is rendered, each of its images
// is drawn into the cache, once, with a connection of its own, and the
// browser's requests for them read no database; a request for an image
// still being drawn waits for it rather than drawing it again.
func TestAheadDrawsPageImages(t *testing.T) {
	for _, tc := range []struct {
		name string
		// held: the drawing is held until the browser asks for the
		// first image.
		held bool
	}{{"drawn before asked", false}, {"asked while drawing", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newAheadSite(t)
			if tc.held {
				s.gate = make(chan struct{})
			}
			page := s.serve(base)
			if page.Code != 200 {
				t.Fatalf("page: %d %s", page.Code, page.Body)
			}
			srcs, keys := s.images(t, page.Body.String())
			answered := make(chan *httptest.ResponseRecorder, 1)
			if tc.held {
				go func() { answered <- s.serve(srcs[0]) }()
				select {
				case w := <-answered:
					t.Fatalf("the image being drawn was answered before it was drawn: %d", w.Code)
				case <-time.After(100 * time.Millisecond):
				}
				close(s.gate)
			}
			s.a.stop()
			if got, want := s.connections(), 1+len(srcs); got != want {
				t.Errorf("%d connections for the page and its %d images, want %d", got, len(srcs), want)
			}
			for i, key := range keys {
				e := s.h.cache.get(key)
				if e == nil || !e.Last.Equal(s.src.last) || !bytes.HasPrefix(e.Body, []byte("\x89PNG")) {
					t.Fatalf("image %d (%s) not in the cache: %+v", i, srcs[i], e)
				}
				var w *httptest.ResponseRecorder
				if tc.held && i == 0 {
					w = <-answered
				} else {
					w = s.serve(srcs[i])
				}
				if w.Code != 200 || w.Header().Get("ETag") != e.ETag || !bytes.Equal(w.Body.Bytes(), e.Body) {
					t.Errorf("image %d: %d %q, not the image drawn ahead", i, w.Code, w.Header().Get("ETag"))
				}
			}
			if got, want := s.connections(), 1+len(srcs); got != want {
				t.Errorf("%d connections after the browser's requests, want %d", got, want)
			}
		})
	}
}

// TestAheadRedraws: after a new collection the images of the pages
// shown are drawn again, once, from it; nothing is drawn without one;
// images not shown for a day are forgotten.
func TestAheadRedraws(t *testing.T) {
	s := newAheadSite(t)
	page := s.serve(base)
	srcs, keys := s.images(t, page.Body.String())
	s.a.stop()
	opened := s.connections()

	steps := []struct {
		name    string
		clock   time.Duration // from now
		collect bool          // a new collection, 10 minutes after the last
		opened  int           // connections: one to look, one per image drawn
	}{
		{"no new collection", 5 * time.Second, false, 1},
		{"a new collection", 10 * time.Minute, true, 1 + len(srcs)},
		{"none since", 10*time.Minute + 5*time.Second, false, 1},
		{"a day unseen", 25 * time.Hour, true, 0},
	}
	for _, st := range steps {
		s.mu.Lock()
		s.clock = now.Add(st.clock)
		if st.collect {
			s.src.last = s.src.last.Add(10 * time.Minute)
		}
		s.mu.Unlock()
		s.a.refresh()
		s.a.stop()
		if got := s.connections() - opened; got != st.opened {
			t.Errorf("%s: %d connections, want %d", st.name, got, st.opened)
		}
		opened = s.connections()
		if st.collect && st.opened > 0 {
			for i, key := range keys {
				if e := s.h.cache.get(key); e == nil || !e.Last.Equal(s.src.last) {
					t.Errorf("%s: image %d not drawn from the new collection: %+v", st.name, i, e)
				}
			}
		}
	}
	if n := len(s.a.hot); n != 0 {
		t.Errorf("%d clients' images kept after a day unseen", n)
	}
}

// TestHotSetTrim: a client's images shown lately are kept up to hotMax,
// the ones shown last.
func TestHotSetTrim(t *testing.T) {
	set := &hotSet{images: map[string]hotImage{}}
	for i := range hotMax + 5 {
		set.images[fmt.Sprint(i)] = hotImage{query: fmt.Sprint(i), seen: now.Add(time.Duration(i) * time.Second)}
	}
	set.trim()
	if len(set.images) != hotMax {
		t.Fatalf("%d images kept, want %d", len(set.images), hotMax)
	}
	for i := range 5 {
		if _, ok := set.images[fmt.Sprint(i)]; ok {
			t.Errorf("image %d, among the oldest, kept", i)
		}
	}
}
