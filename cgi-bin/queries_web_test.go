package main

import (
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/internal/testing/rig"
	"github.com/pggraph/pggraph/metric"
)

// TestApacheHostileStatement: a statement text holding markup, quotes
// and a spreadsheet formula, stored for client acme, is shown by
// Chromium as text on the queries page, with nothing of it run, and
// comes out of the CSV neutralised.
func TestApacheHostileStatement(t *testing.T) {
	a := webSite(t)
	c := web.rig.Central
	st, err := store.OpenServer(t.Context(), store.Server{
		Params:   fmt.Sprintf("host=%s port=%d user=pggraph sslmode=disable", c.Host, c.Port),
		Password: ownerPassword,
	}, "pggraph", metric.StoredGroups())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(t.Context())
	if err := st.EnsureClient(t.Context(), "acme"); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), c.ConnString("pggraph"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	ts := time.Now().Add(-time.Hour)
	if _, err := conn.Exec(t.Context(), `
WITH db AS (SELECT key::oid AS oid FROM acme_object WHERE grp = 'database' AND name = 'shop'),
o AS (INSERT INTO acme_object (grp, dbid, key, name, first_seen, last_seen)
	SELECT 'statement', oid, '4242/10/t', '4242', $1, $1 FROM db RETURNING id, dbid)
, s AS (INSERT INTO acme_statement (ts, object, seconds, calls, exec_time, rows) SELECT $1, id, 600, 1000, 50, 1000 FROM o)
INSERT INTO acme_statement_text (dbid, queryid, query, first_seen, last_seen) SELECT dbid, 4242, $2, $1, $1 FROM o`, ts, hostileSQL); err != nil {
		t.Fatal(err)
	}
	br, err := rig.StartBrowser(t.Context(), rig.BrowserOptions{BasicAuth: "alice:" + alicePassword})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	if _, err := br.Navigate(t.Context(), a.URL+base+"?page=queries&db=shop"); err != nil {
		t.Fatal(err)
	}
	// The DOM as Chromium made it, after any script the page ran.
	var dom string
	if err := br.Eval(t.Context(), `document.documentElement.outerHTML`, &dom); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dom, `&lt;/td&gt;&lt;script&gt;document.title='pwned'&lt;/script&gt;`) || !strings.Contains(dom, `=HYPERLINK("http://evil.example","x")`) {
		t.Errorf("Chromium does not show the statement's text as text:\n%s", dom)
	}
	if strings.Contains(dom, "<script") || strings.Contains(dom, "<title>pwned") {
		t.Errorf("the statement's text became markup or ran:\n%s", dom)
	}

	resp, body := fetch(t, a, base+"?page=queries&db=shop&format=csv", "alice", alicePassword)
	if resp.StatusCode != 200 {
		t.Fatalf("csv: %d %s", resp.StatusCode, body)
	}
	recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		if r[0] == "4242" {
			found = true
			if r[len(r)-1] != "'"+hostileSQL {
				t.Errorf("csv text %q, want it neutralised", r[len(r)-1])
			}
		}
	}
	if !found {
		t.Errorf("csv lacks the statement: %s", body)
	}
	if resp, _ := fetch(t, a, base+"?page=queries&db=shop", "bob", bobPassword); resp.StatusCode != 403 {
		t.Errorf("another client's user: %d, want 403", resp.StatusCode)
	}
}
