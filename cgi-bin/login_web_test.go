package main

// The login's security through the real Apache (deploy/apache), the
// real pggraph_users and headless Chromium: the login form, the session
// cookie and what Apache refuses.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/internal/testing/rig"
)

// TestBrowserLogin logs in as a person does, in headless Chromium: a
// page asks for the login form; a wrong password shows it again saying
// so; the right one leads to the page first asked for, with every image;
// the session cookie is HttpOnly and SameSite=Lax, not Secure over
// plain HTTP; Apache's access log has the user of every request; the
// logout link ends the browser's session.
func TestBrowserLogin(t *testing.T) {
	a := webSite(t)
	ctx := t.Context()
	b, err := rig.StartBrowser(ctx, rig.BrowserOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	page := base + "?page=tables&db=shop&p=2"
	if _, err := b.Navigate(ctx, a.URL+page); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.HasLoginForm(ctx); err != nil || !ok {
		t.Fatalf("no login form in place of %s: %v", page, err)
	}
	if err := b.Screenshot(ctx, filepath.Join(screenshotDir(t), "login.png")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.LogIn(ctx, "alice", "wrong"); err != nil {
		t.Fatal(err)
	}
	var text string
	if err := b.Eval(ctx, `document.body.innerText`, &text); err != nil || !strings.Contains(text, "Wrong user name or password") {
		t.Errorf("after a wrong password the page says %q (%v)", text, err)
	}
	logStart := fileLen(a.AccessLog)
	if _, err := b.LogIn(ctx, "alice", alicePassword); err != nil {
		t.Fatal(err)
	}
	var shown struct {
		Href   string
		Images int
		Broken int
		Cookie string
	}
	if err := b.Eval(ctx, `({href: location.href, images: document.images.length,
		broken: [...document.images].filter(i => !i.complete || i.naturalWidth == 0).length, cookie: document.cookie})`, &shown); err != nil {
		t.Fatal(err)
	}
	if shown.Href != a.URL+page || shown.Images != 3 || shown.Broken != 0 {
		t.Errorf("after the login: %+v, want %s with 3 images, none broken", shown, a.URL+page)
	}
	if shown.Cookie != "" {
		t.Errorf("scripts read the cookies: %q", shown.Cookie)
	}
	cookies, err := b.Cookies(ctx, a.URL+base)
	if err != nil {
		t.Fatal(err)
	}
	if len(cookies) != 1 || cookies[0].Name != sessionCookieName || !cookies[0].HTTPOnly || cookies[0].SameSite != "Lax" ||
		cookies[0].Secure || cookies[0].Path != "/pggraph/" {
		t.Errorf("cookies %+v, want one %s, HttpOnly, SameSite Lax, not Secure, path /pggraph/", cookies, sessionCookieName)
	}
	lines := accessLines(t, a.AccessLog, logStart)
	var mine int
	for _, l := range lines {
		if strings.Contains(l, "GET /pggraph/acme/index.cgi?") && strings.Contains(l, " alice ") && strings.Contains(l, `" 200 `) {
			mine++
		}
	}
	if mine != 4 { // the page and its 3 images
		t.Errorf("the access log has %d requests of alice's with 200, want 4:\n%s", mine, strings.Join(lines, "\n"))
	}

	// Log out with the page's link.
	var logout string
	if err := b.Eval(ctx, `[...document.links].find(l => l.textContent == "log out").href`, &logout); err != nil || logout != a.URL+"/pggraph/acme/logout" {
		t.Fatalf("logout link %q (%v)", logout, err)
	}
	if _, err := b.Navigate(ctx, logout); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.HasLoginForm(ctx); err != nil || !ok {
		t.Errorf("no login form after logging out: %v", err)
	}
	if _, err := b.Navigate(ctx, a.URL+base); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.HasLoginForm(ctx); err != nil || !ok {
		t.Errorf("the overview is shown after logging out: %v", err)
	}
}

// TestLoginForm posts the login form as a browser and as an attacker
// would: a wrong password is 401 with the form again, keeping the page
// to return to; the right one is a redirect to that page, never
// elsewhere, whatever the form holds.
func TestLoginForm(t *testing.T) {
	a := webSite(t)
	const login = "/pggraph/acme/login"
	tests := []struct {
		name, path, user, password string
		fields                     []string
		status                     int
		location                   string // for a redirect
	}{
		{"right", login + "?page=tables&db=shop", "alice", alicePassword, nil, 302, "/pggraph/acme/index.cgi?page=tables&db=shop"},
		{"right, no page", login, "alice", alicePassword, nil, 302, "/pggraph/acme/index.cgi?"},
		{"wrong password", login + "?range=week", "alice", "wrong", nil, 401, ""},
		{"unknown user", login, "mallory", "x", nil, 401, ""},
		{"empty password", login, "alice", "", nil, 401, ""},
		{"SQL in the user name", login, "alice' OR '1'='1", "x", nil, 401, ""},
		{"a location field", login + "?range=week", "alice", alicePassword, []string{"httpd_location", "https://evil.example/"}, 302, "/pggraph/acme/index.cgi?range=week"},
		{"a login posted to a page", base, "alice", alicePassword, []string{"httpd_location", "https://evil.example/"}, 403, ""},
		{"another client's login form", "/pggraph/young/login?range=week", "alice", alicePassword, nil, 302, "/pggraph/young/index.cgi?range=week"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := logIn(t, a, tc.path, tc.user, tc.password, tc.fields...)
			loc := resp.Header.Get("Location")
			if strings.Contains(loc, "evil") {
				t.Fatalf("redirected to %q", loc)
			}
			if resp.StatusCode != tc.status || (tc.location != "" && loc != tc.location) {
				t.Fatalf("%d %q, want %d %q\n%s", resp.StatusCode, loc, tc.status, tc.location, body)
			}
			c := sessionCookie(resp)
			switch tc.status {
			case 302:
				if c == nil || c.Value == "" {
					t.Errorf("no session cookie")
				}
				return
			case 403:
				return
			}
			if c != nil && c.Value != "" {
				if r, _ := fetchWithCookie(t, a, base, c); r.StatusCode != 401 {
					t.Errorf("the cookie of a failed login opens the pages: %d", r.StatusCode)
				}
			}
			m := regexp.MustCompile(`action="([^"]*)"`).FindSubmatch(body)
			want := strings.ReplaceAll(tc.path, "&", "&amp;")
			if !bytes.Contains(body, []byte("Wrong user name or password")) || m == nil || string(m[1]) != want {
				t.Errorf("the form again with the error and action %q: %q\n%s", want, m, body)
			}
		})
	}
}

// fetchWithCookie GETs path with c as the session cookie.
func fetchWithCookie(t testing.TB, a *rig.Apache, path string, c *http.Cookie) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, a.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(c)
	return do(t, a, req)
}

// TestSessionRefusals: sessions that are not the site's own, expired
// ones, those of another client's user or of a deleted user, and one
// logged out, open nothing.
func TestSessionRefusals(t *testing.T) {
	a := webSite(t)
	// Another Apache over the same site and users with other session
	// keys, TLS and logins of two seconds.
	short := otherApache(t, "apache-short", rig.ApacheOptions{TLS: true, SessionMaxAge: 2 * time.Second, FastCGI: web.cgi})
	alice := session(t, a, "alice", alicePassword)
	shortAlice := session(t, short, "alice", alicePassword)
	raw, err := base64.StdEncoding.DecodeString(alice.Value)
	if err != nil {
		t.Fatalf("the session cookie is not base64: %v", err)
	}
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)/2] ^= 1
	plain := url.QueryEscape("pggraph-user") + "=alice&" + url.QueryEscape("pggraph-pw") + "=" + url.QueryEscape(alicePassword) + "&expiry=" + fmt.Sprint(time.Now().Add(time.Hour).UnixMicro())
	tests := []struct {
		name   string
		a      *rig.Apache
		value  string
		status int
	}{
		{"the real one", a, alice.Value, 200},
		{"random bytes", a, base64.StdEncoding.EncodeToString([]byte(rand.Text() + rand.Text() + rand.Text())), 401},
		{"one bit changed", a, base64.StdEncoding.EncodeToString(flipped), 401},
		{"cut short", a, alice.Value[:len(alice.Value)/2], 401},
		{"not encrypted", a, plain, 401},
		{"another site's keys", a, shortAlice.Value, 401},
		{"the other way round", short, alice.Value, 401},
		{"empty", a, "", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := fetchWithCookie(t, tc.a, base+"?graph=connections", &http.Cookie{Name: sessionCookieName, Value: tc.value})
			if resp.StatusCode != tc.status {
				t.Fatalf("%d, want %d\n%.300s", resp.StatusCode, tc.status, body)
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		c := session(t, short, "carol", carolPassword)
		if resp, _ := fetchWithCookie(t, short, youngBase+"?graph=connections", c); resp.StatusCode != 200 {
			t.Fatalf("a new session: %d", resp.StatusCode)
		}
		time.Sleep(2500 * time.Millisecond)
		if resp, body := fetchWithCookie(t, short, youngBase+"?graph=connections", c); resp.StatusCode != 401 || !bytes.Contains(body, []byte(passwordField)) {
			t.Errorf("a session two and a half seconds old, of two: %d\n%.300s", resp.StatusCode, body)
		}
	})
	t.Run("secure over TLS", func(t *testing.T) {
		if !shortAlice.Secure || !shortAlice.HttpOnly || shortAlice.SameSite != http.SameSiteLaxMode {
			t.Errorf("the session cookie over TLS: %+v", shortAlice)
		}
		if alice.Secure {
			t.Errorf("the session cookie over plain HTTP is Secure: a browser would drop it")
		}
	})
	t.Run("another client's user", func(t *testing.T) {
		if resp, _ := fetch(t, a, base, "bob", bobPassword); resp.StatusCode != 403 {
			t.Errorf("bob's session on acme: %d", resp.StatusCode)
		}
	})
	t.Run("logged out", func(t *testing.T) {
		_, c := freshSession(t, a, "alice", alicePassword)
		resp, _ := fetchWithCookie(t, a, "/pggraph/acme/logout", c)
		out := sessionCookie(resp)
		if resp.StatusCode/100 != 3 || resp.Header.Get("Location") != "/pggraph/acme/login" || out == nil {
			t.Fatalf("logout: %d to %q, cookie %v", resp.StatusCode, resp.Header.Get("Location"), out)
		}
		if resp, _ := fetchWithCookie(t, a, base, out); resp.StatusCode != 401 {
			t.Errorf("the cookie after the logout: %d", resp.StatusCode)
		}
	})
	t.Run("deleted user", func(t *testing.T) {
		ctx := t.Context()
		users := ownerUsers(t)
		h, err := bcrypt.GenerateFromPassword([]byte("dave-pw"), bcrypt.DefaultCost)
		if err != nil {
			t.Fatal(err)
		}
		if err := users.AddUser(ctx, store.User{Name: "dave", Hash: string(h), Client: "acme"}); err != nil {
			t.Fatal(err)
		}
		_, c := freshSession(t, a, "dave", "dave-pw")
		if resp, _ := fetchWithCookie(t, a, base, c); resp.StatusCode != 200 {
			t.Fatalf("dave's session: %d", resp.StatusCode)
		}
		if _, err := users.DeleteUser(ctx, "dave"); err != nil {
			t.Fatal(err)
		}
		if resp, _ := fetchWithCookie(t, a, base, c); resp.StatusCode != 403 {
			t.Errorf("the session of a deleted user: %d", resp.StatusCode)
		}
	})

	// No session cookie, nor any password, in any log of either Apache.
	secrets := []string{alice.Value, shortAlice.Value, alicePassword, carolPassword, bobPassword, "dave-pw"}
	sessions.mu.Lock()
	for _, c := range sessions.cookie {
		secrets = append(secrets, c.Value)
	}
	sessions.mu.Unlock()
	for _, srv := range []*rig.Apache{a, short} {
		for _, log := range []string{srv.ErrorLog, srv.AccessLog, srv.StartLog} {
			b, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range secrets {
				if s != "" && bytes.Contains(b, []byte(s)) {
					t.Errorf("%s holds a session cookie or a password (%.12s…)", log, s)
				}
			}
		}
	}
}

// freshSession logs in as user on a's login form and returns the
// response and its session cookie (a new session, not the shared one).
func freshSession(t *testing.T, a *rig.Apache, user, password string) (*http.Response, *http.Cookie) {
	t.Helper()
	resp, body := logIn(t, a, "/pggraph/acme/login", user, password)
	c := sessionCookie(resp)
	if resp.StatusCode != 302 || c == nil {
		t.Fatalf("log in as %s: %d\n%s", user, resp.StatusCode, body)
	}
	return resp, c
}

// ownerUsers opens pggraph_users as the superuser; the test closes it.
func ownerUsers(t *testing.T) *store.Users {
	t.Helper()
	c := web.rig.Central
	u, err := store.OpenUsers(t.Context(), store.Server{Params: fmt.Sprintf("host=%s port=%d user=%s sslmode=disable", c.Host, c.Port, c.Superuser), Password: config.Secret(c.SuperPassword)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close(context.WithoutCancel(t.Context())) })
	return u
}

// TestBasicOnly: with PGGRAPH_BASIC_ONLY Apache asks for Basic auth, as
// the original did, and offers no login form. This Apache runs
// pggraph.cgi as a CGI (PGGRAPH_CGI), as the original's setup did.
func TestBasicOnly(t *testing.T) {
	a := otherApache(t, "apache-basic", rig.ApacheOptions{BasicOnly: true})
	for _, tc := range []struct {
		name, path string
		user       string
		status     int
	}{
		{"no credentials", base, "", 401},
		{"the login form", "/pggraph/acme/login", "", 401},
		{"Basic", base, "alice", 200},
		{"Basic, image", base + "?graph=connections", "alice", 200},
		{"Basic, another client's user", base, "bob", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pw := map[string]string{"alice": alicePassword, "bob": bobPassword}[tc.user]
			resp, body := fetchBasic(t, a, tc.path, tc.user, pw)
			if resp.StatusCode != tc.status {
				t.Fatalf("%d, want %d\n%.300s", resp.StatusCode, tc.status, body)
			}
			if tc.status == 401 && (!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") || bytes.Contains(body, []byte(passwordField))) {
				t.Errorf("401 without a Basic challenge, or with a login form: %q\n%.300s", resp.Header.Get("WWW-Authenticate"), body)
			}
			if sessionCookie(resp) != nil {
				t.Errorf("a session cookie with Basic auth only")
			}
		})
	}
}
