package metric

import (
	"context"
	"time"
)

// EventKind is what an event is about: one of EventKinds' kinds.
type EventKind string

// Event kinds. EventRestart to EventExtension are found by comparing a run's
// ServerState with the previous run's; EventGap by the collector from the
// runs' times and failures; EventAlert by the alerting code.
const (
	EventRestart   EventKind = "restart"   // the postmaster's start time changed
	EventReset     EventKind = "reset"     // a statistics reset (per database, or shared)
	EventSetting   EventKind = "setting"   // a pg_settings value changed, or now pends a restart
	EventVersion   EventKind = "version"   // server_version changed
	EventFailover  EventKind = "failover"  // recovery state flipped: promoted, or now a standby
	EventDatabase  EventKind = "database"  // a database created, renamed or dropped
	EventExtension EventKind = "extension" // an extension created, updated or dropped
	EventGap       EventKind = "gap"       // collections failed or did not run
	EventAlert     EventKind = "alert"     // an alert's state changed
)

// EventKindInfo describes one kind: its key on the graphs and its legend.
type EventKindInfo struct {
	Kind   EventKind
	Letter string // the one-letter key drawn above the marker
	Color  string // the marker's color, "#rrggbb"
	Label  string // the legend's word
	Help   string // one line, for the pages and the README
}

// EventKinds is the table of event kinds, in legend order.
func EventKinds() []EventKindInfo {
	return []EventKindInfo{
		{Kind: EventRestart, Letter: "R", Color: "#d62728", Label: "restart", Help: "the server restarted (pg_postmaster_start_time changed)"},
		{Kind: EventReset, Letter: "Z", Color: "#ff7f0e", Label: "reset", Help: "statistics were reset: a database's (pg_stat_reset) or shared ones (pg_stat_reset_shared, …)"},
		{Kind: EventSetting, Letter: "S", Color: "#2ca02c", Label: "setting", Help: "a setting of pg_settings changed, or a changed one waits for a restart"},
		{Kind: EventVersion, Letter: "V", Color: "#9467bd", Label: "version", Help: "the server's version changed"},
		{Kind: EventFailover, Letter: "F", Color: "#8c564b", Label: "failover", Help: "the server was promoted from standby, or became a standby"},
		{Kind: EventDatabase, Letter: "D", Color: "#17becf", Label: "database", Help: "a database was created, renamed or dropped"},
		{Kind: EventExtension, Letter: "E", Color: "#bcbd22", Label: "extension", Help: "an extension was created, updated or dropped"},
		{Kind: EventGap, Letter: "G", Color: "#7f7f7f", Label: "collection gap", Help: "collections failed or did not run: no samples over the span"},
		{Kind: EventAlert, Letter: "A", Color: "#e377c2", Label: "alert", Help: "an alert's state changed"},
	}
}

// EventKindOf returns the description of kind, false when it is none.
func EventKindOf(kind EventKind) (EventKindInfo, bool) {
	for _, k := range EventKinds() {
		if k.Kind == kind {
			return k, true
		}
	}
	return EventKindInfo{}, false
}

// Event is something that happened to a client's server, drawn on its
// graphs and listed on its pages.
type Event struct {
	Time time.Time // when it happened, or when a collection first saw it
	// End, for a span (a collection gap), is when it ended; zero for a
	// point in time.
	End  time.Time
	Kind EventKind
	// Database is the database the event is about ("" for the whole
	// server): database and table graphs show the server's events and
	// their database's.
	Database string
	Object   string // what changed: a setting's name, a database, "bgwriter"…
	Detail   string // one line: "work_mem: 4MB → 16MB"
}

// ServerState is what a run reads to find events: the server's catalog
// state at the snapshot. Its values are the client's and hostile.
type ServerState struct {
	Version    string    // server_version, e.g. "15.4 (Debian 15.4-1)"
	Recovery   bool      // pg_is_in_recovery()
	ConfLoaded time.Time // pg_conf_load_time(): the last configuration reload
	// Settings are pg_settings by name, but those the collector's own
	// session sets and the internal (read-only) ones.
	Settings map[string]SettingValue
	// Databases are every database's name, by OID.
	Databases map[uint32]string
	// Extensions are the extensions of each database read, by database
	// name, then by extension name: its version.
	Extensions map[string]map[string]string
	// Resets are the stats_reset times of the statistics that have one,
	// by what they are about: "database shop", "bgwriter", "slru"….
	Resets map[string]time.Time
}

// SettingValue is one setting's value as current_setting shows it, and
// whether a new one waits for a restart.
type SettingValue struct {
	Value   string
	Pending bool
}

// EventWriter stores events outside a run's transaction: a failed run's
// failure, an alert's state change.
type EventWriter interface {
	// AddEvents stores events of the client, creating its tables first
	// when missing.
	AddEvents(ctx context.Context, prefix string, events []Event) error
}

// EventTx is the events part of a run's transaction.
type EventTx interface {
	// Events returns the client's events that start in [from, to), by
	// time.
	Events(ctx context.Context, from, to time.Time) ([]Event, error)
	// WriteEvents stores events. An EventGap with an End replaces the
	// EventGap events without one that it covers ([Time, End]): the failed
	// runs of an outage become its span.
	WriteEvents(ctx context.Context, events []Event) error
}
