//go:build hard

package faults

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pggraph/pggraph/internal/testing/rig"
)

// Clients of the web site: webClient is loaded and attacked, and its
// user is alice; resetsClient is TestCounterResets', and its user bob is
// the user of another client for webClient.
const (
	webClient    = "hweb"
	webDB        = "hshop"
	resetsClient = "hresets"
	resetsDB     = "hresets"
)

// site is the web site of the suite, set up once by webSite: Apache from
// deploy/apache over the rig's central cluster, serving the clients'
// install directories under root.
var site struct {
	once   sync.Once
	err    error
	apache *rig.Apache
	root   string            // the /var/www/pggraph of the suite
	users  map[string]string // web user -> password
	web    string            // pggraph_web's password
	pgpass string            // pggraph_web's pgpass file, for the CGI
}

// webSite returns the running site with webClient collected three times
// and resetsClient's install directory in place (not yet collected). It
// fails the test, never skips it.
func webSite(t testing.TB) *rig.Apache {
	t.Helper()
	w := env(t)
	site.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		site.err = setUpSite(ctx, t, w)
	})
	if site.err != nil {
		t.Fatalf("set up the web site: %v", site.err)
	}
	return site.apache
}

// setUpSite does webSite's work: the install directories as
// pggraph-install leaves them (owned by www-data, config.ini 0600,
// index.cgi a symlink to pggraph.cgi), pggraph_web's password, the web
// users added with pggraph-admin at its default bcrypt cost, as users
// get them, some collections, and Apache.
func setUpSite(ctx context.Context, t testing.TB, w *world) error {
	r := w.rig
	www, err := user.Lookup("www-data")
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(www.Uid)
	gid, _ := strconv.Atoi(www.Gid)
	dir := filepath.Join(r.Dir, "web")
	site.root = filepath.Join(dir, "root")
	for _, d := range []string{dir, site.root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	site.web = "web-pw-" + rand.Text()
	secrets.add("pggraph_web password", site.web)
	if err := r.Central.Exec(ctx, "postgres", fmt.Sprintf("ALTER ROLE pggraph_web PASSWORD '%s'", site.web)); err != nil {
		return err
	}
	site.pgpass = filepath.Join(dir, "pgpass")
	if err := os.WriteFile(site.pgpass, fmt.Appendf(nil, "127.0.0.1:%d:*:pggraph_web:%s\n", r.Central.Port, site.web), 0o600); err != nil {
		return err
	}
	if err := os.Chown(site.pgpass, uid, gid); err != nil {
		return err
	}

	if err := r.PG.Exec(ctx, "postgres", "CREATE DATABASE "+webDB); err != nil {
		return err
	}
	if err := r.PG.Exec(ctx, webDB, `CREATE TABLE orders (id int PRIMARY KEY, v text); CREATE TABLE customers (id int PRIMARY KEY);
		INSERT INTO orders SELECT g, 'o' FROM generate_series(1, 500) g; INSERT INTO customers SELECT generate_series(1, 50)`); err != nil {
		return err
	}
	if err := r.PG.Exec(ctx, "postgres", "CREATE DATABASE "+resetsDB); err != nil {
		return err
	}
	paths := map[string]string{
		webClient:    w.clientConfig(t, site.root, webClient, []string{webDB}, nil),
		resetsClient: w.clientConfig(t, site.root, resetsClient, []string{resetsDB}, nil),
	}
	for _, path := range paths {
		d := filepath.Dir(path)
		if err := os.Symlink(w.program("pggraph.cgi"), filepath.Join(d, "index.cgi")); err != nil {
			return err
		}
		for _, f := range []string{d, path} {
			if err := os.Chown(f, uid, gid); err != nil {
				return err
			}
		}
	}

	site.users = map[string]string{"alice": "alice-pw-" + rand.Text(), "bob": "bob-pw-" + rand.Text()}
	for name, client := range map[string]string{"alice": webClient, "bob": resetsClient} {
		secrets.add("web user "+name+"'s password", site.users[name])
		res := w.startIn(t, site.users[name]+"\n", "pggraph-admin", "user", "add", "-config", paths[client], "-stdin", client, name).wait(t, runLimit)
		if res.code != 0 {
			return fmt.Errorf("pggraph-admin user add %s: %s", name, res)
		}
	}

	// Three collections of webClient around some work.
	for i := range 3 {
		if i > 0 {
			if err := r.PG.Exec(ctx, webDB, fmt.Sprintf("UPDATE orders SET v = v || 'x' WHERE id %% %d = 0; SELECT count(*) FROM customers", i+1)); err != nil {
				return err
			}
		}
		if res := w.collect(t, paths[webClient]); res.code != 0 {
			return fmt.Errorf("collect %s: %s", webClient, res)
		}
	}

	site.apache, err = rig.StartApache(ctx, filepath.Join(dir, "apache"), rig.ApacheOptions{
		Root:       site.root,
		DBDParams:  fmt.Sprintf("host=127.0.0.1 port=%d dbname=pggraph_users user=pggraph_web", r.Central.Port),
		PGPassFile: site.pgpass,
	})
	return err
}

// webBase is webClient's CGI.
const webBase = "/pggraph/" + webClient + "/index.cgi"

// fetch GETs path (or a raw request URI) from Apache as user ("" for
// none), with HTTP Basic auth, and returns the status, the body and its
// Content-Type.
func fetch(t testing.TB, a *rig.Apache, path, user string) (status int, body, contentType string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, a.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, site.users[user])
	}
	resp, err := a.Client(30 * time.Second).Do(req)
	if err != nil {
		t.Fatalf("GET %.200s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %.200s: %v", path, err)
	}
	return resp.StatusCode, string(b), resp.Header.Get("Content-Type")
}

// installDir is the install directory of a client of the site.
func installDir(prefix string) string { return filepath.Join(site.root, prefix) }

// webConfig is the config.ini of a client of the site.
func webConfig(prefix string) string { return filepath.Join(installDir(prefix), "config.ini") }

// oneLine reports whether s is exactly one line of text.
func oneLine(s string) bool { return strings.Count(s, "\n") == 1 && strings.HasSuffix(s, "\n") }

// sessionCookie is the cookie of pggraph.conf's login sessions.
const sessionCookie = "pggraph_session"

// formRequest is one request of TestFormLoginRefusals.
type formRequest struct {
	name   string
	method string
	path   string
	form   url.Values        // posted when not nil
	cookie string            // the session cookie's value, when not ""
	header map[string]string // more request headers
	status []int             // any of these
	// session: the response may start a session (the right password).
	session bool
}

// TestFormLoginRefusals sends the form login what an attacker would:
// forged, altered, oversized and other users' session cookies, SQL and
// oversized fields in the login form, redirects to other sites, logins
// posted to the pages. Each gets its 4xx (or, for a real login, a
// redirect within the client's pages), never a 5xx, never a session it
// should not have. The session cookies it was given are secrets: the
// suite's scan looks for them in every log.
func TestFormLoginRefusals(t *testing.T) {
	a := webSite(t)
	login := "/pggraph/" + webClient + "/login"
	alice := url.Values{"httpd_username": {"alice"}, "httpd_password": {site.users["alice"]}}
	with := func(v url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = append([]string(nil), vs...)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	// A real session of alice's and one of bob's, the user of another
	// client.
	aliceCookie := formSession(t, a, login, alice)
	bobCookie := formSession(t, a, login, url.Values{"httpd_username": {"bob"}, "httpd_password": {site.users["bob"]}})
	raw, err := base64.StdEncoding.DecodeString(aliceCookie)
	if err != nil {
		t.Fatalf("session cookie not base64: %v", err)
	}
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i%len(b)] ^= 0x80
		return base64.StdEncoding.EncodeToString(b)
	}
	q := func(raw string) string { return webBase + "?" + raw }
	tests := []formRequest{
		{name: "no session", method: "GET", path: webBase, status: []int{401}},
		{name: "alice's session", method: "GET", path: q("graph=connections"), cookie: aliceCookie, status: []int{200}},
		{name: "another client's user's session", method: "GET", path: webBase, cookie: bobCookie, status: []int{403}},
		{name: "random cookie", method: "GET", path: webBase, cookie: base64.StdEncoding.EncodeToString([]byte(rand.Text() + rand.Text())), status: []int{401}},
		{name: "first byte flipped", method: "GET", path: webBase, cookie: flip(0), status: []int{401}},
		{name: "middle byte flipped", method: "GET", path: webBase, cookie: flip(len(raw) / 2), status: []int{401}},
		{name: "last byte flipped", method: "GET", path: webBase, cookie: flip(len(raw) - 1), status: []int{401}},
		{name: "cut short", method: "GET", path: webBase, cookie: aliceCookie[:len(aliceCookie)/3], status: []int{401}},
		{name: "plain text session", method: "GET", path: webBase, cookie: "pggraph-user=alice&pggraph-pw=x&pggraph-site=00", status: []int{401}},
		{name: "not base64", method: "GET", path: webBase, cookie: "%%%;;;\\'\"", status: []int{401, 400}},
		{name: "cookie of 10 kB", method: "GET", path: webBase, cookie: strings.Repeat("A", 10_000), status: []int{400}},
		{name: "wrong password", method: "POST", path: login, form: with(alice, "httpd_password", "wrong"), status: []int{401}},
		{name: "SQL as the user", method: "POST", path: login, form: with(alice, "httpd_username", "alice' OR '1'='1' --"), status: []int{401}},
		{name: "SQL as the password", method: "POST", path: login, form: with(alice, "httpd_password", "' OR '1'='1"), status: []int{401}},
		{name: "no password", method: "POST", path: login, form: url.Values{"httpd_username": {"alice"}}, status: []int{401}},
		{name: "user of 100 kB", method: "POST", path: login, form: with(alice, "httpd_username", strings.Repeat("a", 100_000)), status: []int{401, 413}},
		{name: "a redirect to another site", method: "POST", path: login + "?range=week", form: with(alice, "httpd_location", "https://evil.example/"), status: []int{302}, session: true},
		{name: "a protocol-relative redirect", method: "POST", path: login, form: with(alice, "httpd_location", "//evil.example/"), status: []int{302}, session: true},
		{name: "a replayed method and body", method: "POST", path: login, form: with(alice, "httpd_method", "DELETE", "httpd_mimetype", "text/plain", "httpd_body", "x"), status: []int{302}, session: true},
		{name: "a return query with markup", method: "POST", path: login + "?graph=%3Cscript%3E", form: alice, status: []int{302}, session: true},
		{name: "a login posted to a page", method: "POST", path: webBase, form: alice, status: []int{403}, session: true},
		{name: "a login posted to config.ini", method: "POST", path: "/pggraph/" + webClient + "/config.ini", form: alice, status: []int{403}},
		{name: "PUT to the login", method: "PUT", path: login, form: alice, status: []int{403}},
		{name: "the login form with markup in its query", method: "GET", path: login + "?graph=%22%3E%3Cscript%3Ealert(1)%3C/script%3E", status: []int{200}},
		{name: "the login form with a query of 6 kB", method: "GET", path: login + "?x=" + strings.Repeat("y", 6000), status: []int{200}},
		{name: "a logout without a session", method: "GET", path: "/pggraph/" + webClient + "/logout", status: []int{302, 307}},
		{name: "another client's login form", method: "GET", path: "/pggraph/" + resetsClient + "/login", status: []int{200}},
		{name: "a login form of no client", method: "GET", path: "/pggraph/nosuchclient/login", status: []int{404}},
	}
	refused := 0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, location, cookie, body := formFetch(t, a, tc)
			if cookie != "" {
				secrets.add("session cookie of "+tc.name, cookie)
			}
			if !slices.Contains(tc.status, status) || status >= 500 || strings.Contains(body, "SQLSTATE") || strings.Contains(body, "goroutine") {
				t.Errorf("%s %.120s: %d, want %v\n%.300s", tc.method, tc.path, status, tc.status, body)
			}
			if location != "" && !strings.HasPrefix(location, "/pggraph/"+webClient+"/") {
				t.Errorf("%s %.120s: redirected to %q", tc.method, tc.path, location)
			}
			if cookie != "" && !tc.session {
				if s, _, _, _ := formFetch(t, a, formRequest{method: "GET", path: webBase, cookie: cookie}); s != 401 {
					t.Errorf("%s %.120s: the response's session opens the pages: %d", tc.method, tc.path, s)
				}
			}
			if strings.Contains(body, "<script>") {
				t.Errorf("%s %.120s: echoes markup: %.300q", tc.method, tc.path, body)
			}
			for _, s := range secrets.all() {
				if strings.Contains(body, s.value) || strings.Contains(location, s.value) {
					t.Errorf("%s %.120s: the response shows the %s", tc.method, tc.path, s.name)
				}
			}
			if !t.Failed() {
				refused++
			}
		})
	}
	figures.add(figure{Area: "security", What: "hostile requests to the form login (forged, altered, oversized, other users' session cookies; SQL, oversized fields, redirects in the form)", Tries: len(tests), Survived: refused, Failures: len(tests) - refused,
		Note: "401/403/400 or a redirect within the client's pages, never a 5xx or a session it should not have; session cookies in no log"})
}

// formSession logs in on the login form at path and returns the session
// cookie's value, which becomes one of the suite's secrets.
func formSession(t *testing.T, a *rig.Apache, path string, form url.Values) string {
	t.Helper()
	status, _, cookie, body := formFetch(t, a, formRequest{method: "POST", path: path, form: form})
	if status != 302 || cookie == "" {
		t.Fatalf("log in as %s: %d\n%.300s", form.Get("httpd_username"), status, body)
	}
	secrets.add("session cookie of "+form.Get("httpd_username"), cookie)
	return cookie
}

// formFetch sends one request of TestFormLoginRefusals and returns the
// status, the Location, the session cookie set (its value) and the body.
func formFetch(t *testing.T, a *rig.Apache, r formRequest) (status int, location, cookie, body string) {
	t.Helper()
	var rd io.Reader
	if r.form != nil {
		rd = strings.NewReader(r.form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), r.method, a.URL+r.path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if r.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if r.cookie != "" {
		req.Header.Set("Cookie", sessionCookie+"="+r.cookie)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := a.Client(30 * time.Second).Do(req)
	if err != nil {
		t.Fatalf("%s %.200s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %.200s: %v", r.method, r.path, err)
	}
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			cookie = c.Value
		}
	}
	return resp.StatusCode, resp.Header.Get("Location"), cookie, string(b)
}
