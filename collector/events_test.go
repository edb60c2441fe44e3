package collector

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pggraph/pggraph/metric"
)

func TestEventsPure(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	start := t0.Add(-48 * time.Hour)
	state := func(edit func(*metric.ServerState)) *metric.ServerState {
		s := &metric.ServerState{
			Version:    "15.4",
			ConfLoaded: start,
			Settings:   map[string]metric.SettingValue{"work_mem": {Value: "4MB"}, "shared_buffers": {Value: "128MB"}},
			Databases:  map[uint32]string{5: "postgres", 16384: "shop"},
			Extensions: map[string]map[string]string{"shop": {"plpgsql": "1.0", "hstore": "1.7"}},
			Resets:     map[string]time.Time{"bgwriter": start},
		}
		if edit != nil {
			edit(s)
		}
		return s
	}
	snap := func(taken time.Time, srvStart time.Time, st *metric.ServerState) *metric.Snapshot {
		return &metric.Snapshot{Taken: taken, ServerStart: srvStart, Server: st}
	}
	prev := snap(t0, start, state(nil))
	next := t0.Add(10 * time.Minute)
	tests := []struct {
		name   string
		prev   *metric.Snapshot
		cur    *metric.Snapshot
		failed []metric.Event
		want   []string // kind|db|object|detail@offset from t0 (for spans: +end)
	}{
		{name: "first run", prev: nil, cur: snap(next, start, state(nil))},
		{name: "nothing changed", prev: prev, cur: snap(next, start, state(nil))},
		{name: "older snapshot without state", prev: snap(t0, start, nil), cur: snap(next, start, state(nil))},
		{
			name: "restart and version", prev: prev,
			cur: snap(next, t0.Add(5*time.Minute), state(func(s *metric.ServerState) { s.Version = "16.1" })),
			want: []string{
				"restart||server|started 2026-12-06 14:05:00 UTC, previously 2026-12-04 14:00:00 UTC@5m0s",
				"version||server|15.4 → 16.1@5m0s",
			},
		},
		{
			name: "settings at the reload", prev: prev,
			cur: snap(next, start, state(func(s *metric.ServerState) {
				s.ConfLoaded = t0.Add(3 * time.Minute)
				s.Settings = map[string]metric.SettingValue{"work_mem": {Value: "16MB"}, "shared_buffers": {Value: "128MB", Pending: true}, "new_one": {Value: "x"}}
			})),
			want: []string{
				"setting||shared_buffers|shared_buffers: 128MB, a new value waits for a restart@3m0s",
				"setting||work_mem|work_mem: 4MB → 16MB@3m0s",
			},
		},
		{
			name: "failover, databases, extensions", prev: prev,
			cur: snap(next, start, state(func(s *metric.ServerState) {
				s.Recovery = true
				s.Databases = map[uint32]string{16384: "shop2", 16400: "crm"}
				s.Extensions = map[string]map[string]string{"shop2": {}, "shop": {"plpgsql": "1.0", "hstore": "1.8", "pg_trgm": "1.6"}}
			})),
			want: []string{
				"database|crm|crm|database crm created@10m0s",
				"database|postgres|postgres|database postgres dropped@10m0s",
				"database|shop2|shop2|database shop renamed to shop2@10m0s",
				"extension|shop|hstore|extension hstore updated in shop: 1.7 → 1.8@10m0s",
				"extension|shop|pg_trgm|extension pg_trgm 1.6 created in shop@10m0s",
				"failover||server|now a standby: in recovery@10m0s",
			},
		},
		{
			name: "resets: a new one, a changed one, a new database's none", prev: prev,
			cur: snap(next, start, state(func(s *metric.ServerState) {
				s.Databases[16400] = "crm"
				s.Resets = map[string]time.Time{"bgwriter": t0.Add(time.Minute), "database shop": t0.Add(2 * time.Minute), "database crm": t0.Add(4 * time.Minute)}
			})),
			want: []string{
				"database|crm|crm|database crm created@10m0s",
				"reset||bgwriter|statistics of bgwriter reset@1m0s",
				"reset|shop|database shop|statistics of database shop reset@2m0s",
			},
		},
		{name: "a late run within twice the interval", prev: prev, cur: snap(t0.Add(20*time.Minute), start, state(nil))},
		{
			name: "a gap longer than twice the interval", prev: prev, cur: snap(t0.Add(21*time.Minute), start, state(nil)),
			want: []string{"gap||collection|no samples for 21m0s@0s+21m0s"},
		},
		{
			name: "a failed run in between", prev: prev, cur: snap(t0.Add(20*time.Minute), start, state(nil)),
			failed: []metric.Event{{Time: next, Kind: metric.EventGap, Detail: "collection failed: tunnel: refused"}},
			want:   []string{"gap||collection|no samples for 20m0s; 1 failed collection, the last: collection failed: tunnel: refused@0s+20m0s"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range Events(tc.prev, tc.cur, 10*time.Minute, tc.failed) {
				s := fmt.Sprintf("%s|%s|%s|%s@%s", e.Kind, e.Database, e.Object, e.Detail, e.Time.Sub(t0))
				if !e.End.IsZero() {
					s += "+" + e.End.Sub(t0).String()
				}
				got = append(got, s)
			}
			slices.Sort(got)
			slices.Sort(tc.want)
			if !slices.Equal(got, tc.want) {
				t.Errorf("events:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
