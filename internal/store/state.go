package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/pggraph/pggraph/metric"
)

// stateFormat is the version of the snapshot encoding in <prefix>_state.
const stateFormat = 1

// state is a snapshot as saved in <prefix>_state, in JSON:
//
//	{"format":1,"taken":"2025-01-02T03:04:05.123456789Z","server_start":"…","version":150004,
//	 "groups":{"table":[{"d":16384,"k":"16390","n":"public.t","r":"…","v":[1,null,2.5]}]},
//	 "columns":{"table":["seq_scan","seq_tup_read",…]}}
//
// Readers skip keys they do not know, so "columns" (added later) loads in
// an older pggraph, and a snapshot without it loads here with Columns nil.
// Strings are kept as valid UTF-8 (invalid bytes become U+FFFD, as in the
// objects table, which PostgreSQL holds as UTF-8 too).
//
// encoding/json encodes and decodes a large client's snapshot (15,000
// rows, 3.5 MB) in 105-130 ms (BenchmarkSnapshotCodec): 60-80 ms more
// than the hand-written codec it replaced (measured in the same loop),
// which is 2-4% of one collection of 5 databases × 1,000 tables
// (1.9-2.9 s, BenchmarkCollect in the same run), with the same peak RSS.
type state struct {
	Format      int                 `json:"format"`
	Taken       time.Time           `json:"taken"`
	ServerStart time.Time           `json:"server_start"`
	Version     int                 `json:"version"`
	Groups      map[string][]row    `json:"groups"`
	Columns     map[string][]string `json:"columns,omitempty"`
	// Server is the snapshot's metric.ServerState (added later, with
	// its fields' Go names as keys).
	Server *metric.ServerState `json:"server,omitempty"`
}

// row is a metric.Row: Database, Key, Name, Parent, StatsReset and
// Values; Name, Parent and StatsReset are left out when zero, Values when
// nil (an empty list is kept).
type row struct {
	D uint32    `json:"d"`
	K string    `json:"k"`
	N string    `json:"n,omitempty"`
	P string    `json:"p,omitempty"`
	R time.Time `json:"r,omitzero"`
	V []value   `json:"v,omitzero"`
}

// value is one of a row's values: a JSON number with the fewest digits
// that read back to the same float64, null for NaN (the collector's
// NULL), or the string "Infinity" / "-Infinity".
type value float64

// MarshalJSON implements json.Marshaler. A number is written in full
// (counters: 1500000, not 1.5e+06) unless very large or small.
func (v value) MarshalJSON() ([]byte, error) {
	f := float64(v)
	switch {
	case math.IsNaN(f):
		return []byte("null"), nil
	case math.IsInf(f, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Infinity"`), nil
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(make([]byte, 0, 24), f, format, -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler. b is one valid JSON value
// (json.Unmarshal checks the whole document first), so a value starting
// like a number is one.
func (v *value) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "null":
		*v = value(math.NaN())
		return nil
	case `"Infinity"`:
		*v = value(math.Inf(1))
		return nil
	case `"-Infinity"`:
		*v = value(math.Inf(-1))
		return nil
	}
	if len(b) == 0 || b[0] != '-' && (b[0] < '0' || b[0] > '9') {
		return fmt.Errorf("bad value %s: want a number, null, \"Infinity\" or \"-Infinity\"", b)
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("bad value %s: %w", b, err)
	}
	*v = value(f)
	return nil
}

// encodeSnapshot returns snap as it is saved in the state table.
func encodeSnapshot(snap *metric.Snapshot) ([]byte, error) {
	s := state{
		Format: stateFormat, Taken: snap.Taken, ServerStart: snap.ServerStart, Version: snap.Version,
		Groups: make(map[string][]row, len(snap.Rows)), Columns: snap.Columns, Server: snap.Server,
	}
	for name, rows := range snap.Rows {
		out := make([]row, len(rows))
		for i, r := range rows {
			out[i] = row{D: r.Database, K: r.Key, N: r.Name, P: r.Parent, R: r.StatsReset}
			if r.Values != nil {
				out[i].V = make([]value, len(r.Values))
				for j, f := range r.Values {
					out[i].V[j] = value(f)
				}
			}
		}
		s.Groups[name] = out
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("encode snapshot: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// decodeSnapshot reads a snapshot saved by encodeSnapshot (or by any
// pggraph writing format 1).
func decodeSnapshot(data []byte) (*metric.Snapshot, error) {
	var s state
	s.Format = -1
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	if s.Format != stateFormat {
		return nil, fmt.Errorf("snapshot format %d, this pggraph reads %d", s.Format, stateFormat)
	}
	snap := &metric.Snapshot{
		Taken: s.Taken, ServerStart: s.ServerStart, Version: s.Version,
		Rows: make(map[string][]metric.Row, len(s.Groups)), Columns: s.Columns, Server: s.Server,
	}
	for name, rows := range s.Groups {
		out := make([]metric.Row, len(rows))
		for i, r := range rows {
			out[i] = metric.Row{Database: r.D, Key: r.K, Name: r.N, Parent: r.P, StatsReset: r.R}
			if r.V != nil {
				out[i].Values = make([]float64, len(r.V))
				for j, v := range r.V {
					out[i].Values[j] = float64(v)
				}
			}
		}
		snap.Rows[name] = out
	}
	return snap, nil
}
