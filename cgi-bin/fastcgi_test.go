package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pggraph/pggraph/collector"
	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/testing/fcgiclient"
	"github.com/pggraph/pggraph/metric"
)

// TestListenSocket: the FastCGI server takes over a socket file a
// stopped server left, and refuses a path that holds anything else or a
// server still listening, leaving it as it was.
func TestListenSocket(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	live := filepath.Join(dir, "live.sock")
	other, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, err string
	}{
		{"new", filepath.Join(dir, "new.sock"), ""},
		{"stale socket", stale, ""},
		{"live socket", live, "another server is listening there"},
		{"regular file", file, "it exists and is not a socket"},
		{"no directory", filepath.Join(dir, "none", "s.sock"), "no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := listenSocket(t.Context(), tc.path)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				fi, err := os.Stat(tc.path)
				if err != nil || fi.Mode().Perm() != 0o660 {
					t.Errorf("socket %v mode %v, want 0660", err, fi.Mode())
				}
				return
			}
			if err == nil {
				ln.Close()
				t.Fatalf("listened on %s", tc.path)
			}
			if !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error %q, want one naming %s and %q", err, tc.path, tc.err)
			}
		})
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "keep me" {
		t.Errorf("the regular file: %q %v", b, err)
	}
	if c, err := net.Dial("unix", live); err != nil {
		t.Errorf("the live server's socket: %v", err)
	} else {
		c.Close()
	}
}

// TestFastCGIWithoutApache runs pggraph.cgi -serve as
// pggraph-web.service does and sends it requests as mod_proxy_fcgi
// would: one process serves images (six at once too), another client's
// login page, a broken config.ini (a 500 with one line, and it serves
// on), picks up a changed config.ini at once, and exits on SIGTERM.
func TestFastCGIWithoutApache(t *testing.T) {
	webSite(t)
	dir := t.TempDir()
	// A copy of acme's install directory, so that this process's cache
	// (root's files) stays out of the one Apache's processes use.
	acme := filepath.Join(dir, "acme")
	cfg, err := config.Load(filepath.Join(web.root, "acme", "config.ini"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Install.Directory = acme
	write := func(c *config.Config) {
		t.Helper()
		if err := os.MkdirAll(c.Install.Directory, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := c.Write(filepath.Join(c.Install.Directory, "config.ini")); err != nil {
			t.Fatal(err)
		}
	}
	write(cfg)
	other := *cfg
	other.Install.Directory, other.Install.Title = filepath.Join(dir, "other"), "Other Co"
	write(&other)
	broken := filepath.Join(dir, "broken")
	os.MkdirAll(broken, 0o755)
	if err := os.WriteFile(filepath.Join(broken, "config.ini"), []byte("[local]\npassword = s3cret\nbogus = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	srv := startFastCGI(t, dir)
	p, stderr, get := srv.p, srv.stderr, srv.get
	stopped := false
	defer func() {
		if !stopped {
			p.Stop(5 * time.Second)
		}
	}()

	for i, width := range []string{"400", "500", "400"} {
		resp := get(acme, base+"?graph=connections&width="+width, "alice")
		if resp.Status != 200 || resp.Header["Content-Type"] != "image/png" || !bytes.HasPrefix(resp.Body, []byte("\x89PNG")) {
			t.Fatalf("image %d: %d %v %.200q\nstderr: %s", i, resp.Status, resp.Header, resp.Body, stderr.String())
		}
	}
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := p.Do(t.Context(), map[string]string{"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1",
				"SCRIPT_FILENAME": filepath.Join(acme, "index.cgi"), "REQUEST_URI": fmt.Sprintf("%s?graph=sessions&width=%d", base, 600+i),
				"REMOTE_USER": "alice", "MATCH_CLIENT": "acme", "PGPASSFILE": filepath.Join(web.dir, "pgpass")})
			if err != nil || resp.Status != 200 || !bytes.HasPrefix(resp.Body, []byte("\x89PNG")) {
				t.Errorf("image %d of six at once: %v %+v", i, err, resp)
			}
		}()
	}
	wg.Wait()
	if resp := get(acme, base+"?graph=connections", ""); resp.Status != 403 {
		t.Errorf("no user: %d, want 403", resp.Status)
	}
	login := func(want string) {
		t.Helper()
		resp := get(other.Install.Directory, "/pggraph/other/login", "")
		if resp.Status != 200 || !bytes.Contains(resp.Body, []byte(want)) {
			t.Errorf("login page: %d, want one with %q\n%.300s", resp.Status, want, resp.Body)
		}
	}
	login("Other Co")
	resp := get(broken, "/pggraph/broken/index.cgi", "alice")
	// The server's stderr reaches this test through a pipe and a copying
	// goroutine: its line may come after the response.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(stderr.String(), "bogus") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if resp.Status != 500 || strings.Contains(string(resp.Body)+stderr.String(), "s3cret") || !strings.Contains(stderr.String(), "bogus") {
		t.Errorf("broken config.ini: %d %q\nstderr %q", resp.Status, resp.Body, stderr.String())
	}
	other.Install.Title = "Other Co, renamed"
	write(&other)
	login("Other Co, renamed")

	stopped = true
	if err := p.Stop(5 * time.Second); err != nil {
		t.Errorf("SIGTERM: %v\nstderr: %s", err, stderr.String())
	}
}

// fastcgiServer is pggraph.cgi -serve on a socket in a test's directory.
type fastcgiServer struct {
	t      *testing.T
	p      *fcgiclient.Process
	stderr *syncBuffer
}

// startFastCGI starts the web site's pggraph.cgi -serve with its socket
// in dir.
func startFastCGI(t *testing.T, dir string) *fastcgiServer {
	t.Helper()
	s := &fastcgiServer{t: t, stderr: &syncBuffer{}}
	sock := filepath.Join(dir, "web.sock")
	p, err := fcgiclient.Start(t.Context(), web.cgi, []string{"-serve", sock}, sock, fcgiclient.Env(), s.stderr)
	if err != nil {
		t.Fatal(err)
	}
	s.p = p
	return s
}

// get sends a GET of uri (/pggraph/CLIENT/…) for the install directory
// dir, as Apache would for user (none when ""), whom it checked against
// CLIENT.
func (s *fastcgiServer) get(dir, uri, user string) *fcgiclient.Response {
	s.t.Helper()
	path, query, _ := strings.Cut(uri, "?")
	params := map[string]string{"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1",
		"HTTP_HOST": "127.0.0.1", "SCRIPT_FILENAME": filepath.Join(dir, "index.cgi"), "SCRIPT_NAME": path,
		"REQUEST_URI": uri, "QUERY_STRING": query, "REMOTE_ADDR": "127.0.0.1",
		"PGPASSFILE": filepath.Join(web.dir, "pgpass"), "GOMAXPROCS": "1"}
	if user != "" {
		params["REMOTE_USER"], params["AUTH_TYPE"], params["MATCH_CLIENT"] = user, "form", strings.Split(path, "/")[2]
	}
	resp, err := s.p.Do(s.t.Context(), params)
	if err != nil {
		s.t.Fatalf("%s: %v\nstderr: %s", uri, err, s.stderr.String())
	}
	return resp
}

// TestFastCGIDrawsAhead: the server draws a page's images into the
// client's image cache before the browser asks for them, answers the
// browser with them, and once a new collection is stored draws them
// again from it, unasked.
func TestFastCGIDrawsAhead(t *testing.T) {
	webSite(t)
	ctx := t.Context()
	const prefix = "ahead"
	st, err := ownerStore(ctx, web.rig)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	var taken time.Time
	reader := collector.Reader{Remote: monitor(web.rig.PG), Groups: metric.Groups(), Now: func() time.Time { return taken }}
	collect := func(at time.Time, prev *metric.Snapshot) *metric.Snapshot {
		t.Helper()
		taken = at.UTC().Truncate(time.Second)
		cur, err := storeRun(ctx, st, reader, prefix, prev)
		if err != nil {
			t.Fatal(err)
		}
		return cur
	}
	prev := collect(time.Now().Add(-5*time.Minute), nil)
	collect(time.Now().Add(-2*time.Minute), prev)

	dir := filepath.Join(t.TempDir(), prefix)
	cfg, err := config.Load(filepath.Join(web.root, "acme", "config.ini"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Install.Directory, cfg.Install.WWWPath, cfg.Local.Prefix = dir, "pggraph/"+prefix, prefix
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Write(filepath.Join(dir, "config.ini")); err != nil {
		t.Fatal(err)
	}
	srv := startFastCGI(t, filepath.Dir(dir))
	defer srv.p.Stop(5 * time.Second)

	page := srv.get(dir, "/pggraph/"+prefix+"/index.cgi", "alice")
	if page.Status != 200 {
		t.Fatalf("page: %d %.300s", page.Status, page.Body)
	}
	srcs := attrs(string(page.Body), "src")
	if len(srcs) < 5 {
		t.Fatalf("the page has %d images", len(srcs))
	}
	cacheDir := filepath.Join(dir, cacheDirName)
	// drawn waits until the cache holds an image for each src, drawn
	// from the collection at last, and returns them by name.
	drawn := func(last time.Time, within time.Duration) map[string][]byte {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			got := map[string][]byte{}
			des, _ := os.ReadDir(cacheDir)
			for _, de := range des {
				data, err := os.ReadFile(filepath.Join(cacheDir, de.Name()))
				head, body, ok := bytes.Cut(data, []byte("\n"))
				var e entry
				if err == nil && ok && json.Unmarshal(head, &e) == nil && e.Last.Equal(last) {
					got[de.Name()] = body
				}
			}
			if len(got) == len(srcs) {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of the page's %d images drawn from the collection at %v after %v\nstderr: %s", len(got), len(srcs), last, within, srv.stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	images := drawn(taken, 10*time.Second)
	for _, src := range srcs {
		resp := srv.get(dir, src, "alice")
		if resp.Status != 200 || resp.Header["Content-Type"] != "image/png" {
			t.Fatalf("%s: %d %v", src, resp.Status, resp.Header)
		}
		found := false
		for _, body := range images {
			found = found || bytes.Equal(body, resp.Body)
		}
		if !found {
			t.Errorf("%s: not an image drawn ahead", src)
		}
	}
	collect(time.Now(), nil)
	drawn(taken, refreshEvery+10*time.Second)
}
