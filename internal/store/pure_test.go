package store

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pggraph/pggraph/metric"
)

func TestCheckGroups(t *testing.T) {
	col := func(name string, k metric.Kind) metric.Column { return metric.Column{Name: name, Kind: k} }
	c := col("c", metric.Counter)
	tests := []struct {
		name   string
		groups []metric.Group
		want   string // "" = valid
	}{
		{"ok", testGroups(), ""},
		{"none", nil, ""},
		{"capital", []metric.Group{{Name: "Table", Columns: []metric.Column{c}}}, "name must match"},
		{"too long", []metric.Group{{Name: strings.Repeat("g", 27), Columns: []metric.Column{c}}}, "at most 26"},
		{"longest", []metric.Group{{Name: strings.Repeat("g", 26), Columns: []metric.Column{c}}}, ""},
		{"object", []metric.Group{{Name: "object", Columns: []metric.Column{c}}}, "objects table"},
		{"state", []metric.Group{{Name: "state", Columns: []metric.Column{c}}}, "state table"},
		{"rollup clash", []metric.Group{{Name: "t", Columns: []metric.Column{c}}, {Name: "t_hour", Columns: []metric.Column{c}}}, "also group t"},
		{"twice", []metric.Group{{Name: "t", Columns: []metric.Column{c}}, {Name: "t", Columns: []metric.Column{c}}}, "also group t"},
		{"no columns", []metric.Group{{Name: "t"}}, "no columns"},
		{"fixed column", []metric.Group{{Name: "t", Columns: []metric.Column{col("seconds", metric.Gauge)}}}, "already a column"},
		{"min clash", []metric.Group{{Name: "t", Columns: []metric.Column{c, col("c_min", metric.Gauge)}}}, "already a column"},
		{"kind", []metric.Group{{Name: "t", Columns: []metric.Column{col("c", 0)}}}, "neither counter nor gauge"},
		{"column name", []metric.Group{{Name: "t", Columns: []metric.Column{col("a-b", metric.Gauge)}}}, "name must match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkGroups(tt.groups)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("checkGroups = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("checkGroups = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCeil(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2025, 1, 1, h, m, 0, 0, time.UTC) }
	for _, tc := range []struct{ in, want time.Time }{
		{at(10, 0), at(10, 0)},
		{at(10, 1), at(11, 0)},
		{at(23, 59), at(0, 0).Add(metric.Day)},
	} {
		if got := ceil(tc.in, time.Hour); !got.Equal(tc.want) {
			t.Errorf("ceil(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// bigSnapshot is a large client's snapshot and samples: dbs databases of
// tables tables and 2×tables indexes each (5 × 3,000 = 15,000 rows with the
// defaults), with realistic values.
func bigSnapshot(taken time.Time, dbs, tables int) (*metric.Snapshot, []metric.Sample) {
	groups := benchGroups()
	snap := &metric.Snapshot{Taken: taken, ServerStart: taken.Add(-100 * metric.Day), Version: 150004, Rows: map[string][]metric.Row{}}
	var samples []metric.Sample
	add := func(g metric.Group, db uint32, key, name, parent string) {
		vals := make([]float64, len(g.Columns))
		delta := make([]float64, len(g.Columns))
		for i := range vals {
			vals[i] = float64(uint64(db)*1_000_003+uint64(len(key))*7919+uint64(i)*104729) * 13.0
			delta[i] = float64(i * 17)
			if i == 3 {
				delta[i] = math.NaN()
			}
		}
		snap.Rows[g.Name] = append(snap.Rows[g.Name], metric.Row{Database: db, Key: key, Name: name, Parent: parent,
			StatsReset: taken.Add(-metric.Day), Values: vals})
		samples = append(samples, metric.Sample{Group: g.Name, Database: db, Key: key, Name: name, Parent: parent,
			Seconds: 600, Values: delta})
	}
	for d := range dbs {
		db := uint32(16384 + d)
		for i := range tables {
			table := itoa(20000 + i)
			add(groups[1], db, table, "public.table_"+itoa(i), "")
			add(groups[2], db, itoa(40000+2*i), "public.table_"+itoa(i)+"_pkey", table)
			add(groups[2], db, itoa(40001+2*i), "public.table_"+itoa(i)+"_name_idx", table)
		}
	}
	return snap, samples
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestLoopbackTLS: sslmode=prefer (the default) becomes disable on a
// loopback address only; an explicit sslmode or PGSSLMODE is kept.
func TestLoopbackTLS(t *testing.T) {
	tests := []struct {
		params, env string
		wantTLS     bool
	}{
		{params: "host=localhost port=5432", wantTLS: false},
		{params: "host=127.0.0.1", wantTLS: false},
		{params: "host=::1", wantTLS: false},
		{params: "host=db.example.net", wantTLS: true},
		{params: "host=192.0.2.10", wantTLS: true},
		{params: "host=localhost sslmode=require", wantTLS: true},
		{params: "host=localhost", env: "require", wantTLS: true},
		{params: "host=/run/postgresql", wantTLS: false},
	}
	for _, tt := range tests {
		t.Run(tt.params+" "+tt.env, func(t *testing.T) {
			t.Setenv("PGSSLMODE", tt.env)
			cc, err := Server{Params: tt.params}.ConnConfig("pggraph")
			if err != nil {
				t.Fatal(err)
			}
			if got := cc.TLSConfig != nil; got != tt.wantTLS {
				t.Errorf("TLS = %v, want %v", got, tt.wantTLS)
			}
			for _, f := range cc.Fallbacks {
				if cc.TLSConfig == nil && f.TLSConfig == nil && f.Host == cc.Host && f.Port == cc.Port {
					t.Errorf("a fallback repeats the plain connection to %s:%d", f.Host, f.Port)
				}
			}
		})
	}
}
