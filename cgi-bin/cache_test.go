package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCacheEntries: an entry is kept until it expires, one about to
// expire is not stored, and the sweep removes what expired and what was
// left half-written.
func TestCacheEntries(t *testing.T) {
	clock := now
	c := &cache{dir: filepath.Join(t.TempDir(), cacheDirName), now: func() time.Time { return clock }}
	if e := c.get("none"); e != nil {
		t.Errorf("get from an empty cache: %+v", e)
	}
	fresh := &entry{ETag: `"a"`, Type: "image/png", Last: now.Add(-time.Minute), Expires: now.Add(9 * time.Minute), Body: []byte("\x89PNG\n\x00body")}
	if err := c.put("fresh", fresh); err != nil {
		t.Fatal(err)
	}
	if err := c.put("due", &entry{Expires: now.Add(500 * time.Millisecond), Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	got := c.get("fresh")
	if got == nil || got.ETag != fresh.ETag || got.Type != fresh.Type || !got.Last.Equal(fresh.Last) || !got.Expires.Equal(fresh.Expires) || !bytes.Equal(got.Body, fresh.Body) {
		t.Errorf("get = %+v, want %+v", got, fresh)
	}
	if e := c.get("due"); e != nil {
		t.Errorf("an entry due within a second was stored")
	}
	if err := os.WriteFile(filepath.Join(c.dir, ".new-1"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := now.Add(-2 * time.Minute)
	if err := os.Chtimes(filepath.Join(c.dir, ".new-1"), old, old); err != nil {
		t.Fatal(err)
	}
	if n, err := c.sweep(); n != 1 || err != nil {
		t.Errorf("sweep now: %d, %v; want the half-written file", n, err)
	}
	clock = now.Add(10 * time.Minute)
	if e := c.get("fresh"); e != nil {
		t.Errorf("an expired entry: %+v", e)
	}
	if n, err := c.sweep(); n != 1 || err != nil {
		t.Errorf("sweep after expiry: %d, %v", n, err)
	}
	if des, _ := os.ReadDir(c.dir); len(des) != 0 {
		t.Errorf("left in the cache: %v", des)
	}
}

// TestHandlerCache: an image drawn once is answered from the cache
// until the next collection is due, without a database, to any user of
// the client whose client Apache checked, with its ETag (and 304); pages
// never are.
func TestHandlerCache(t *testing.T) {
	src := newFakeSamples()
	h := testHandler(t, src, &fakeUsers{}, nil)
	h.needUser = true
	clock := now
	h.now = func() time.Time { return clock }
	h.cache = &cache{dir: filepath.Join(t.TempDir(), cacheDirName), now: h.now}
	opened := 0
	h.openSamples = func(context.Context) (samples, error) { opened++; return src, nil }
	serve := func(target, user string, header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		h.respond(w, withVisit(r, visit{User: user, Client: "acme", Form: true}))()
		return w
	}
	const img = "/pggraph/acme/index.cgi?graph=connections&range=week"
	first := serve(img, "alice")
	if first.Code != 200 || opened != 1 {
		t.Fatalf("first: %d, %d connections", first.Code, opened)
	}
	tests := []struct {
		name    string
		target  string
		user    string
		header  []string
		status  int
		opened  int // connections to the samples so far
		sameAsF bool
	}{
		{"again", img, "alice", nil, 200, 1, true},
		{"another user of the client", img, "carl", nil, 200, 1, true},
		{"its ETag", img, "alice", []string{"If-None-Match", first.Header().Get("ETag")}, 304, 1, false},
		{"another graph", "/pggraph/acme/index.cgi?graph=transactions&range=week", "alice", nil, 200, 2, false},
		{"its CSV", img + "&format=csv", "alice", nil, 200, 3, false},
		{"its CSV again", img + "&format=csv", "alice", nil, 200, 3, false},
		{"a page", "/pggraph/acme/index.cgi", "alice", nil, 200, 4, false},
		{"the page again", "/pggraph/acme/index.cgi", "alice", nil, 200, 5, false},
	}
	for _, tc := range tests {
		w := serve(tc.target, tc.user, tc.header...)
		if w.Code != tc.status || opened != tc.opened {
			t.Errorf("%s: %d, %d connections; want %d, %d", tc.name, w.Code, opened, tc.status, tc.opened)
		}
		if tc.sameAsF && (!bytes.Equal(w.Body.Bytes(), first.Body.Bytes()) || w.Header().Get("ETag") != first.Header().Get("ETag") ||
			w.Header().Get("Content-Type") != "image/png" || w.Header().Get("Cache-Control") != first.Header().Get("Cache-Control")) {
			t.Errorf("%s: not the first response: %q %q %q", tc.name, w.Header().Get("ETag"), w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"))
		}
	}
	// When the next collection is due, the image is drawn again.
	clock = now.Add(8 * time.Minute)
	if w := serve(img, "alice"); w.Code != 200 || opened != 6 {
		t.Errorf("after the next collection was due: %d, %d connections", w.Code, opened)
	}
	// Apache checked the user for another directory: refused, cached
	// or not.
	r := httptest.NewRequest(http.MethodGet, img, nil)
	w := httptest.NewRecorder()
	h.respond(w, withVisit(r, visit{User: "bob", Client: "beta"}))()
	if w.Code != 403 {
		t.Errorf("a cached image for another directory's user: %d", w.Code)
	}
}
