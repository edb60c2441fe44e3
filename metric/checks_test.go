package metric

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		name, in, want string
		beyond, within []float64
		err            string
	}{
		{name: "none", in: "-", want: "-", within: []float64{-1e300, 0, 1e300}},
		{name: "max", in: ":80", want: ":80", beyond: []float64{80.01, 1e9}, within: []float64{80, 0, -5}},
		{name: "lone max", in: "80", want: ":80", beyond: []float64{81}, within: []float64{80}},
		{name: "min", in: "90:", want: "90:", beyond: []float64{89.9, -1}, within: []float64{90, 100}},
		{name: "both", in: "1.5:99", want: "1.5:99", beyond: []float64{1, 100}, within: []float64{1.5, 50, 99}},
		{name: "zero max", in: ":0", want: ":0", beyond: []float64{1e-9}, within: []float64{0}},
		{name: "exponent", in: ":1e10", want: ":1e+10", beyond: []float64{1e10 + 1}, within: []float64{1e10}},
		{name: "empty colon", in: ":", err: "want :MAX"},
		{name: "word", in: ":lots", err: `"lots" is not a number`},
		{name: "nan", in: "NaN:", err: "not a number"},
		{name: "inf", in: ":Inf", err: "not a number"},
		{name: "reversed", in: "9:1", err: "MIN is above MAX"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRange(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseRange(%q) error %v, want %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.String() != tt.want {
				t.Errorf("String = %q, want %q", r.String(), tt.want)
			}
			for _, v := range tt.beyond {
				if !r.Beyond(v) {
					t.Errorf("%v not beyond %s", v, tt.in)
				}
			}
			for _, v := range append(tt.within, math.NaN()) {
				if r.Beyond(v) {
					t.Errorf("%v beyond %s", v, tt.in)
				}
			}
		})
	}
}

func TestLevels(t *testing.T) {
	tests := []struct {
		name, in string
		values   []float64
		want     []State
		err      string
	}{
		{name: "upper", in: ":80 :95", values: []float64{10, 80, 81, 95, 96}, want: []State{StateOK, StateOK, StateWarning, StateWarning, StateCritical}},
		{name: "lower", in: "90: 50:", values: []float64{99, 89, 49}, want: []State{StateOK, StateWarning, StateCritical}},
		{name: "critical only", in: "- :0", values: []float64{0, 1}, want: []State{StateOK, StateCritical}},
		{name: "one range", in: ":80", err: "want two ranges"},
		{name: "three", in: ":1 :2 :3", err: "want two ranges"},
		{name: "bad second", in: ":1 x", err: "not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ParseLevels(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.String() != tt.in {
				t.Errorf("String = %q", l.String())
			}
			for i, v := range tt.values {
				if got := l.Classify(v); got != tt.want[i] {
					t.Errorf("Classify(%v) = %v, want %v", v, got, tt.want[i])
				}
			}
		})
	}
}

func TestChecks(t *testing.T) {
	seen := map[string]bool{}
	groups := map[string]Group{}
	for _, g := range Groups() {
		groups[g.Name] = g
	}
	for _, c := range Checks() {
		if seen[c.Name] {
			t.Errorf("check %s twice", c.Name)
		}
		seen[c.Name] = true
		if c.Help == "" || c.Unit == "" {
			t.Errorf("check %s: no help or unit", c.Name)
		}
		if c.Group == "" {
			if c.Name != CheckCollection && c.Name != CheckStale {
				t.Errorf("check %s has no group", c.Name)
			}
			continue
		}
		g, ok := groups[c.Group]
		if !ok {
			t.Errorf("check %s: no group %s", c.Name, c.Group)
			continue
		}
		for _, col := range append(append([]string(nil), c.Num...), c.Den...) {
			if !hasColumn(g, col) {
				t.Errorf("check %s: group %s has no column %s", c.Name, c.Group, col)
			}
		}
		if !strings.Contains(c.Name, ".") && c.Why == "" {
			t.Errorf("derived check %s does not justify its default", c.Name)
		}
	}
}

func hasColumn(g Group, name string) bool {
	for _, c := range g.Columns {
		if c.Name == name {
			return true
		}
	}
	return false
}

func TestCheckValue(t *testing.T) {
	cs := Checks()
	get := func(name string) Check {
		c, ok := LookupCheck(cs, name)
		if !ok {
			t.Fatalf("no check %s", name)
		}
		return c
	}
	cols := []string{"blks_hit", "blks_read", "deadlocks", "numbackends"}
	counters := []bool{true, true, true, false}
	s := &Sample{Seconds: 600, Values: []float64{900, 100, 3, 7}}
	tests := []struct {
		name  string
		check string
		s     *Sample
		want  float64
	}{
		{"ratio of counters", "cache_hit", s, 90},
		{"per minute", "deadlocks", s, 0.3},
		{"rate", "database.deadlocks", s, 0.005},
		{"gauge", "database.numbackends", s, 7},
		{"zero denominator", "cache_hit", &Sample{Seconds: 600, Values: []float64{0, 0, 0, 0}}, math.NaN()},
		{"null", "database.numbackends", &Sample{Seconds: 600, Values: []float64{0, 0, 0, math.NaN()}}, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := get(tt.check)
			got := c.Value(cols, counters, tt.s)
			if math.IsNaN(tt.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tt.want) > 1e-9) {
				t.Errorf("%s = %v, want %v", tt.check, got, tt.want)
			}
		})
	}
	slot := []string{"active"}
	inactive := get("slot_inactive")
	for _, tt := range []struct{ active, want float64 }{{1, 0}, {0, 1}} {
		if got := inactive.Value(slot, []bool{false}, &Sample{Values: []float64{tt.active}}); got != tt.want {
			t.Errorf("slot_inactive(active=%v) = %v, want %v", tt.active, got, tt.want)
		}
	}
}

// TestDefaultStates puts samples of the real groups through the named
// checks' default levels: the state each value gets.
func TestDefaultStates(t *testing.T) {
	cs := Checks()
	tests := []struct {
		check  string
		values map[string]float64 // the group's columns; the rest NULL
		want   State
	}{
		{"sequence_used", map[string]float64{"used_ratio": 0.8}, StateOK},
		{"sequence_used", map[string]float64{"used_ratio": 0.9}, StateWarning},
		{"sequence_used", map[string]float64{"used_ratio": 0.96}, StateCritical},
		{"table_bloat", map[string]float64{"bloat_bytes": 512 << 20}, StateOK},
		{"table_bloat", map[string]float64{"bloat_bytes": 2 << 30}, StateWarning},
		{"table_bloat", map[string]float64{"bloat_bytes": 6 << 30}, StateCritical},
		{"subscription_errors", map[string]float64{"apply_error_count": 0, "sync_error_count": 0}, StateOK},
		{"subscription_errors", map[string]float64{"apply_error_count": 1, "sync_error_count": 0}, StateWarning},
		{"wal_receiver_silence", map[string]float64{"last_message_age": 30}, StateOK},
		{"wal_receiver_silence", map[string]float64{"last_message_age": 300}, StateWarning},
		{"wal_receiver_silence", map[string]float64{"last_message_age": 900}, StateCritical},
		{"connections_used", map[string]float64{"client_backends": 90, "max_connections": 100}, StateWarning},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %v", tt.check, tt.values), func(t *testing.T) {
			c, ok := LookupCheck(cs, tt.check)
			if !ok {
				t.Fatalf("no check %s", tt.check)
			}
			g, ok := GroupByName(c.Group)
			if !ok {
				t.Fatalf("no group %s", c.Group)
			}
			var cols []string
			var counters []bool
			s := &Sample{Seconds: 600}
			for _, col := range g.Columns {
				cols, counters = append(cols, col.Name), append(counters, col.Kind == Counter)
				v, ok := tt.values[col.Name]
				if !ok {
					v = math.NaN()
				}
				s.Values = append(s.Values, v)
			}
			if got := c.Default.Classify(c.Value(cols, counters, s)); got != tt.want {
				t.Errorf("%s = %v: %v, want %v", tt.check, c.Value(cols, counters, s), got, tt.want)
			}
		})
	}
}
