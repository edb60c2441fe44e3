package main

// The web tests: the real pggraph.cgi, built from this package, run by a
// real Apache from deploy/apache (Basic auth against pggraph_users), over
// a real central PostgreSQL holding two collections of a real client
// PostgreSQL, and pages as headless Chromium shows them.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/pggraph/pggraph/collector"
	"github.com/pggraph/pggraph/graph"
	"github.com/pggraph/pggraph/internal/cli"
	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/internal/testing/rig"
	"github.com/pggraph/pggraph/metric"
)

// shared is the package's one rig (client and central PostgreSQL),
// started by the first web test; TestMain closes it.
var shared = rig.Lazy{Options: rig.Options{Central: true}}

func TestMain(m *testing.M) {
	code := m.Run()
	if web.apache != nil {
		if err := web.apache.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop apache:", err)
		}
	}
	if err := shared.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close rig:", err)
	}
	os.Exit(code)
}

// Passwords of the web tests.
const (
	ownerPassword = "owner-pw-Ü'x"
	webPassword   = "web-pw-9zQ"
	alicePassword = "alice pw: ok"
	bobPassword   = "bob-pw"
	carolPassword = "carol-pw"
	olgaPassword  = "olga: operator"
)

// hostileTable is a table name a browser must never take for markup.
const hostileTable = `<img src=x onerror=alert(1)>`

// crmDB is the second database: a name that needs escaping in URLs and
// HTML.
const crmDB = "crm <&>"

// web is the site the web tests share, set up once.
var web struct {
	once   sync.Once
	err    error
	rig    *rig.Rig
	apache *rig.Apache
	dir    string // holds root/, bin/, apache/, pgpass
	root   string // the /var/www/pggraph of the test
	cgi    string // the pggraph.cgi binary
	// youngSince is client young's first collection: its data since.
	youngSince time.Time
}

// webSite returns the running site: Apache on the rig's central cluster,
// with client acme (max_images = 3) collected runs times, and client
// young collected youngRuns times (its first collections). It fails the
// test, never skips it.
func webSite(t testing.TB) *rig.Apache {
	t.Helper()
	r := shared.Get(t)
	web.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		web.rig = r
		web.err = setUpSite(ctx, r)
	})
	if web.err != nil {
		t.Fatalf("set up the web site: %v", web.err)
	}
	return web.apache
}

// setUpSite does site's work.
func setUpSite(ctx context.Context, r *rig.Rig) error {
	c := r.Central
	srv := store.Server{Params: fmt.Sprintf("host=%s port=%d user=%s sslmode=disable", c.Host, c.Port, c.Superuser), Password: config.Secret(c.SuperPassword)}
	if _, err := store.Setup(ctx, srv, "", nil); err != nil {
		return err
	}
	if err := c.Exec(ctx, "postgres", fmt.Sprintf(`ALTER ROLE pggraph PASSWORD %s; ALTER ROLE pggraph_web PASSWORD %s`,
		literal(ownerPassword), literal(webPassword))); err != nil {
		return err
	}
	if err := collect(ctx, r); err != nil {
		return fmt.Errorf("collect: %w", err)
	}

	// The web root, as pggraph-install leaves it, owned by www-data.
	www, err := user.Lookup("www-data")
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(www.Uid)
	gid, _ := strconv.Atoi(www.Gid)
	web.dir = filepath.Join(r.Dir, "web")
	web.root = filepath.Join(web.dir, "root")
	web.cgi = filepath.Join(web.dir, "bin", "pggraph.cgi")
	acme, young := filepath.Join(web.root, "acme"), filepath.Join(web.root, "young")
	for _, d := range []string{web.dir, filepath.Dir(web.cgi), web.root, acme, young} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	build := exec.CommandContext(ctx, goTool(), "build", "-o", web.cgi, ".")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build pggraph.cgi: %w\n%s", err, out)
	}
	cfg := config.Default()
	cfg.Install = config.Install{Directory: acme, WWWPath: "pggraph/acme", Title: "ACME <Corp> & Co"}
	cfg.Local = config.Local{Database: "pggraph", Prefix: "acme", Port: c.Port, Host: c.Host, User: "pggraph", Password: ownerPassword}
	cfg.Remote.User = "pggraph_mon"
	cfg.PGGraph.MaxImages = 3
	if err := cfg.Write(filepath.Join(acme, "config.ini")); err != nil {
		return err
	}
	// An editor's backup beside it, which must not be served either.
	if err := os.WriteFile(filepath.Join(acme, "config.ini~"), []byte("password = secret\n"), 0o644); err != nil {
		return err
	}
	ycfg := cfg
	ycfg.Install = config.Install{Directory: young, WWWPath: "pggraph/young", Title: "Young Ltd"}
	ycfg.Local.Prefix = "young"
	if err := ycfg.Write(filepath.Join(young, "config.ini")); err != nil {
		return err
	}
	for _, dir := range []string{acme, young} {
		for _, f := range []string{dir, filepath.Join(dir, "config.ini")} {
			if err := os.Chown(f, uid, gid); err != nil {
				return err
			}
		}
		if err := os.Symlink(web.cgi, filepath.Join(dir, "index.cgi")); err != nil {
			return err
		}
	}
	// The all-clients page at the root, as README's host setup makes it:
	// root's, with the central database's [local] only.
	rootIni := fmt.Sprintf("[local]\nhost = %s\nport = %d\n", c.Host, c.Port)
	if err := os.WriteFile(filepath.Join(web.root, "config.ini"), []byte(rootIni), 0o644); err != nil {
		return err
	}
	if err := os.Symlink(web.cgi, filepath.Join(web.root, "index.cgi")); err != nil {
		return err
	}
	// pggraph_web's password, for mod_dbd and the CGI; 0600 www-data.
	pgpass := filepath.Join(web.dir, "pgpass")
	if err := os.WriteFile(pgpass, fmt.Appendf(nil, "%s:%d:*:pggraph_web:%s\n", c.Host, c.Port, webPassword), 0o600); err != nil {
		return err
	}
	if err := os.Chown(pgpass, uid, gid); err != nil {
		return err
	}

	// The clients table, as pggraph-install registers each client.
	st, err := store.Open(ctx, cfg.Local, nil)
	if err != nil {
		return err
	}
	defer st.Close(ctx)
	for _, x := range []store.Client{
		{Prefix: "acme", Title: "ACME <Corp> & Co", Directory: acme, WWWPath: "pggraph/acme"},
		{Prefix: "young", Title: "Young Ltd", Directory: young, WWWPath: "pggraph/young"},
	} {
		if err := st.RegisterClient(ctx, x); err != nil {
			return err
		}
	}

	// Web users: alice sees acme, carol young, bob another client, olga
	// (an operator) every client.
	owner := store.LocalServer(cfg.Local)
	u, err := store.OpenUsers(ctx, owner)
	if err != nil {
		return err
	}
	defer u.Close(ctx)
	for _, x := range []struct{ name, pw, client string }{{"alice", alicePassword, "acme"}, {"carol", carolPassword, "young"}, {"bob", bobPassword, "other"}, {"olga", olgaPassword, store.AllClients}} {
		h, err := bcrypt.GenerateFromPassword([]byte(x.pw), bcrypt.DefaultCost) // as pggraph-admin user add
		if err != nil {
			return err
		}
		if err := u.AddUser(ctx, store.User{Name: x.name, Hash: string(h), Client: x.client}); err != nil {
			return err
		}
	}

	web.apache, err = rig.StartApache(ctx, filepath.Join(web.dir, "apache"), siteApache(rig.ApacheOptions{FastCGI: web.cgi}))
	return err
}

// siteApache returns opt with what every Apache of the site needs: the
// web root and the central cluster's pggraph_users as pggraph_web.
func siteApache(opt rig.ApacheOptions) rig.ApacheOptions {
	c := web.rig.Central
	opt.Root = web.root
	opt.DBDParams = fmt.Sprintf("host=%s port=%d dbname=pggraph_users user=pggraph_web", c.Host, c.Port)
	opt.PGPassFile = filepath.Join(web.dir, "pgpass")
	return opt
}

// otherApache starts one more Apache over the site, configured by opt
// (with its own session keys), in web.dir/name; the test stops it.
func otherApache(t *testing.T, name string, opt rig.ApacheOptions) *rig.Apache {
	t.Helper()
	webSite(t)
	a, err := rig.StartApache(t.Context(), filepath.Join(web.dir, name), siteApache(opt))
	if err != nil {
		t.Fatalf("start apache %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := a.Stop(); err != nil {
			t.Errorf("stop apache %s: %v", name, err)
		}
	})
	return a
}

// goTool is the go command that runs these tests.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// runs is how many collections of client acme the web tests write: one
// every two hours of the collector's clock, so the day graphs have
// lines.
const runs = 12

// youngRuns is how many collections of client young the web tests write:
// ten minutes apart, its first ones, so two samples.
const youngRuns = 3

// collect gives client acme runs collections of the rig's client
// PostgreSQL, two hours apart on the collector's clock and ending a
// minute ago, around a workload: databases shop (8 tables, one with a
// hostile name, and an index never used) and crm <&> (2 tables). Then
// client young gets youngRuns collections of the same server, ten
// minutes apart and ending a minute ago.
func collect(ctx context.Context, r *rig.Rig) error {
	pg := r.PG
	for _, db := range []string{"shop", crmDB} {
		if err := pg.Exec(ctx, "postgres", `CREATE DATABASE `+pgx.Identifier{db}.Sanitize()); err != nil {
			return err
		}
	}
	var ddl strings.Builder
	for i := 1; i <= 7; i++ {
		fmt.Fprintf(&ddl, "CREATE TABLE t%d (id int PRIMARY KEY, v text); INSERT INTO t%d SELECT g, 'v' || g FROM generate_series(1, %d) g;\n", i, i, 2000*i)
	}
	fmt.Fprintf(&ddl, "CREATE TABLE %s (id int); INSERT INTO %[1]s SELECT generate_series(1, 50);\n", pgx.Identifier{hostileTable}.Sanitize())
	ddl.WriteString("CREATE INDEX t1_v_never_used ON t1 (v);\n")
	if err := pg.Exec(ctx, "shop", ddl.String()); err != nil {
		return err
	}
	if err := pg.Exec(ctx, crmDB, `CREATE TABLE contacts (id int PRIMARY KEY); CREATE TABLE notes (id int);
		INSERT INTO contacts SELECT generate_series(1, 300); INSERT INTO notes SELECT generate_series(1, 30)`); err != nil {
		return err
	}
	mon := monitor(pg)
	// updates is the statistics' sum of updated rows in shop.
	updates := func() (int64, error) {
		conn, err := mon(ctx, "shop")
		if err != nil {
			return 0, err
		}
		defer conn.Close(ctx)
		var n int64
		err = conn.QueryRow(ctx, `SELECT coalesce(sum(n_tup_upd), 0) FROM pg_stat_user_tables`).Scan(&n)
		return n, err
	}
	last := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	var taken time.Time
	reader := collector.Reader{Remote: mon, Groups: metric.Groups(), Now: func() time.Time { return taken }}
	st, err := ownerStore(ctx, r)
	if err != nil {
		return err
	}
	defer st.Close(ctx)
	var prev *metric.Snapshot
	for run := range runs {
		if run > 0 {
			// Some work, different per table so that "busiest" orders
			// them, and more in some runs than in others.
			before, err := updates()
			if err != nil {
				return err
			}
			var work strings.Builder
			for i := 1; i <= 7; i++ {
				fmt.Fprintf(&work, "UPDATE t%d SET v = v || 'x' WHERE id %% %d = 0; DELETE FROM t%[1]d WHERE id %% 97 = %d; SELECT count(*) FROM t%[1]d;\n",
					i, 1+(run*i)%5, run)
			}
			work.WriteString("SET enable_seqscan = off; SELECT * FROM t2 WHERE id = 7; SELECT * FROM t3 WHERE id = 9;\n")
			if err := pg.Exec(ctx, "shop", work.String()); err != nil {
				return err
			}
			if err := pg.Exec(ctx, crmDB, fmt.Sprintf(`UPDATE contacts SET id = id + 1000 WHERE id %% 7 = %d`, run%7)); err != nil {
				return err
			}
			// A backend reports its statistics when it ends: wait for them.
			for deadline := time.Now().Add(10 * time.Second); ; {
				after, err := updates()
				if err != nil {
					return err
				}
				if after > before {
					break
				}
				if time.Now().After(deadline) {
					return errors.New("the workload's statistics never showed")
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		taken = last.Add(-time.Duration(runs-1-run) * 2 * time.Hour)
		if prev, err = storeRun(ctx, st, reader, "acme", prev); err != nil {
			return err
		}
	}
	if err := st.RecordRun(ctx, "acme", metric.RunRecord{Started: last, Duration: time.Second, Outcome: metric.OK, Samples: 1}); err != nil {
		return err
	}
	if err := st.AddEvents(ctx, "acme", screenshotEvents(last)); err != nil {
		return err
	}
	prev = nil
	for run := range youngRuns {
		taken = youngStart(last).Add(time.Duration(run) * 10 * time.Minute)
		if prev, err = storeRun(ctx, st, reader, "young", prev); err != nil {
			return err
		}
	}
	web.youngSince = youngStart(last)
	return st.RecordRun(ctx, "young", metric.RunRecord{Started: last, Duration: time.Second, Outcome: metric.OK, Samples: 1})
}

// ownerStore opens the central samples database as pggraph, the
// collector's role.
func ownerStore(ctx context.Context, r *rig.Rig) (*store.Store, error) {
	return store.OpenServer(ctx, store.Server{
		Params:   fmt.Sprintf("host=%s port=%d user=pggraph sslmode=disable", r.Central.Host, r.Central.Port),
		Password: ownerPassword,
	}, "pggraph", metric.Groups())
}

// monitor connects to a database of pg as its monitoring role, as the
// collector does.
func monitor(pg *rig.Postgres) collector.RemoteFunc {
	return func(ctx context.Context, db string) (*pgx.Conn, error) {
		return pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=disable",
			pg.Host, pg.Port, pg.MonitorUser, pg.MonitorPassword, "'"+strings.NewReplacer(`\\`, `\\\\`, `'`, `\\'`).Replace(db)+"'"))
	}
}

// storeRun is one collection of prefix: a snapshot read, its deltas
// from prev written with the rollups. It returns the snapshot.
func storeRun(ctx context.Context, st *store.Store, reader collector.Reader, prefix string, prev *metric.Snapshot) (*metric.Snapshot, error) {
	cur, err := reader.Read(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := st.Begin(ctx, prefix)
	if err != nil {
		return nil, err
	}
	if err := tx.Write(ctx, cur, collector.Deltas(reader.Groups, prev, cur)); err != nil {
		tx.Rollback(ctx)
		return nil, err
	}
	if err := tx.Maintain(ctx, metric.Retention{}); err != nil {
		tx.Rollback(ctx)
		return nil, err
	}
	return cur, tx.Commit(ctx)
}

// youngStart is client young's first collection (it primes), when its
// last one is at last.
func youngStart(last time.Time) time.Time {
	return last.Add(-(youngRuns - 1) * 10 * time.Minute)
}

// Ways a request authenticates.
const (
	viaSession = iota // the session cookie of the user's login form login
	viaBasic          // HTTP Basic auth
)

// sessions are the web tests' logins: a session cookie per user and
// password, made by the login form on first use.
var sessions struct {
	mu     sync.Mutex
	cookie map[[2]string]*http.Cookie
}

// fetch GETs path from Apache as user with the session of a login as
// user (none when user is ""), with extra headers as name/value pairs.
func fetch(t testing.TB, a *rig.Apache, path, user, password string, header ...string) (*http.Response, []byte) {
	t.Helper()
	return fetchVia(t, a, path, viaSession, user, password, header...)
}

// fetchBasic GETs path from Apache with HTTP Basic auth as user.
func fetchBasic(t testing.TB, a *rig.Apache, path, user, password string, header ...string) (*http.Response, []byte) {
	t.Helper()
	return fetchVia(t, a, path, viaBasic, user, password, header...)
}

func fetchVia(t testing.TB, a *rig.Apache, path string, via int, user, password string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, a.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case user == "":
	case via == viaBasic:
		req.SetBasicAuth(user, password)
	default:
		req.AddCookie(session(t, a, user, password))
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, a, req)
}

// do sends req without following redirects and reads the response.
func do(t testing.TB, a *rig.Apache, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := a.Client(30 * time.Second).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.RequestURI(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.RequestURI(), err)
	}
	return resp, body
}

// session returns the session cookie of a login as user on a's login
// form, logging in on first use.
func session(t testing.TB, a *rig.Apache, user, password string) *http.Cookie {
	t.Helper()
	sessions.mu.Lock()
	defer sessions.mu.Unlock()
	key := [2]string{a.URL + " " + user, password}
	if c := sessions.cookie[key]; c != nil {
		return c
	}
	resp, body := logIn(t, a, "/pggraph/acme/login", user, password)
	c := sessionCookie(resp)
	if resp.StatusCode != http.StatusFound || c == nil {
		t.Fatalf("log in as %s: %d, session cookie %v\n%s%s", user, resp.StatusCode, c, body, a.Logs())
	}
	if sessions.cookie == nil {
		sessions.cookie = map[[2]string]*http.Cookie{}
	}
	sessions.cookie[key] = c
	return c
}

// logIn posts the login form to path (…/login with the query of the
// page to return to) as a browser does, with more form fields as
// name/value pairs.
func logIn(t testing.TB, a *rig.Apache, path, user, password string, fields ...string) (*http.Response, []byte) {
	t.Helper()
	form := url.Values{userField: {user}, passwordField: {password}}
	for i := 0; i+1 < len(fields); i += 2 {
		form.Add(fields[i], fields[i+1])
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, a.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, a, req)
}

// sessionCookie is the session cookie a response sets, nil when none.
func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookieName {
			return c
		}
	}
	return nil
}

// sessionCookieName is the cookie of pggraph.conf's sessions.
const sessionCookieName = "pggraph_session"

// base and youngBase are the pages of clients acme and young.
const (
	base      = "/pggraph/acme/index.cgi"
	youngBase = "/pggraph/young/index.cgi"
)

// TestApacheAuth: every way into the pages, with a session and with
// Basic auth, and what must never be served.
func TestApacheAuth(t *testing.T) {
	a := webSite(t)
	tests := []struct {
		name, path string
		via        int
		user       string
		password   string
		status     int
	}{
		{"no session", "/pggraph/acme/", viaSession, "", "", 401},
		{"session", "/pggraph/acme/", viaSession, "alice", alicePassword, 200},
		{"session, index.cgi", base, viaSession, "alice", alicePassword, 200},
		{"session, image", base + "?graph=connections", viaSession, "alice", alicePassword, 200},
		{"another client's user's session", "/pggraph/acme/", viaSession, "bob", bobPassword, 403},
		{"another client's user's session, image", base + "?graph=connections", viaSession, "bob", bobPassword, 403},
		{"the login form", "/pggraph/acme/login", viaSession, "", "", 200},
		{"Basic, wrong password", "/pggraph/acme/", viaBasic, "alice", "wrong", 401},
		{"Basic, unknown user", "/pggraph/acme/", viaBasic, "mallory", "x", 401},
		{"Basic", "/pggraph/acme/", viaBasic, "alice", alicePassword, 200},
		{"Basic, index.cgi", base, viaBasic, "alice", alicePassword, 200},
		{"Basic, another client's user", "/pggraph/acme/", viaBasic, "bob", bobPassword, 403},
		{"Basic, another client's user, index.cgi", base + "?graph=connections", viaBasic, "bob", bobPassword, 403},
		{"config.ini", "/pggraph/acme/config.ini", viaSession, "alice", alicePassword, 403},
		{"config.ini, Basic", "/pggraph/acme/config.ini", viaBasic, "alice", alicePassword, 403},
		{"config.ini without credentials", "/pggraph/acme/config.ini", viaSession, "", "", 403},
		{"config.ini encoded", "/pggraph/acme/config%2Eini", viaSession, "alice", alicePassword, 403},
		{"config.ini dot segment", "/pggraph/acme/./config.ini", viaSession, "alice", alicePassword, 403},
		{"config.ini double slash", "/pggraph//acme//config.ini", viaSession, "alice", alicePassword, 403},
		{"config.ini as the login", "/pggraph/acme/login/../config.ini", viaSession, "", "", 403},
		{"editor backup", "/pggraph/acme/config.ini~", viaSession, "alice", alicePassword, 403},
		{"the access spool", "/pggraph/acme/" + spoolName, viaSession, "alice", alicePassword, 403},
		{"the image cache", "/pggraph/acme/" + cacheDirName + "/", viaSession, "alice", alicePassword, 403},
		{"path info", base + "/x", viaSession, "alice", alicePassword, 403},
		{"path info after the login", "/pggraph/acme/login/x", viaSession, "", "", 403},
		{"the root", "/pggraph/", viaSession, "alice", alicePassword, 403},
		{"outside", "/", viaSession, "", "", 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := fetchVia(t, a, tc.path, tc.via, tc.user, tc.password)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s as %q: %d, want %d\n%s%s", tc.path, tc.user, resp.StatusCode, tc.status, body, a.Logs())
			}
			challenge := resp.Header.Get("WWW-Authenticate")
			switch {
			case tc.status == 401 && tc.via == viaBasic && !strings.HasPrefix(challenge, `Basic realm="pggraph"`):
				t.Errorf("401 without a Basic challenge: %q", challenge)
			case tc.status == 401 && tc.via == viaSession && challenge != "":
				t.Errorf("a browser without a session is asked for Basic auth: %q", challenge)
			case tc.status == 401 && tc.via == viaSession && !bytes.Contains(body, []byte(`name="`+passwordField+`"`)):
				t.Errorf("401 without the login form:\n%s", body)
			}
			for _, secret := range []string{ownerPassword, webPassword, alicePassword, "password = secret", "[local]"} {
				if bytes.Contains(body, []byte(secret)) {
					t.Errorf("the body shows %q:\n%s", secret, body)
				}
			}
			if tc.status == 200 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") && !strings.Contains(tc.path, "graph=") {
				t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
			}
		})
	}
}

// images returns the src of every <img> of a page, and of those with
// class thumb.
func images(page []byte) (all, thumbs []string) {
	for _, m := range regexp.MustCompile(`<img( class="thumb")? src="([^"]*)"`).FindAllSubmatch(page, -1) {
		src := html.UnescapeString(string(m[2]))
		all = append(all, src)
		if len(m[1]) > 0 {
			thumbs = append(thumbs, src)
		}
	}
	return all, thumbs
}

// hrefs returns the links of a page whose text matches re.
func hrefs(page []byte, re string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<a (?:rel="[a-z]+" )?href="([^"]*)">(`+re+`)</a>`).FindAllSubmatch(page, -1) {
		out = append(out, html.UnescapeString(string(m[1])))
	}
	return out
}

func TestApachePages(t *testing.T) {
	a := webSite(t)
	get := func(path string) []byte {
		t.Helper()
		resp, body := fetch(t, a, path, "alice", alicePassword)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s%s", path, resp.StatusCode, body, a.Logs())
		}
		return body
	}
	// Of the optional graphs' groups, the rig's client (a PostgreSQL 15
	// primary without pg_wait_sampling's extension, subscriptions,
	// sequences or called functions) has slru only.
	count := func(scope graph.Scope) int { return shownGraphs(scope, map[string]bool{"slru": true}) }

	overview := get(base)
	if !bytes.Contains(overview, []byte("ACME &lt;Corp&gt; &amp; Co")) {
		t.Errorf("overview lacks the escaped title")
	}
	all, _ := images(overview)
	if len(all) != count(graph.Server) {
		t.Errorf("overview: %d images, want %d", len(all), count(graph.Server))
	}
	// PostgreSQL 15 has no pg_stat_io: no I/O graph, and the page says why.
	if !bytes.Contains(overview, []byte("pg_stat_io exists from PostgreSQL 16 on")) || bytes.Contains(overview, []byte("graph=io&amp;")) {
		t.Errorf("overview of a PostgreSQL 15 client: no word that pg_stat_io needs 16, or an I/O graph")
	}
	if bytes.Contains(overview, []byte("template0")) || bytes.Contains(overview, []byte("template1")) {
		t.Errorf("overview lists the template databases")
	}
	shop := hrefs(overview, "shop")
	crm := hrefs(overview, regexp.QuoteMeta("crm &lt;&amp;&gt;"))
	if len(shop) != 1 || len(crm) != 1 {
		t.Fatalf("overview links to shop %q, crm %q", shop, crm)
	}

	// Database shop: 8 tables, 3 a page: pages 1, 2 (full) and 3.
	p1 := get(shop[0])
	all1, thumbs1 := images(p1)
	if len(thumbs1) != 3 || len(all1) != 3+count(graph.Database) {
		t.Errorf("tables page 1: %d table images of %d, want 3 and %d database graphs", len(thumbs1), len(all1), count(graph.Database))
	}
	if !bytes.Contains(p1, []byte("page 1 of 3")) {
		t.Errorf("tables page 1 does not say page 1 of 3")
	}
	next := hrefs(p1, "next ›")
	if len(next) != 1 {
		t.Fatalf("page 1 has no next link")
	}
	p2 := get(next[0])
	all2, thumbs2 := images(p2)
	if len(thumbs2) != 3 || len(all2) != 3 {
		t.Errorf("tables page 2: %d table images of %d, want exactly 3", len(thumbs2), len(all2))
	}
	if bytes.Contains(p1, []byte("<img src=x")) || bytes.Contains(p2, []byte("<img src=x")) {
		t.Error("the hostile table name is not escaped")
	}
	// The table page of the first table of page 1, and of every table with
	// its hostile name, reached through their links.
	tableLinks := hrefs(append(append([]byte{}, p1...), p2...), `[^<]*`)
	var tablePages []string
	for _, l := range tableLinks {
		if strings.Contains(l, "page=table&") {
			tablePages = append(tablePages, l)
		}
	}
	if len(tablePages) != 6 {
		t.Fatalf("pages 1 and 2 link to %d tables, want 6: %q", len(tablePages), tablePages)
	}
	t1 := ""
	for _, l := range tablePages {
		if strings.HasSuffix(l, "table=public.t1") {
			t1 = l
		}
	}
	if t1 == "" {
		t1 = tablePages[0]
	}
	tp := get(t1)
	allT, _ := images(tp)
	if len(allT) != count(graph.Table) {
		t.Errorf("table page: %d images, want %d", len(allT), count(graph.Table))
	}
	if strings.HasSuffix(t1, "public.t1") && !bytes.Contains(tp, []byte("public.t1_v_never_used</td><td class=\"num\">0</td>")) {
		t.Errorf("table page of t1 does not list its unused index with 0 scans")
	}
	if strings.HasSuffix(t1, "public.t1") && !bytes.Contains(tp, []byte("never used in this range")) {
		t.Errorf("table page of t1 does not mark the unused index")
	}
	crmPage := get(crm[0])
	if _, thumbs := images(crmPage); len(thumbs) != 2 {
		t.Errorf("crm page: %d table images, want 2", len(thumbs))
	}

	// Every image of these pages is a PNG; its CSV has a header and rows.
	var srcs []string
	for _, page := range [][]byte{overview, p1, p2, tp, crmPage} {
		all, _ := images(page)
		srcs = append(srcs, all...)
	}
	type result struct {
		src string
		err error
	}
	results := make(chan result, len(srcs))
	work := make(chan string)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for src := range work {
				results <- result{src, checkImage(t, a, src, "alice", alicePassword)}
			}
		})
	}
	for _, s := range srcs {
		work <- s
	}
	close(work)
	wg.Wait()
	close(results)
	for r := range results {
		if r.err != nil {
			t.Errorf("%s: %v", r.src, r.err)
		}
	}
	t.Logf("%d images and their CSV checked", len(srcs))
}

// TestApacheYoungClient: client young's overview, after its first
// collections, opens on all its data rather than on a mostly empty day,
// and says since when it has data; its images are of that span.
func TestApacheYoungClient(t *testing.T) {
	a := webSite(t)
	resp, page := fetch(t, a, youngBase, "carol", carolPassword)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s%s", youngBase, resp.StatusCode, page, a.Logs())
	}
	since := web.youngSince
	from := url.QueryEscape(since.Truncate(time.Second).Format(time.RFC3339))
	for _, want := range []string{
		`<a href="` + youngBase + `?range=custom&amp;from=` + from + `">data since ` + since.Format("2006-01-02 15:04 UTC") + `</a>`,
		"This client's data starts " + since.Format("2006-01-02 15:04 UTC") + ", less than a day ago",
		`src="` + youngBase + `?graph=transactions&amp;range=custom&amp;from=` + from + `"`,
	} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("young's overview lacks %s", want)
		}
	}
	// Its transactions graph has two samples: two points a line.
	src := youngBase + "?graph=transactions&range=custom&from=" + from
	resp, body := fetch(t, a, src+"&format=csv", "carol", carolPassword)
	if n := strings.Count(strings.TrimSpace(string(body)), "\n"); resp.StatusCode != 200 || n != youngRuns-1 {
		t.Errorf("%s: %d, %d rows, want %d:\n%s", src, resp.StatusCode, n, youngRuns-1, body)
	}
	if err := checkImage(t, a, src, "carol", carolPassword); err != nil {
		t.Errorf("%s: %v", src, err)
	}
	// An explicit day stays a day.
	if _, page := fetch(t, a, youngBase+"?range=day", "carol", carolPassword); bytes.Contains(page, []byte("less than a day ago")) ||
		!bytes.Contains(page, []byte("graph=transactions&amp;range=day")) {
		t.Errorf("young's overview with range=day opened on another span")
	}
}

// checkImage fetches an image as user: a PNG that decodes, then its CSV.
func checkImage(t *testing.T, a *rig.Apache, src, user, password string) error {
	resp, body := fetch(t, a, src, user, password)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		return fmt.Errorf("%d %s: %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("decode PNG: %w", err)
	}
	if b := img.Bounds(); b.Dx() < 200 || b.Dy() < 100 {
		return fmt.Errorf("image %v", b)
	}
	resp, body = fetch(t, a, src+"&format=csv", user, password)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		return fmt.Errorf("csv: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if !strings.HasPrefix(lines[0], "time,seconds,") {
		return fmt.Errorf("csv without header:\n%s", body)
	}
	// The rig's client server has no standby: no replication rows.
	if len(lines) < 2 && strings.Contains(src, "graph=replication&") {
		return nil
	}
	if len(lines) < 2 {
		return fmt.Errorf("csv without rows:\n%s", body)
	}
	if _, err := time.Parse(time.RFC3339, strings.SplitN(lines[1], ",", 2)[0]); err != nil {
		return fmt.Errorf("csv row %q: %v", lines[1], err)
	}
	return nil
}

func TestApacheErrors(t *testing.T) {
	a := webSite(t)
	for _, tc := range []struct {
		query  string
		status int
		body   string
	}{
		{"?foo=1", 400, `400 Bad Request: unknown parameter "foo"` + "\n"},
		{"?page=tables&db=shop&db=crm", 400, "400 Bad Request: parameter db given 2 times\n"},
		{"?page=tables&db=" + strings.Repeat("x", 300), 400, "400 Bad Request: parameter db is longer than 256 bytes\n"},
		{"?page=tables&db=shop&p=0", 400, "400 Bad Request: p must be a page number from 1\n"},
		{"?page=tables&db=shop&p=4", 404, `404 Not Found: no page 4: database "shop" has 3 page(s) of tables` + "\n"},
		{"?page=tables&db=nope", 404, `404 Not Found: no database "nope"` + "\n"},
		{"?page=table&db=shop&table=public.nope", 404, `404 Not Found: no table "public.nope" in database "shop"` + "\n"},
		{"?graph=nope", 404, `404 Not Found: no graph "nope"` + "\n"},
		{"?graph=table_size&db=shop&table=public.nope&format=csv", 404, `404 Not Found: no table "public.nope" in database "shop"` + "\n"},
		{"?range=custom&from=2025-02-30", 400, ""},
	} {
		resp, body := fetch(t, a, base+tc.query, "alice", alicePassword)
		if resp.StatusCode != tc.status || (tc.body != "" && string(body) != tc.body) || strings.Count(string(body), "\n") != 1 {
			t.Errorf("%s: %d %q, want %d %q", tc.query, resp.StatusCode, body, tc.status, tc.body)
		}
	}
}

func TestApacheCachingAndAccessLog(t *testing.T) {
	a := webSite(t)
	marker := fmt.Sprintf("?page=tables&db=shop&sort=dead&range=week")
	resp, _ := fetch(t, a, base+marker, "alice", alicePassword)
	tag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || tag == "" || resp.Header.Get("Last-Modified") == "" || !strings.HasPrefix(resp.Header.Get("Cache-Control"), "private, max-age=") {
		t.Fatalf("first: %d ETag %q Last-Modified %q Cache-Control %q", resp.StatusCode, tag, resp.Header.Get("Last-Modified"), resp.Header.Get("Cache-Control"))
	}
	resp, body := fetch(t, a, base+marker, "alice", alicePassword, "If-None-Match", tag)
	if resp.StatusCode != 304 || len(body) != 0 {
		t.Errorf("If-None-Match: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, _ = fetch(t, a, base+marker, "alice", alicePassword, "If-None-Match", `"stale"`)
	if resp.StatusCode != 200 {
		t.Errorf("stale ETag: %d", resp.StatusCode)
	}
	fetch(t, a, base+marker+"&bad=1", "alice", alicePassword)

	conn, err := pgx.Connect(t.Context(), web.rig.Central.ConnString("pggraph_users"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	// The CGI spools the rows: they arrive within a second or so.
	var got []string
	for deadline := time.Now().Add(15 * time.Second); len(got) < 4 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		got = accessRows(t, conn, "%"+marker+"%")
	}
	want := []string{
		"alice " + base + marker + " 127.0.0.1 200 true",
		"alice " + base + marker + " 127.0.0.1 304 true",
		"alice " + base + marker + " 127.0.0.1 200 true",
		"alice " + base + marker + "&bad=1 127.0.0.1 400 true",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("access log rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestFastCGIKeepsConnections: served by pggraph.cgi's FastCGI server
// (as pggraph.conf has it by default), the pages' PostgreSQL connections
// outlive their requests: images drawn after the tenth are read over a
// connection opened before it. A CGI process per request would have
// closed every one.
func TestFastCGIKeepsConnections(t *testing.T) {
	a := webSite(t)
	conn, err := pgx.Connect(t.Context(), web.rig.Central.ConnString("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	draw := func(from, to int) {
		for w := from; w < to; w++ {
			// A width of its own: drawn, not answered from the cache.
			resp, body := fetch(t, a, fmt.Sprintf("%s?graph=connections&width=%d", base, 400+w), "alice", alicePassword)
			if resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte("\x89PNG")) {
				t.Fatalf("image %d: %d %.200q", w, resp.StatusCode, body)
			}
		}
	}
	draw(0, 10)
	var mid time.Time
	if err := conn.QueryRow(t.Context(), `SELECT clock_timestamp()`).Scan(&mid); err != nil {
		t.Fatal(err)
	}
	draw(10, 20)
	var kept int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
		WHERE usename = 'pggraph_web' AND datname = 'pggraph' AND backend_start < $1 AND state_change > $1`, mid).Scan(&kept); err != nil {
		t.Fatal(err)
	}
	if kept == 0 {
		t.Errorf("no connection to pggraph opened before the 11th image served a later one: each request logged in anew")
	}
}

// accessRows returns the client_access_log rows whose request is like
// pattern, in their order: login, request, address, status and whether
// it is of the last minute.
func accessRows(t *testing.T, conn *pgx.Conn, pattern string) []string {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT login, request, ip_address, status, date > now() - interval '1 minute'
		FROM client_access_log WHERE request LIKE $1 ORDER BY id`, pattern)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var login, request, ip string
		var status int
		var recent bool
		if err := rows.Scan(&login, &request, &ip, &status, &recent); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %s %d %v", login, request, ip, status, recent))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestCGIWithoutApache runs the binary as a CGI by hand: a broken
// config.ini is a 500 with one line, never the file's content.
func TestCGIWithoutApache(t *testing.T) {
	webSite(t)
	dir := filepath.Join(web.dir, "broken")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.ini"), []byte("[local]\npassword = s3cret\nbogus = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), web.cgi)
	cmd.Env = []string{"GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=GET", "SERVER_PROTOCOL=HTTP/1.1",
		"SCRIPT_FILENAME=" + filepath.Join(dir, "index.cgi"), "REQUEST_URI=/pggraph/broken/index.cgi", "REMOTE_USER=alice"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("exit: %v, want 2", err)
	}
	if !strings.HasPrefix(stdout.String(), "Status: 500 Internal Server Error\r\n") || strings.Contains(stdout.String()+stderr.String(), "s3cret") {
		t.Errorf("stdout %q\nstderr %q", stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "bogus") {
		t.Errorf("stderr does not name the bad key: %q", stderr.String())
	}
}

// screenshotDir is where the screenshots are kept: $PGGRAPH_SCREENSHOTS,
// or testdata/out (ignored by git).
func screenshotDir(t *testing.T) string {
	d := os.Getenv("PGGRAPH_SCREENSHOTS")
	if d == "" {
		d = filepath.Join("testdata", "out")
	}
	d, err := filepath.Abs(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestScreenshots(t *testing.T) {
	a := webSite(t)
	dir := screenshotDir(t)
	u, err := url.Parse(a.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, path, user, password string }{
		{"overview", base, "alice", alicePassword},
		{"tables", base + "?page=tables&db=shop&p=2", "alice", alicePassword},
		{"table", base + "?page=table&db=shop&table=public.t1", "alice", alicePassword},
		// docs/young-client.png: a client after its first collections.
		{"young-client", youngBase, "carol", carolPassword},
		// docs/events.png: a table's last 12 hours with events and the
		// 12 hours before; docs/events-page.png: the events page.
		{"events", base + "?page=table&db=shop&table=public.t3&range=custom&compare=previous&from=" + url.QueryEscape(time.Now().UTC().Add(-12*time.Hour).Format(time.RFC3339)), "alice", alicePassword},
		{"events-page", base + "?page=events&range=week", "alice", alicePassword},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name+".png")
			logStart := fileLen(a.AccessLog)
			u.User = url.UserPassword(tc.user, tc.password)
			if err := rig.Screenshot(t.Context(), u.String()+tc.path, out); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot: %s", out)
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Fatalf("decode %s: %v", out, err)
			}
			if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 900 {
				t.Errorf("screenshot is %v, want 1200×900", b)
			}
			// A page of graphs is mostly white: measured 2.5% (overview)
			// and 2.9% (table) here, and 1.5% for the table page with
			// Chromium's images turned off.
			if share := inked(img); share < 0.02 {
				t.Errorf("only %.1f%% of the screenshot differs from the background", 100*share)
			} else {
				t.Logf("%.1f%% of the pixels differ from the background", 100*share)
			}
			// The browser loaded the page and its images with the
			// credentials: Apache logged them as the user's, 200.
			lines := accessLines(t, a.AccessLog, logStart)
			var pages, imgs int
			for _, l := range lines {
				if !strings.Contains(l, " "+tc.user+" ") || !strings.Contains(l, "\" 200 ") {
					continue
				}
				if strings.Contains(l, "graph=") {
					imgs++
				} else {
					pages++
				}
			}
			if pages < 1 || imgs < 3 && !strings.Contains(tc.path, "page=events") {
				t.Errorf("the browser fetched %d pages and %d images as %s with 200:\n%s", pages, imgs, tc.user, strings.Join(lines, "\n"))
			}
		})
	}
}

// inked is the share of pixels that differ clearly from the top-left
// pixel (the page's background).
func inked(img image.Image) float64 {
	b := img.Bounds()
	br, bg, bb, _ := img.At(b.Min.X, b.Min.Y).RGBA()
	diff := func(x, y uint32) bool { return max(x, y)-min(x, y) > 0x2000 }
	var n int
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if diff(r, br) || diff(g, bg) || diff(bl, bb) {
				n++
			}
		}
	}
	return float64(n) / float64(b.Dx()*b.Dy())
}

func fileLen(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// accessLines returns the lines of Apache's access log after offset.
func accessLines(t *testing.T, path string, offset int64) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// TestApacheThroughput measures requests per second through Apache for
// an image, a page and a 304, four at a time (figures for the README; it
// fails only on errors).
func TestApacheThroughput(t *testing.T) {
	a := webSite(t)
	for _, tc := range []struct {
		name, path string
		header     []string
	}{
		{"png day", base + "?graph=connections&range=day", nil},
		{"table page", base + "?page=table&db=shop&table=public.t1", nil},
		{"tables page", base + "?page=tables&db=shop", nil},
	} {
		const n, workers = 60, 4
		resp, _ := fetch(t, a, tc.path, "alice", alicePassword)
		tag := resp.Header.Get("ETag")
		for _, cond := range []bool{false, true} {
			var header []string
			name := tc.name
			if cond {
				header, name = []string{"If-None-Match", tag}, tc.name+" (304)"
			}
			start := time.Now()
			var wg sync.WaitGroup
			var mu sync.Mutex
			fails := 0
			for w := range workers {
				wg.Go(func() {
					for i := w; i < n; i += workers {
						resp, _ := fetch(t, a, tc.path, "alice", alicePassword, header...)
						if resp.StatusCode != 200 && resp.StatusCode != 304 {
							mu.Lock()
							fails++
							mu.Unlock()
						}
					}
				})
			}
			wg.Wait()
			d := time.Since(start)
			if fails > 0 {
				t.Errorf("%s: %d of %d requests failed", name, fails, n)
			}
			t.Logf("%-22s %3d requests, %d at a time: %6.1f req/s, %5.1f ms each", name, n, workers, float64(n)/d.Seconds(), float64(d.Milliseconds())*workers/n)
		}
	}
}

// TestCGIDirect runs the binary as Apache would, without Apache: the
// cost of one CGI process per request, with its steps logged
// (PGGRAPH_DEBUG).
func TestCGIDirect(t *testing.T) {
	webSite(t)
	acme := filepath.Join(web.root, "acme")
	cgiRun := func(query string, header ...string) (string, string, time.Duration) {
		t.Helper()
		env := []string{"GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=GET", "SERVER_PROTOCOL=HTTP/1.1", "HTTP_HOST=127.0.0.1",
			"SCRIPT_FILENAME=" + filepath.Join(acme, "index.cgi"), "REQUEST_URI=" + base + query, "QUERY_STRING=" + strings.TrimPrefix(query, "?"),
			"REMOTE_USER=alice", "REMOTE_ADDR=192.0.2.7", "REMOTE_PORT=5555",
			"PGPASSFILE=" + filepath.Join(web.dir, "pgpass"), "PGGRAPH_DEBUG=1"}
		env = append(env, header...)
		cmd := exec.CommandContext(t.Context(), filepath.Join(acme, "index.cgi"))
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", query, err, stderr.String())
		}
		return stdout.String(), stderr.String(), time.Since(start)
	}
	out, _, _ := cgiRun("?graph=connections")
	if !strings.HasPrefix(out, "Status: 200 OK\r\n") && !strings.Contains(out, "Content-Type: image/png") {
		t.Fatalf("CGI output %.300q", out)
	}
	tag := regexp.MustCompile(`(?m)^Etag: (.*)\r$`).FindStringSubmatch(out)
	if tag == nil {
		t.Fatalf("no ETag in %.300q", out)
	}
	for _, tc := range []struct {
		name, query string
		header      []string
	}{
		{"304", "?graph=connections", []string{"HTTP_IF_NONE_MATCH=" + tag[1]}},
		{"png day", "?graph=connections", nil},
		{"tables page", "?page=tables&db=shop", nil},
	} {
		var total time.Duration
		const n = 10
		var stderr string
		for range n {
			_, e, d := cgiRun(tc.query, tc.header...)
			total += d
			stderr = e
		}
		t.Logf("CGI %-12s %5.1f ms per request (process start to exit); steps of the last one:\n%s", tc.name, float64(total.Microseconds())/1000/n, stderr)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestListen serves the same handler with -listen for development: the
// pages at /<www_path>/index.cgi, -user as REMOTE_USER.
func TestListen(t *testing.T) {
	webSite(t)
	t.Setenv("PGPASSFILE", filepath.Join(web.dir, "pgpass"))
	cfg := filepath.Join(web.root, "acme", "config.ini")
	for _, tc := range []struct {
		user   string
		status int
	}{{"alice", 200}, {"bob", 403}} {
		ctx, cancel := context.WithCancel(t.Context())
		var stdout, stderr syncBuffer
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-config", cfg, "-user", tc.user}, func(string) string { return "" }, &stdout, &stderr)
		}()
		re := regexp.MustCompile(`at (http://127\.0\.0\.1:\d+/pggraph/acme/index\.cgi)\n`)
		var u string
		for deadline := time.Now().Add(10 * time.Second); u == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if m := re.FindStringSubmatch(stdout.String()); m != nil {
				u = m[1]
			}
		}
		if u == "" {
			cancel()
			t.Fatalf("no address printed: %q %q", stdout.String(), stderr.String())
		}
		for _, x := range []struct {
			path   string
			status int
		}{{"", tc.status}, {"?page=tables&db=shop", tc.status}, {"?foo=1", map[int]int{200: 400, 403: 403}[tc.status]}} {
			resp, err := http.Get(u + x.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != x.status {
				t.Errorf("-user %s %s: %d, want %d; log: %s", tc.user, x.path, resp.StatusCode, x.status, stderr.String())
			}
		}
		resp, err := http.Get(strings.TrimSuffix(u, "/pggraph/acme/index.cgi") + "/pggraph/other/index.cgi")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 404 {
				t.Errorf("another path: %d, want 404", resp.StatusCode)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run -listen: %v", err)
		}
	}
	// -listen without -config is a usage error.
	err := run(t.Context(), []string{"-listen", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard, io.Discard)
	if cli.ExitCode(err) != 2 {
		t.Errorf("-listen without -config: %v", err)
	}
	// Neither a CGI environment nor -listen: usage error.
	if err := run(t.Context(), nil, func(string) string { return "" }, io.Discard, io.Discard); cli.ExitCode(err) != 2 || !strings.Contains(err.Error(), "GATEWAY_INTERFACE") {
		t.Errorf("no CGI environment: %v", err)
	}
}
