package store

import (
	"math"
	"os"
	"path/filepath"
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
