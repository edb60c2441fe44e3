package store

import (
	"testing"
	"time"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/metric"
)

func TestWorstFirst(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	h := func(p string, crit, warn, unk int, ran bool) Health {
		x := Health{Client: Client{Prefix: p}, Critical: crit, Warning: warn, Unknown: unk}
		if ran {
			x.LastRun, x.LastOK = at, at
		}
		return x
	}
	tests := []struct {
		name string
		in   []Health
		want []string
	}{
		{name: "by state", in: []Health{h("ok", 0, 0, 0, true), h("unk", 0, 0, 1, true), h("warn", 0, 2, 0, true), h("crit", 1, 0, 0, true)},
			want: []string{"crit", "warn", "unk", "ok"}},
		{name: "never collected is unknown", in: []Health{h("ok", 0, 0, 0, true), h("never", 0, 0, 0, false)},
			want: []string{"never", "ok"}},
		{name: "more criticals first, then more warnings", in: []Health{h("a", 1, 5, 0, true), h("b", 2, 0, 0, true), h("c", 1, 6, 0, true)},
			want: []string{"b", "c", "a"}},
		{name: "ties by prefix", in: []Health{h("z", 0, 0, 0, true), h("a", 0, 0, 0, true)},
			want: []string{"a", "z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			WorstFirst(tt.in)
			var got []string
			for _, x := range tt.in {
				got = append(got, x.Prefix)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("order = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("order = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestClientsHealth(t *testing.T) {
	r := central(t)
	s := openStore(t, testGroups())
	ctx := t.Context()
	started := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, p := range []string{"hlok", "hlbad"} {
		if err := s.RecordRun(ctx, p, metric.RunRecord{Started: started, Duration: 1500 * time.Millisecond, Outcome: metric.OK}); err != nil {
			t.Fatal(err)
		}
	}
	put := func(check, object string, st metric.State) AlertState {
		return AlertState{Check: check, Object: object, State: st, Text: check, Since: started, Updated: started}
	}
	if err := s.SaveAlerts(ctx, "hlbad", AlertChanges{Put: []AlertState{
		put("slot_retained", "slot/1", metric.StateCritical), put("deadlocks", "database/5", metric.StateWarning),
		put("deadlocks", "database/6", metric.StateWarning), put("cache_hit", "database/5", metric.StateOK),
	}}); err != nil {
		t.Fatal(err)
	}
	l := ownerLocal(r, "")
	l.User, l.Password = "pggraph_web", config.Secret(webPassword)
	c, err := OpenClients(ctx, LocalServer(l))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	hs, err := c.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Health{}
	order := map[string]int{}
	for i, x := range hs {
		got[x.Prefix], order[x.Prefix] = x, i
	}
	bad, ok := got["hlbad"], got["hlok"]
	if bad.Critical != 1 || bad.Warning != 2 || bad.Unknown != 0 || bad.State() != metric.StateCritical {
		t.Errorf("hlbad = %d critical, %d warning, %d unknown, %v; want 1, 2, 0, CRITICAL", bad.Critical, bad.Warning, bad.Unknown, bad.State())
	}
	if ok.State() != metric.StateOK || !ok.LastRun.Equal(started) || ok.LastDuration != 1500*time.Millisecond || ok.LastOutcome != metric.OK {
		t.Errorf("hlok = %v, last run %v for %v, %q; want OK, %v for 1.5s, ok", ok.State(), ok.LastRun, ok.LastDuration, ok.LastOutcome, started)
	}
	if order["hlbad"] > order["hlok"] {
		t.Errorf("hlbad listed after hlok: want worst first")
	}
}
