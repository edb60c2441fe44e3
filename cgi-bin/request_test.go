package main

import (
	"strings"
	"testing"
	"time"
)

// now is the clock of the pure tests.
var now = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

func TestParseRequest(t *testing.T) {
	long := strings.Repeat("x", 257)
	tests := []struct {
		name   string
		query  string
		status int    // 0: parsed
		msg    string // in the error
		check  func(t *testing.T, r request)
	}{
		{name: "overview", query: "", check: func(t *testing.T, r request) {
			if r.Kind != pageOverview || r.Range.Name != "day" || !r.Range.To.Equal(now) || !r.Range.From.Equal(now.Add(-24*time.Hour)) {
				t.Errorf("%+v", r)
			}
		}},
		{name: "overview explicit", query: "page=overview&range=week", check: func(t *testing.T, r request) {
			if r.Kind != pageOverview || r.Range.Name != "week" || r.RangeName != "week" {
				t.Errorf("%+v", r)
			}
		}},
		{name: "tables", query: "page=tables&db=shop", check: func(t *testing.T, r request) {
			if r.Kind != pageTables || r.DB != "shop" || r.Page != 1 || r.Sort != sortBusiest {
				t.Errorf("%+v", r)
			}
		}},
		{name: "tables page 3 by size", query: "page=tables&db=shop&p=3&sort=size&range=month", check: func(t *testing.T, r request) {
			if r.Page != 3 || r.Sort != sortSize || r.Range.Name != "month" {
				t.Errorf("%+v", r)
			}
		}},
		{name: "table", query: "page=table&db=shop&table=public.orders", check: func(t *testing.T, r request) {
			if r.Kind != pageTable || r.Table != "public.orders" {
				t.Errorf("%+v", r)
			}
		}},
		{name: "hostile table", query: "page=table&db=%3Cb%3E&table=%22%3Cscript%3E%22.%22x%26y%22", check: func(t *testing.T, r request) {
			if r.DB != "<b>" || r.Table != `"<script>"."x&y"` {
				t.Errorf("%+v", r)
			}
		}},
		{name: "server graph", query: "graph=connections&range=year", check: func(t *testing.T, r request) {
			if r.Kind != kindGraph || r.Graph != "connections" || r.CSV || r.Range.Name != "year" {
				t.Errorf("%+v", r)
			}
		}},
		{name: "database graph csv", query: "graph=db_transactions&db=shop&format=csv", check: func(t *testing.T, r request) {
			if !r.CSV || r.DB != "shop" {
				t.Errorf("%+v", r)
			}
		}},
		{name: "table graph sized", query: "graph=table_tuples&db=shop&table=public.t&width=560&height=200&format=png", check: func(t *testing.T, r request) {
			if r.Width != 560 || r.Height != 200 || r.CSV {
				t.Errorf("%+v", r)
			}
		}},
		{name: "custom range", query: "range=custom&from=2025-06-01&to=2025-06-07", check: func(t *testing.T, r request) {
			if r.Range.Name != "custom" || !r.Range.From.Equal(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)) || !r.Range.To.Equal(time.Date(2025, 6, 8, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("%+v", r.Range)
			}
		}},
		{name: "from alone", query: "from=2025-06-14T00:00:00Z", check: func(t *testing.T, r request) {
			if r.Range.Name != "custom" || !r.Range.To.Equal(now) {
				t.Errorf("%+v", r.Range)
			}
		}},

		{name: "unknown parameter", query: "foo=1", status: 400, msg: `unknown parameter "foo"`},
		{name: "unknown parameter is checked first", query: "page=tables&x=", status: 400, msg: `unknown parameter "x"`},
		{name: "repeated", query: "page=tables&db=a&db=b", status: 400, msg: "parameter db given 2 times"},
		{name: "empty value", query: "page=tables&db=", status: 400, msg: "parameter db is empty"},
		{name: "oversized", query: "page=tables&db=" + long, status: 400, msg: "parameter db is longer than 256 bytes"},
		{name: "256 bytes are fine", query: "page=tables&db=" + long[:256]},
		{name: "huge query", query: strings.Repeat("a", maxQuery+1), status: 400, msg: "query string longer than"},
		{name: "bad escape", query: "db=%zz", status: 400, msg: "malformed query string"},
		{name: "semicolon", query: "page=tables;db=x", status: 400, msg: "malformed query string"},
		{name: "invalid utf-8", query: "page=tables&db=%ff", status: 400, msg: "not valid UTF-8"},
		{name: "nul", query: "page=tables&db=a%00b", status: 400, msg: "not valid UTF-8"},
		{name: "unknown page", query: "page=admin", status: 400, msg: `unknown page "admin"`},
		{name: "graph and page", query: "page=tables&graph=connections", status: 400, msg: "exclude"},
		{name: "tables without db", query: "page=tables", status: 400, msg: "page tables needs db"},
		{name: "table without table", query: "page=table&db=x", status: 400, msg: "page table needs db and table"},
		{name: "db on overview", query: "db=x", status: 400, msg: "parameter db does not apply to page overview"},
		{name: "p on table page", query: "page=table&db=x&table=y&p=2", status: 400, msg: "parameter p does not apply"},
		{name: "format on page", query: "page=tables&db=x&format=csv", status: 400, msg: "parameter format does not apply"},
		{name: "p zero", query: "page=tables&db=x&p=0", status: 400, msg: "p must be a page number"},
		{name: "p negative", query: "page=tables&db=x&p=-1", status: 400, msg: "p must be"},
		{name: "p leading zero", query: "page=tables&db=x&p=01", status: 400, msg: "p must be"},
		{name: "p plus", query: "page=tables&db=x&p=%2B1", status: 400, msg: "p must be"},
		{name: "p huge", query: "page=tables&db=x&p=99999999999999999999", status: 400, msg: "p must be"},
		{name: "bad sort", query: "page=tables&db=x&sort=name", status: 400, msg: `unknown sort "name"`},
		{name: "bad range", query: "range=fortnight", status: 400, msg: `unknown range "fortnight"`},
		{name: "range with from", query: "range=day&from=2025-01-01", status: 400, msg: "takes no from"},
		{name: "bad from", query: "range=custom&from=yesterday", status: 400, msg: "neither an RFC 3339 time nor a date"},
		{name: "from after to", query: "from=2025-06-10&to=2025-06-01", status: 400, msg: "is not before"},
		{name: "custom without from", query: "range=custom", status: 400, msg: "needs from"},
		{name: "unknown graph", query: "graph=nope", status: 404, msg: `no graph "nope"`},
		{name: "server graph with db", query: "graph=connections&db=x", status: 400, msg: "whole server"},
		{name: "database graph without db", query: "graph=db_transactions", status: 400, msg: "needs db and no table"},
		{name: "table graph without table", query: "graph=table_tuples&db=x", status: 400, msg: "needs db and table"},
		{name: "bad format", query: "graph=connections&format=svg", status: 400, msg: `unknown format "svg"`},
		{name: "width too small", query: "graph=connections&width=10", status: 400, msg: "width must be a number of pixels from 200 to 2000"},
		{name: "height too big", query: "graph=connections&height=5000", status: 400, msg: "height must be"},
		{name: "width not a number", query: "graph=connections&width=8e2", status: 400, msg: "width must be"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseRequest(tc.query, now)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("parseRequest(%q): %v", tc.query, err)
				}
				if tc.check != nil {
					tc.check(t, r)
				}
				return
			}
			if err == nil {
				t.Fatalf("parseRequest(%q) = %+v, want %d", tc.query, r, tc.status)
			}
			if err.Status != tc.status || !strings.Contains(err.Msg, tc.msg) || strings.ContainsAny(err.Msg, "\r\n") {
				t.Errorf("parseRequest(%q) = %d %q, want %d with %q on one line", tc.query, err.Status, err.Msg, tc.status, tc.msg)
			}
		})
	}
}

func TestQueryLinks(t *testing.T) {
	for _, tc := range []struct {
		kv   []string
		want string
	}{
		{nil, "/pggraph/acme/index.cgi"},
		{[]string{"page", "tables", "db", "shop", "p", "2"}, "/pggraph/acme/index.cgi?page=tables&db=shop&p=2"},
		{[]string{"page", "table", "db", "a b", "table", `"x&y".z`}, "/pggraph/acme/index.cgi?page=table&db=a+b&table=%22x%26y%22.z"},
		{[]string{"graph", "connections", "db", "", "range", "day"}, "/pggraph/acme/index.cgi?graph=connections&range=day"},
	} {
		if got := query("/pggraph/acme/index.cgi", tc.kv...); got != tc.want {
			t.Errorf("query(%q) = %q, want %q", tc.kv, got, tc.want)
		}
		// Every link parses back to what it was built from.
		if i := strings.IndexByte(tc.want, '?'); i >= 0 {
			if _, err := parseRequest(tc.want[i+1:], now); err != nil && err.Status == 400 && strings.Contains(err.Msg, "malformed") {
				t.Errorf("link %s does not parse: %v", tc.want, err)
			}
		}
	}
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct {
		f    func(float64) string
		in   float64
		want string
	}{
		{bytesText, 0, "0 B"},
		{bytesText, 999, "999 B"},
		{bytesText, 8192, "8.19 kB"},
		{bytesText, 1.5e9, "1.5 GB"},
		{count, 42, "42"},
		{count, 12345, "12.3k"},
		{count, 4.5e6, "4.5M"},
		{count, 7e9, "7G"},
	} {
		if got := tc.f(tc.in); got != tc.want {
			t.Errorf("%v → %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMaxAgeAndETagMatch(t *testing.T) {
	last := now.Add(-4 * time.Minute)
	if got := maxAge(last, 10*time.Minute, now); got != 360 {
		t.Errorf("maxAge = %d, want 360", got)
	}
	if got := maxAge(last, 2*time.Minute, now); got != 0 {
		t.Errorf("maxAge overdue = %d, want 0", got)
	}
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{`"abc"`, true},
		{`W/"abc"`, true},
		{`"x", "abc"`, true},
		{`*`, true},
		{`"abd"`, false},
		{`abc`, false},
	} {
		if got := etagMatch(tc.header, `"abc"`); got != tc.want {
			t.Errorf("etagMatch(%q) = %v", tc.header, got)
		}
	}
}
