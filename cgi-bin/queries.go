package main

// The queries pages: a database's statements over a range, from
// pg_stat_statements (?page=queries), one statement's text and graphs
// (?page=query), and the list as CSV. Statement texts are the client's
// users' SQL: html/template escapes them on the pages, csvCell
// neutralises them in CSV.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pggraph/pggraph/graph"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// Orders of the queries page (sort=).
var querySorts = []struct{ key, text string }{
	{"total", "total time"}, {"calls", "calls"}, {"mean", "mean time"},
	{"rows", "rows"}, {"io", "blocks read"}, {"temp", "temp written"},
}

// queriesShown is how many statements the queries page lists; the rest
// are added to the other statements' row.
const queriesShown = 100

// installStatements says how to install pg_stat_statements.
const installStatements = "To collect them, add pg_stat_statements to shared_preload_libraries in the client's postgresql.conf, " +
	"restart PostgreSQL, and run CREATE EXTENSION pg_stat_statements in any one database (as a superuser): " +
	"the next two collections then start the statistics."

// parseQueries checks the parameters of the queries pages.
func parseQueries(req *request, one map[string]string) *httpError {
	if req.DB == "" {
		return badRequest("page %s needs db", req.Kind)
	}
	if req.Kind == pageQuery {
		id, ok := one["id"]
		if n, err := strconv.ParseInt(id, 10, 64); !ok || err != nil || strconv.FormatInt(n, 10) != id {
			return badRequest("page query needs id, a statement's queryid")
		}
		req.ID = id
		return nil
	}
	req.Sort = "total"
	if s, ok := one["sort"]; ok {
		if !slices.ContainsFunc(querySorts, func(q struct{ key, text string }) bool { return q.key == s }) {
			return badRequest("unknown sort %s (total, calls, mean, rows, io or temp)", quoteValue(s))
		}
		req.Sort = s
	}
	return htmlOrCSV(req, one)
}

// queryRow is one statement of the queries page.
type queryRow struct {
	ID, Href, Text                             string
	Total, Share, Calls, Mean, Rows, Hit, Temp string
}

// queriesView is what the queries pages show.
type queriesView struct {
	DB    string
	Sorts []link
	CSV   string
	Rows  []queryRow
	Other *queryRow
	Notes []string
	// Text is the statement's text on the query page ("" when none is
	// stored); Single says the page is one statement's.
	Text   string
	Single bool
}

// statementSource is what the queries pages read; *store.Store
// implements it.
type statementSource interface {
	graph.StatementSource
}

// stmt is one statement's sums, by column name.
type stmt struct {
	store.StatementStat
	at map[string]int
}

func (s stmt) v(col string) float64 {
	i, ok := s.at[col]
	if !ok || i >= len(s.Values) {
		return math.NaN()
	}
	return s.Values[i]
}

// plus is a + b where NaN counts as 0 unless both are NaN.
func plus(a, b float64) float64 {
	switch {
	case math.IsNaN(a):
		return b
	case math.IsNaN(b):
		return a
	}
	return a + b
}

func (s stmt) total() float64 { return plus(s.v("exec_time"), s.v("plan_time")) }

// key is the statement's value in an order of the page.
func (s stmt) key(sort string) float64 {
	switch sort {
	case "calls":
		return s.v("calls")
	case "mean":
		return s.total() / s.v("calls")
	case "rows":
		return s.v("rows")
	case "io":
		return s.v("shared_blks_read")
	case "temp":
		return s.v("temp_blks_written")
	}
	return s.total()
}

// statements reads the statements of the request's database over r,
// the others' row last.
func (h *handler) statements(ctx context.Context, src samples, req request, r graph.Range, id *int64) ([]stmt, *httpError) {
	ss, ok := src.(statementSource)
	if !ok {
		return nil, &httpError{http.StatusInternalServerError, "the samples source keeps no statements"}
	}
	stats, err := graph.Statements(ctx, ss, h.site.Prefix, req.DB, id, r)
	if herr := dataError(err, req); herr != nil {
		return nil, herr
	}
	at := map[string]int{}
	for i, c := range metric.StatementGroup().Columns {
		at[c.Name] = i
	}
	out := make([]stmt, len(stats))
	for i, s := range stats {
		out[i] = stmt{s, at}
	}
	return out, nil
}

// sorted orders the statements for the page (the others' row apart):
// the highest value of the order first, ties by queryid.
func sorted(all []stmt, order string) (list []stmt, other *stmt) {
	for i := range all {
		if all[i].Other {
			other = &all[i]
			continue
		}
		list = append(list, all[i])
	}
	slices.SortStableFunc(list, func(a, b stmt) int {
		ka, kb := a.key(order), b.key(order)
		if math.IsNaN(ka) {
			ka = math.Inf(-1)
		}
		if math.IsNaN(kb) {
			kb = math.Inf(-1)
		}
		if c := cmp.Compare(kb, ka); c != 0 {
			return c
		}
		return cmp.Compare(a.QueryID, b.QueryID)
	})
	return list, other
}

// queriesPage fills v with a database's statements over the range shown
// (its links carry req's).
func (h *handler) queriesPage(ctx context.Context, src samples, req, shown request, v *view) *httpError {
	base := h.site.base()
	all, herr := h.statements(ctx, src, req, shown.Range, nil)
	if herr != nil {
		return herr
	}
	q := &queriesView{DB: req.DB}
	v.Queries = q
	v.Heading = "Queries of " + req.DB
	at := func(sort string) string {
		if sort == "total" {
			sort = ""
		}
		return query(base, append([]string{"page", pageQueries, "db", req.DB, "sort", sort}, pageRange(req)...)...)
	}
	for _, s := range querySorts {
		q.Sorts = append(q.Sorts, link{Text: s.text, Href: at(s.key), Current: req.Sort == s.key})
	}
	sortKey := req.Sort
	if sortKey == "total" {
		sortKey = ""
	}
	q.CSV = query(base, append([]string{"page", pageQueries, "db", req.DB, "sort", sortKey, "format", "csv"}, pageRange(req)...)...)
	list, other := sorted(all, req.Sort)
	sum := 0.0
	for _, s := range all {
		sum = plus(sum, s.total())
	}
	rest := stmt{StatementStat: store.StatementStat{Other: true, Values: make([]float64, len(metric.StatementGroup().Columns))}}
	if len(all) > 0 {
		rest.at = all[0].at
	}
	restN := 0
	if other != nil {
		rest.StatementStat.Values = slices.Clone(other.Values)
		restN = -1 // the stored row counts statements not kept on their own
	}
	for i, s := range list {
		if i >= queriesShown {
			for j, x := range s.Values {
				rest.Values[j] = plus(rest.Values[j], x)
			}
			if restN >= 0 {
				restN++
			}
			continue
		}
		row := h.queryRow(s, sum)
		row.Href = query(base, append([]string{"page", pageQuery, "db", req.DB, "id", row.ID}, pageRange(req)...)...)
		q.Rows = append(q.Rows, row)
	}
	if other != nil || restN > 0 {
		row := h.queryRow(rest, sum)
		row.ID, row.Text = "", "all other statements"
		q.Other = &row
	}
	h.statementNotes(ctx, src, shown, q)
	if len(all) == 0 && len(q.Notes) == 0 {
		q.Notes = append(q.Notes, "No statement of this database has samples in this range.")
	}
	return nil
}

// queryRow formats one statement for the page; sum is the total time of
// every statement of the database.
func (h *handler) queryRow(s stmt, sum float64) queryRow {
	calls := s.v("calls")
	hit, read := s.v("shared_blks_hit"), s.v("shared_blks_read")
	r := queryRow{
		ID:    strconv.FormatInt(s.QueryID, 10),
		Text:  shorten(s.Text, 300),
		Total: msText(s.total()),
		Share: percentText(s.total() / sum),
		Calls: count(calls),
		Mean:  msText(s.total() / calls),
		Rows:  decimalText(s.v("rows") / calls),
		Hit:   percentText(hit / (hit + read)),
		Temp:  count(plus(s.v("temp_blks_read"), s.v("temp_blks_written"))),
	}
	if s.Text == "" {
		r.Text = "(no text stored)"
	}
	return r
}

// statementNotes adds what the page must say about the range's
// collections: pg_stat_statements missing or turned off, resets,
// evictions.
func (h *handler) statementNotes(ctx context.Context, src samples, shown request, q *queriesView) {
	ss, ok := src.(statementSource)
	if !ok {
		return
	}
	ev, err := ss.StatementEvents(ctx, h.site.Prefix, shown.Range.From, shown.Range.To)
	if err != nil {
		q.Notes = append(q.Notes, "What the collections did with pg_stat_statements could not be read.")
		h.log.Warn("read statement runs", "error", err)
		return
	}
	switch ev.Last {
	case "":
		q.Notes = append(q.Notes, "No collection has looked for pg_stat_statements yet.")
	case metric.StatementsAbsent:
		q.Notes = append(q.Notes, "The client's server has no statement statistics: pg_stat_statements is not installed (or not loaded). "+installStatements)
	case metric.StatementsOff:
		q.Notes = append(q.Notes, "Statement statistics are turned off for this client ([remote] queries = no in its config.ini).")
	case metric.StatementsPrimed:
		q.Notes = append(q.Notes, "pg_stat_statements was found in database "+ev.LastDatabase+": statement statistics appear after the next collection.")
	}
	if ev.ResetCount > 0 {
		var at []string
		for _, t := range ev.Resets {
			at = append(at, timeText(t))
		}
		more := ""
		if ev.ResetCount > len(at) {
			more = fmt.Sprintf(" and %d more", ev.ResetCount-len(at))
		}
		q.Notes = append(q.Notes, fmt.Sprintf("Statement statistics were reset (pg_stat_statements_reset() or a server restart) in this range, "+
			"in the interval ending %s%s: those intervals are gaps.", strings.Join(at, ", "), more))
	}
	if ev.EvictedRuns > 0 {
		q.Notes = append(q.Notes, fmt.Sprintf("%s statements were evicted at pg_stat_statements.max in %d collection(s) of this range: "+
			"what they did before their eviction is not counted. Raise pg_stat_statements.max (a restart) to keep more.",
			count(ev.Evicted), ev.EvictedRuns))
	}
}

// queryPage fills v with one statement: its text and graphs.
func (h *handler) queryPage(ctx context.Context, src samples, req, shown request, v *view) *httpError {
	id, _ := strconv.ParseInt(req.ID, 10, 64)
	all, herr := h.statements(ctx, src, req, shown.Range, &id)
	if herr != nil {
		return herr
	}
	if len(all) == 0 {
		return notFound("no statement %s in database %s in this range", req.ID, quoteValue(req.DB))
	}
	q := &queriesView{DB: req.DB, Single: true, Text: all[0].Text}
	v.Queries = q
	v.Heading = "Statement " + req.ID
	if q.Text == "" {
		q.Notes = append(q.Notes, "No text is stored for this statement ([remote] query_text = no, or it was not seen since texts were kept).")
	}
	q.Rows = []queryRow{h.queryRow(all[0], all[0].total())}
	return h.images(ctx, src, shown, graph.Statement, req.DB, req.ID, v)
}

// queriesCSV writes the queries page's statements as CSV: queryid, one
// column per stored measure (sums over the range), and the text; the
// other statements last with an empty queryid.
func (h *handler) queriesCSV(ctx context.Context, src samples, req request) ([]byte, *httpError) {
	all, herr := h.statements(ctx, src, req, req.Range, nil)
	if herr != nil {
		return nil, herr
	}
	list, other := sorted(all, req.Sort)
	if other != nil {
		list = append(list, *other)
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	header := []string{"queryid"}
	for _, c := range metric.StatementGroup().Columns {
		header = append(header, c.Name)
	}
	header = append(header, "query")
	_ = w.Write(header)
	for _, s := range list {
		row := []string{strconv.FormatInt(s.QueryID, 10)}
		if s.Other {
			row[0] = ""
		}
		for _, x := range s.Values {
			row = append(row, csvNumber(x))
		}
		text := s.Text
		if s.Other {
			text = "all other statements"
		}
		row = append(row, csvCell(text))
		_ = w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, &httpError{http.StatusInternalServerError, "write csv: " + err.Error()}
	}
	return buf.Bytes(), nil
}

// csvCell neutralises a text a spreadsheet would take for a formula (it
// starts with =, +, -, @, a tab or a carriage return): a leading
// apostrophe makes it text, as OWASP advises.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// csvNumber is a sum exactly, "" for none.
func csvNumber(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// shorten cuts s to n characters, with an ellipsis.
func shorten(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// msText formats milliseconds: 850 ms, 12.3 s, 4.1 min, 2.5 h.
func msText(ms float64) string {
	if math.IsNaN(ms) || math.IsInf(ms, 0) {
		return "–"
	}
	d := time.Duration(ms * float64(time.Millisecond))
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.3f ms", ms)
	case d < time.Second:
		return fmt.Sprintf("%.3g ms", ms)
	case d < time.Minute:
		return fmt.Sprintf("%.3g s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%.3g min", d.Minutes())
	}
	return fmt.Sprintf("%.3g h", d.Hours())
}

// percentText formats a ratio as a percentage; "–" when unknown.
func percentText(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*r)
}

// decimalText formats a number with three significant digits.
func decimalText(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// queriesPages fills v for the queries page or a query page, with its
// crumbs.
func (h *handler) queriesPages(ctx context.Context, src samples, req, shown request, overview link, v *view) *httpError {
	base := h.site.base()
	db := link{Text: req.DB, Href: query(base, append([]string{"page", pageTables, "db", req.DB}, pageRange(req)...)...)}
	if req.Kind == pageQueries {
		v.Crumbs = []link{overview, db, {Text: "queries", Current: true}}
		return h.queriesPage(ctx, src, req, shown, v)
	}
	v.Crumbs = []link{overview, db,
		{Text: "queries", Href: query(base, append([]string{"page", pageQueries, "db", req.DB}, pageRange(req)...)...)},
		{Text: req.ID, Current: true}}
	return h.queryPage(ctx, src, req, shown, v)
}
