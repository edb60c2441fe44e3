// The hand-written snapshot codec that encoding/json replaced, as it was,
// for BenchmarkSnapshotCodec's comparison in the same loop.

package store

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pggraph/pggraph/metric"
)

// The snapshot is JSON:
//
//	{"format":1,"taken":"2025-01-02T03:04:05.123456789Z","server_start":"…","version":150004,
//	 "groups":{"table":[{"d":16384,"k":"16390","n":"public.t","p":"","r":"…","v":[1,null,2.5]}]}}
//
// d, k, n, p, r, v are a Row's Database, Key, Name, Parent, StatsReset
// (left out when zero) and Values. A value is a JSON number printed with
// the fewest digits that read back to the same float64, null for NaN (the
// collector's NULL), or the string "Infinity" / "-Infinity". Strings are
// kept as valid UTF-8 (invalid bytes become U+FFFD, as in the objects
// table, which PostgreSQL holds as UTF-8 too).

// handEncodeSnapshot is the hand-written codec pggraph used before; it returns snap as JSON. It is written by hand, not with
// encoding/json, for speed and for NaN.
func handEncodeSnapshot(snap *metric.Snapshot) []byte {
	n := 128
	for _, rows := range snap.Rows {
		n += len(rows) * 64
	}
	b := make([]byte, 0, n)
	b = append(b, `{"format":`...)
	b = strconv.AppendInt(b, stateFormat, 10)
	b = append(b, `,"taken":`...)
	b = appendTime(b, snap.Taken)
	b = append(b, `,"server_start":`...)
	b = appendTime(b, snap.ServerStart)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(snap.Version), 10)
	b = append(b, `,"groups":{`...)
	names := make([]string, 0, len(snap.Rows))
	for name := range snap.Rows {
		names = append(names, name)
	}
	slices.Sort(names)
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, name)
		b = append(b, ":["...)
		for j, r := range snap.Rows[name] {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"d":`...)
			b = strconv.AppendUint(b, uint64(r.Database), 10)
			b = append(b, `,"k":`...)
			b = appendString(b, r.Key)
			if r.Name != "" {
				b = append(b, `,"n":`...)
				b = appendString(b, r.Name)
			}
			if r.Parent != "" {
				b = append(b, `,"p":`...)
				b = appendString(b, r.Parent)
			}
			if !r.StatsReset.IsZero() {
				b = append(b, `,"r":`...)
				b = appendTime(b, r.StatsReset)
			}
			if r.Values != nil {
				b = append(b, `,"v":[`...)
				for k, v := range r.Values {
					if k > 0 {
						b = append(b, ',')
					}
					b = appendFloat(b, v)
				}
				b = append(b, ']')
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, "}}"...)
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "null"...)
	case math.IsInf(v, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(v, -1):
		return append(b, `"-Infinity"`...)
	}
	if v == math.Trunc(v) && math.Abs(v) < 1<<53 && !(v == 0 && math.Signbit(v)) {
		return strconv.AppendInt(b, int64(v), 10) // counters: shorter, faster
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// decodeSnapshot reads what encodeSnapshot wrote: any JSON object of
// that shape, keys in any order, unknown keys skipped. It is written by
// hand for speed (a large client's snapshot is ~15,000 rows); strings
// holding escapes are handed to encoding/json.
func handDecodeSnapshot(data []byte) (*metric.Snapshot, error) {
	r := &reader{b: data}
	snap := &metric.Snapshot{Rows: map[string][]metric.Row{}}
	format := -1
	r.object(func(key []byte) {
		switch string(key) {
		case "format":
			format = int(r.number())
		case "taken":
			snap.Taken = r.time()
		case "server_start":
			snap.ServerStart = r.time()
		case "version":
			snap.Version = int(r.number())
		case "groups":
			r.object(func(key []byte) {
				name := string(key)
				var rows []metric.Row
				r.array(func() {
					rows = append(rows, r.row())
				})
				if rows == nil {
					rows = []metric.Row{}
				}
				snap.Rows[name] = rows
			})
		default:
			r.skip()
		}
	})
	r.space()
	if r.err == nil && r.i != len(r.b) {
		r.fail("data after the snapshot")
	}
	if r.err != nil {
		return nil, r.err
	}
	if format != stateFormat {
		return nil, fmt.Errorf("snapshot format %d, this pggraph reads %d", format, stateFormat)
	}
	return snap, nil
}

// reader is a JSON reader for decodeSnapshot. After the first error every
// method returns zero values and err keeps that error.
type reader struct {
	b   []byte
	i   int
	err error

	lastTime string // the last time read, and its value: stats_reset
	lastVal  time.Time
	width    int // values in the last row: the next row's likely width
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("snapshot: %s at byte %d", what, r.i)
	}
	r.i = len(r.b)
}

func (r *reader) space() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, 0 at the end.
func (r *reader) peek() byte {
	r.space()
	if r.i < len(r.b) {
		return r.b[r.i]
	}
	return 0
}

func (r *reader) expect(c byte) bool {
	if r.peek() != c {
		r.fail(fmt.Sprintf("want %q", c))
		return false
	}
	r.i++
	return true
}

// object calls member for each key, positioned at its value. key is only
// valid during the call (switch string(key) does not allocate).
func (r *reader) object(member func(key []byte)) {
	if !r.expect('{') {
		return
	}
	if r.peek() == '}' {
		r.i++
		return
	}
	for r.err == nil {
		key := r.rawStr()
		if !r.expect(':') {
			return
		}
		member(key)
		switch r.peek() {
		case ',':
			r.i++
		case '}':
			r.i++
			return
		default:
			r.fail("want , or }")
		}
	}
}

// array calls elem for each element, positioned at it.
func (r *reader) array(elem func()) {
	if !r.expect('[') {
		return
	}
	if r.peek() == ']' {
		r.i++
		return
	}
	for r.err == nil {
		elem()
		switch r.peek() {
		case ',':
			r.i++
		case ']':
			r.i++
			return
		default:
			r.fail("want , or ]")
		}
	}
}

// str reads a string.
func (r *reader) str() string { return string(r.rawStr()) }

// rawStr reads a string; without escapes it returns a slice of the input.
func (r *reader) rawStr() []byte {
	if !r.expect('"') {
		return nil
	}
	start := r.i
	escaped := false
	for r.i < len(r.b) {
		switch c := r.b[r.i]; {
		case c == '"':
			r.i++
			if !escaped {
				return r.b[start : r.i-1]
			}
			var s string
			if err := json.Unmarshal(r.b[start-1:r.i], &s); err != nil {
				r.fail("bad string")
			}
			return []byte(s)
		case c == '\\':
			escaped = true
			r.i += 2
		case c < 0x20:
			r.fail("control character in string")
			return nil
		default:
			r.i++
		}
	}
	r.fail("unterminated string")
	return nil
}

// token returns the bytes of a number or literal.
func (r *reader) token() []byte {
	r.space()
	start := r.i
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ',', ']', '}', ' ', '\t', '\n', '\r':
			return r.b[start:r.i]
		}
		r.i++
	}
	return r.b[start:r.i]
}

// number reads a JSON number.
func (r *reader) number() float64 {
	tok := r.token()
	v, ok := parseNumber(tok)
	if !ok {
		r.fail(fmt.Sprintf("bad number %q", tok))
	}
	return v
}

// parseNumber parses a JSON number: no Inf, NaN, hex or underscores,
// which strconv.ParseFloat would take.
func parseNumber(tok []byte) (float64, bool) {
	if len(tok) == 0 {
		return 0, false
	}
	// Integers (counters) up to 15 digits are exact in a float64.
	if digits := tok; len(digits) <= 16 {
		neg := digits[0] == '-'
		if neg {
			digits = digits[1:]
		}
		if n, ok := parseDigits(digits); ok && len(digits) <= 15 && !(neg && n == 0) {
			if neg {
				return -float64(n), true
			}
			return float64(n), true
		}
	}
	for _, c := range tok {
		if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(string(tok), 64)
	return v, err == nil
}

// parseDigits parses a non-empty run of decimal digits.
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// value reads one value as appendFloat writes it.
func (r *reader) value() float64 {
	switch r.peek() {
	case 'n':
		if tok := r.token(); string(tok) != "null" {
			r.fail(fmt.Sprintf("bad value %q", tok))
		}
		return math.NaN()
	case '"':
		switch s := r.str(); s {
		case "Infinity":
			return math.Inf(1)
		case "-Infinity":
			return math.Inf(-1)
		default:
			r.fail(fmt.Sprintf("bad value %q", s))
			return 0
		}
	}
	return r.number()
}

// time reads an RFC 3339 time; a run of equal times is parsed once.
func (r *reader) time() time.Time {
	s := r.str()
	if r.err != nil {
		return time.Time{}
	}
	if s == r.lastTime && s != "" {
		return r.lastVal
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		r.fail(fmt.Sprintf("bad time %q", s))
	}
	r.lastTime, r.lastVal = s, t
	return t
}

// row reads one Row.
func (r *reader) row() metric.Row {
	var row metric.Row
	r.object(func(key []byte) {
		switch string(key) {
		case "d":
			d := r.number()
			if d < 0 || d > math.MaxUint32 || d != math.Trunc(d) {
				r.fail("bad database OID")
			}
			row.Database = uint32(d)
		case "k":
			row.Key = r.str()
		case "n":
			row.Name = r.str()
		case "p":
			row.Parent = r.str()
		case "r":
			row.StatsReset = r.time()
		case "v":
			row.Values = make([]float64, 0, r.width)
			r.array(func() {
				row.Values = append(row.Values, r.value())
			})
			r.width = len(row.Values)
		default:
			r.skip()
		}
	})
	return row
}

// skip skips one value of any kind.
func (r *reader) skip() {
	switch r.peek() {
	case '{':
		r.object(func([]byte) { r.skip() })
	case '[':
		r.array(r.skip)
	case '"':
		r.str()
	default:
		tok := r.token()
		if _, ok := parseNumber(tok); !ok && string(tok) != "null" && string(tok) != "true" && string(tok) != "false" {
			r.fail(fmt.Sprintf("bad value %q", tok))
		}
	}
}
