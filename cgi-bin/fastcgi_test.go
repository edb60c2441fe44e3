package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/testing/fcgiclient"
)

// TestFastCGIListener: only a listening socket as stdin makes the program
// a FastCGI application; a CGI's pipe, a connected socket or a file does
// not.
func TestFastCGIListener(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "s"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	listening, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	defer listening.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	c, err := net.Dial("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	connected, err := c.(*net.UnixConn).File()
	if err != nil {
		t.Fatal(err)
	}
	defer connected.Close()
	file, err := os.Create(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, tc := range []struct {
		name  string
		stdin *os.File
		want  bool
	}{
		{"listening socket", listening, true},
		{"pipe", pr, false},
		{"connected socket", connected, false},
		{"file", file, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, ok := fastCGIListener(tc.stdin)
			if ok != tc.want {
				t.Fatalf("fastCGIListener = %v, want %v", ok, tc.want)
			}
			if l != nil {
				l.Close()
			}
		})
	}
}

// TestFastCGIWithoutApache runs pggraph.cgi as mod_fcgid does and sends
// it requests as mod_fcgid would: one process serves images, another
// client's login page, a broken config.ini (a 500 with one line, and it
// serves on), picks up a changed config.ini at once, and exits on
// SIGTERM.
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

	var stderr syncBuffer
	p, err := fcgiclient.Start(web.cgi, dir, fcgiclient.Env(), &stderr)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			p.Stop(5 * time.Second)
		}
	}()
	get := func(dir, uri, user string) *fcgiclient.Response {
		t.Helper()
		path, query, _ := strings.Cut(uri, "?")
		params := map[string]string{"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1",
			"HTTP_HOST": "127.0.0.1", "SCRIPT_FILENAME": filepath.Join(dir, "index.cgi"), "SCRIPT_NAME": path,
			"REQUEST_URI": uri, "QUERY_STRING": query, "REMOTE_ADDR": "127.0.0.1",
			"PGPASSFILE": filepath.Join(web.dir, "pgpass"), "GOMAXPROCS": "1"}
		if user != "" {
			params["REMOTE_USER"], params["AUTH_TYPE"], params["MATCH_CLIENT"] = user, "form", "acme"
		}
		resp, err := p.Do(t.Context(), params)
		if err != nil {
			t.Fatalf("%s: %v\nstderr: %s", uri, err, stderr.String())
		}
		return resp
	}

	for i, width := range []string{"400", "500", "400"} {
		resp := get(acme, base+"?graph=connections&width="+width, "alice")
		if resp.Status != 200 || resp.Header["Content-Type"] != "image/png" || !bytes.HasPrefix(resp.Body, []byte("\x89PNG")) {
			t.Fatalf("image %d: %d %v %.200q\nstderr: %s", i, resp.Status, resp.Header, resp.Body, stderr.String())
		}
	}
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
