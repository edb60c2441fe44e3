package rig

import (
	"context"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestApacheAndScreenshot starts Apache from deploy/apache with an empty
// web root and no reachable database, checks what it answers without
// auth, takes a screenshot of a page, and stops Apache by PID.
func TestApacheAndScreenshot(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dir, root := apacheTestDir(t)
	a, err := StartApache(ctx, filepath.Join(dir, "apache"), ApacheOptions{
		Root:      root,
		DBDParams: "host=127.0.0.1 port=1 dbname=pggraph_users user=pggraph_web connect_timeout=1",
		CGIEnv:    map[string]string{"PGGRAPH_WEB_USER": "pggraph_web"},
		Log:       testLog{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop() })
	if a.PID == 0 || !alive(a.PID) || !strings.HasPrefix(a.URL, "http://127.0.0.1:") {
		t.Fatalf("Apache %+v", a)
	}
	extra, err := os.ReadFile(filepath.Join(a.Dir, "extra.conf"))
	if err != nil || !strings.Contains(string(extra), `SetEnv PGGRAPH_WEB_USER "pggraph_web"`) {
		t.Errorf("extra.conf: %q %v", extra, err)
	}
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/", 403},
		{"/pggraph/", 401},      // the all-clients page: a login first
		{"/pggraph/acme/", 401}, // a login asked for before anything else
		{"/pggraph/acme/config.ini", 403},
	} {
		resp, err := http.Get(a.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s: %d, want %d%s", tc.path, resp.StatusCode, tc.status, a.Logs())
		}
	}

	out := filepath.Join(dir, "shot.png")
	if err := Screenshot(ctx, "http://user:secret-pw@127.0.0.1:"+strings.TrimPrefix(a.URL, "http://127.0.0.1:")+"/pggraph/", out); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil || img.Bounds().Dx() != 1200 || img.Bounds().Dy() != 900 {
		t.Errorf("screenshot: %v %v", img.Bounds(), err)
	}
	if got := redactURL("http://user:secret-pw@127.0.0.1:80/x?y"); got != "http://user:xxxxx@127.0.0.1:80/x?y" {
		t.Errorf("redactURL = %q", got)
	}
	if st, err := os.Stat(filepath.Join(a.Dir, "session.conf")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("session keys: %v %v, want mode 0600", st, err)
	}

	pid := a.PID
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) || a.PID != 0 {
		t.Errorf("Apache pid %d still alive after Stop", pid)
	}
	if _, err := http.Get(a.URL + "/"); err == nil {
		t.Error("Apache still answers after Stop")
	}
	if err := a.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// TestApacheOptions starts Apache with Basic auth only, and with TLS:
// each answers a page's request as its configuration says.
func TestApacheOptions(t *testing.T) {
	dir, root := apacheTestDir(t)
	for _, tc := range []struct {
		name      string
		opt       ApacheOptions
		scheme    string
		challenge string // WWW-Authenticate of a page without a login
	}{
		{"basic-only", ApacheOptions{BasicOnly: true}, "http://", `Basic realm="pggraph"`},
		{"tls", ApacheOptions{TLS: true, SessionMaxAge: 1500 * time.Millisecond}, "https://", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt := tc.opt
			opt.Root = root
			opt.DBDParams = "host=127.0.0.1 port=1 dbname=pggraph_users user=pggraph_web connect_timeout=1"
			a, err := StartApache(t.Context(), filepath.Join(dir, tc.name), opt)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Stop()
			if !strings.HasPrefix(a.URL, tc.scheme) || (a.TLS != nil) != opt.TLS {
				t.Errorf("URL %s, TLS %v", a.URL, a.TLS)
			}
			resp, err := a.Client(10 * time.Second).Get(a.URL + "/pggraph/acme/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != tc.challenge {
				t.Errorf("%d %q, want 401 %q%s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tc.challenge, a.Logs())
			}
			defines, err := os.ReadFile(filepath.Join(a.Dir, "defines.conf"))
			if err != nil {
				t.Fatal(err)
			}
			for cond, want := range map[string]bool{"Define PGGRAPH_BASIC_ONLY\n": opt.BasicOnly, "Define RIG_TLS\n": opt.TLS, "Define PGGRAPH_SESSION_MAX_AGE 2\n": opt.SessionMaxAge > 0} {
				if strings.Contains(string(defines), cond) != want {
					t.Errorf("defines.conf %q: %q wanted %v", defines, cond, want)
				}
			}
		})
	}
}

// apacheTestDir makes a directory for Apache tests that www-data may
// search (t.TempDir may not be), removed after the test, and in it an
// empty web root with a client directory acme.
func apacheTestDir(t *testing.T) (dir, root string) {
	t.Helper()
	dir, err := os.MkdirTemp("/run", "pggraph-apache-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	root = filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, root
}
