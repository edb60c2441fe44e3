package main

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestVisitFromEnv(t *testing.T) {
	tests := []struct {
		name string
		uri  string // REQUEST_URI
		env  map[string]string
		want visit
	}{
		{"basic auth", "/pggraph/acme/index.cgi", map[string]string{"REMOTE_USER": "alice", "AUTH_TYPE": "Basic"},
			visit{User: "alice"}},
		{"session", "/pggraph/acme/index.cgi", map[string]string{"REMOTE_USER": "alice", "AUTH_TYPE": "form"},
			visit{User: "alice", Form: true}},
		{"nobody", "/pggraph/acme/index.cgi?graph=x", nil,
			visit{}},
		{"login asked for", "/pggraph/acme/login?page=tables&db=shop", nil,
			visit{Login: &login{Return: "page=tables&db=shop", Status: 200}}},
		{"login at the root", "/pggraph/login", nil,
			visit{Login: &login{Status: 200}}},
		{"login in place of a page", "/pggraph/acme/index.cgi?range=week", map[string]string{"REDIRECT_STATUS": "401",
			"REDIRECT_URL": "/pggraph/acme/index.cgi", "REDIRECT_QUERY_STRING": "range=week", "REDIRECT_REQUEST_METHOD": "GET"},
			visit{Login: &login{Return: "range=week", Status: 401}}},
		{"failed login", "/pggraph/acme/login?range=week", map[string]string{"REDIRECT_STATUS": "401",
			"REDIRECT_URL": "/pggraph/acme/login", "REDIRECT_QUERY_STRING": "range=week", "REDIRECT_REQUEST_METHOD": "POST",
			"REDIRECT_REMOTE_USER": "alice"},
			visit{Login: &login{Return: "range=week", Failed: true, Status: 401}}},
		{"a page named like the login elsewhere", "/pggraph/acme/login/index.cgi", map[string]string{"REMOTE_USER": "alice"},
			visit{User: "alice"}},
		{"another error document", "/pggraph/acme/index.cgi", map[string]string{"REDIRECT_STATUS": "404", "REMOTE_USER": "alice"},
			visit{User: "alice"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := url.ParseRequestURI(tc.uri)
			if err != nil {
				t.Fatal(err)
			}
			got := visitFromEnv(func(k string) string { return tc.env[k] }, u)
			if got.User != tc.want.User || got.Form != tc.want.Form || (got.Login == nil) != (tc.want.Login == nil) ||
				(got.Login != nil && *got.Login != *tc.want.Login) {
				t.Errorf("visitFromEnv = %+v %+v, want %+v %+v", got, got.Login, tc.want, tc.want.Login)
			}
		})
	}
}

// TestLoginPage: the login form reads no database and writes no log
// row; it posts to the login URL with the page to return to, when that
// is a valid request, and says when the last attempt failed.
func TestLoginPage(t *testing.T) {
	h := testHandler(t, newFakeSamples(), &fakeUsers{}, nil)
	h.needUser = true
	h.openSamples = func(context.Context) (samples, error) { t.Error("the login page opened the samples"); return nil, nil }
	h.openUsers = func(context.Context) (users, error) { t.Error("the login page opened the users"); return nil, nil }
	tests := []struct {
		name   string
		login  login
		action string
		failed bool
	}{
		{"asked for", login{Status: 200}, "/pggraph/acme/login", false},
		{"in place of a page", login{Return: "page=tables&db=shop&p=2", Status: 401}, "/pggraph/acme/login?page=tables&db=shop&p=2", false},
		{"failed", login{Return: "range=week", Failed: true, Status: 401}, "/pggraph/acme/login?range=week", true},
		{"invalid page to return to", login{Return: "foo=1&x=<script>", Status: 401}, "/pggraph/acme/login", false},
		{"a URL to return to", login{Return: "https://evil.example/", Status: 200}, "/pggraph/acme/login", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/pggraph/acme/index.cgi?graph=connections", nil)
			w := httptest.NewRecorder()
			l := tc.login
			h.ServeHTTP(w, withVisit(r, visit{Login: &l}))
			body := w.Body.String()
			if w.Code != tc.login.Status || w.Header().Get("Content-Type") != "text/html; charset=utf-8" || w.Header().Get("Cache-Control") != "no-store" ||
				w.Header().Get("Content-Security-Policy") != csp {
				t.Fatalf("%d %q %q %q", w.Code, w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"), w.Header().Get("Content-Security-Policy"))
			}
			m := regexp.MustCompile(`<form class="login" method="post" action="([^"]*)">`).FindStringSubmatch(body)
			if m == nil || html.UnescapeString(m[1]) != tc.action {
				t.Errorf("form action %q, want %q", m, tc.action)
			}
			for _, field := range []string{`name="` + userField + `"`, `type="password" name="` + passwordField + `"`, "ACME &lt;Corp&gt; &amp; Co"} {
				if !strings.Contains(body, field) {
					t.Errorf("the page lacks %s", field)
				}
			}
			if strings.Contains(body, "Wrong user name or password") != tc.failed {
				t.Errorf("failure shown: %v, want %v", !tc.failed, tc.failed)
			}
			if strings.Contains(body, "<script") {
				t.Errorf("markup from the query string:\n%s", body)
			}
		})
	}
}

// TestLoginPageMethods: the login form is read with GET or HEAD only
// (Apache takes the posted form).
func TestLoginPageMethods(t *testing.T) {
	h := testHandler(t, newFakeSamples(), &fakeUsers{}, nil)
	for method, want := range map[string]int{http.MethodGet: 200, http.MethodHead: 200, http.MethodPost: 405, http.MethodPut: 405} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, withVisit(httptest.NewRequest(method, "/pggraph/acme/login", nil), visit{Login: &login{Status: 200}}))
		if w.Code != want {
			t.Errorf("%s: %d, want %d", method, w.Code, want)
		}
	}
}

// TestLoginState: as a CGI a request without a user is refused; a user
// with a session gets a logout link; pages differ per user in their
// ETag.
func TestLoginState(t *testing.T) {
	u := &fakeUsers{}
	h := testHandler(t, newFakeSamples(), u, nil)
	h.needUser = true
	const base = "/pggraph/acme/index.cgi"
	serve := func(target string, v visit) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, withVisit(httptest.NewRequest(http.MethodGet, target, nil), v))
		return w
	}
	if w := serve(base+"?graph=connections", visit{}); w.Code != 403 || !strings.Contains(w.Body.String(), "no login") {
		t.Errorf("no user: %d %q", w.Code, w.Body.String())
	}
	if n := len(u.log); n != 1 || u.log[0].Status != 403 || u.log[0].Login != "" {
		t.Errorf("access log of the refused request: %+v", u.log)
	}
	session := serve(base, visit{User: "alice", Form: true})
	basic := serve(base, visit{User: "alice"})
	for _, tc := range []struct {
		name string
		w    *httptest.ResponseRecorder
		want string
	}{
		{"session", session, `alice · <a href="/pggraph/acme/logout">log out</a>`},
		{"basic", basic, `<span class="who"> · alice</span>`},
	} {
		if tc.w.Code != 200 || !strings.Contains(tc.w.Body.String(), tc.want) {
			t.Errorf("%s: %d, lacks %s", tc.name, tc.w.Code, tc.want)
		}
	}
	if strings.Contains(basic.Body.String(), "log out") {
		t.Error("a Basic auth page offers to log out")
	}
	if session.Header().Get("ETag") == basic.Header().Get("ETag") {
		t.Error("the pages with and without a session share an ETag")
	}
}
