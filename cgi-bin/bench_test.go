package main

// Benchmarks of the pages as users get them: through Apache, with web
// users made at pggraph-admin's default bcrypt cost, logged in once on
// the form (or, for scripts, with Basic auth).

import (
	"context"
	"fmt"
	htmlpkg "html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pggraph/pggraph/collector"
	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/internal/testing/rig"
	"github.com/pggraph/pggraph/metric"
)

// BenchmarkOverviewInChromium loads the overview page (its graphs are
// images, each one more request) through Apache and the FastCGI server,
// in a cold headless Chromium (a new profile each time, so no cache),
// after logging in once on the form and letting the browser finish
// starting. It reports the median time from asking for the page to its
// load event, every image loaded:
//
//   - page-load-ms (target < 300 ms): what users get between
//     collections. The client's image cache emptied, a new collection
//     stored, and the server done drawing again the images of the pages
//     shown lately, as it does after every collection.
//   - page-load-undrawn-ms: a page nobody looked at since the last
//     collection, nothing drawn. The server draws its images as the
//     browser reads the page.
//
// It also reports the browser's own start and login (chromium-only-ms)
// and the images.
func BenchmarkOverviewInChromium(b *testing.B) {
	a := webSite(b)
	browse(b, a, base, "alice", alicePassword, collectAcme)
}

// BenchmarkTablesInChromium is BenchmarkOverviewInChromium for a
// database's tables page of a client with max_images = 10: its database
// graphs and ten tables' images (target < 300 ms).
func BenchmarkTablesInChromium(b *testing.B) {
	a := webSite(b)
	wideSite(b)
	browse(b, a, wideBase+"?page=tables&db="+wideDB, wideUser, widePassword, collectWide)
}

// browse is the Chromium benchmarks' loop. The login on the form leads
// to one image of another range, so the page's own images are not in
// the browser's cache.
//
// In the same loop, a third new browser loads the same page and images
// served as static files by an HTTP server in this process, no login, no
// Apache, no pggraph (static-ms): what Chromium itself takes for the
// page on this machine, the floor of the other two.
func browse(b *testing.B, a *rig.Apache, page, user, password string, collect func(context.Context) error) {
	client := strings.Split(page, "/")[2]
	cacheDir := filepath.Join(web.root, client, cacheDirName)
	static := staticCopy(b, a, page, user, password)
	defer static.Close()
	var loads, undrawnLoads, staticLoads, starts []time.Duration
	var images int
	for b.Loop() {
		if err := os.RemoveAll(cacheDir); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		took, n := loadPage(b, a, page, user, password)
		undrawnLoads = append(undrawnLoads, took)
		starts = append(starts, time.Since(start)-took)
		images = n

		if err := os.RemoveAll(cacheDir); err != nil {
			b.Fatal(err)
		}
		if err := collect(b.Context()); err != nil {
			b.Fatalf("collect client %s: %v", client, err)
		}
		waitDrawn(b, a, cacheDir, n)
		took, _ = loadPage(b, a, page, user, password)
		loads = append(loads, took)

		staticLoads = append(staticLoads, loadStatic(b, static.URL, page))
	}
	b.ReportMetric(ms(medianOf(loads)), "page-load-ms")
	b.ReportMetric(ms(medianOf(undrawnLoads)), "page-load-undrawn-ms")
	b.ReportMetric(ms(medianOf(staticLoads)), "static-ms")
	b.ReportMetric(ms(medianOf(starts)), "chromium-only-ms")
	b.ReportMetric(float64(images), "images")
}

// waitDrawn waits until the FastCGI server has drawn n images into
// cacheDir (emptied before a collection): those of the page shown.
func waitDrawn(b *testing.B, a *rig.Apache, cacheDir string, n int) {
	deadline := time.Now().Add(refreshEvery + 30*time.Second)
	for {
		des, _ := os.ReadDir(cacheDir)
		drawn := 0
		for _, de := range des {
			if !strings.HasPrefix(de.Name(), ".") {
				drawn++
			}
		}
		if drawn >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("after a collection the server drew %d of the page's %d images%s", drawn, n, a.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// collectAcme and collectWide store one more collection of client acme
// or wide, taken now, as pggraph-collect would.
func collectAcme(ctx context.Context) error { return collectNow(ctx, "acme") }
func collectWide(ctx context.Context) error { return collectNow(ctx, widePrefix) }

func collectNow(ctx context.Context, prefix string) error {
	st, err := ownerStore(ctx, web.rig)
	if err != nil {
		return err
	}
	defer st.Close(ctx)
	reader := collector.Reader{Remote: monitor(web.rig.PG), Groups: metric.Groups(), Now: func() time.Time { return time.Now().UTC() }}
	_, err = storeRun(ctx, st, reader, prefix, nil)
	return err
}

// staticCopy fetches page and its images through Apache as user, once,
// and serves them as they are, uncacheable, at the same paths.
func staticCopy(b *testing.B, a *rig.Apache, page, user, password string) *httptest.Server {
	_, html := fetch(b, a, page, user, password)
	files := map[string][]byte{page: html}
	for _, m := range regexp.MustCompile(`<img[^>]* src="([^"]+)"`).FindAllSubmatch(html, -1) {
		src := htmlpkg.UnescapeString(string(m[1]))
		resp, body := fetch(b, a, src, user, password)
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%s: %d", src, resp.StatusCode)
		}
		files[src] = body
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := files[r.URL.RequestURI()]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", http.DetectContentType(body))
		w.Write(body)
	}))
}

// loadStatic starts a new browser, loads a page of the static server
// first (as loadPage's login does), lets it settle, then loads page, and
// returns how long page took.
func loadStatic(b *testing.B, url, page string) time.Duration {
	ctx := b.Context()
	br, err := rig.StartBrowser(ctx, rig.BrowserOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	if _, err := br.Navigate(ctx, url+"/none"); err != nil {
		b.Fatal(err)
	}
	if err := br.Settle(ctx); err != nil {
		b.Fatal(err)
	}
	took, err := br.Navigate(ctx, url+page)
	if err != nil {
		b.Fatal(err)
	}
	return took
}

// loadPage starts a new browser, logs in as user, lets the browser
// settle, and loads page: it returns how long the page took and how many
// images it has, every one loaded.
func loadPage(b *testing.B, a *rig.Apache, page, user, password string) (time.Duration, int) {
	ctx := b.Context()
	br, err := rig.StartBrowser(ctx, rig.BrowserOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	dir := page[:strings.LastIndex(page, "/")+1]
	if _, err := br.Navigate(ctx, a.URL+dir+"login?graph=connections&range=year"); err != nil {
		b.Fatal(err)
	}
	if _, err := br.LogIn(ctx, user, password); err != nil {
		b.Fatal(err)
	}
	if err := br.Settle(ctx); err != nil {
		b.Fatal(err)
	}
	took, err := br.Navigate(ctx, a.URL+page)
	if err != nil {
		b.Fatal(err)
	}
	var shown struct {
		Images int
		Broken []string
	}
	if err := br.Eval(ctx, `({images: document.images.length,
		broken: [...document.images].filter(i => !i.complete || i.naturalWidth == 0).map(i => i.src)})`, &shown); err != nil {
		b.Fatal(err)
	}
	if shown.Images < 3 || len(shown.Broken) != 0 {
		b.Fatalf("%s: %d images, not loaded: %q%s", page, shown.Images, shown.Broken, a.Logs())
	}
	return took, shown.Images
}

// BenchmarkApacheAB is `ab -n 2000 -c 20` on a graph image through
// Apache with the session cookie of a login on the form (target ≥ 100
// requests/s), and `ab -n 200 -c 20` with Basic auth, which checks the
// bcrypt hash on every request: requests per second, and failures (none
// allowed).
func BenchmarkApacheAB(b *testing.B) {
	a := webSite(b)
	c := session(b, a, "alice", alicePassword)
	basicUser := url.UserPassword("alice", alicePassword)
	for _, tc := range []struct {
		name   string
		n      int
		header string
	}{
		{"session", 2000, "Cookie: " + c.Name + "=" + c.Value},
		{"basic", 200, "Authorization: Basic " + basicAuth(basicUser)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var rps []float64
			for b.Loop() {
				r, failed := ab(b, tc.n, 20, tc.header, a.URL+base+"?graph=connections&range=day")
				if failed != 0 {
					b.Fatalf("ab: %d of %d requests failed", failed, tc.n)
				}
				rps = append(rps, r)
			}
			slices.Sort(rps)
			b.ReportMetric(rps[len(rps)/2], "req/s")
		})
	}
}

// ab runs Apache's ab and returns its requests per second and its failed
// and non-2xx requests.
func ab(b *testing.B, n, c int, header, target string) (float64, int) {
	b.Helper()
	// -l: an image's length changes as its day moves on.
	out, err := exec.CommandContext(b.Context(), "/usr/bin/ab", "-q", "-l", "-n", strconv.Itoa(n), "-c", strconv.Itoa(c), "-s", "60",
		"-H", header, target).CombinedOutput()
	if err != nil {
		b.Fatalf("ab: %v\n%s", err, out)
	}
	figure := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `:\s+(\S+)`).FindSubmatch(out)
		if m == nil {
			return ""
		}
		return string(m[1])
	}
	rps, err := strconv.ParseFloat(figure("Requests per second"), 64)
	if err != nil || figure("Complete requests") != strconv.Itoa(n) {
		b.Fatalf("ab report:\n%s", out)
	}
	failed, _ := strconv.Atoi(figure("Failed requests"))
	non2xx, _ := strconv.Atoi(figure("Non-2xx responses"))
	return rps, failed + non2xx
}

// basicAuth is the value of an Authorization header's Basic credentials.
func basicAuth(u *url.Userinfo) string {
	r := &http.Request{Header: http.Header{}}
	pw, _ := u.Password()
	r.SetBasicAuth(u.Username(), pw)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func medianOf(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// The client of BenchmarkTablesInChromium: max_images = 10, a database
// of 12 tables, collected three times, and its user.
const (
	widePrefix   = "wide"
	wideDB       = "wide"
	wideBase     = "/pggraph/wide/index.cgi"
	wideUser     = "walt"
	widePassword = "walt-pw-4Tq"
	wideTables   = 12
)

var wide struct {
	once sync.Once
	err  error
}

// wideSite adds client wide to the web site, once.
func wideSite(b *testing.B) {
	b.Helper()
	wide.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		wide.err = setUpWide(ctx)
	})
	if wide.err != nil {
		b.Fatalf("set up client %s: %v", widePrefix, wide.err)
	}
}

func setUpWide(ctx context.Context) error {
	r := web.rig
	pg := r.PG
	if err := pg.Exec(ctx, "postgres", "CREATE DATABASE "+wideDB); err != nil {
		return err
	}
	var ddl strings.Builder
	for i := 1; i <= wideTables; i++ {
		fmt.Fprintf(&ddl, "CREATE TABLE w%02d (id int PRIMARY KEY, v text); INSERT INTO w%02d SELECT g, 'v' FROM generate_series(1, %d) g;\n", i, i, 500*i)
	}
	if err := pg.Exec(ctx, wideDB, ddl.String()); err != nil {
		return err
	}
	st, err := ownerStore(ctx, r)
	if err != nil {
		return err
	}
	defer st.Close(ctx)
	last := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	var taken time.Time
	reader := collector.Reader{Remote: monitor(pg), Groups: metric.Groups(), Now: func() time.Time { return taken }}
	var prev *metric.Snapshot
	for run := range 3 {
		if run > 0 {
			var work strings.Builder
			for i := 1; i <= wideTables; i++ {
				fmt.Fprintf(&work, "UPDATE w%02d SET v = v || 'x' WHERE id %% %d = 0;\n", i, 1+(run+i)%4)
			}
			if err := pg.ExecFlushed(ctx, wideDB, work.String()); err != nil {
				return err
			}
		}
		taken = last.Add(-time.Duration(2-run) * time.Hour)
		if prev, err = storeRun(ctx, st, reader, widePrefix, prev); err != nil {
			return err
		}
	}
	if err := st.RecordRun(ctx, widePrefix, metric.RunRecord{Started: last, Duration: time.Second, Outcome: metric.OK, Samples: 1}); err != nil {
		return err
	}

	cfg, err := installClient(widePrefix, "Wide Inc", func(c *config.Config) { c.PGGraph.MaxImages = 10 })
	if err != nil {
		return err
	}
	u, err := store.OpenUsers(ctx, store.LocalServer(cfg.Local))
	if err != nil {
		return err
	}
	defer u.Close(ctx)
	h, err := bcrypt.GenerateFromPassword([]byte(widePassword), bcrypt.DefaultCost) // as pggraph-admin user add
	if err != nil {
		return err
	}
	return u.AddUser(ctx, store.User{Name: wideUser, Hash: string(h), Client: widePrefix})
}

// installClient makes the install directory of client prefix in the web
// root, as pggraph-install leaves it (config.ini owned by www-data,
// index.cgi the site's pggraph.cgi), with the config edit changes, and
// returns that config.
func installClient(prefix, title string, edit func(*config.Config)) (*config.Config, error) {
	r := web.rig
	dir := filepath.Join(web.root, prefix)
	cfg := config.Default()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return cfg, err
	}
	cfg.Install = config.Install{Directory: dir, WWWPath: "pggraph/" + prefix, Title: title}
	cfg.Local = config.Local{Database: "pggraph", Prefix: prefix, Port: r.Central.Port, Host: r.Central.Host, User: "pggraph", Password: ownerPassword}
	cfg.Remote.User = "pggraph_mon"
	if edit != nil {
		edit(cfg)
	}
	if err := cfg.Write(filepath.Join(dir, "config.ini")); err != nil {
		return cfg, err
	}
	www, err := user.Lookup("www-data")
	if err != nil {
		return cfg, err
	}
	uid, _ := strconv.Atoi(www.Uid)
	gid, _ := strconv.Atoi(www.Gid)
	for _, f := range []string{dir, filepath.Join(dir, "config.ini")} {
		if err := os.Chown(f, uid, gid); err != nil {
			return cfg, err
		}
	}
	return cfg, os.Symlink(web.cgi, filepath.Join(dir, "index.cgi"))
}
