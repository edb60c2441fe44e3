package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"strings"
	"time"

	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// maxPageEvents is how many events a graphs page lists, the newest; the
// events page lists them all.
const maxPageEvents = 50

// eventParams parses events=, compare= and kind=.
func eventParams(one map[string]string, req *request) *httpError {
	switch e := one["events"]; e {
	case "", "1":
	case "0":
		req.NoEvents = true
	default:
		return badRequest("events must be 0 or 1")
	}
	switch c := one["compare"]; c {
	case "":
	case "previous":
		req.Compare = true
	default:
		return badRequest("unknown compare %s (previous)", quoteValue(c))
	}
	if k, ok := one["kind"]; ok {
		if _, known := metric.EventKindOf(metric.EventKind(k)); !known {
			var kinds []string
			for _, k := range metric.EventKinds() {
				kinds = append(kinds, string(k.Kind))
			}
			return badRequest("unknown kind %s (%s)", quoteValue(k), strings.Join(kinds, ", "))
		}
		req.EventKind = k
	}
	return nil
}

// eventParam are the parameters page links carry for events and the
// comparison: as given.
func eventParam(req request) []string {
	kv := []string{"events", "", "compare", ""}
	if req.NoEvents {
		kv[1] = "0"
	}
	if req.Compare {
		kv[3] = "previous"
	}
	return kv
}

// eventRow is one event as a page lists it. Its texts are the client's
// server's: the template escapes them.
type eventRow struct {
	Time, End, Letter, KindName, Kind, Database, Object, Detail string
}

// eventKey is one kind in a page's legend of events.
type eventKey struct{ Letter, Kind, Label, Help string }

// eventFilter is the events page's form.
type eventFilter struct {
	Action string
	Hidden []field
	Kinds  []option
	DB     string
	CSV    string
}

type option struct {
	Value, Text string
	Selected    bool
}

// eventRows turns events into page rows, newest first.
func eventRows(events []metric.Event) []eventRow {
	out := make([]eventRow, 0, len(events))
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i]
		k, _ := metric.EventKindOf(e.Kind)
		row := eventRow{Time: eventTimeText(e.Time), Letter: k.Letter, KindName: string(k.Kind), Kind: k.Label,
			Database: e.Database, Object: e.Object, Detail: e.Detail}
		if !e.End.IsZero() {
			row.End = eventTimeText(e.End)
		}
		out = append(out, row)
	}
	return out
}

// eventTimeText is how pages show an event's time: to the second.
func eventTimeText(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// eventKeys is the legend of every kind.
func eventKeys() []eventKey {
	var out []eventKey
	for _, k := range metric.EventKinds() {
		out = append(out, eventKey{Letter: k.Letter, Kind: string(k.Kind), Label: k.Label, Help: k.Help})
	}
	return out
}

// pageEvents fills v with the events of a graphs page: the newest of the
// range, of the server and of db when given; and its toggles.
func (h *handler) pageEvents(ctx context.Context, src samples, req, shown request, db string, here []string, v *view) *httpError {
	base := h.site.base()
	// toggle links to this page with key=value ("" leaves key out).
	toggle := func(key, value, text string, on bool) link {
		kv := append(append([]string{}, here...), pageRange(req)...)
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == key {
				kv[i+1] = value
			}
		}
		return link{Text: text, Href: query(base, kv...), Current: on}
	}
	v.Toggles = []link{
		toggle("compare", map[bool]string{false: "previous"}[req.Compare], "compare with the period before", req.Compare),
		toggle("events", map[bool]string{false: "0"}[req.NoEvents], "events", !req.NoEvents),
	}
	if req.NoEvents {
		return nil
	}
	events, err := src.Events(ctx, store.EventQuery{Prefix: h.site.Prefix, From: shown.Range.From, To: shown.Range.To, Database: db, Limit: maxPageEvents + 1})
	if err != nil {
		return &httpError{http.StatusInternalServerError, err.Error()}
	}
	if len(events) > maxPageEvents {
		events = events[1:]
		v.EventsMore = true
	}
	v.ShowEvents, v.Events, v.EventKeys = true, eventRows(events), eventKeys()
	v.EventsAll = query(base, append([]string{"page", pageEvents, "db", db}, pageRange(req)...)...)
	return nil
}

// eventsPage fills v with the events page: every event of the range
// that the filters (kind=, db=) keep.
func (h *handler) eventsPage(ctx context.Context, src samples, req, shown request, v *view) *httpError {
	events, err := h.events(ctx, src, req, shown)
	if err != nil {
		return &httpError{http.StatusInternalServerError, err.Error()}
	}
	base := h.site.base()
	v.Heading = "Events"
	v.ShowEvents, v.Events, v.EventKeys = true, eventRows(events), eventKeys()
	f := &eventFilter{Action: base, DB: req.DB,
		CSV: query(base, append([]string{"page", pageEvents, "db", req.DB, "kind", req.EventKind, "format", "csv"}, pageRange(req)...)...)}
	f.Kinds = append(f.Kinds, option{Value: "", Text: "every kind", Selected: req.EventKind == ""})
	for _, k := range metric.EventKinds() {
		f.Kinds = append(f.Kinds, option{Value: string(k.Kind), Text: k.Label, Selected: req.EventKind == string(k.Kind)})
	}
	for _, kv := range [][2]string{{"range", req.RangeName}, {"from", req.From}, {"to", req.To}} {
		if kv[1] != "" {
			f.Hidden = append(f.Hidden, field{kv[0], kv[1]})
		}
	}
	v.EventFilter = f
	if len(events) == 0 {
		v.Empty = "No event in this range."
	}
	return nil
}

// events reads the events the events page shows.
func (h *handler) events(ctx context.Context, src samples, req, shown request) ([]metric.Event, error) {
	return src.Events(ctx, store.EventQuery{Prefix: h.site.Prefix, From: shown.Range.From, To: shown.Range.To,
		Database: req.DB, Kind: metric.EventKind(req.EventKind)})
}

// eventsCSV writes the events page's events as CSV: time, end, kind,
// database, object, detail, oldest first; every text cell made safe for
// a spreadsheet (csvCell).
func (h *handler) eventsCSV(ctx context.Context, src samples, req request) ([]byte, *httpError) {
	events, err := h.events(ctx, src, req, req)
	if err != nil {
		return nil, &httpError{http.StatusInternalServerError, err.Error()}
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	rows := [][]string{{"time", "end", "kind", "database", "object", "detail"}}
	for _, e := range events {
		end := ""
		if !e.End.IsZero() {
			end = e.End.UTC().Format(time.RFC3339Nano)
		}
		rows = append(rows, []string{e.Time.UTC().Format(time.RFC3339Nano), end, string(e.Kind),
			csvCell(e.Database), csvCell(e.Object), csvCell(e.Detail)})
	}
	if err := w.WriteAll(rows); err != nil {
		return nil, &httpError{http.StatusInternalServerError, "write events csv: " + err.Error()}
	}
	return buf.Bytes(), nil
}

// pageStyle is the pages' style sheet: page.css, and each event kind's
// color (class ev-<kind>), from metric.EventKinds.
func pageStyle() string {
	var b strings.Builder
	b.WriteString(pageCSS)
	for _, k := range metric.EventKinds() {
		b.WriteString(".ev-" + string(k.Kind) + " { color: " + k.Color + "; font-weight: bold; }\n")
	}
	return b.String()
}
