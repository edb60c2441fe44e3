// Package metric is the vocabulary every step of pggraph shares: metric
// groups with their columns, kinds and units and their SQL per minimum
// server version (Groups), the snapshots and samples the collector derives
// from them, retention and its defaults, the interfaces of the central
// store a collection writes through, and the errors those steps share.
//
// It imports nothing of pggraph, so that the collector (which reads),
// the store (which keeps) and the graphs and web pages (which draw) meet
// here rather than in each other: the CGI links no SSH code.
package metric

import (
	"context"
	"errors"
	"time"
)

// Kind says how a column's values become samples.
type Kind int

const (
	// Counter is a cumulative count; its sample is how much it grew over
	// the interval, NULL across a reset.
	Counter Kind = iota + 1
	// Gauge is a level; its sample is the value read.
	Gauge
)

// String is "counter" or "gauge".
func (k Kind) String() string {
	switch k {
	case Counter:
		return "counter"
	case Gauge:
		return "gauge"
	}
	return "invalid kind"
}

// Unit is the unit of a column's values, for labels and per-second rates.
type Unit string

// Units.
const (
	Count        Unit = "count" // events, rows, tuples, sessions, scans…
	Bytes        Unit = "bytes"
	Blocks       Unit = "blocks" // PostgreSQL pages (block_size, 8 kB)
	Seconds      Unit = "seconds"
	Milliseconds Unit = "ms"
	XIDs         Unit = "xids"  // transaction-ID age
	Boolean      Unit = "bool"  // 0 or 1
	Ratio        Unit = "ratio" // a fraction of a whole: 0 to 1
)

// Scope says where a group's query runs.
type Scope int

const (
	// Server groups run once per run, on the first database connection
	// (server-wide views: pg_stat_database, pg_stat_activity, …).
	Server Scope = iota + 1
	// Database groups run once in every collected database, on a
	// connection to it (pg_stat_user_tables, pg_stat_user_indexes, …).
	Database
)

// Column is one metric of a group: a numeric result column of its SQL and
// a column of its central table.
type Column struct {
	Name string // [a-z][a-z0-9_]*: result column and central column
	Kind Kind
	Unit Unit
	Help string // one line, for the README and graph legends
}

// Query is a group's SQL from one server version on.
type Query struct {
	// MinVersion is the lowest server_version_num the SQL runs on.
	MinVersion int
	// SQL returns one row per object with the text columns key (NOT
	// NULL, the object's identity within its group and database, e.g. an
	// OID), name (for display), parent (the key of the parent object in
	// the same group's database, e.g. an index's table; may be NULL) and
	// the timestamptz column stats_reset (may be NULL), then one numeric
	// column per Column, by name (NULL where the server has no such value).
	SQL string
	// Needs, when not empty, is a boolean SQL expression the server must
	// make true for SQL to run, for what the version alone does not say:
	// an extension loaded and created, e.g. It is evaluated (on the
	// connection SQL would run on) before SQL; false or NULL leaves the
	// group out of the snapshot, as a server too old for it does.
	Needs string
}

// Group is a set of metrics read by one query and stored in one central
// table, <prefix>_<Name>.
type Group struct {
	Name    string // [a-z][a-z0-9_]*
	Help    string
	Scope   Scope
	Columns []Column
	Queries []Query // ascending MinVersion
}

// Column returns the group's column named name.
func (g Group) Column(name string) (Column, bool) {
	for _, c := range g.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// Snapshot is the raw statistics of one read of a client's server.
type Snapshot struct {
	Taken       time.Time        // when it was read (the collector's clock)
	ServerStart time.Time        // pg_postmaster_start_time()
	Version     int              // server_version_num
	Rows        map[string][]Row // by group name
	// Columns names, per group, the columns of its rows' Values in order,
	// so that a snapshot saved by an older pggraph with other columns
	// still lines up. A group missing here is taken to have the columns
	// of its current definition.
	Columns map[string][]string
	// Server is the catalog state events are found in; nil in a
	// snapshot saved by a pggraph that did not read it.
	Server *ServerState
}

// Row is one object's raw values in a snapshot.
type Row struct {
	Database   uint32    // OID of the database the object is in; 0 for Server groups
	Key        string    // identity within the group and database
	Name       string    // display name (current: a rename keeps Key)
	Parent     string    // key of the parent object, or ""
	StatsReset time.Time // zero when the server reports none
	Values     []float64 // one per Group.Columns; NaN is NULL
}

// Sample is one object's sample for one interval: counters as their
// growth over Seconds (NaN, stored as NULL, across a reset), gauges as the
// value read at the end of the interval.
type Sample struct {
	Group    string
	Database uint32
	Key      string
	Name     string
	Parent   string
	Seconds  float64 // the interval's length
	Values   []float64
}

// Retention says how long the central database keeps each resolution. A
// zero (or negative) field means its default (WithDefaults).
type Retention struct {
	Raw    time.Duration // raw samples (default 35 days)
	Hourly time.Duration // hourly avg/min/max rollups (default 100 days)
	Daily  time.Duration // daily avg/min/max rollups (default 5 years)
}

// Day is a UTC day, the unit of retention settings: time.Truncate(Day)
// gives midnight UTC.
const Day = 24 * time.Hour

// Default retention of each resolution: the defaults of config.ini's
// keep_raw_days, keep_hourly_days and keep_daily_days.
const (
	DefaultRaw    = 35 * Day
	DefaultHourly = 100 * Day
	DefaultDaily  = 5 * 365 * Day
)

// DefaultRetention is what a zero Retention field means: raw samples 35
// days, hourly rollups 100 days, daily rollups 5 years.
func DefaultRetention() Retention {
	return Retention{Raw: DefaultRaw, Hourly: DefaultHourly, Daily: DefaultDaily}
}

// WithDefaults returns keep with its zero (or negative) fields filled from
// DefaultRetention.
func (keep Retention) WithDefaults() Retention {
	d := DefaultRetention()
	if keep.Raw <= 0 {
		keep.Raw = d.Raw
	}
	if keep.Hourly <= 0 {
		keep.Hourly = d.Hourly
	}
	if keep.Daily <= 0 {
		keep.Daily = d.Daily
	}
	return keep
}

// ErrLocked: another collection of the same client is running.
var ErrLocked = errors.New("another collection of this client is running")

// Store keeps samples: the central database, as the collector uses it.
// internal/store implements it; collector uses it.
type Store interface {
	// Lock takes the client's collection lock for the whole run. When
	// another run holds it, Lock fails at once with an error wrapping
	// ErrLocked. unlock releases it.
	Lock(ctx context.Context, prefix string) (unlock func(), err error)
	// Begin starts the one transaction a run writes in, creating the
	// client's tables (or adding missing columns) first.
	Begin(ctx context.Context, prefix string) (Tx, error)
	// RecordRun updates the client's row in the clients table, outside
	// the run's transaction (a failed run is recorded too).
	RecordRun(ctx context.Context, prefix string, run RunRecord) error
	EventWriter
}

// Tx is a run's transaction in the Store.
type Tx interface {
	// Previous returns the snapshot the last run saved, or nil when the
	// client has never been collected.
	Previous(ctx context.Context) (*Snapshot, error)
	// Write records the objects (current names), the samples at
	// cur.Taken, and cur as the snapshot the next run starts from.
	Write(ctx context.Context, cur *Snapshot, samples []Sample) error
	// Maintain brings the hourly and daily rollups up to date with the
	// samples written so far and deletes what retention no longer keeps.
	Maintain(ctx context.Context, keep Retention) error
	EventTx
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Outcome of a run, as recorded in the clients table.
type Outcome string

// Outcomes.
const (
	OK     Outcome = "ok"     // samples written
	Primed Outcome = "primed" // first run: only the snapshot was saved
	Failed Outcome = "failed" // nothing written
)

// RunRecord is what the clients table keeps of the last run.
type RunRecord struct {
	Started  time.Time
	Duration time.Duration
	Outcome  Outcome
	Error    string // one line naming the step and cause; "" unless Failed
	Samples  int    // sample rows written
}
