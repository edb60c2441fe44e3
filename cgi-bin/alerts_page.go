package main

// The alerts page (?page=alerts): the client's alert history, newest
// first, and the same as CSV. Object names come from the client's
// server (hostile): html/template escapes them on the page, csvCell
// neutralises them in CSV.

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"time"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// pageAlerts is ?page=alerts: the client's alert history.
const pageAlerts = "alerts"

// historyShown is how many of the latest events the page and its CSV
// list.
const historyShown = 1000

// levelsOf returns the levels of every check that has some in cfg:
// its [alerts] key, else its default.
func levelsOf(cfg *config.Config) map[string]metric.Levels {
	out := map[string]metric.Levels{}
	for _, c := range metric.Checks() {
		if l := cfg.Levels(c); l.Warning.Set() || l.Critical.Set() {
			out[c.Name] = l
		}
	}
	return out
}

// parseAlerts checks the parameters of the alerts page.
func parseAlerts(req *request, one map[string]string) *httpError { return htmlOrCSV(req, one) }

// htmlOrCSV reads format= of a page that has a CSV form: html (the
// default) or csv.
func htmlOrCSV(req *request, one map[string]string) *httpError {
	switch f := one["format"]; f {
	case "", "html":
	case "csv":
		req.CSV = true
	default:
		return badRequest("unknown format %s (html or csv)", quoteValue(f))
	}
	return nil
}

// historySource is what the alerts page reads; *store.Store implements
// it.
type historySource interface {
	AlertHistory(ctx context.Context, prefix string, limit int) ([]store.AlertEvent, error)
}

var _ historySource = (*store.Store)(nil)

// historyRow is one event of the alerts page, as shown.
type historyRow struct {
	Time, Check, Object, State, Previous, Value, Threshold string
	Reminder                                               bool
}

// historyView is what the alerts page shows.
type historyView struct {
	CSV  string
	Rows []historyRow
}

// history reads the client's latest events as rows: the value in the
// check's unit, the threshold the state is beyond (the client's level
// now: config.ini's [alerts] or the default).
func (h *handler) history(ctx context.Context, src samples) ([]historyRow, *httpError) {
	hs, ok := src.(historySource)
	if !ok {
		return nil, nil
	}
	events, err := hs.AlertHistory(ctx, h.site.Prefix, historyShown)
	if err != nil {
		return nil, &httpError{http.StatusInternalServerError, err.Error()}
	}
	checks := metric.Checks()
	out := make([]historyRow, 0, len(events))
	for _, e := range events {
		c, _ := metric.LookupCheck(checks, e.Check)
		row := historyRow{
			Time: e.At.UTC().Format(time.DateTime), Check: e.Check, Object: e.Display,
			State: e.State.String(), Previous: e.Previous.String(), Reminder: e.Reminder,
			Value: metric.FormatValue(e.Value, c.Unit), Threshold: "–",
		}
		if e.Display == "" {
			row.Object = "(the client)"
		}
		lv := h.site.Levels[e.Check]
		switch e.State {
		case metric.StateWarning:
			row.Threshold = "warning " + metric.FormatRange(lv.Warning, c.Unit)
		case metric.StateCritical:
			row.Threshold = "critical " + metric.FormatRange(lv.Critical, c.Unit)
		}
		out = append(out, row)
	}
	return out, nil
}

// alertsPage fills v with the client's alert history.
func (h *handler) alertsPage(ctx context.Context, src samples, req request, overview link, v *view) *httpError {
	rows, herr := h.history(ctx, src)
	if herr != nil {
		return herr
	}
	v.Heading = "Alert history"
	v.Crumbs = []link{overview, {Text: "Alerts", Current: true}}
	v.History = &historyView{Rows: rows, CSV: query(h.site.base(), "page", pageAlerts, "format", "csv")}
	if len(rows) == 0 {
		v.Empty = "No alert has changed state yet."
	}
	return nil
}

// alertsCSV writes the alert history as CSV, newest first.
func (h *handler) alertsCSV(ctx context.Context, src samples) ([]byte, *httpError) {
	rows, herr := h.history(ctx, src)
	if herr != nil {
		return nil, herr
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"time", "check", "object", "state", "previous", "value", "threshold", "reminder"})
	for _, r := range rows {
		rem := ""
		if r.Reminder {
			rem = "yes"
		}
		_ = w.Write([]string{r.Time + " UTC", r.Check, csvCell(r.Object), r.State, r.Previous, csvCell(r.Value), csvCell(r.Threshold), rem})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, &httpError{http.StatusInternalServerError, "write csv: " + err.Error()}
	}
	return buf.Bytes(), nil
}
