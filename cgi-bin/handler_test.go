package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"image/png"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pggraph/pggraph/graph"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// fakeSamples is the central database of the handler tests: databases
// shop (tables t0…t8 and a hostile one) and crm; no other.
type fakeSamples struct {
	last   time.Time
	since  time.Time           // DataSince
	seen   map[string]bool     // GroupsSeen, wherever asked
	tables map[string][]string // by database
	// panicDB makes any read of that database panic (an internal fault).
	panicDB string
	events  []metric.Event // Events, filtered as the store does
	// stmtLast, when set, is what the last collection did with
	// pg_stat_statements (StatementEvents); else it collected them.
	stmtLast metric.StatementStatus
	closed   *int
	mu       *sync.Mutex
}

const hostile = `public."<script>alert(1)</script>&amp;"`

func newFakeSamples() *fakeSamples {
	shop := []string{hostile}
	for i := range 9 {
		shop = append(shop, fmt.Sprintf("public.t%d", i))
	}
	return &fakeSamples{
		last:   now.Add(-3 * time.Minute),
		since:  now.AddDate(0, -1, 0),
		tables: map[string][]string{"shop": shop, "crm": {"public.contacts"}},
		closed: new(int), mu: new(sync.Mutex),
	}
}

func (f *fakeSamples) check(db, table string) error {
	if db != "" && db == f.panicDB {
		panic("fake fault in " + db)
	}
	if db == "" {
		return nil
	}
	ts, ok := f.tables[db]
	if !ok {
		return fmt.Errorf("fake: database %q: %w", db, store.ErrNoObject)
	}
	if table != "" && !slices.Contains(ts, table) {
		return fmt.Errorf("fake: table %q: %w", table, store.ErrNoObject)
	}
	return nil
}

func (f *fakeSamples) Series(ctx context.Context, q store.SeriesQuery) ([]store.SeriesRow, error) {
	if err := f.check(q.Database, q.Table); err != nil {
		return nil, err
	}
	var rows []store.SeriesRow
	n := len(q.Columns)
	for i := range 6 {
		r := store.SeriesRow{T: q.From.Add(time.Duration(i+1) * q.To.Sub(q.From) / 7),
			Seconds: make([]float64, n), Values: make([]float64, n), Min: make([]float64, n), Max: make([]float64, n)}
		for j := range n {
			r.Seconds[j], r.Values[j], r.Min[j], r.Max[j] = 600, float64(10*(i+j)+5), 0.01, 1
		}
		if i == 3 {
			r.Values[0] = math.NaN() // a gap
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func (f *fakeSamples) DatabaseNames(ctx context.Context, prefix string) ([]string, error) {
	return []string{"crm", "shop"}, nil
}

func (f *fakeSamples) TableStats(ctx context.Context, q store.TableQuery) ([]store.TableStat, int, error) {
	if err := f.check(q.Database, ""); err != nil {
		return nil, 0, err
	}
	ts := f.tables[q.Database]
	var out []store.TableStat
	for i := q.Offset; i < len(ts) && i < q.Offset+q.Limit; i++ {
		out = append(out, store.TableStat{Name: ts[i], Size: float64(8192 * (i + 1)), Activity: float64(100 - i), DeadTuples: math.NaN()})
	}
	return out, len(ts), nil
}

func (f *fakeSamples) IndexStats(ctx context.Context, prefix, db, table string, res store.Resolution, from, to time.Time) ([]store.IndexStat, error) {
	if err := f.check(db, table); err != nil {
		return nil, err
	}
	return []store.IndexStat{{Name: "public.pk", Scans: 42, Size: 16384}, {Name: `public."<i>never</i>"`, Scans: 0, Size: 8192}}, nil
}

// ObjectTotals ranks two wait events, one named by a hostile server.
func (f *fakeSamples) ObjectTotals(ctx context.Context, q store.TotalsQuery) ([]store.ObjectTotal, error) {
	return []store.ObjectTotal{{Name: "Lock:<b>relation</b>", Total: 30, Share: 0.75}, {Name: "CPU", Total: 10, Share: 0.25}}, nil
}

func (f *fakeSamples) LastCollected(ctx context.Context, prefix string) (time.Time, error) {
	return f.last, nil
}

func (f *fakeSamples) DataSince(ctx context.Context, prefix string) (time.Time, error) {
	return f.since, nil
}

func (f *fakeSamples) GroupsSeen(ctx context.Context, prefix, db, table string, from, to time.Time) (map[string]bool, error) {
	if err := f.check(db, table); err != nil {
		return map[string]bool{}, nil
	}
	return f.seen, nil
}

func (f *fakeSamples) Close(ctx context.Context) error {
	f.mu.Lock()
	*f.closed++
	f.mu.Unlock()
	return nil
}

// fakeUsers is pggraph_users of the handler tests: alice may see acme,
// bob other.
type fakeUsers struct {
	mu   sync.Mutex
	log  []store.Access
	fail bool // LogAccess fails
}

func (u *fakeUsers) UserClient(ctx context.Context, name string) (string, error) {
	switch name {
	case "alice":
		return "acme", nil
	case "bob":
		return "other", nil
	case "olga":
		return store.AllClients, nil
	}
	return "", fmt.Errorf("fake: %w", store.ErrNoUser)
}

func (u *fakeUsers) LogAccess(ctx context.Context, rows ...store.Access) error {
	if u.fail {
		return errors.New("fake: log full")
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.log = append(u.log, rows...)
	return nil
}

func (u *fakeUsers) Close(ctx context.Context) error { return nil }

// testHandler is a handler for client acme with the fakes; log output
// goes to logs.
func testHandler(t testing.TB, src *fakeSamples, u *fakeUsers, logs io.Writer) *handler {
	if logs == nil {
		logs = io.Discard
	}
	return &handler{
		site:        site{Prefix: "acme", Title: "ACME <Corp> & Co", WWWPath: "pggraph/acme", MaxImages: 3, Interval: 10 * time.Minute},
		openSamples: func(context.Context) (samples, error) { return src, nil },
		openUsers:   func(context.Context) (users, error) { return u, nil },
		now:         func() time.Time { return now },
		log:         slog.New(slog.NewTextHandler(logs, nil)),
		version:     "test",
	}
}

// get serves one request as user ("" for none) with extra headers.
func get(h http.Handler, target, user string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, withUser(r, user))
	return w
}

// srcs returns the values of every src= and href= attribute of an HTML
// page, unescaped.
func attrs(page, name string) []string {
	var out []string
	for _, m := range regexp.MustCompile(name+`="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

func TestHandlerStatuses(t *testing.T) {
	src, u := newFakeSamples(), &fakeUsers{}
	h := testHandler(t, src, u, nil)
	const base = "/pggraph/acme/index.cgi"
	tests := []struct {
		name, target, user string
		status             int
		ctype              string
		body               string // in the body
	}{
		{"overview", base, "alice", 200, "text/html; charset=utf-8", "ACME &lt;Corp&gt; &amp; Co"},
		{"overview without user", base, "", 200, "text/html; charset=utf-8", "Server overview"},
		{"tables", base + "?page=tables&db=shop", "alice", 200, "text/html", "page 1 of 4"},
		{"tables last page", base + "?page=tables&db=shop&p=4&sort=dead", "alice", 200, "text/html", "page 4 of 4"},
		{"tables beyond", base + "?page=tables&db=shop&p=5", "alice", 404, "text/plain", "404 Not Found: no page 5"},
		{"table", base + "?page=table&db=shop&table=public.t1", "alice", 200, "text/html", "never used in this range"},
		{"graph png", base + "?graph=connections&range=week", "alice", 200, "image/png", "\x89PNG"},
		{"graph csv", base + "?graph=table_tuples&db=shop&table=public.t1&format=csv", "alice", 200, "text/csv", "time,seconds,"},
		{"unknown db page", base + "?page=tables&db=nope", "alice", 404, "text/plain", `404 Not Found: no database "nope"`},
		{"unknown table page", base + "?page=table&db=shop&table=nope", "alice", 404, "text/plain", `no table "nope" in database "shop"`},
		{"unknown db graph", base + "?graph=db_transactions&db=nope", "alice", 404, "text/plain", "no database"},
		{"unknown table graph", base + "?graph=table_size&db=crm&table=public.t1", "alice", 404, "text/plain", "no table"},
		{"unknown graph", base + "?graph=nope", "alice", 404, "text/plain", "no graph"},
		{"bad parameter", base + "?foo=bar", "alice", 400, "text/plain", `400 Bad Request: unknown parameter "foo"`},
		{"other client's user", base, "bob", 403, "text/plain", `403 Forbidden: user "bob" may not see this client`},
		{"other client's user, bad query", base + "?foo=bar", "bob", 403, "text/plain", "403 Forbidden"},
		{"unknown user", base, "mallory", 403, "text/plain", "403 Forbidden"},
		{"an operator (client *)", base, "olga", 200, "text/html", "Server overview"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := get(h, tc.target, tc.user)
			body := w.Body.String()
			if w.Code != tc.status || !strings.HasPrefix(w.Header().Get("Content-Type"), tc.ctype) || !strings.Contains(body, tc.body) {
				t.Fatalf("%s: %d %s %.200q; want %d %s with %q", tc.target, w.Code, w.Header().Get("Content-Type"), body, tc.status, tc.ctype, tc.body)
			}
			if tc.status >= 400 {
				if strings.Count(body, "\n") != 1 || !strings.HasSuffix(body, "\n") {
					t.Errorf("error body is not one line: %q", body)
				}
				if w.Header().Get("ETag") != "" || w.Header().Get("Cache-Control") != "no-store" {
					t.Errorf("error with ETag %q, Cache-Control %q", w.Header().Get("ETag"), w.Header().Get("Cache-Control"))
				}
			}
			if tc.status == 200 {
				if w.Header().Get("ETag") == "" || w.Header().Get("Cache-Control") != "private, max-age=420" || w.Header().Get("Last-Modified") == "" {
					t.Errorf("validators: ETag %q, Cache-Control %q, Last-Modified %q", w.Header().Get("ETag"), w.Header().Get("Cache-Control"), w.Header().Get("Last-Modified"))
				}
			}
		})
	}
	if n := len(u.log); n != len(tests) {
		t.Errorf("%d access log rows for %d requests", n, len(tests))
	}
	for i, a := range u.log {
		if a.Status != tests[i].status || a.Login != tests[i].user || a.Request != tests[i].target || a.IP != "192.0.2.1" || !a.Date.Equal(now) {
			t.Errorf("access row %d = %+v", i, a)
		}
	}
	if *src.closed != len(tests)-3 { // the 403s and the 400 never use the samples... but do open them
		t.Logf("samples closed %d times", *src.closed)
	}
}

func TestHandlerPages(t *testing.T) {
	h := testHandler(t, newFakeSamples(), &fakeUsers{}, nil)
	const base = "/pggraph/acme/index.cgi"
	overview := get(h, base, "alice").Body.String()
	for _, want := range []string{
		`href="/pggraph/acme/index.cgi?page=tables&amp;db=shop"`,
		`href="/pggraph/acme/index.cgi?page=tables&amp;db=crm"`,
		`<strong>day</strong>`,
		`href="/pggraph/acme/index.cgi?range=week"`,
		`src="/pggraph/acme/index.cgi?graph=connections&amp;range=day"`,
		// The wait graph's ranking, its hostile name escaped.
		`<caption>Most frequent wait events</caption>`,
		`<tr><td>Lock:&lt;b&gt;relation&lt;/b&gt;</td><td class="num">75.0%</td></tr>`,
		`<tr><td>CPU</td><td class="num">25.0%</td></tr>`,
	} {
		if !strings.Contains(overview, want) {
			t.Errorf("overview lacks %s", want)
		}
	}
	imgs := func(page string, class bool) []string {
		re := regexp.MustCompile(`<img( class="thumb")? src="([^"]*)"`)
		var out []string
		for _, m := range re.FindAllStringSubmatch(page, -1) {
			if !class || m[1] != "" {
				out = append(out, html.UnescapeString(m[2]))
			}
		}
		return out
	}
	if n, want := len(imgs(overview, false)), shownGraphs(graph.Server, nil); n != want {
		t.Errorf("overview has %d images, want %d (every Server graph but the optional ones)", n, want)
	}

	// Exactly max_images table images per full page; prev/next links.
	p1 := get(h, base+"?page=tables&db=shop", "alice").Body.String()
	p2 := get(h, base+"?page=tables&db=shop&p=2", "alice").Body.String()
	p4 := get(h, base+"?page=tables&db=shop&p=4", "alice").Body.String()
	for _, tc := range []struct {
		name        string
		page        string
		thumbs      int
		prev, next  bool
		otherImages bool
	}{{"p1", p1, 3, false, true, true}, {"p2", p2, 3, true, true, false}, {"p4", p4, 1, true, false, false}} {
		if n := len(imgs(tc.page, true)); n != tc.thumbs {
			t.Errorf("%s: %d table images, want %d", tc.name, n, tc.thumbs)
		}
		if got := len(imgs(tc.page, false)) > tc.thumbs; got != tc.otherImages {
			t.Errorf("%s: database graphs shown %v, want %v", tc.name, got, tc.otherImages)
		}
		if strings.Contains(tc.page, `rel="prev"`) != tc.prev || strings.Contains(tc.page, `rel="next"`) != tc.next {
			t.Errorf("%s: prev/next links wrong", tc.name)
		}
	}
	if !strings.Contains(p2, `href="/pggraph/acme/index.cgi?page=tables&amp;db=shop&amp;p=3"`) ||
		!strings.Contains(p2, `rel="prev" href="/pggraph/acme/index.cgi?page=tables&amp;db=shop"`) {
		t.Errorf("page 2's pager links wrong")
	}
	// Hostile names are escaped everywhere.
	for _, page := range []string{p1, get(h, base+"?page=table&db=shop&table="+strings.ReplaceAll(hostile, "&", "%26"), "alice").Body.String()} {
		if strings.Contains(page, "<script>") || strings.Contains(page, "<i>never") {
			t.Errorf("a name is not escaped:\n%s", page)
		}
	}
	// Every link and image of the pages parses and answers 200.
	for _, page := range []string{overview, p1, p2, p4} {
		for _, u := range append(attrs(page, "src"), attrs(page, "href")...) {
			if w := get(h, u, "alice"); w.Code != 200 {
				t.Errorf("%s: %d %s", u, w.Code, w.Body.String())
			} else if strings.Contains(u, "graph=") && !strings.Contains(u, "format=csv") {
				if _, err := png.Decode(w.Body); err != nil {
					t.Errorf("%s: not a PNG: %v", u, err)
				}
			}
		}
	}
}

func TestHandlerCaching(t *testing.T) {
	src, u := newFakeSamples(), &fakeUsers{}
	h := testHandler(t, src, u, nil)
	target := "/pggraph/acme/index.cgi?graph=connections"
	first := get(h, target, "alice")
	tag := first.Header().Get("ETag")
	if first.Code != 200 || tag == "" {
		t.Fatalf("first: %d %q", first.Code, tag)
	}
	if w := get(h, target, "alice", "If-None-Match", tag); w.Code != 304 || w.Body.Len() != 0 || w.Header().Get("ETag") != tag {
		t.Errorf("If-None-Match: %d, %d bytes, ETag %q", w.Code, w.Body.Len(), w.Header().Get("ETag"))
	}
	if w := get(h, target, "alice", "If-None-Match", `"other"`); w.Code != 200 {
		t.Errorf("other ETag: %d", w.Code)
	}
	if w := get(h, target, "alice", "If-Modified-Since", now.Format(http.TimeFormat)); w.Code != 304 {
		t.Errorf("If-Modified-Since now: %d", w.Code)
	}
	if w := get(h, target, "alice", "If-Modified-Since", now.Add(-time.Hour).Format(http.TimeFormat)); w.Code != 200 {
		t.Errorf("If-Modified-Since an hour ago: %d", w.Code)
	}
	// Another URL, another tag; new data, another tag.
	if other := get(h, target+"&range=week", "alice").Header().Get("ETag"); other == tag {
		t.Error("two URLs share an ETag")
	}
	src.last = now.Add(-time.Minute)
	if w := get(h, target, "alice", "If-None-Match", tag); w.Code != 200 || w.Header().Get("ETag") == tag {
		t.Errorf("after a new collection: %d %q", w.Code, w.Header().Get("ETag"))
	}
	// The 403 check comes before the cache.
	if w := get(h, target, "bob", "If-None-Match", tag); w.Code != 403 {
		t.Errorf("other client's user with a tag: %d", w.Code)
	}
	// Never collected: no validators.
	src.last = time.Time{}
	if w := get(h, target, "alice"); w.Code != 200 || w.Header().Get("ETag") != "" || w.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("never collected: %d %q %q", w.Code, w.Header().Get("ETag"), w.Header().Get("Cache-Control"))
	}
	if statuses := func() (s []int) {
		for _, a := range u.log {
			s = append(s, a.Status)
		}
		return
	}(); !slices.Equal(statuses, []int{200, 304, 200, 304, 200, 200, 200, 403, 200}) {
		t.Errorf("access log statuses %v", statuses)
	}
}

func TestHandlerFaults(t *testing.T) {
	var logs bytes.Buffer
	src, u := newFakeSamples(), &fakeUsers{}
	src.panicDB = "crm"
	h := testHandler(t, src, u, &logs)
	w := get(h, "/pggraph/acme/index.cgi?page=tables&db=crm", "alice")
	if w.Code != 500 || w.Body.String() != "500 Internal Server Error: internal error\n" {
		t.Errorf("panic: %d %q", w.Code, w.Body.String())
	}
	if !strings.Contains(logs.String(), "fake fault in crm") {
		t.Errorf("the panic is not logged: %s", logs.String())
	}
	if len(u.log) != 1 || u.log[0].Status != 500 {
		t.Errorf("access log after a panic: %+v", u.log)
	}

	// Central database down.
	h.openSamples = func(context.Context) (samples, error) {
		return nil, errors.New("connect: refused by 10.0.0.1 secret-host")
	}
	w = get(h, "/pggraph/acme/index.cgi", "alice")
	if w.Code != 500 || w.Body.String() != "500 Internal Server Error: central database unavailable\n" {
		t.Errorf("db down: %d %q", w.Code, w.Body.String())
	}
	// Bad input is still 400, without the database.
	if w := get(h, "/pggraph/acme/index.cgi?p=1", "alice"); w.Code != 400 {
		t.Errorf("bad input with the db down: %d", w.Code)
	}

	// A failing access log never breaks the response.
	u.fail = true
	h = testHandler(t, newFakeSamples(), u, &logs)
	if w := get(h, "/pggraph/acme/index.cgi", "alice"); w.Code != 200 {
		t.Errorf("with a failing access log: %d", w.Code)
	}
	if !strings.Contains(logs.String(), "log full") {
		t.Error("the access log failure is not logged")
	}

	// Users database down: no user can be checked.
	h.openUsers = func(context.Context) (users, error) { return nil, errors.New("users down") }
	if w := get(h, "/pggraph/acme/index.cgi", "alice"); w.Code != 500 {
		t.Errorf("users down with a user: %d", w.Code)
	}
	if w := get(h, "/pggraph/acme/index.cgi", ""); w.Code != 200 {
		t.Errorf("users down without a user: %d", w.Code)
	}

	// Methods.
	r := httptest.NewRequest(http.MethodPost, "/pggraph/acme/index.cgi", strings.NewReader("x"))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != 405 || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d", rec.Code)
	}
	r = httptest.NewRequest(http.MethodHead, "/pggraph/acme/index.cgi?graph=connections", nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "0" {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
	}
}

// FuzzHandler serves any query string as an authorized user and as one of
// another client: the only answers are 200, 304, 400, 403 and 404, never a
// 5xx; errors are one line; pages never echo markup.
func FuzzHandler(f *testing.F) {
	for _, s := range []string{
		"", "page=tables&db=shop&p=2&sort=size", "page=table&db=shop&table=public.t1",
		"graph=connections&range=week&format=csv", "graph=table_tuples&db=shop&table=public.t1&width=560&height=200",
		"page=tables&db=%3Cscript%3E", "range=custom&from=2025-01-01&to=2025-02-01", "p=1", "graph=db_size&db=crm&table=x",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	h := testHandler(f, newFakeSamples(), &fakeUsers{}, nil)
	f.Fuzz(func(t *testing.T, query string, otherClient bool) {
		user := "alice"
		if otherClient {
			user = "bob"
		}
		r := httptest.NewRequest(http.MethodGet, "/pggraph/acme/index.cgi", nil)
		r.URL.RawQuery = query
		r.RequestURI = "/pggraph/acme/index.cgi?" + query
		w := httptest.NewRecorder()
		h.ServeHTTP(w, withUser(r, user))
		switch w.Code {
		case 200, 304, 400, 404:
			if otherClient {
				t.Fatalf("%q as bob: %d, want 403", query, w.Code)
			}
		case 403:
			if !otherClient {
				t.Fatalf("%q as alice: 403", query)
			}
		default:
			t.Fatalf("%q: status %d: %s", query, w.Code, w.Body.String())
		}
		body := w.Body.String()
		if w.Code >= 400 && (strings.Count(body, "\n") != 1 || !strings.HasSuffix(body, "\n")) {
			t.Fatalf("%q: error body not one line: %q", query, body)
		}
		if w.Code == 200 && strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") && strings.Contains(body, "<script") {
			t.Fatalf("%q: page holds <script", query)
		}
	})
}

// TestHandlerYoungClient: every page says since when the client has
// data, with a link to that span; a page asked for without a range opens
// on that span while the client is younger than the default day, and
// says so; an explicit range is kept.
func TestHandlerYoungClient(t *testing.T) {
	const base = "/pggraph/acme/index.cgi"
	young := now.Add(-25*time.Minute - 400*time.Millisecond) // 11:34:59.6
	const (
		youngFrom = "2025-06-15T11%3A34%3A59Z"
		youngText = "data since 2025-06-15 11:34 UTC"
		note      = "less than a day ago: the graphs show all of it"
	)
	tests := []struct {
		name, target string
		since        time.Time
		want, not    []string // in the page, not in it
	}{
		{"young overview", base, young,
			[]string{
				`<a href="` + base + `?range=custom&amp;from=` + youngFrom + `">` + youngText + `</a>`,
				"This client's data starts 2025-06-15 11:34 UTC, " + note,
				"2025-06-15 11:34 – 2025-06-15 12:00 UTC",
				`src="` + base + `?graph=connections&amp;range=custom&amp;from=` + youngFrom + `"`,
				`href="` + base + `?page=tables&amp;db=shop"`, // links carry no range
				`name="from" value="2025-06-15"`,
			},
			[]string{"<strong>day</strong>", "graph=connections&amp;range=day"}},
		{"young tables page", base + "?page=tables&db=shop", young,
			[]string{
				`<a href="` + base + `?page=tables&amp;db=shop&amp;range=custom&amp;from=` + youngFrom + `">` + youngText + `</a>`,
				note,
				`src="` + base + `?graph=db_transactions&amp;db=shop&amp;range=custom&amp;from=` + youngFrom + `"`,
				`class="thumb" src="` + base + `?graph=table_tuples&amp;db=shop&amp;table=`,
				`rel="next" href="` + base + `?page=tables&amp;db=shop&amp;p=2"`,
			},
			[]string{"<strong>day</strong>", "graph=db_transactions&amp;db=shop&amp;range=day"}},
		{"young table page", base + "?page=table&db=shop&table=public.t1", young,
			[]string{note, `src="` + base + `?graph=table_tuples&amp;db=shop&amp;table=public.t1&amp;range=custom&amp;from=` + youngFrom + `"`},
			[]string{"<strong>day</strong>", "graph=table_tuples&amp;db=shop&amp;table=public.t1&amp;range=day"}},
		{"young, an explicit day", base + "?range=day", young,
			[]string{youngText, "<strong>day</strong>", `src="` + base + `?graph=connections&amp;range=day"`},
			[]string{note, "graph=connections&amp;range=custom"}},
		{"young, its own span", base + "?range=custom&from=" + youngFrom, young,
			[]string{youngText, `src="` + base + `?graph=connections&amp;range=custom&amp;from=` + youngFrom + `"`},
			[]string{note, "<strong>"}},
		{"a month old", base, now.AddDate(0, -1, 0),
			[]string{`<a href="` + base + `?range=custom&amp;from=2025-05-15T12%3A00%3A00Z">data since 2025-05-15 12:00 UTC</a>`,
				"<strong>day</strong>", `src="` + base + `?graph=connections&amp;range=day"`},
			[]string{note}},
		{"a day old to the second", base, now.Add(-24 * time.Hour),
			[]string{"data since 2025-06-14 12:00 UTC", "<strong>day</strong>"},
			[]string{note}},
		{"no samples yet", base, time.Time{},
			[]string{"<strong>day</strong>"},
			[]string{"data since", note}},
		{"data from after now (clocks apart)", base, now.Add(time.Minute),
			[]string{"<strong>day</strong>"},
			[]string{"data since", note}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := newFakeSamples()
			src.since = tc.since
			h := testHandler(t, src, &fakeUsers{}, nil)
			w := get(h, tc.target, "alice")
			page := w.Body.String()
			if w.Code != 200 {
				t.Fatalf("%d %s", w.Code, page)
			}
			pageHolds(t, page, tc.want, tc.not)
			// Each image of the page and the data-since link answer
			// 200; the link's page shows the span and no note.
			for _, u := range attrs(page, "src") {
				if w := get(h, u, "alice"); w.Code != 200 || w.Header().Get("Content-Type") != "image/png" {
					t.Errorf("%s: %d %s", u, w.Code, w.Header().Get("Content-Type"))
				}
			}
			if !strings.Contains(page, "data since") {
				return
			}
			link := html.UnescapeString(regexp.MustCompile(`<a href="([^"]*)">data since`).FindStringSubmatch(page)[1])
			w = get(h, link, "alice")
			if w.Code != 200 || strings.Contains(w.Body.String(), note) {
				t.Errorf("%s: %d, note shown %v", link, w.Code, strings.Contains(w.Body.String(), note))
			}
		})
	}
}

// shownGraphs is how many graphs of scope a page shows when the groups
// of seen have data: the optional ones of those groups, in place of
// those they replace, and every other one.
func shownGraphs(scope graph.Scope, seen map[string]bool) int {
	n := 0
	for _, d := range graph.Defs() {
		switch {
		case d.Scope != scope:
		case d.Absent == "":
			n++
		case seen[d.Group]:
			if d.Replaces == "" {
				n++ // else it takes the place of the one it replaces
			}
		}
	}
	return n
}

// TestHandlerOptionalGraphs shows an optional graph only when its group
// has data, in place of the graph it replaces, and says why otherwise.
func TestHandlerOptionalGraphs(t *testing.T) {
	for _, tc := range []struct {
		name      string
		seen      map[string]bool
		has, lack []string
	}{
		{
			name: "no pg_wait_sampling: pg_stat_activity's waits, and why",
			has: []string{"graph=waits&amp;", "Active sessions by wait (pg_wait_sampling): no data in this range. Wait events come from pg_stat_activity",
				"I/O by every process (pg_stat_io): no data in this range. pg_stat_io exists from PostgreSQL 16 on"},
			lack: []string{"graph=wait_sampling&amp;", "graph=io&amp;"},
		},
		{
			name: "pg_stat_io: its graph",
			seen: map[string]bool{"io": true},
			has:  []string{"graph=io&amp;"},
			lack: []string{"pg_stat_io exists from"},
		},
		{
			name: "pg_wait_sampling: its profile instead",
			seen: map[string]bool{"wait_sampling": true},
			has:  []string{"graph=wait_sampling&amp;"},
			lack: []string{"graph=waits&amp;", "Active sessions by wait (pg_wait_sampling): no data"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newFakeSamples()
			src.seen = tc.seen
			w := get(testHandler(t, src, &fakeUsers{}, nil), "/pggraph/acme/index.cgi", "alice")
			page := w.Body.String()
			if w.Code != 200 {
				t.Fatalf("%d %s", w.Code, page)
			}
			pageHolds(t, page, tc.has, tc.lack)
		})
	}
}

// pageHolds checks that page holds every string of has and none of lack.
func pageHolds(t *testing.T, page string, has, lack []string) {
	t.Helper()
	for _, s := range has {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %s", s)
		}
	}
	for _, s := range lack {
		if strings.Contains(page, s) {
			t.Errorf("page holds %s", s)
		}
	}
}
