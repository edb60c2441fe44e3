package collector

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/metric"
)

// resetQuery is one statistics view's stats_reset, from one server
// version on: its SQL returns rows of (object text, stats_reset
// timestamptz).
type resetQuery struct {
	MinVersion int
	SQL        string
}

// resetQueries are the views whose stats_reset the collector watches.
// A view of several rows reset together (SLRU caches, I/O) is one object.
func resetQueries() []resetQuery {
	return []resetQuery{
		{MinVersion: 0, SQL: `SELECT 'database ' || coalesce(datname, '(shared objects)'), stats_reset FROM pg_stat_database`},
		{MinVersion: 0, SQL: `SELECT 'bgwriter', stats_reset FROM pg_stat_bgwriter`},
		{MinVersion: 0, SQL: `SELECT 'archiver', stats_reset FROM pg_stat_archiver`},
		{MinVersion: 130000, SQL: `SELECT 'slru', max(stats_reset) FROM pg_stat_slru`},
		{MinVersion: 140000, SQL: `SELECT 'wal', stats_reset FROM pg_stat_wal`},
		{MinVersion: 160000, SQL: `SELECT 'io', max(stats_reset) FROM pg_stat_io`},
		{MinVersion: 170000, SQL: `SELECT 'checkpointer', stats_reset FROM pg_stat_checkpointer`},
	}
}

// settingsSQL reads the settings whose changes are events: not the
// internal ones (the version, the block size: read-only) nor those the
// collector's own session sets (source client or session).
const settingsSQL = `SELECT name, current_setting(name), pending_restart FROM pg_settings
WHERE context <> 'internal' AND source NOT IN ('client', 'session')`

// readServerState reads the catalog state events are found in, on the
// first connection; the extensions are read per database (readExtensions).
func readServerState(ctx context.Context, conn *pgx.Conn, version int) (*metric.ServerState, error) {
	st := &metric.ServerState{
		Settings:   map[string]metric.SettingValue{},
		Databases:  map[uint32]string{},
		Extensions: map[string]map[string]string{},
		Resets:     map[string]time.Time{},
	}
	err := conn.QueryRow(ctx, `SELECT current_setting('server_version'), pg_is_in_recovery(), pg_conf_load_time()`).
		Scan(&st.Version, &st.Recovery, &st.ConfLoaded)
	if err != nil {
		return nil, fmt.Errorf("read server state: %w", err)
	}
	rows, err := conn.Query(ctx, settingsSQL)
	if err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	var (
		name string
		v    metric.SettingValue
	)
	if _, err := pgx.ForEachRow(rows, []any{&name, &v.Value, &v.Pending}, func() error {
		st.Settings[name] = v
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	rows, err = conn.Query(ctx, `SELECT oid, datname FROM pg_database`)
	if err != nil {
		return nil, fmt.Errorf("read databases: %w", err)
	}
	var oid uint32
	if _, err := pgx.ForEachRow(rows, []any{&oid, &name}, func() error {
		st.Databases[oid] = name
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read databases: %w", err)
	}
	var parts []string
	for _, q := range resetQueries() {
		if version >= q.MinVersion {
			parts = append(parts, q.SQL)
		}
	}
	rows, err = conn.Query(ctx, strings.Join(parts, "\nUNION ALL "))
	if err != nil {
		return nil, fmt.Errorf("read statistics resets: %w", err)
	}
	var at *time.Time
	if _, err := pgx.ForEachRow(rows, []any{&name, &at}, func() error {
		if at != nil {
			st.Resets[name] = *at
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read statistics resets: %w", err)
	}
	return st, nil
}

// readExtensions reads the extensions of conn's database: name → version.
func readExtensions(ctx context.Context, conn *pgx.Conn) (map[string]string, error) {
	rows, err := conn.Query(ctx, `SELECT extname, extversion FROM pg_extension`)
	if err != nil {
		return nil, fmt.Errorf("read extensions: %w", err)
	}
	out := map[string]string{}
	var name, version string
	if _, err := pgx.ForEachRow(rows, []any{&name, &version}, func() error {
		out[name] = version
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read extensions: %w", err)
	}
	return out, nil
}

// Events finds what happened between the previous run's snapshot and
// this one's. It is pure.
//
// A first run (prev nil) finds nothing, nor does a snapshot without
// ServerState (saved by an older pggraph) for what it would say. A
// restart is at the new start time, a reset at its stats_reset, a
// setting change at the configuration's reload when that falls in the
// interval; the rest (databases, extensions, a failover) at cur.Taken,
// when the run saw them. Only what both snapshots could see is compared:
// settings both list, extensions of databases both read.
//
// A collection gap spans prev.Taken to cur.Taken when that is longer
// than twice interval or when runs failed in between (failed: their
// EventGap events, whose details it names).
func Events(prev, cur *metric.Snapshot, interval time.Duration, failed []metric.Event) []metric.Event {
	if prev == nil || cur == nil {
		return nil
	}
	var out []metric.Event
	add := func(at time.Time, kind metric.EventKind, db, object, detail string) {
		out = append(out, metric.Event{Time: at, Kind: kind, Database: db, Object: object, Detail: detail})
	}
	if gap := cur.Taken.Sub(prev.Taken); gap > 2*interval || len(failed) > 0 {
		detail := "no samples for " + gap.Round(time.Second).String()
		if n := len(failed); n > 0 {
			detail += fmt.Sprintf("; %d failed %s, the last: %s", n, plural(n, "collection"), failed[n-1].Detail)
		}
		out = append(out, metric.Event{Time: prev.Taken, End: cur.Taken, Kind: metric.EventGap, Object: "collection", Detail: detail})
	}
	if !prev.ServerStart.IsZero() && !prev.ServerStart.Equal(cur.ServerStart) {
		add(cur.ServerStart, metric.EventRestart, "", "server",
			"started "+cur.ServerStart.UTC().Format(eventTime)+", previously "+prev.ServerStart.UTC().Format(eventTime))
	}
	p, c := prev.Server, cur.Server
	if p == nil || c == nil {
		return sortEvents(out)
	}
	if p.Version != c.Version && p.Version != "" {
		add(cur.ServerStart, metric.EventVersion, "", "server", p.Version+" → "+c.Version)
	}
	if p.Recovery != c.Recovery {
		detail := "promoted: no longer in recovery"
		if c.Recovery {
			detail = "now a standby: in recovery"
		}
		add(cur.Taken, metric.EventFailover, "", "server", detail)
	}
	settingAt := cur.Taken
	if c.ConfLoaded.After(prev.Taken) && !c.ConfLoaded.After(cur.Taken) {
		settingAt = c.ConfLoaded
	}
	for _, name := range slices.Sorted(maps.Keys(c.Settings)) {
		now, was := c.Settings[name], p.Settings[name]
		if _, ok := p.Settings[name]; !ok {
			continue
		}
		switch {
		case now.Value != was.Value:
			add(settingAt, metric.EventSetting, "", name, name+": "+was.Value+" → "+now.Value)
		case now.Pending && !was.Pending:
			add(settingAt, metric.EventSetting, "", name, name+": "+now.Value+", a new value waits for a restart")
		}
	}
	for _, oid := range slices.Sorted(maps.Keys(c.Databases)) {
		name := c.Databases[oid]
		switch old, ok := p.Databases[oid]; {
		case !ok:
			add(cur.Taken, metric.EventDatabase, name, name, "database "+name+" created")
		case old != name:
			add(cur.Taken, metric.EventDatabase, name, name, "database "+old+" renamed to "+name)
		}
	}
	for _, oid := range slices.Sorted(maps.Keys(p.Databases)) {
		if _, ok := c.Databases[oid]; !ok {
			name := p.Databases[oid]
			add(cur.Taken, metric.EventDatabase, name, name, "database "+name+" dropped")
		}
	}
	for _, db := range slices.Sorted(maps.Keys(c.Extensions)) {
		was, ok := p.Extensions[db]
		if !ok {
			continue
		}
		now := c.Extensions[db]
		for _, ext := range slices.Sorted(maps.Keys(now)) {
			switch old, ok := was[ext]; {
			case !ok:
				add(cur.Taken, metric.EventExtension, db, ext, "extension "+ext+" "+now[ext]+" created in "+db)
			case old != now[ext]:
				add(cur.Taken, metric.EventExtension, db, ext, "extension "+ext+" updated in "+db+": "+old+" → "+now[ext])
			}
		}
		for _, ext := range slices.Sorted(maps.Keys(was)) {
			if _, ok := now[ext]; !ok {
				add(cur.Taken, metric.EventExtension, db, ext, "extension "+ext+" "+was[ext]+" dropped from "+db)
			}
		}
	}
	for _, object := range slices.Sorted(maps.Keys(c.Resets)) {
		at := c.Resets[object]
		old, seen := p.Resets[object]
		if at.Equal(old) || (!seen && !known(p, object)) {
			continue
		}
		db := ""
		if name, ok := strings.CutPrefix(object, "database "); ok && !strings.HasPrefix(name, "(") {
			db = name
		}
		add(at, metric.EventReset, db, object, "statistics of "+object+" reset")
	}
	return sortEvents(out)
}

// known reports whether prev's state could have held object's reset: a
// shared view always could, a database only when it existed then.
func known(prev *metric.ServerState, object string) bool {
	name, ok := strings.CutPrefix(object, "database ")
	if !ok || strings.HasPrefix(name, "(") {
		return true
	}
	return slices.Contains(slices.Collect(maps.Values(prev.Databases)), name)
}

// eventTime is how event details show a time.
const eventTime = "2006-01-02 15:04:05 UTC"

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// sortEvents orders events by time, then kind, database and object.
func sortEvents(events []metric.Event) []metric.Event {
	slices.SortStableFunc(events, func(a, b metric.Event) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(string(a.Kind)+"\x00"+a.Database+"\x00"+a.Object, string(b.Kind)+"\x00"+b.Database+"\x00"+b.Object)
	})
	return events
}

// failureEvent is the event a failed run leaves: a point of EventGap,
// which the next successful run's gap replaces.
func failureEvent(at time.Time, e *Error) metric.Event {
	return metric.Event{Time: at, Kind: metric.EventGap, Object: "collection",
		Detail: "collection failed: " + e.Step + ": " + strings.ReplaceAll(e.Err.Error(), "\n", "; ")}
}

// runEvents finds and writes a run's events in its transaction: the gap
// since prev takes in the failures recorded since.
func runEvents(ctx context.Context, tx metric.Tx, prev, cur *metric.Snapshot, interval time.Duration) ([]metric.Event, error) {
	if prev == nil {
		return nil, nil
	}
	since, err := tx.Events(ctx, prev.Taken, cur.Taken)
	if err != nil {
		return nil, err
	}
	var failed []metric.Event
	for _, e := range since {
		if e.Kind == metric.EventGap && e.End.IsZero() {
			failed = append(failed, e)
		}
	}
	events := Events(prev, cur, interval, failed)
	if len(events) == 0 {
		return nil, nil
	}
	return events, tx.WriteEvents(ctx, events)
}
