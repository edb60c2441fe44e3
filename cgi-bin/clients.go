package main

// The all-clients page: pggraph.cgi run from the root of the install
// directories (/pggraph/), for operators only (web users whose client is
// *). Titles, prefixes, www paths and errors come from the clients table
// (an installer's answers, a client server's error text): html/template
// escapes each.

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

//go:embed clients.html
var clientsHTML string

// pageClients is the kind of the root's one page.
const pageClients = "clients"

// clientsSource is pggraph_clients as the all-clients page reads it;
// *store.Clients implements it.
type clientsSource interface {
	Health(ctx context.Context) ([]store.Health, error)
	Close(ctx context.Context) error
}

var _ clientsSource = (*store.Clients)(nil)

// parseRoot parses the all-clients page's query string: it takes no
// parameters, so any is 400, as is a malformed or oversized one.
func parseRoot(rawQuery string) (request, *httpError) {
	req := request{Kind: pageClients}
	vals, herr := queryValues(rawQuery)
	if herr != nil {
		return req, herr
	}
	if len(vals) > 0 {
		k := slices.Sorted(maps.Keys(vals))[0]
		return req, badRequest("unknown parameter %s (the all-clients page takes none)", quoteName(k))
	}
	return req, nil
}

// clientAlerts is one severity's count in a row of the page.
type clientAlerts struct {
	State string // CRITICAL, WARNING, UNKNOWN: its class
	Count int
	Text  string // critical, warning, unknown
}

// clientRow is one client as the page shows it.
type clientRow struct {
	Prefix, Title, State string
	Alerts               []clientAlerts
	Age                  string // of the last collection: "12 min ago", "never"
	Outcome, Error, Took string
	// Overview and AlertsPage link to the client's pages; "" when the
	// clients table has no www_path for it.
	Overview, AlertsPage string
}

// clientsView is what clients.html shows.
type clientsView struct {
	Title, User, Logout string
	Summary, Now        string
	Rows                []clientRow
}

// clientsPageView builds the page from the clients' health, worst first as
// read, at now.
func clientsPageView(title string, hs []store.Health, now time.Time) clientsView {
	v := clientsView{Title: title, Now: timeText(now)}
	byState := map[metric.State]int{}
	for _, x := range hs {
		st := x.State()
		byState[st]++
		row := clientRow{Prefix: x.Prefix, Title: x.Title, State: st.String(), Age: ageText(x.LastRun, now)}
		for _, a := range []clientAlerts{
			{State: "CRITICAL", Count: x.Critical, Text: "critical"},
			{State: "WARNING", Count: x.Warning, Text: "warning"},
			{State: "UNKNOWN", Count: x.Unknown, Text: "unknown"},
		} {
			if a.Count > 0 {
				row.Alerts = append(row.Alerts, a)
			}
		}
		if !x.LastRun.IsZero() {
			row.Outcome, row.Error = string(x.LastOutcome), oneLine(x.LastError)
			row.Took = strconv.FormatFloat(x.LastDuration.Seconds(), 'f', 1, 64) + " s"
		}
		if p := strings.Trim(x.WWWPath, "/"); p != "" {
			base := "/" + p + "/index.cgi"
			row.Overview, row.AlertsPage = base, query(base, "page", pageAlerts)
		}
		v.Rows = append(v.Rows, row)
	}
	var parts []string
	for _, st := range []metric.State{metric.StateCritical, metric.StateWarning, metric.StateUnknown, metric.StateOK} {
		if n := byState[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	v.Summary = strings.Join(parts, ", ")
	if v.Summary == "" {
		v.Summary = "none"
	}
	return v
}

// ageText says how long ago t was, in the largest whole unit.
func ageText(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
}

// clientsPage renders the all-clients page for who.
func (h *handler) clientsPage(ctx context.Context, p *pending[clientsSource], who visit) ([]byte, *httpError) {
	src, err := p.get()
	if err != nil {
		return nil, &httpError{http.StatusInternalServerError, msgSamplesDown + ": " + err.Error()}
	}
	hs, err := src.Health(ctx)
	if err != nil {
		return nil, &httpError{http.StatusInternalServerError, msgSamplesDown + ": " + err.Error()}
	}
	v := clientsPageView(h.site.Title, hs, h.now())
	v.User = who.User
	if who.Form {
		v.Logout = h.site.dir() + logoutName
	}
	tmpl, err := htmlTemplate("clients", clientsHTML)
	var buf bytes.Buffer
	if err == nil {
		err = tmpl.Execute(&buf, v)
	}
	if err != nil {
		return nil, &httpError{http.StatusInternalServerError, "clients template: " + err.Error()}
	}
	return buf.Bytes(), nil
}
