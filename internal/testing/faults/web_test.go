//go:build hard

package faults

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
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
// users added with pggraph-admin (bcrypt cost 4: the load test measures
// pggraph, not bcrypt), some collections, and Apache.
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
		res := w.startIn(t, site.users[name]+"\n", "pggraph-admin", "user", "add", "-config", paths[client], "-stdin", "-cost", "4", client, name).wait(t, runLimit)
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
// none) and returns the status, the body and its Content-Type.
func fetch(t testing.TB, a *rig.Apache, path, user string) (status int, body, contentType string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, a.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, site.users[user])
	}
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
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
