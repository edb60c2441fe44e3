package main

import (
	"context"
	"encoding/csv"
	"html"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// hostileSQL is a statement text a browser must show as text and a
// spreadsheet must not run.
const hostileSQL = `=HYPERLINK("http://evil.example","x") </td><script>document.title='pwned'</script> 'q' "dq"`

// Statements implements statementSource: in database shop, statement 42
// with a hostile text, statement 7 and the other statements.
func (f *fakeSamples) Statements(ctx context.Context, q store.StatementQuery) ([]store.StatementStat, error) {
	if err := f.check(q.Database, ""); err != nil {
		return nil, err
	}
	n := len(metric.StatementGroup().Columns)
	vals := func(calls, ms float64) []float64 {
		v := make([]float64, n)
		v[0], v[1], v[2] = calls, ms, math.NaN()
		return v
	}
	all := []store.StatementStat{
		{QueryID: 42, Values: vals(1000, 250), Text: hostileSQL},
		{QueryID: 7, Values: vals(3, 750), Text: "SELECT pg_sleep($1)"},
		{Other: true, Values: vals(10, 0)},
	}
	if q.QueryID != nil {
		for _, s := range all {
			if s.QueryID == *q.QueryID && !s.Other {
				return []store.StatementStat{s}, nil
			}
		}
		return nil, nil
	}
	return all, nil
}

// StatementEvents implements statementSource: one reset and evictions.
func (f *fakeSamples) StatementEvents(ctx context.Context, prefix string, from, to time.Time) (store.StatementEvents, error) {
	if f.stmtLast != "" {
		return store.StatementEvents{Last: f.stmtLast}, nil
	}
	return store.StatementEvents{Last: metric.StatementsCollected, Resets: []time.Time{now.Add(-time.Hour)}, ResetCount: 1, Evicted: 25, EvictedRuns: 2}, nil
}

// TestQueriesPageSaysWhy: without statements to show, the queries page
// says why, and how to install pg_stat_statements when it is missing.
func TestQueriesPageSaysWhy(t *testing.T) {
	for _, tc := range []struct {
		last metric.StatementStatus
		want string
	}{
		{metric.StatementsAbsent, "pg_stat_statements is not installed (or not loaded). " + installStatements},
		{metric.StatementsOff, "[remote] queries = no in its config.ini"},
		{metric.StatementsPrimed, "statement statistics appear after the next collection"},
	} {
		t.Run(string(tc.last), func(t *testing.T) {
			src := newFakeSamples()
			src.stmtLast = tc.last
			h := testHandler(t, src, &fakeUsers{}, nil)
			page := get(h, "/pggraph/acme/index.cgi?page=queries&db=shop", "alice")
			if page.Code != 200 || !strings.Contains(html.UnescapeString(page.Body.String()), tc.want) {
				t.Errorf("%d, want a page saying %q", page.Code, tc.want)
			}
		})
	}
}

func TestQueriesPages(t *testing.T) {
	h := testHandler(t, newFakeSamples(), &fakeUsers{}, nil)
	const base = "/pggraph/acme/index.cgi"
	page := get(h, base+"?page=queries&db=shop", "alice")
	body := page.Body.String()
	if page.Code != 200 || page.Header().Get("Content-Security-Policy") != csp {
		t.Fatalf("queries page: %d, CSP %q", page.Code, page.Header().Get("Content-Security-Policy"))
	}
	pageHolds(t, body, []string{
		`&lt;/td&gt;&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;`, // the text, escaped
		`href="/pggraph/acme/index.cgi?page=query&amp;db=shop&amp;id=42"`,
		`25 statements were evicted`, `were reset`,
		`all other statements`, `25.0%`, `75.0%`, // shares of the total time
	}, []string{"<script>", "</td><script"})
	if i, j := strings.Index(body, "pg_sleep"), strings.Index(body, "HYPERLINK"); i < 0 || j < 0 || i > j {
		t.Error("the slowest statement is not first")
	}
	if calls := get(h, base+"?page=queries&db=shop&sort=calls", "alice").Body.String(); strings.Index(calls, "HYPERLINK") > strings.Index(calls, "pg_sleep") {
		t.Error("sort=calls does not put the most called first")
	}
	one := get(h, base+"?page=query&db=shop&id=42", "alice")
	pageHolds(t, one.Body.String(), []string{`graph=query_calls&amp;db=shop&amp;table=42`, `&lt;script&gt;`}, []string{"<script>"})
	for _, tc := range []struct {
		name, url string
		code      int
	}{
		{"unknown statement", "?page=query&db=shop&id=5", 404},
		{"bad id", "?page=query&db=shop&id=1e3", 400},
		{"no db", "?page=queries", 400},
		{"bad sort", "?page=queries&db=shop&sort=size", 400},
		{"unknown database", "?page=queries&db=nope", 404},
		{"another client's user", "?page=queries&db=shop", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user := "alice"
			if tc.code == 403 {
				user = "bob"
			}
			if w := get(h, base+tc.url, user); w.Code != tc.code {
				t.Errorf("%s: %d, want %d", tc.url, w.Code, tc.code)
			}
		})
	}

	w := get(h, base+"?page=queries&db=shop&format=csv", "alice")
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	recs, err := csv.NewReader(strings.NewReader(w.Body.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || recs[0][0] != "queryid" || recs[0][len(recs[0])-1] != "query" {
		t.Fatalf("csv records %q", recs)
	}
	for _, r := range recs[1:] {
		if r[0] == "42" && r[len(r)-1] != "'"+hostileSQL {
			t.Errorf("the hostile text is not neutralised: %q", r[len(r)-1])
		}
	}
}

func TestCSVCell(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"=1+1", "'=1+1"}, {"+1", "'+1"}, {"-1", "'-1"}, {"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"}, {"\rx", "'\rx"}, {"SELECT 1", "SELECT 1"}, {"", ""}, {" =x", " =x"},
		{"a=b", "a=b"}, {"work_mem: 4", "work_mem: 4"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := csvCell(tc.in); got != tc.want {
				t.Errorf("csvCell(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
