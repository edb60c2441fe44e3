package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// Events answers the fake's events as the store selects them.
func (f *fakeSamples) Events(ctx context.Context, q store.EventQuery) ([]metric.Event, error) {
	var out []metric.Event
	for _, e := range f.events {
		end := e.End
		if end.IsZero() {
			end = e.Time
		}
		if !e.Time.Before(q.To) || end.Before(q.From) ||
			(q.Database != "" && e.Database != "" && e.Database != q.Database) || (q.Kind != "" && e.Kind != q.Kind) {
			continue
		}
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b metric.Event) int { return a.Time.Compare(b.Time) })
	if q.Limit > 0 && len(out) > q.Limit {
		out = slices.Clone(out[len(out)-q.Limit:])
	}
	return out, nil
}

func TestEventParams(t *testing.T) {
	for _, tc := range []struct {
		name, query string
		want        string // the request's fields, or the error
	}{
		{"defaults", "", "kind=overview events=true compare=false csv=false"},
		{"events off", "events=0", "kind=overview events=false compare=false csv=false"},
		{"compare on a graph", "graph=transactions&compare=previous&events=1", "kind=graph events=true compare=true csv=false"},
		{"compare on a page", "page=tables&db=shop&compare=previous", "kind=tables events=true compare=true csv=false"},
		{"events page", "page=events", "kind=events events=true compare=false csv=false"},
		{"events page filtered, as csv", "page=events&kind=setting&db=shop&format=csv&range=week", "kind=events events=true compare=false csv=true setting"},
		{"bad events", "events=2", "400 Bad Request: events must be 0 or 1"},
		{"bad compare", "compare=next", `400 Bad Request: unknown compare "next" (previous)`},
		{"bad kind", "page=events&kind=boom", `400 Bad Request: unknown kind "boom" (restart, reset, setting, version, failover, database, extension, gap, alert)`},
		{"kind elsewhere", "kind=setting", "400 Bad Request: parameter kind does not apply to page overview"},
		{"compare on the events page", "page=events&compare=previous", "400 Bad Request: parameter compare does not apply to page events"},
		{"png on the events page", "page=events&format=png", `400 Bad Request: unknown format "png" (html or csv)`},
		{"format on a graphs page", "format=csv", "400 Bad Request: parameter format does not apply to page overview"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, herr := parseRequest(tc.query, now)
			got := ""
			if herr != nil {
				got = herr.Error()
			} else {
				got = fmt.Sprintf("kind=%s events=%t compare=%t csv=%t", req.Kind, !req.NoEvents, req.Compare, req.CSV)
				if req.EventKind != "" {
					got += " " + req.EventKind
				}
			}
			if got != tc.want {
				t.Errorf("parseRequest(%q) = %s, want %s", tc.query, got, tc.want)
			}
		})
	}
}

// TestHandlerEvents: pages list their range's events (escaped), of the
// server and of their database; images carry events=0 and
// compare=previous as the page got them; the events page filters, and
// its CSV makes no formula of the server's texts.
func TestHandlerEvents(t *testing.T) {
	src := newFakeSamples()
	src.events = []metric.Event{
		{Time: now.Add(-5 * time.Hour), Kind: metric.EventRestart, Object: "server", Detail: "started"},
		{Time: now.Add(-4 * time.Hour), Kind: metric.EventSetting, Object: "search_path", Detail: `search_path: public → <script>alert(1)</script>`},
		{Time: now.Add(-3 * time.Hour), Kind: metric.EventReset, Database: "shop", Object: "database shop", Detail: "statistics of database shop reset"},
		{Time: now.Add(-2 * time.Hour), Kind: metric.EventReset, Database: "crm", Object: "database crm", Detail: "statistics of database crm reset"},
		{Time: now.Add(-90 * time.Minute), End: now.Add(-time.Hour), Kind: metric.EventGap, Object: "collection", Detail: "no samples for 30m0s"},
		{Time: now.Add(-30 * time.Minute), Kind: metric.EventSetting, Object: "application_name", Detail: `=HYPERLINK("http://evil")`},
		{Time: now.AddDate(0, 0, -3), Kind: metric.EventVersion, Object: "server", Detail: "15.4 → 16.1"},
	}
	h := testHandler(t, src, &fakeUsers{}, nil)
	const base = "/pggraph/acme/index.cgi"
	overview := get(h, base, "alice").Body.String()
	pageHolds(t, overview,
		[]string{"search_path: public → &lt;script&gt;alert(1)&lt;/script&gt;", "database shop reset", "database crm reset", "no samples for 30m0s",
			`src="/pggraph/acme/index.cgi?graph=connections&amp;range=day"`, `href="/pggraph/acme/index.cgi?compare=previous"`,
			`href="/pggraph/acme/index.cgi?events=0"`, `href="/pggraph/acme/index.cgi?page=events"`},
		[]string{"<script>alert(1)", "15.4 → 16.1"})
	shop := get(h, base+"?page=tables&db=shop&compare=previous", "alice").Body.String()
	pageHolds(t, shop,
		[]string{"database shop reset", "search_path", `src="/pggraph/acme/index.cgi?graph=db_transactions&amp;db=shop&amp;range=day&amp;compare=previous"`,
			`href="/pggraph/acme/index.cgi?page=tables&amp;db=shop&amp;compare=previous&amp;range=week"`, `href="/pggraph/acme/index.cgi?page=tables&amp;db=shop"`},
		[]string{"database crm reset"})
	quiet := get(h, base+"?events=0", "alice").Body.String()
	pageHolds(t, quiet, []string{`src="/pggraph/acme/index.cgi?graph=connections&amp;range=day&amp;events=0"`}, []string{"database shop reset", "<h2>Events"})

	all := get(h, base+"?page=events&range=week&kind=reset", "alice").Body.String()
	pageHolds(t, all, []string{"database shop reset", "database crm reset", `<option value="reset" selected>`}, []string{"search_path", "15.4 → 16.1"})

	w := get(h, base+"?page=events&range=week&format=csv", "alice")
	if ct := w.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" || w.Code != 200 {
		t.Fatalf("events csv: %d %s", w.Code, ct)
	}
	rows, err := csv.NewReader(w.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"time", "end", "kind", "database", "object", "detail"},
		{"2025-06-12T12:00:00Z", "", "version", "", "server", "15.4 → 16.1"},
	}
	if len(rows) != 8 || fmt.Sprint(rows[:2]) != fmt.Sprint(want) {
		t.Errorf("csv starts %q, want %q and 6 rows more", rows[:min(2, len(rows))], want)
	}
	last := rows[len(rows)-1]
	if last[5] != `'=HYPERLINK("http://evil")` || last[4] != "application_name" {
		t.Errorf("a formula from the server came out as %q", last)
	}
}

// screenshotEvents are the events of the screenshots' client, whose last
// collection was at last.
func screenshotEvents(last time.Time) []metric.Event {
	at := func(h float64) time.Time { return last.Add(-time.Duration(h * float64(time.Hour))) }
	return []metric.Event{
		{Time: at(9.5), Kind: metric.EventRestart, Object: "server", Detail: "started " + at(9.5).Format("2006-01-02 15:04:05 UTC") + ", previously 2026-11-02 03:10:44 UTC"},
		{Time: at(9.5), Kind: metric.EventSetting, Object: "shared_buffers", Detail: "shared_buffers: 128MB → 1GB"},
		{Time: at(7.2), Kind: metric.EventSetting, Object: "work_mem", Detail: "work_mem: 4MB → 16MB"},
		{Time: at(5.1), Kind: metric.EventReset, Database: "shop", Object: "database shop", Detail: "statistics of database shop reset"},
		{Time: at(4), End: at(3.3), Kind: metric.EventGap, Object: "collection", Detail: "no samples for 42m0s; 3 failed collections, the last: collection failed: tunnel: dial tcp 203.0.113.5:22: connect: connection refused"},
		{Time: at(2.5), Kind: metric.EventExtension, Database: "shop", Object: "pg_trgm", Detail: "extension pg_trgm 1.6 created in shop"},
		{Time: at(1.4), Kind: metric.EventSetting, Object: "search_path", Detail: `search_path: "$user", public → <script>alert(1)</script>`},
	}
}
