package main

// The all-clients page and operators through the real Apache
// (deploy/apache), the real pggraph_users and headless Chromium; a
// client page with an active alert as a person sees it.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/internal/testing/rig"
	"github.com/pggraph/pggraph/metric"
)

// TestAllClientsApache: who gets the all-clients page at /pggraph/, with
// a session and with Basic auth; operators in every client's directory;
// what the root never serves.
func TestAllClientsApache(t *testing.T) {
	a := webSite(t)
	tests := []struct {
		name, path string
		via        int
		user       string
		password   string
		status     int
		has        []string
	}{
		{"operator, session", "/pggraph/", viaSession, "olga", olgaPassword, 200,
			[]string{"<h1>All clients</h1>", "ACME &lt;Corp&gt; &amp; Co", `href="/pggraph/acme/index.cgi"`, `href="/pggraph/young/index.cgi?page=alerts"`}},
		{"operator, session, index.cgi", "/pggraph/index.cgi", viaSession, "olga", olgaPassword, 200, []string{"Young Ltd"}},
		{"operator, Basic", "/pggraph/", viaBasic, "olga", olgaPassword, 200, []string{"ACME &lt;Corp&gt; &amp; Co"}},
		{"operator, another client's overview", "/pggraph/acme/", viaSession, "olga", olgaPassword, 200, []string{"Server overview"}},
		{"operator, another client's alerts, Basic", youngBase + "?page=alerts", viaBasic, "olga", olgaPassword, 200, []string{"Young Ltd"}},
		{"operator, another client's image", base + "?graph=connections", viaSession, "olga", olgaPassword, 200, nil},
		{"a client's user, session", "/pggraph/", viaSession, "alice", alicePassword, 403, nil},
		{"a client's user, session, index.cgi", "/pggraph/index.cgi", viaSession, "alice", alicePassword, 403, nil},
		{"a client's user, Basic", "/pggraph/", viaBasic, "alice", alicePassword, 403, nil},
		{"another client's user, Basic", "/pggraph/", viaBasic, "bob", bobPassword, 403, nil},
		{"no session", "/pggraph/", viaSession, "", "", 401, []string{`action="/pggraph/login"`}},
		{"Basic, wrong password", "/pggraph/", viaBasic, "olga", "wrong", 401, nil},
		{"the root's login form", "/pggraph/login", viaSession, "", "", 200, []string{"All clients", `action="/pggraph/login"`}},
		{"a client's parameter", "/pggraph/?page=alerts", viaSession, "olga", olgaPassword, 400, []string{`unknown parameter "page"`}},
		{"hostile parameter", "/pggraph/?%3Cscript%3E=%27%22", viaBasic, "olga", olgaPassword, 400, nil},
		{"malformed parameter", "/pggraph/?a=%zz", viaSession, "olga", olgaPassword, 400, nil},
		{"oversized query", "/pggraph/?a=" + strings.Repeat("x", 5000), viaSession, "olga", olgaPassword, 400, nil},
		{"path info", "/pggraph/index.cgi/x", viaSession, "olga", olgaPassword, 403, nil},
		{"the root's config.ini", "/pggraph/config.ini", viaSession, "olga", olgaPassword, 403, nil},
		{"the root's config.ini without credentials", "/pggraph/config.ini", viaSession, "", "", 403, nil},
		{"a file at the root", "/pggraph/" + spoolName, viaBasic, "olga", olgaPassword, 403, nil},
		{"the program's directory", "/pggraph/_main/pggraph.cgi", viaBasic, "olga", olgaPassword, 403, nil},
		{"a client without the slash", "/pggraph/acme", viaSession, "", "", 301, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := fetchVia(t, a, tc.path, tc.via, tc.user, tc.password)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s as %q: %d, want %d\n%s%s", tc.path, tc.user, resp.StatusCode, tc.status, body, a.Logs())
			}
			for _, s := range tc.has {
				if !bytes.Contains(body, []byte(s)) {
					t.Errorf("%s lacks %q:\n%s", tc.path, s, body)
				}
			}
			if tc.status == 301 && resp.Header.Get("Location") != a.URL+tc.path+"/" {
				t.Errorf("Location %q, want %s/", resp.Header.Get("Location"), a.URL+tc.path)
			}
			for _, secret := range []string{ownerPassword, webPassword, olgaPassword, "[local]"} {
				if bytes.Contains(body, []byte(secret)) {
					t.Errorf("the body shows %q", secret)
				}
			}
		})
	}
	// The root's login leads back to the all-clients page.
	resp, body := logIn(t, a, "/pggraph/login", "olga", olgaPassword)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/pggraph/index.cgi?" {
		t.Errorf("log in at the root: %d to %q, want 302 to /pggraph/index.cgi?\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
}

// activeAlert gives client acme a CRITICAL deadlocks alert on database
// shop until the test ends.
func activeAlert(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	c := web.rig.Central
	s, err := store.Open(ctx, config.Local{Database: "pggraph", Host: c.Host, Port: c.Port, User: "pggraph", Password: ownerPassword}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	at := time.Now().Add(-30 * time.Minute)
	x := store.AlertState{Check: "deadlocks", Object: "database/shop", Group: "database", DB: "shop", Name: "shop",
		Display: "database shop", State: metric.StateCritical, Value: 7,
		Text: "CRITICAL deadlocks on database shop = 7 /min (critical :5)", Since: at, Updated: at}
	if err := s.SaveAlerts(ctx, "acme", store.AlertChanges{Put: []store.AlertState{x}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.SaveAlerts(context.Background(), "acme", store.AlertChanges{Delete: []store.AlertState{x}}); err != nil {
			t.Errorf("remove the alert: %v", err)
		}
	})
}

// thresholdPixels counts, in every image of the page shown, the pixels
// of the warning and of the critical threshold lines' colours
// (graph/thresholds.go), and returns the most any one image has.
const thresholdPixels = `(() => {
	const near = (d, i, c) => Math.abs(d[i] - c[0]) < 6 && Math.abs(d[i+1] - c[1]) < 6 && Math.abs(d[i+2] - c[2]) < 6;
	let warning = 0, critical = 0, per = [];
	for (const img of document.images) {
		const c = document.createElement('canvas');
		c.width = img.naturalWidth; c.height = img.naturalHeight;
		const x = c.getContext('2d');
		x.drawImage(img, 0, 0);
		const d = x.getImageData(0, 0, c.width, c.height).data;
		let w = 0, k = 0;
		for (let i = 0; i < d.length; i += 4) {
			if (near(d, i, [0xe6, 0x9f, 0x00])) w++;
			if (near(d, i, [0xb2, 0x18, 0x2b])) k++;
		}
		warning = Math.max(warning, w); critical = Math.max(critical, k);
		per.push([img.alt, w, k]);
	}
	return {warning, critical, images: document.images.length, per};
})()`

// TestAllClientsBrowser: an operator logs in on the root's form in
// Chromium and sees every client worst first, the one with a CRITICAL
// alert on top; follows its link to the client's pages, which show the
// banner; the database the banner links to has threshold lines on its
// graphs; the root's logout ends it all. Screenshots docs/clients.png
// and docs/alerts.png.
func TestAllClientsBrowser(t *testing.T) {
	a := webSite(t)
	activeAlert(t)
	ctx := t.Context()
	b, err := rig.StartBrowser(ctx, rig.BrowserOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Navigate(ctx, a.URL+"/pggraph/"); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.HasLoginForm(ctx); err != nil || !ok {
		t.Fatalf("no login form at /pggraph/: %v", err)
	}
	if _, err := b.LogIn(ctx, "olga", olgaPassword); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Href   string
		Rows   []string
		States []string
		Links  []string
	}
	if err := b.Eval(ctx, `({href: location.href,
		rows: [...document.querySelectorAll('table.clients tbody tr')].map(r => r.cells[0].innerText),
		states: [...document.querySelectorAll('table.clients tbody tr')].map(r => r.className),
		links: [...document.querySelectorAll('table.clients tbody tr:first-child a')].map(l => l.href)})`, &list); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%+v", []string{"ACME <Corp> & Co acme", "Young Ltd young"})
	if list.Href != a.URL+"/pggraph/index.cgi?" || fmt.Sprintf("%+v", list.Rows) != want || len(list.States) == 0 || list.States[0] != "CRITICAL" {
		t.Errorf("the all-clients page after the login: %+v\nwant at %s the rows %s, the first CRITICAL", list, a.URL+"/pggraph/index.cgi?", want)
	}
	if err := b.Screenshot(ctx, filepath.Join(screenshotDir(t), "clients.png")); err != nil {
		t.Fatal(err)
	}
	if len(list.Links) == 0 {
		t.Fatal("the first client has no links")
	}
	// The client's overview: the banner, which links to the database.
	if _, err := b.Navigate(ctx, list.Links[0]); err != nil {
		t.Fatal(err)
	}
	var banner struct {
		Text, Href string
	}
	if err := b.Eval(ctx, `(() => { const a = document.querySelector('ul.alerts li.CRITICAL a');
		return a ? {text: a.innerText, href: a.href} : {}; })()`, &banner); err != nil {
		t.Fatal(err)
	}
	if banner.Text != "CRITICAL deadlocks on database shop = 7 /min (critical :5)" || !strings.Contains(banner.Href, "page=tables&db=shop") {
		t.Fatalf("the banner: %+v", banner)
	}
	if _, err := b.Navigate(ctx, banner.Href); err != nil {
		t.Fatal(err)
	}
	var px struct {
		Warning, Critical, Images int
		Per                       [][]any
	}
	if err := b.Eval(ctx, thresholdPixels, &px); err != nil {
		t.Fatal(err)
	}
	t.Logf("threshold colours: %+v", px)
	// Measured here: the cache hit ratio's warning line at 90% (57
	// pixels, dashed), the critical levels named above the oldest
	// transaction's and the deadlocks' plots (217 and 75); no other
	// drawing uses these colours.
	if px.Images == 0 || px.Warning < 40 || px.Critical < 100 {
		t.Errorf("the database page's images show threshold lines of %d warning and %d critical pixels at most, want 40 and 100", px.Warning, px.Critical)
	}
	// The banner and the graphs at once: the page zoomed out, as a
	// person would.
	if err := b.Eval(ctx, `document.body.style.zoom = "0.5"`, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Screenshot(ctx, filepath.Join(screenshotDir(t), "alerts.png")); err != nil {
		t.Fatal(err)
	}
	// The root's logout ends the session for the root and every client.
	if _, err := b.Navigate(ctx, a.URL+"/pggraph/logout"); err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{"/pggraph/", base} {
		if _, err := b.Navigate(ctx, a.URL+page); err != nil {
			t.Fatal(err)
		}
		if ok, err := b.HasLoginForm(ctx); err != nil || !ok {
			t.Errorf("%s after the root's logout: no login form (%v)", page, err)
		}
	}
}
