package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/pggraph/pggraph/metric"
)

// TestEventsStored: events written in a run and outside one read back by
// range, database and kind; a gap span takes in the failed runs it
// covers; hostile texts are kept as they are; a client without events
// (or tables) has none.
func TestEventsStored(t *testing.T) {
	s := openStore(t, testGroups())
	ctx := t.Context()
	t0 := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	if got, err := s.Events(ctx, EventQuery{Prefix: "noevents", From: t0, To: t0.Add(time.Hour)}); err != nil || got != nil {
		t.Fatalf("a client without tables: %v, %v", got, err)
	}
	hostile := "=cmd|' /C calc'!A0 <script>\xff"
	failure := metric.Event{Time: t0.Add(10 * time.Minute), Kind: metric.EventGap, Object: "collection", Detail: "collection failed: tunnel: refused"}
	if err := s.AddEvents(ctx, "ev", []metric.Event{failure}); err != nil {
		t.Fatal(err)
	}
	tx, err := s.Begin(ctx, "ev")
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	failed, err := tx.Events(ctx, t0, t0.Add(time.Hour))
	if err != nil || len(failed) != 1 || failed[0] != failure {
		t.Fatalf("Tx.Events = %+v, %v; want the failure", failed, err)
	}
	events := []metric.Event{
		{Time: t0, End: t0.Add(30 * time.Minute), Kind: metric.EventGap, Object: "collection", Detail: "no samples for 30m0s"},
		{Time: t0.Add(20 * time.Minute), Kind: metric.EventSetting, Object: "work_mem", Detail: "work_mem: " + hostile},
		{Time: t0.Add(25 * time.Minute), Kind: metric.EventReset, Database: "shop", Object: "database shop", Detail: "reset"},
		{Time: t0.Add(26 * time.Minute), Kind: metric.EventReset, Database: "crm", Object: "database crm", Detail: "reset"},
	}
	if err := tx.WriteEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEvents(ctx, "ev", []metric.Event{{Time: t0, Kind: "nonsense"}}); err == nil {
		t.Error("an event of an unknown kind was stored")
	}

	list := func(q EventQuery) string {
		t.Helper()
		q.Prefix = "ev"
		got, err := s.Events(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range got {
			out = append(out, fmt.Sprintf("%s@%s", e.Object, e.Time.Sub(t0)))
		}
		return fmt.Sprint(out)
	}
	for _, tc := range []struct {
		name string
		q    EventQuery
		want string
	}{
		{"all", EventQuery{From: t0, To: t0.Add(time.Hour)}, "[collection@0s work_mem@20m0s database shop@25m0s database crm@26m0s]"},
		{"a span overlapping the start", EventQuery{From: t0.Add(29 * time.Minute), To: t0.Add(time.Hour)}, "[collection@0s]"},
		{"one database and the server", EventQuery{From: t0, To: t0.Add(time.Hour), Database: "shop"}, "[collection@0s work_mem@20m0s database shop@25m0s]"},
		{"one kind", EventQuery{From: t0, To: t0.Add(time.Hour), Kind: metric.EventReset}, "[database shop@25m0s database crm@26m0s]"},
		{"the newest two", EventQuery{From: t0, To: t0.Add(time.Hour), Limit: 2}, "[database shop@25m0s database crm@26m0s]"},
		{"to is exclusive", EventQuery{From: t0.Add(time.Minute), To: t0.Add(20 * time.Minute)}, "[collection@0s]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := list(tc.q); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	got, err := s.Events(ctx, EventQuery{Prefix: "ev", From: t0, To: t0.Add(time.Hour), Kind: metric.EventSetting})
	if err != nil || len(got) != 1 || got[0].Detail != "work_mem: =cmd|' /C calc'!A0 <script>\uFFFD" {
		t.Errorf("hostile detail read back as %q (%v)", got, err)
	}
	if gaps, _ := s.Events(ctx, EventQuery{Prefix: "ev", From: t0, To: t0.Add(time.Hour), Kind: metric.EventGap}); len(gaps) != 1 || gaps[0].End.IsZero() {
		t.Errorf("gaps %+v: want the span alone, the failure taken in", gaps)
	}

	// Retention keeps events as long as the longest resolution.
	run(t, s, "ev", &metric.Snapshot{Taken: t0.Add(6 * 365 * metric.Day)}, nil, metric.Retention{})
	if all := list(EventQuery{From: t0, To: t0.Add(time.Hour)}); all != "[]" {
		t.Errorf("after retention: %s", all)
	}
}
