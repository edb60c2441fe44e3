package main

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pggraph/pggraph/graph"
)

// Kinds of request.
const (
	pageOverview = "overview" // index.cgi: the server's graphs, the databases
	pageTables   = "tables"   // ?page=tables&db=D: a database's graphs and tables
	pageTable    = "table"    // ?page=table&db=D&table=T: a table's graphs and indexes
	pageEvents   = "events"   // ?page=events: the client's events, filtered; or their CSV
	kindGraph    = "graph"    // ?graph=NAME…: one image, or its CSV
	pageQueries  = "queries"  // ?page=queries&db=D: a database's statements (queries.go)
	pageQuery    = "query"    // ?page=query&db=D&id=QUERYID: one statement (queries.go)
)

// Orders of the tables page (sort=), as graph.Tables takes them.
const (
	sortBusiest = "busiest"
	sortSize    = "size"
	sortDead    = "dead"
)

// Limits of the query string.
const (
	maxValue = 256 // bytes per parameter value
	maxQuery = 4096
	maxPage  = 1_000_000
	// Image sizes a URL may ask for (graph.Query accepts more).
	minWidth, maxWidth   = 200, 2000
	minHeight, maxHeight = 120, 1200
)

// request is a parsed query string: what the client asked for, with every
// parameter checked. The zero value is not valid; parseRequest makes one.
type request struct {
	Kind  string // pageOverview, pageTables, pageTable or kindGraph
	DB    string // database name (pageTables, pageTable, Database and Table graphs)
	Table string // table as stored, SCHEMA.TABLE (pageTable, Table graphs)
	Page  int    // p=: page of the tables list, from 1 (pageTables)
	Sort  string // sort=: sortBusiest, sortSize or sortDead (pageTables)
	Graph string // graph=: a graph.Def's Name (kindGraph)
	CSV   bool   // format=csv (kindGraph, pageQueries, pageEvents, pageAlerts)
	ID    string // id=: a statement's queryid in decimal (pageQuery)
	// NoEvents is events=0: graphs without their events, pages without
	// their list.
	NoEvents bool
	// Compare is compare=previous: graphs with the previous period.
	Compare bool
	// EventKind is kind=: the events page's kind filter ("" for all).
	EventKind string
	// Width and Height are the image's size in pixels, 0 for the
	// default (kindGraph).
	Width, Height int
	// RangeName, From and To are range=, from= and to= as given ("" when
	// absent); Range is what they mean at the time of the request.
	RangeName, From, To string
	Range               graph.Range
}

// httpError is a response other than 200: a status and one line of text
// for the body. It never holds internals (the log gets those).
type httpError struct {
	Status int
	Msg    string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Msg)
}

func badRequest(format string, args ...any) *httpError {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *httpError {
	return &httpError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

// params lists every accepted parameter and the request kinds that take
// it; any other parameter is refused.
var params = map[string][]string{
	"page":    {pageOverview, pageTables, pageTable, pageQueries, pageQuery, pageEvents, pageAlerts},
	"db":      {pageTables, pageTable, kindGraph, pageQueries, pageQuery, pageEvents},
	"table":   {pageTable, kindGraph},
	"id":      {pageQuery},
	"p":       {pageTables},
	"sort":    {pageTables, pageQueries},
	"graph":   {kindGraph},
	"range":   {pageOverview, pageTables, pageTable, kindGraph, pageQueries, pageQuery, pageEvents, pageAlerts},
	"from":    {pageOverview, pageTables, pageTable, kindGraph, pageQueries, pageQuery, pageEvents, pageAlerts},
	"to":      {pageOverview, pageTables, pageTable, kindGraph, pageQueries, pageQuery, pageEvents, pageAlerts},
	"format":  {kindGraph, pageQueries, pageEvents, pageAlerts},
	"width":   {kindGraph},
	"height":  {kindGraph},
	"events":  {pageOverview, pageTables, pageTable, kindGraph},
	"compare": {pageOverview, pageTables, pageTable, kindGraph},
	"kind":    {pageEvents},
}

// queryValues splits a raw query string: 400 when it is oversized or
// malformed.
func queryValues(rawQuery string) (url.Values, *httpError) {
	if len(rawQuery) > maxQuery {
		return nil, badRequest("query string longer than %d bytes", maxQuery)
	}
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, badRequest("malformed query string")
	}
	return vals, nil
}

// parseRequest parses a raw query string at time now (for relative
// ranges). It is pure: the same input gives the same request or error.
// Unknown, repeated, empty or oversized (> 256 bytes) parameters,
// parameters the request kind does not take, and bad values are 400; an
// unknown graph is 404. Unknown databases and tables are found later,
// against the data.
func parseRequest(rawQuery string, now time.Time) (request, *httpError) {
	var req request
	vals, herr := queryValues(rawQuery)
	if herr != nil {
		return req, herr
	}
	one := map[string]string{}
	// In name order, so the same query always gets the same message.
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		vs := vals[k]
		if _, ok := params[k]; !ok {
			return req, badRequest("unknown parameter %s", quoteName(k))
		}
		if len(vs) > 1 {
			return req, badRequest("parameter %s given %d times", k, len(vs))
		}
		v := vs[0]
		switch {
		case v == "":
			return req, badRequest("parameter %s is empty", k)
		case len(v) > maxValue:
			return req, badRequest("parameter %s is longer than %d bytes", k, maxValue)
		case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
			return req, badRequest("parameter %s is not valid UTF-8 text", k)
		}
		one[k] = v
	}

	// The kind: graph= makes an image; else page= (overview by default).
	switch page, hasPage := one["page"]; {
	case one["graph"] != "" && hasPage:
		return req, badRequest("graph and page exclude each other")
	case one["graph"] != "":
		req.Kind = kindGraph
	case !hasPage || page == pageOverview:
		req.Kind = pageOverview
	case page == pageTables || page == pageTable || page == pageQueries || page == pageQuery || page == pageEvents || page == pageAlerts:
		req.Kind = page
	default:
		return req, badRequest("unknown page %s (overview, tables, table, queries, query, events or alerts)", quoteValue(page))
	}
	for _, k := range slices.Sorted(maps.Keys(one)) {
		if !takes(params[k], req.Kind) {
			return req, badRequest("parameter %s does not apply to %s", k, kindName(req.Kind))
		}
	}
	req.DB, req.Table = one["db"], one["table"]

	switch req.Kind {
	case pageTables:
		if req.DB == "" {
			return req, badRequest("page tables needs db")
		}
		req.Page, req.Sort = 1, sortBusiest
		if p, ok := one["p"]; ok {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > maxPage || strconv.Itoa(n) != p {
				return req, badRequest("p must be a page number from 1")
			}
			req.Page = n
		}
		if s, ok := one["sort"]; ok {
			if s != sortBusiest && s != sortSize && s != sortDead {
				return req, badRequest("unknown sort %s (busiest, size or dead)", quoteValue(s))
			}
			req.Sort = s
		}
	case pageTable:
		if req.DB == "" || req.Table == "" {
			return req, badRequest("page table needs db and table")
		}
	case pageQueries, pageQuery:
		if herr := parseQueries(&req, one); herr != nil {
			return req, herr
		}
	case pageAlerts:
		if herr := parseAlerts(&req, one); herr != nil {
			return req, herr
		}
	case kindGraph:
		req.Graph = one["graph"]
		def, ok := graph.Lookup(req.Graph)
		if !ok {
			return req, notFound("no graph %s", quoteValue(req.Graph))
		}
		switch def.Scope {
		case graph.Server:
			if req.DB != "" || req.Table != "" {
				return req, badRequest("graph %s is about the whole server: no db or table", def.Name)
			}
		case graph.Database:
			if req.DB == "" || req.Table != "" {
				return req, badRequest("graph %s needs db and no table", def.Name)
			}
		case graph.Table, graph.Statement:
			if req.DB == "" || req.Table == "" {
				return req, badRequest("graph %s needs db and table", def.Name)
			}
		}
		var herr *httpError
		if req.Width, herr = size(one, "width", minWidth, maxWidth); herr != nil {
			return req, herr
		}
		if req.Height, herr = size(one, "height", minHeight, maxHeight); herr != nil {
			return req, herr
		}
	}

	switch f := one["format"]; {
	case f == "" || f == "png" && req.Kind == kindGraph || f == "html" && req.Kind == pageEvents:
	case f == "csv":
		req.CSV = true
	default:
		return req, badRequest("unknown format %s (%s or csv)", quoteValue(f), map[bool]string{true: "png", false: "html"}[req.Kind == kindGraph])
	}
	if herr := eventParams(one, &req); herr != nil {
		return req, herr
	}

	req.RangeName, req.From, req.To = one["range"], one["from"], one["to"]
	r, err := graph.ParseRange(req.RangeName, req.From, req.To, now)
	if err != nil {
		if !errors.Is(err, graph.ErrBadRange) {
			return req, badRequest("bad range")
		}
		return req, badRequest("%s", oneLine(err.Error()))
	}
	req.Range = r
	return req, nil
}

// size parses an optional image dimension.
func size(one map[string]string, key string, lo, hi int) (int, *httpError) {
	v, ok := one[key]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi || strconv.Itoa(n) != v {
		return 0, badRequest("%s must be a number of pixels from %d to %d", key, lo, hi)
	}
	return n, nil
}

func takes(kinds []string, kind string) bool { return slices.Contains(kinds, kind) }

// kindName names a request kind in messages.
func kindName(kind string) string {
	if kind == kindGraph {
		return "graph images"
	}
	return "page " + kind
}

// quoteName quotes a parameter name for a message, cut to 40 bytes.
func quoteName(s string) string { return quoteValue(s) }

// quoteValue quotes a value for a one-line message, cut to 40 bytes.
func quoteValue(s string) string {
	if len(s) > 40 {
		s = strings.ToValidUTF8(s[:40], "") + "…"
	}
	return strconv.Quote(s)
}

// oneLine replaces line breaks so a message stays on one line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
