package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pggraph/pggraph/graph"
)

//go:embed page.html
var pageHTML string

//go:embed head.html
var headHTML string

//go:embed page.css
var pageCSS string

// csp is the pages' Content-Security-Policy: images from here, the one
// inline style sheet (by hash), no scripts at all.
var csp = func() string {
	sum := sha256.Sum256([]byte(pageStyle()))
	return "default-src 'none'; img-src 'self'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
}()

// pageTemplate parses the template that renders every page; html/template
// escapes every name (database, table and index names are the client's, so
// hostile). It is parsed per page, which is once per CGI process: image
// requests, the most frequent, never pay for it.
func pageTemplate() (*template.Template, error) { return htmlTemplate("page", pageHTML) }

// htmlTemplate parses an HTML page's template with the head all pages
// share (head.html, which embeds page.css).
func htmlTemplate(name, text string) (*template.Template, error) {
	t, err := template.New(name).Funcs(template.FuncMap{
		"css": func() template.CSS { return template.CSS(pageStyle()) },
	}).Parse(headHTML)
	if err != nil {
		return nil, err
	}
	return t.New(name).Parse(text)
}

// Image sizes on the pages.
const (
	graphWidth, graphHeight = 800, 300 // graph.Query's default
	thumbWidth, thumbHeight = 560, 200 // a table's image on the tables page
)

// link is an anchor.
type link struct {
	Text, Href string
	Current    bool
}

// graphImage is one graph on a page: an <img> and a link to its CSV,
// and the list of its heaviest objects when the graph has one
// (graph.Def.Top).
type graphImage struct {
	Title, Src, CSV string
	Width, Height   int
	Top             *topList
}

// topList is a graph's ranking of its objects over the page's range.
type topList struct {
	Title string
	Rows  []topRow
}

// topRow is one object of a topList and its share, "12.5%".
type topRow struct{ Name, Share string }

// absentGraph is an optional graph a page leaves out, and why.
type absentGraph struct{ Title, Why string }

// tableRow is one table of the tables page.
type tableRow struct {
	Name, Href                 string
	Size, Activity, DeadTuples string
	Bloat                      string // estimated
	Image                      graphImage
}

// indexRow is one index of the table page.
type indexRow struct {
	Name, Scans, Size, Bloat string
	Unused                   bool
}

// dbLinks are a database's links on the overview: its page (busiest
// tables first) and its tables by size and by dead rows.
type dbLinks struct {
	Name, Href, BySize, ByDead, Queries string
}

// customRange is the form for an explicit from/to range.
type customRange struct {
	Action   string
	Hidden   []field
	From, To string // YYYY-MM-DD, UTC
}

type field struct{ Name, Value string }

// view is everything page.html shows.
type view struct {
	Title     string // the client's title
	User      string // who is logged in ("" when unknown)
	Logout    string // the logout link, for a login with a session
	Heading   string
	Crumbs    []link
	Ranges    []link
	Custom    customRange
	RangeText string
	Updated   string
	Alerts    []alertLink // active alerts, worst first
	// AlertHistory links to the alerts page.
	AlertHistory string
	// Since links to the span of all the client's data ("" Href when it
	// has none); Young says the page opened on it rather than on the
	// default range.
	Since  link
	Young  bool
	Graphs []graphImage
	// Absent are the optional graphs of the page left out for want of
	// data, each with why (graph.Def.Absent).
	Absent    []absentGraph
	Databases []dbLinks // overview
	// Tables page.
	DB         string
	Tables     []tableRow
	TableCount int
	Sorts      []link
	Prev, Next string
	PageN      int
	Pages      int
	// Table page.
	Indexes   []indexRow
	HasIndex  bool
	ShowIndex bool
	Empty     string
	// Queries pages (queries.go).
	Queries *queriesView
	// Events: the toggles of a graphs page (compare, events), the
	// range's events (the newest maxPageEvents on a graphs page, and
	// EventsMore when there are more; all on the events page), the
	// legend, the link to the events page, the events page's filters.
	Toggles     []link
	ShowEvents  bool
	Events      []eventRow
	EventKeys   []eventKey
	EventsMore  bool
	EventsAll   string
	EventFilter *eventFilter
	// Alerts page (alerts_page.go).
	History *historyView
}

// query builds base?k=v&… from key/value pairs in order, leaving out
// empty values.
func query(base string, kv ...string) string {
	var b strings.Builder
	b.WriteString(base)
	sep := "?"
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		b.WriteString(sep + kv[i] + "=" + url.QueryEscape(kv[i+1]))
		sep = "&"
	}
	return b.String()
}

// pageRange are the range parameters page links carry: as given.
func pageRange(req request) []string {
	return []string{"range", req.RangeName, "from", req.From, "to", req.To}
}

// imageSrc is the URL of one graph of the request's range.
func (h *handler) imageSrc(req request, name, db, table string, width, height int, csv bool) string {
	kv := []string{"graph", name, "db", db, "table", table, "range", req.Range.Name, "from", req.From, "to", req.To}
	kv = append(kv, eventParam(req)...)
	if width != graphWidth || height != graphHeight {
		kv = append(kv, "width", strconv.Itoa(width), "height", strconv.Itoa(height))
	}
	if csv {
		kv = append(kv, "format", "csv")
	}
	return query(h.site.base(), kv...)
}

// images fills v's graphs of a scope, for database db and table table
// (or neither): every graph of the scope, but an optional one only when
// its group has data in the range there, in place of the graph it
// replaces; the optional ones left out go to v.Absent.
func (h *handler) images(ctx context.Context, src samples, req request, scope graph.Scope, db, table string, v *view) *httpError {
	var defs []graph.Def
	optional := false
	for _, d := range graph.Defs() {
		if d.Scope == scope {
			defs = append(defs, d)
			optional = optional || d.Absent != ""
		}
	}
	seen := map[string]bool{}
	if optional {
		var err error
		seen, err = src.GroupsSeen(ctx, h.site.Prefix, db, table, req.Range.From, req.Range.To)
		if err != nil {
			return &httpError{http.StatusInternalServerError, err.Error()}
		}
	}
	replaced := map[string]bool{}
	for _, d := range defs {
		if d.Absent != "" && seen[d.Group] && d.Replaces != "" {
			replaced[d.Replaces] = true
		}
	}
	for _, d := range defs {
		switch {
		case replaced[d.Name]:
		case d.Absent != "" && !seen[d.Group]:
			v.Absent = append(v.Absent, absentGraph{Title: d.Title, Why: d.Absent})
		default:
			img := h.image(req, d, db, table, graphWidth, graphHeight)
			if d.Top != nil {
				shares, err := graph.Top(ctx, src, h.site.Prefix, d, req.Range)
				if err != nil {
					return &httpError{http.StatusInternalServerError, err.Error()}
				}
				img.Top = &topList{Title: d.Top.Title}
				for _, s := range shares {
					img.Top.Rows = append(img.Top.Rows, topRow{Name: s.Name, Share: fmt.Sprintf("%.1f%%", 100*s.Share)})
				}
			}
			v.Graphs = append(v.Graphs, img)
		}
	}
	return nil
}

func (h *handler) image(req request, d graph.Def, db, table string, width, height int) graphImage {
	return graphImage{
		Title: d.Title, Width: width, Height: height,
		Src: h.imageSrc(req, d.Name, db, table, width, height, false),
		CSV: h.imageSrc(req, d.Name, db, table, width, height, true),
	}
}

// thumbGraph is the one graph shown per table on the tables page: its row
// changes ("tuples"), or else the first table graph.
func thumbGraph() (graph.Def, bool) {
	var first graph.Def
	found := false
	for _, d := range graph.Defs() {
		if d.Scope != graph.Table {
			continue
		}
		if strings.Contains(d.Name, "tuples") {
			return d, true
		}
		if !found {
			first, found = d, true
		}
	}
	return first, found
}

// timeText is how pages show a time: 2026-12-06 14:20 UTC.
func timeText(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// sinceParam is from= of the span of all the data since t: t to the
// second, rounded down so that the span holds t.
func sinceParam(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// opening returns what a page shows: the request's range, or, when the
// request names no range (the default day) and the client's data starts
// after that range would (a client younger than a day), the span since
// its data starts, and true. The request's range parameters, which the
// page's links carry, stay as given.
func opening(req request, since time.Time) (request, bool) {
	if req.RangeName != "" || req.From != "" || req.To != "" || since.IsZero() || !since.After(req.Range.From) {
		return req, false
	}
	from := sinceParam(since)
	r, err := graph.ParseRange(graph.RangeCustom, from, "", req.Range.Now)
	if err != nil { // data from after now: the collector's clock is ahead
		return req, false
	}
	r.Keep = req.Range.Keep
	shown := req
	shown.RangeName, shown.From, shown.Range = graph.RangeCustom, from, r
	return shown, true
}

// page renders an HTML page for who: over the request's range, or for a
// young client over all its data (opening). It returns the page and the
// srcs of its images, in page order.
func (h *handler) page(ctx context.Context, src samples, req request, last time.Time, who visit) ([]byte, []string, *httpError) {
	base := h.site.base()
	v := view{Title: h.site.Title, Updated: "never", User: who.User}
	if who.Form {
		v.Logout = h.site.dir() + logoutName
	}
	if !last.IsZero() {
		v.Updated = timeText(last)
	}
	since, err := src.DataSince(ctx, h.site.Prefix)
	if err != nil {
		return nil, nil, &httpError{http.StatusInternalServerError, err.Error()}
	}
	shown, young := opening(req, since)
	v.Young = young
	v.RangeText = rangeText(shown.Range)
	overview := link{Text: "Overview", Href: query(base, pageRange(req)...)}
	// The banner reads pggraph_clients: its login and query overlap the
	// page's own.
	if a, ok := src.(alertsPrefetcher); ok {
		a.PrefetchAlerts(ctx, h.site.Prefix)
	}
	v.AlertHistory = query(base, "page", pageAlerts)

	// Range links keep the page, its database, table and order; a new
	// range starts the tables list over.
	here := []string{"page", "", "db", req.DB, "table", req.Table, "sort", ""}
	switch req.Kind {
	case pageTables:
		here[1] = pageTables
		if req.Sort != sortBusiest {
			here[7] = req.Sort
		}
	case pageTable:
		here[1] = pageTable
	case pageAlerts:
		here[1] = pageAlerts
	case pageQueries, pageQuery:
		here[1] = req.Kind
		here = append(here, "id", req.ID)
		if req.Kind == pageQueries && req.Sort != "total" {
			here[7] = req.Sort
		}
	case pageEvents:
		here[1] = pageEvents
		here = append(here, "kind", req.EventKind)
	}
	if req.Kind != pageEvents {
		here = append(here, eventParam(req)...)
	}
	for _, name := range []string{graph.RangeDay, graph.RangeWeek, graph.RangeMonth, graph.RangeYear} {
		v.Ranges = append(v.Ranges, link{
			Text: name, Href: query(base, append(append([]string{}, here...), "range", name)...),
			Current: shown.Range.Name == name && req.To == "",
		})
	}
	if !since.IsZero() && since.Before(req.Range.Now) {
		v.Since = link{Text: timeText(since),
			Href: query(base, append(append([]string{}, here...), "range", graph.RangeCustom, "from", sinceParam(since))...)}
	}
	v.Custom = customRange{Action: base,
		From: shown.Range.From.UTC().Format(time.DateOnly),
		To:   shown.Range.To.UTC().Add(-time.Nanosecond).Format(time.DateOnly)}
	for i := 0; i+1 < len(here); i += 2 {
		if here[i+1] != "" {
			v.Custom.Hidden = append(v.Custom.Hidden, field{here[i], here[i+1]})
		}
	}

	switch req.Kind {
	case pageOverview:
		v.Heading = "Server overview"
		v.Crumbs = []link{{Text: "Overview", Current: true}}
		if herr := h.images(ctx, src, shown, graph.Server, "", "", &v); herr != nil {
			return nil, nil, herr
		}
		if herr := h.pageEvents(ctx, src, req, shown, "", here, &v); herr != nil {
			return nil, nil, herr
		}
		dbs, err := graph.Databases(ctx, src, h.site.Prefix)
		if herr := dataError(err, req); herr != nil {
			return nil, nil, herr
		}
		for _, db := range dbs {
			at := func(sort string) string {
				return query(base, append([]string{"page", pageTables, "db", db, "sort", sort}, pageRange(req)...)...)
			}
			v.Databases = append(v.Databases, dbLinks{Name: db, Href: at(""), BySize: at(sortSize), ByDead: at(sortDead),
				Queries: query(base, append([]string{"page", pageQueries, "db", db}, pageRange(req)...)...)})
		}
		if len(dbs) == 0 {
			v.Empty = "No database has samples yet: graphs appear after the second collection."
		}
	case pageTables:
		if herr := h.tablesPage(ctx, src, req, shown, &v); herr != nil {
			return nil, nil, herr
		}
		v.Crumbs = []link{overview, {Text: req.DB, Current: true}}
		if herr := h.pageEvents(ctx, src, req, shown, req.DB, here, &v); herr != nil {
			return nil, nil, herr
		}
	case pageTable:
		idx, err := graph.Indexes(ctx, src, h.site.Prefix, req.DB, req.Table, shown.Range)
		if herr := dataError(err, req); herr != nil {
			return nil, nil, herr
		}
		v.Heading = "Table " + req.Table
		v.DB = req.DB
		v.Crumbs = []link{overview,
			{Text: req.DB, Href: query(base, append([]string{"page", pageTables, "db", req.DB}, pageRange(req)...)...)},
			{Text: req.Table, Current: true}}
		if herr := h.images(ctx, src, shown, graph.Table, req.DB, req.Table, &v); herr != nil {
			return nil, nil, herr
		}
		if herr := h.pageEvents(ctx, src, req, shown, req.DB, here, &v); herr != nil {
			return nil, nil, herr
		}
		v.ShowIndex = true
		for _, x := range idx {
			v.Indexes = append(v.Indexes, indexRow{Name: x.Name, Scans: count(x.Scans), Size: bytesText(x.Size), Bloat: bytesText(x.Bloat), Unused: x.Unused})
		}
	case pageQueries, pageQuery:
		if herr := h.queriesPages(ctx, src, req, shown, overview, &v); herr != nil {
			return nil, nil, herr
		}
	case pageEvents:
		if herr := h.eventsPage(ctx, src, req, shown, &v); herr != nil {
			return nil, nil, herr
		}
		v.Crumbs = []link{overview, {Text: "Events", Current: true}}
	case pageAlerts:
		if herr := h.alertsPage(ctx, src, req, overview, &v); herr != nil {
			return nil, nil, herr
		}
	}
	v.Alerts = h.banner(ctx, src, base, pageRange(req))
	tmpl, err := pageTemplate()
	if err != nil {
		return nil, nil, &httpError{http.StatusInternalServerError, "page template: " + err.Error()}
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, v); err != nil {
		return nil, nil, &httpError{http.StatusInternalServerError, "render page: " + err.Error()}
	}
	var images []string
	for _, g := range v.Graphs {
		images = append(images, g.Src)
	}
	for _, t := range v.Tables {
		if t.Image.Src != "" {
			images = append(images, t.Image.Src)
		}
	}
	return buf.Bytes(), images, nil
}

// tablesPage fills v with a database's graphs (page 1) and one page of
// its tables, max_images of them, over the range shown (its links carry
// req's).
func (h *handler) tablesPage(ctx context.Context, src samples, req, shown request, v *view) *httpError {
	base := h.site.base()
	n := h.site.MaxImages
	tables, total, err := graph.Tables(ctx, src, h.site.Prefix, req.DB, req.Sort, shown.Range, (req.Page-1)*n, n)
	if herr := dataError(err, req); herr != nil {
		return herr
	}
	pages := max(1, (total+n-1)/n)
	if req.Page > pages {
		return notFound("no page %d: database %s has %d page(s) of tables", req.Page, quoteValue(req.DB), pages)
	}
	v.Heading = "Database " + req.DB
	v.DB, v.TableCount, v.PageN, v.Pages = req.DB, total, req.Page, pages
	if req.Page == 1 {
		if herr := h.images(ctx, src, shown, graph.Database, req.DB, "", v); herr != nil {
			return herr
		}
	}
	sortParam := func(s string) string {
		if s == sortBusiest {
			return ""
		}
		return s
	}
	at := func(p int, sort string) string {
		pp := ""
		if p > 1 {
			pp = strconv.Itoa(p)
		}
		return query(base, append([]string{"page", pageTables, "db", req.DB, "p", pp, "sort", sortParam(sort)}, pageRange(req)...)...)
	}
	for _, s := range []struct{ key, text string }{{sortBusiest, "busiest"}, {sortSize, "largest"}, {sortDead, "most dead rows"}} {
		v.Sorts = append(v.Sorts, link{Text: s.text, Href: at(1, s.key), Current: req.Sort == s.key})
	}
	if req.Page > 1 {
		v.Prev = at(req.Page-1, req.Sort)
	}
	if req.Page < pages {
		v.Next = at(req.Page+1, req.Sort)
	}
	thumb, ok := thumbGraph()
	for _, t := range tables {
		row := tableRow{
			Name: t.Name, Size: bytesText(t.Size), Activity: count(t.Activity), DeadTuples: count(t.DeadTuples), Bloat: bytesText(t.Bloat),
			Href: query(base, append([]string{"page", pageTable, "db", req.DB, "table", t.Name}, pageRange(req)...)...),
		}
		if ok {
			row.Image = h.image(shown, thumb, req.DB, t.Name, thumbWidth, thumbHeight)
		}
		v.Tables = append(v.Tables, row)
	}
	if total == 0 {
		v.Empty = "No table of this database has samples in this range."
	}
	return nil
}

// rangeText describes a range for the page.
func rangeText(r graph.Range) string {
	const f = "2006-01-02 15:04"
	return fmt.Sprintf("%s – %s UTC", r.From.UTC().Format(f), r.To.UTC().Format(f))
}

// bytesText formats a size: 1.5 MB; "–" when unknown.
func bytesText(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	i := 0
	for math.Abs(v) >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", v)
	}
	return fmt.Sprintf("%.3g %s", v, units[i])
}

// count formats a number of things: 950, 12.3k, 4.5M; "–" when unknown.
func count(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	switch a := math.Abs(v); {
	case a >= 1e9:
		return fmt.Sprintf("%.3gG", v/1e9)
	case a >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.3gk", v/1e3)
	}
	return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
}
