package store

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pggraph/pggraph/metric"
)

// savedSnapshot is what testdata/snapshot-format1.json holds: a snapshot
// as pggraph saved it before its state was encoded with encoding/json
// (by the hand-written codec, which kept no Columns), with NULLs,
// infinities, a negative zero, escapes and stats_reset times in two zones.
func savedSnapshot() *metric.Snapshot {
	taken := time.Date(2025, 6, 30, 23, 50, 0, 123456789, time.UTC)
	cest := time.FixedZone("", 2*3600)
	return &metric.Snapshot{
		Taken: taken, ServerStart: time.Date(2025, 6, 1, 4, 0, 0, 0, cest), Version: 150004,
		Rows: map[string][]metric.Row{
			"server": {{Key: "server", Name: "server", Values: []float64{123456789012345, math.NaN(), 42}}},
			"table": {
				{Database: 16384, Key: "16390", Name: "public.orders", StatsReset: taken.Add(-metric.Day).In(cest),
					Values: []float64{981, 1.5e6, math.NaN(), 0.25}},
				{Database: 16384, Key: "16391", Name: `public."odd ""name"` + "\n\t\x01é<>&\u2028", Parent: "16390",
					Values: []float64{math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 1e300}},
				{Database: math.MaxUint32, Key: "k", Values: []float64{}},
				{Database: 1, Key: "no values"},
			},
			"index": {},
		},
	}
}

// update rewrites the golden files of this package's tests.
var update = flag.Bool("update", false, "rewrite testdata golden files")

func TestLoadSavedSnapshot(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "snapshot-format1.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeSnapshot(data)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if err := sameSnapshot(savedSnapshot(), got); err != nil {
		t.Error(err)
	}
	if got.Columns != nil {
		t.Errorf("Columns = %v, want nil (each group's current columns)", got.Columns)
	}
}

// TestSnapshotGolden: the encoding of savedSnapshot with Columns that
// differ from its rows' groups' current columns is
// testdata/snapshot-format1-columns.json (go test -update rewrites it),
// and reads back the same.
func TestSnapshotGolden(t *testing.T) {
	snap := savedSnapshot()
	snap.Columns = map[string][]string{
		"server": {"xact_commit", "blks_read", "numbackends"},
		"table":  {"seq_scan", "n_tup_ins", "dropped_since", "n_live_tup"},
	}
	data, err := encodeSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "snapshot-format1-columns.json")
	if *update {
		if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want = bytes.TrimSuffix(want, []byte("\n")); !bytes.Equal(data, want) {
		t.Errorf("encoding\n%s\nwant (%s)\n%s", data, path, want)
	}
	got, err := decodeSnapshot(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameSnapshot(snap, got); err != nil {
		t.Error(err)
	}
	// Without Columns the encoding is the hand-written codec's, but for
	// the escaped U+2028: the fixture with \u2028 written out as is.
	snap.Columns = nil
	data, err = encodeSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(filepath.Join("testdata", "snapshot-format1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.ReplaceAll(strings.TrimSuffix(string(old), "\n"), "\u2028", `\u2028`); string(data) != want {
		t.Errorf("encoding without columns\n%s\nwant\n%s", data, want)
	}
}

func TestSnapshotEncoding(t *testing.T) {
	taken := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	tests := []struct {
		name string
		snap *metric.Snapshot
	}{
		{"empty", &metric.Snapshot{}},
		{"no rows", &metric.Snapshot{Taken: taken, Version: 90600, Rows: map[string][]metric.Row{}}},
		{"values", &metric.Snapshot{Taken: taken, Rows: map[string][]metric.Row{"g": {{
			Values: []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 1e21, 1e-7, 0.1 + 0.2,
				math.MaxFloat64, -math.SmallestNonzeroFloat64, 123456789012345678, float64(1 << 53)},
		}}}}},
		{"strings", &metric.Snapshot{Taken: taken, Rows: map[string][]metric.Row{"g\"\\": {{
			Database: math.MaxUint32, Key: "\x00\x1f\"\\/</script>\u2028", Name: "日本語 ✓", Parent: "\t\r\n",
			StatsReset: taken.In(time.FixedZone("X", -5*3600)),
		}}}}},
		{"nil and empty values", &metric.Snapshot{Rows: map[string][]metric.Row{"g": {{Key: "a"}, {Key: "b", Values: []float64{}}}}}},
		{"columns", &metric.Snapshot{Taken: taken, Rows: map[string][]metric.Row{"g": {{Key: "a", Values: []float64{1, 2}}}},
			Columns: map[string][]string{"g": {"old_name", "kept"}, "gone": {}, "other": {"x"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := encodeSnapshot(tt.snap)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(data) {
				t.Fatalf("not JSON: %s", data)
			}
			got, err := decodeSnapshot(data)
			if err != nil {
				t.Fatalf("decode %s: %v", data, err)
			}
			want := *tt.snap
			if want.Rows == nil {
				want.Rows = map[string][]metric.Row{}
			}
			if err := sameSnapshot(&want, got); err != nil {
				t.Errorf("%v\n%s", err, data)
			}
		})
	}
}

func TestSnapshotInvalidUTF8(t *testing.T) {
	snap := &metric.Snapshot{Rows: map[string][]metric.Row{"g": {{Key: "1", Name: "a\xffb"}}}}
	data, err := encodeSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeSnapshot(data)
	if err != nil {
		t.Fatal(err)
	}
	if name := got.Rows["g"][0].Name; name != "a\uFFFDb" {
		t.Errorf("name = %q", name)
	}
}

func TestDecodeSnapshotErrors(t *testing.T) {
	tests := []struct{ name, data, want string }{
		{"empty", ``, "unexpected end of JSON input"},
		{"cut", `{`, "unexpected end of JSON input"},
		{"no format", `{"groups":{}}`, "snapshot format -1, this pggraph reads 1"},
		{"other format", `{"format":2}`, "snapshot format 2, this pggraph reads 1"},
		{"string value", `{"format":1,"groups":{"g":[{"v":[1,"x"]}]}}`, `bad value "x"`},
		{"quoted number", `{"format":1,"groups":{"g":[{"v":["1"]}]}}`, `bad value "1"`},
		{"bool value", `{"format":1,"groups":{"g":[{"v":[true]}]}}`, "bad value true"},
		{"nested value", `{"format":1,"groups":{"g":[{"v":[[1]]}]}}`, "bad value [1]"},
		{"out of range", `{"format":1,"groups":{"g":[{"v":[1e400]}]}}`, "bad value 1e400"},
		{"missing value", `{"format":1,"groups":{"g":[{"v":[1,,2]}]}}`, "invalid character ','"},
		{"values object", `{"format":1,"groups":{"g":[{"v":{}}]}}`, "cannot unmarshal object"},
		{"negative oid", `{"format":1,"groups":{"g":[{"d":-1}]}}`, "cannot unmarshal number -1"},
		{"oid too big", `{"format":1,"groups":{"g":[{"d":4294967296}]}}`, "cannot unmarshal number 4294967296"},
		{"fractional oid", `{"format":1,"groups":{"g":[{"d":1.5}]}}`, "cannot unmarshal number 1.5"},
		{"bad time", `{"format":1,"groups":{"g":[{"r":"yesterday"}]}}`, "cannot parse"},
		{"trailing data", `{"format":1,"groups":{}} {}`, "invalid character '{' after top-level value"},
		{"bad columns", `{"format":1,"columns":{"g":"a"}}`, "cannot unmarshal string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeSnapshot([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("decode %s: %v, want an error with %q", tt.data, err, tt.want)
			}
		})
	}
}

// BenchmarkSnapshotCodec encodes and decodes a large client's snapshot
// (5 databases × 1,000 tables, 15,000 rows): one collection run does
// this once.
func BenchmarkSnapshotCodec(b *testing.B) {
	snap, _ := bigSnapshot(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), 5, 1000)
	var size int
	for b.Loop() {
		data, err := encodeSnapshot(snap)
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
		if _, err := decodeSnapshot(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size), "bytes")
}
