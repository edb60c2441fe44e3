package main

import (
	"context"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// historySamples are fake samples with an alert history.
type historySamples struct {
	*fakeSamples
	events []store.AlertEvent
}

func (h *historySamples) AlertHistory(ctx context.Context, prefix string, limit int) ([]store.AlertEvent, error) {
	return h.events[:min(limit, len(h.events))], nil
}

// openHistory serves the handler's requests from src.
func openHistory(h *handler, src *historySamples) {
	h.openSamples = func(context.Context) (samples, error) { return src, nil }
}

func TestAlertsPage(t *testing.T) {
	at := now.Add(-time.Hour)
	src := &historySamples{fakeSamples: newFakeSamples(), events: []store.AlertEvent{
		{Check: "slot_retained", Display: `slot "=HYPERLINK(\"http://x\")"`, At: at, State: metric.StateCritical, Previous: metric.StateWarning, Value: 12.5 * (1 << 30)},
		{Check: "idle_in_transaction", Display: `database "<script>alert(1)</script>"`, At: at.Add(-time.Minute), State: metric.StateWarning, Previous: metric.StateOK, Value: 400},
		{Check: "deadlocks", Display: "@SUM(1)", At: at.Add(-90 * time.Second), State: metric.StateOK, Previous: metric.StateWarning, Value: 0},
		{Check: "collection", At: at.Add(-2 * time.Minute), State: metric.StateOK, Previous: metric.StateCritical, Value: math.NaN()},
	}}
	h := testHandler(t, src.fakeSamples, &fakeUsers{}, nil)
	openHistory(h, src)
	lv, err := metric.ParseLevels(":1073741824 :10737418240")
	if err != nil {
		t.Fatal(err)
	}
	h.site.Levels = map[string]metric.Levels{"slot_retained": lv, "idle_in_transaction": {Warning: metric.Range{Max: 300, HasMax: true}}}

	tests := []struct {
		name, target string
		status       int
		ctype        string
		has, lack    []string
	}{
		{"the page, newest first, names escaped", "/pggraph/acme/index.cgi?page=alerts", 200, "text/html; charset=utf-8",
			[]string{"Alert history", "12.5 GB", "critical :10 GB", "warning :5 min", "(the client)", "&lt;script&gt;", "format=csv"},
			[]string{"<script>alert"}},
		{"a range is taken (the range links)", "/pggraph/acme/index.cgi?page=alerts&range=week", 200, "text/html; charset=utf-8", []string{"slot_retained"}, nil},
		{"CSV, formula cells neutralised", "/pggraph/acme/index.cgi?page=alerts&format=csv", 200, "text/csv; charset=utf-8",
			[]string{"time,check,object,state,previous,value,threshold,reminder\n", `"slot ""=HYPERLINK`, " UTC,slot_retained,", ",'@SUM(1),OK,WARNING,0,–,", "CRITICAL,WARNING,12.5 GB,critical :10 GB,"},
			nil},
		{"a bad format", "/pggraph/acme/index.cgi?page=alerts&format=xml", 400, "", nil, nil},
		{"a parameter of another page", "/pggraph/acme/index.cgi?page=alerts&db=x", 400, "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := get(h, tt.target, "alice")
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status != http.StatusOK {
				return
			}
			if ct := w.Header().Get("Content-Type"); ct != tt.ctype {
				t.Errorf("Content-Type %q, want %q", ct, tt.ctype)
			}
			body := w.Body.String()
			pageHolds(t, body, tt.has, tt.lack)
			if strings.Index(body, "slot_retained") > strings.Index(body, "idle_in_transaction") {
				t.Error("not newest first")
			}
		})
	}
}
