package main

import (
	"bytes"
	"context"
	_ "embed"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/pggraph/pggraph/internal/logging"
)

//go:embed login.html
var loginHTML string

// URL names, in a client's directory, of the login form and of logging
// out (deploy/apache/pggraph.conf maps the first to this program).
const (
	loginName  = "login"
	logoutName = "logout"
)

// Form fields of the login form: mod_auth_form's defaults.
const (
	userField     = "httpd_username"
	passwordField = "httpd_password"
)

// visit is what the web server says about a request's login.
type visit struct {
	User string // REMOTE_USER; "" when none
	// Client is the client Apache checked User against (MATCH_CLIENT,
	// pggraph.conf's directory name, for its Require dbd-group); "" when
	// it did not say, and the CGI asks pggraph_users itself.
	Client string
	// Form: the user logged in with the login form and has a session
	// (AUTH_TYPE form), which the pages offer to end.
	Form bool
	// Login, when set, asks for the login page instead of anything else.
	Login *login
}

// login is a request for the login page, which Apache runs this program
// for at /<www_path>/login: asked for directly (GET), or shown instead of
// a page that needs a login (ErrorDocument 401, after a failed login
// too).
type login struct {
	// Return is the query string of the page to show after the login.
	Return string
	// Failed: the previous attempt's user name or password was wrong.
	Failed bool
	// Status is the response's: 401 in place of a page, 200 when asked
	// for.
	Status int
}

// visitFromEnv reads a request's visit from the environment Apache sets
// (a CGI's, or a FastCGI request's parameters) and its URI: REMOTE_USER,
// AUTH_TYPE and MATCH_CLIENT, and for the login page where the browser
// comes from. The login page is the one asked for at …/login (the
// URI's last segment), or shown in place of a page that needs a login:
// Apache's ErrorDocument 401, the only response pggraph.conf sends there
// (REDIRECT_STATUS 401; the URI is then the page's, and
// REDIRECT_QUERY_STRING and REDIRECT_REQUEST_METHOD say what it was: a
// failed login is a POST).
func visitFromEnv(getenv func(string) string, uri *url.URL) visit {
	v := visit{User: getenv("REMOTE_USER"), Client: getenv("MATCH_CLIENT"), Form: strings.EqualFold(getenv("AUTH_TYPE"), "form")}
	shown := getenv("REDIRECT_STATUS") == strconv.Itoa(http.StatusUnauthorized)
	if !shown && path.Base(uri.Path) != loginName {
		return v
	}
	l := &login{Return: uri.RawQuery, Status: http.StatusOK}
	if shown {
		l.Return = getenv("REDIRECT_QUERY_STRING")
		l.Failed = getenv("REDIRECT_REQUEST_METHOD") == http.MethodPost
		l.Status = http.StatusUnauthorized
	}
	v.Login = l
	return v
}

// loginView is what login.html shows.
type loginView struct {
	Title  string // the client's title
	Action string // where the form posts: the login URL with the page to return to
	Failed bool
	// UserField and PasswordField name the form's fields.
	UserField, PasswordField string
}

// loginPage answers a request for the login form (GET or HEAD; the form
// posts to Apache). It reads no database: anyone may ask for it. The page to return to is kept only when it is a
// valid request of these pages.
func (h *handler) loginPage(w http.ResponseWriter, r *http.Request, l *login) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.fail(w, &httpError{http.StatusMethodNotAllowed, "only GET and HEAD"})
		return
	}
	ret := l.Return
	_, herr := parseRequest(ret, h.now())
	if h.site.Root {
		_, herr = parseRoot(ret)
	}
	if herr != nil {
		ret = ""
	}
	v := loginView{Title: h.site.Title, Action: h.site.dir() + loginName, Failed: l.Failed,
		UserField: userField, PasswordField: passwordField}
	if ret != "" {
		v.Action += "?" + ret
	}
	tmpl, err := htmlTemplate("login", loginHTML)
	var buf bytes.Buffer
	if err == nil {
		err = tmpl.Execute(&buf, v)
	}
	if err != nil {
		h.log.Error("login page: "+err.Error(), logging.Step, "serve")
		h.fail(w, &httpError{http.StatusInternalServerError, "internal error"})
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(buf.Len()))
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", csp)
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	w.WriteHeader(l.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// visitKey is the context key of a request's visit.
type visitKey struct{}

// withVisit returns r with what the web server said about its login
// attached. The CGI shell sets it from the environment, never from a
// request header.
func withVisit(r *http.Request, v visit) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), visitKey{}, v))
}

// withUser returns r with user as the authenticated user; "" means none.
func withUser(r *http.Request, user string) *http.Request {
	return withVisit(r, visit{User: user})
}

// visitOf returns r's visit (the zero visit when none is attached).
func visitOf(r *http.Request) visit {
	v, _ := r.Context().Value(visitKey{}).(visit)
	return v
}
