package store

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/metric"
)

// ErrPrefix is wrapped by every error about an invalid client prefix.
var ErrPrefix = errors.New("prefix must match " + metric.PrefixRule)

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// maxIdent is PostgreSQL's identifier length (NAMEDATALEN-1).
const maxIdent = 63

// CheckPrefix returns an error wrapping ErrPrefix unless prefix is a valid
// client prefix.
func CheckPrefix(prefix string) error {
	if !metric.ValidPrefix(prefix) {
		return fmt.Errorf("client %q: %w", prefix, ErrPrefix)
	}
	return nil
}

// Suffixes of a client's own tables and of a group's rollups.
const (
	objectSuffix = "object"
	stateSuffix  = "state"
	eventSuffix  = "event"
	hourSuffix   = "_hour"
	daySuffix    = "_day"
)

// Columns every sample and rollup table has before the group's columns.
var fixedColumns = []string{"ts", "object", "seconds", "n"}

// checkGroups validates the metric groups a Store writes: names that make
// identifiers of at most 63 bytes with the longest prefix, and table and
// column names that cannot collide with each other or with the fixed ones.
func checkGroups(groups []metric.Group) error {
	// The longest table name is <31-byte prefix>_<group>_hour.
	maxGroup := maxIdent - 31 - 1 - len(hourSuffix)
	suffixes := map[string]string{objectSuffix: "the objects table", stateSuffix: "the state table", eventSuffix: "the events table"}
	claim := func(suffix, what string) error {
		if other, ok := suffixes[suffix]; ok {
			return fmt.Errorf("table <prefix>_%s of %s is also %s", suffix, what, other)
		}
		suffixes[suffix] = what
		return nil
	}
	for _, g := range groups {
		if !nameRE.MatchString(g.Name) || len(g.Name) > maxGroup {
			return fmt.Errorf("group %q: name must match ^[a-z][a-z0-9_]*$, at most %d bytes", g.Name, maxGroup)
		}
		what := "group " + g.Name
		for _, s := range []string{g.Name, g.Name + hourSuffix, g.Name + daySuffix} {
			if err := claim(s, what); err != nil {
				return fmt.Errorf("group %s: %w", g.Name, err)
			}
		}
		if len(g.Columns) == 0 {
			return fmt.Errorf("group %s: no columns", g.Name)
		}
		cols := map[string]bool{}
		for _, f := range fixedColumns {
			cols[f] = true
		}
		for _, c := range g.Columns {
			if !nameRE.MatchString(c.Name) || len(c.Name)+len("_min") > maxIdent {
				return fmt.Errorf("group %s: column %q: name must match ^[a-z][a-z0-9_]*$, at most %d bytes", g.Name, c.Name, maxIdent-4)
			}
			if c.Kind != metric.Counter && c.Kind != metric.Gauge {
				return fmt.Errorf("group %s: column %s: kind %d is neither counter nor gauge", g.Name, c.Name, int(c.Kind))
			}
			for _, n := range []string{c.Name, c.Name + "_min", c.Name + "_max"} {
				if cols[n] {
					return fmt.Errorf("group %s: column %s: %s is already a column of its tables", g.Name, c.Name, n)
				}
				cols[n] = true
			}
		}
	}
	return nil
}

// tables names a client's tables.
type tables struct {
	prefix string
}

func (t tables) name(suffix string) string { return t.prefix + "_" + suffix }
func (t tables) object() string            { return t.name(objectSuffix) }
func (t tables) state() string             { return t.name(stateSuffix) }
func (t tables) event() string             { return t.name(eventSuffix) }
func (t tables) raw(g string) string       { return t.name(g) }
func (t tables) hour(g string) string      { return t.name(g + hourSuffix) }
func (t tables) day(g string) string       { return t.name(g + daySuffix) }

// ident quotes a name for SQL.
func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// idents quotes names for SQL.
func idents(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = ident(n)
	}
	return out
}

// comment is the COMMENT ON TABLE of every table of a client: it marks
// the table as that client's, so that client remove drops exactly the
// client's tables and EnsureClient refuses a table of the same name that
// belongs to someone else (prefixes may contain "_": client "a" with group
// "b_c" and client "a_b" with group "c" would share a name).
func comment(prefix, what string) string { return commentMark(prefix) + " " + what }

// commentMark starts comment; the colon ends the prefix.
func commentMark(prefix string) string { return "pggraph client " + prefix + ":" }

// columnList joins quoted column names with ", ".
func columnList(names []string) string { return strings.Join(idents(names...), ", ") }
