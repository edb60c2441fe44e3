package metric

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// State is an alert state of one (client, check, object).
type State int

// States, from best to worst: the order of severity.
const (
	StateOK State = iota
	StateUnknown
	StateWarning
	StateCritical
)

// String is OK, UNKNOWN, WARNING or CRITICAL.
func (s State) String() string {
	switch s {
	case StateOK:
		return "OK"
	case StateUnknown:
		return "UNKNOWN"
	case StateWarning:
		return "WARNING"
	case StateCritical:
		return "CRITICAL"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// ParseState is the inverse of State.String.
func ParseState(s string) (State, error) {
	for _, st := range []State{StateOK, StateUnknown, StateWarning, StateCritical} {
		if st.String() == s {
			return st, nil
		}
	}
	return 0, fmt.Errorf("unknown alert state %q", s)
}

// Range is a Munin-style threshold range: ":MAX", "MIN:", "MIN:MAX", a
// lone "MAX" (the same as ":MAX"), or "-" for none. A value outside the
// range is beyond it. The zero Range is "-": nothing is beyond it.
type Range struct {
	Min, Max       float64
	HasMin, HasMax bool
}

// ParseRange reads a Range as written in config.ini.
func ParseRange(s string) (Range, error) {
	if s == "-" || s == "" {
		return Range{}, nil
	}
	lo, hi, colon := strings.Cut(s, ":")
	if !colon {
		lo, hi = "", s
	}
	var r Range
	num := func(v string) (float64, error) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("range %q: %q is not a number", s, v)
		}
		return f, nil
	}
	var err error
	if lo != "" {
		if r.Min, err = num(lo); err != nil {
			return Range{}, err
		}
		r.HasMin = true
	}
	if hi != "" {
		if r.Max, err = num(hi); err != nil {
			return Range{}, err
		}
		r.HasMax = true
	}
	switch {
	case !r.HasMin && !r.HasMax:
		return Range{}, fmt.Errorf("range %q: want :MAX, MIN:, MIN:MAX or -", s)
	case r.HasMin && r.HasMax && r.Min > r.Max:
		return Range{}, fmt.Errorf("range %q: MIN is above MAX", s)
	}
	return r, nil
}

// String writes r as ParseRange reads it.
func (r Range) String() string {
	if !r.HasMin && !r.HasMax {
		return "-"
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	var b strings.Builder
	if r.HasMin {
		b.WriteString(f(r.Min))
	}
	b.WriteString(":")
	if r.HasMax {
		b.WriteString(f(r.Max))
	}
	return b.String()
}

// Set tells whether r has a bound.
func (r Range) Set() bool { return r.HasMin || r.HasMax }

// Beyond tells whether v lies outside r. NaN is never beyond.
func (r Range) Beyond(v float64) bool {
	return (r.HasMin && v < r.Min) || (r.HasMax && v > r.Max)
}

// Levels are a check's warning and critical ranges.
type Levels struct {
	Warning, Critical Range
}

// ParseLevels reads "WARNING CRITICAL", two ranges separated by spaces,
// as a per-check key of config.ini's [alerts] holds them.
func ParseLevels(s string) (Levels, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return Levels{}, errors.New("want two ranges, warning then critical (:MAX, MIN:, MIN:MAX or -)")
	}
	w, err := ParseRange(f[0])
	if err != nil {
		return Levels{}, err
	}
	c, err := ParseRange(f[1])
	if err != nil {
		return Levels{}, err
	}
	return Levels{Warning: w, Critical: c}, nil
}

// String writes l as ParseLevels reads it.
func (l Levels) String() string { return l.Warning.String() + " " + l.Critical.String() }

// Classify returns the state a value puts a check in: CRITICAL beyond the
// critical range, else WARNING beyond the warning range, else OK.
func (l Levels) Classify(v float64) State {
	switch {
	case l.Critical.Beyond(v):
		return StateCritical
	case l.Warning.Beyond(v):
		return StateWarning
	}
	return StateOK
}

// Per says how a check turns counters into its value.
type Per int

const (
	// PerSecond: a counter's growth over the interval divided by its
	// seconds; a gauge as read. The checks named group.column use it.
	PerSecond Per = iota
	// PerInterval: a counter's growth over the interval, as is.
	PerInterval
	// PerMinute: a counter's growth per minute.
	PerMinute
)

// Check is one alert check: how its value is computed from one object's
// sample of Group, and its default levels. Its value is
//
//	Offset + Scale × sum(Num) / sum(Den)
//
// with counters of Num and Den converted by Per (Den empty: no division;
// Scale 0 means 1). A value that cannot be computed (a NULL, a zero
// denominator) leaves the check's state as it was.
type Check struct {
	Name string // group.column, or a derived name without a dot
	Help string
	// Group is the metric group whose samples the check reads; "" for the
	// checks of the collection itself (CheckCollection, CheckStale).
	Group  string
	Num    []string
	Den    []string
	Scale  float64
	Offset float64
	Per    Per
	// Unit is the unit of the value, for display: a metric Unit, or
	// UnitPercent, UnitPerSecond (of a counter's Unit), UnitIntervals.
	Unit Unit
	// Default are the levels without a config.ini key; the zero Levels
	// check nothing.
	Default Levels
	// Why justifies Default: where the threshold comes from.
	Why string
}

// Display units of check values beyond the metric units.
const (
	UnitPercent   Unit = "%"
	UnitIntervals Unit = "intervals" // collection intervals ([pggraph] interval)
	UnitFailed    Unit = "failed"    // 1: the run failed
)

// Names of the checks of the collection itself.
const (
	// CheckCollection is 1 while the client's collection fails.
	CheckCollection = "collection"
	// CheckStale is the time since the client's last successful run, in
	// collection intervals; evaluated by runs that are not the client's
	// own (pggraph-collect -all, pggraph-admin alerts check).
	CheckStale = "stale"
)

// xidLimit is the distance from a database's oldest transaction ID (or
// multixact) at which PostgreSQL stops assigning new ones: 2^31.
const xidLimit = 1 << 31

// DerivedChecks returns the named checks operators are paged for, with
// the defaults the README justifies. Each call builds a new slice.
func DerivedChecks() []Check {
	r := func(s string) Range {
		x, err := ParseRange(s)
		if err != nil {
			panic("metric: bad default range " + s)
		}
		return x
	}
	lv := func(w, c string) Levels { return Levels{Warning: r(w), Critical: r(c)} }
	return []Check{
		{Name: "connections_used", Help: "Client sessions as a percentage of max_connections",
			Group: "server", Num: []string{"client_backends"}, Den: []string{"max_connections"}, Scale: 100, Unit: UnitPercent,
			Default: lv(":80", ":95"),
			Why:     "postgres_exporter's mixin (PostgreSQLHighConnections) warns above 80% of max_connections; check_postgres's backends action goes critical at 95%"},
		{Name: "xid_wraparound", Help: "Age of the database's datfrozenxid as a percentage of the 2^31 transactions at which PostgreSQL stops assigning IDs",
			Group: "database", Num: []string{"frozen_xid_age"}, Scale: 100.0 / xidLimit, Unit: UnitPercent,
			Default: lv(":50", ":75"),
			Why:     "PostgreSQL's manual (Preventing Transaction ID Wraparound Failures): the server refuses writes near 2^31; autovacuum forces freezing at autovacuum_freeze_max_age (200 million, 9%), so 50% (about 1.07 billion) means freezing has been failing for long; check_postgres txn_wraparound warns at 1.3 billion (61%)"},
		{Name: "multixact_wraparound", Help: "Age of the database's datminmxid as a percentage of the 2^31 multixact IDs at which PostgreSQL stops assigning them",
			Group: "database", Num: []string{"min_mxid_age"}, Scale: 100.0 / xidLimit, Unit: UnitPercent,
			Default: lv(":50", ":75"),
			Why:     "the same limit as transaction IDs (PostgreSQL's manual, Multixacts and Wraparound); autovacuum_multixact_freeze_max_age is 400 million (19%) by default"},
		{Name: "idle_in_transaction", Help: "Longest time a session of the database has been idle inside a transaction",
			Group: "activity", Num: []string{"oldest_idle_in_transaction_age"}, Unit: Seconds,
			Default: lv(":300", ":3600"),
			Why:     "an idle transaction holds locks and stops VACUUM (PostgreSQL's manual, idle_in_transaction_session_timeout); dba-checkup and check_postgres's examples warn at 5 minutes"},
		{Name: "oldest_query", Help: "Run time of the oldest running statement in the database",
			Group: "activity", Num: []string{"oldest_query_age"}, Unit: Seconds,
			Default: lv(":300", ":3600"),
			Why:     "nagios-postgresql's check_pg_queries warns on statements running longer than 5 minutes; an hour holds back VACUUM for as long"},
		{Name: "oldest_prepared_xact", Help: "Age of the oldest prepared (two-phase) transaction",
			Group: "activity", Num: []string{"oldest_prepared_xact_age"}, Unit: Seconds,
			Default: lv(":300", ":3600"),
			Why:     "PostgreSQL's manual (PREPARE TRANSACTION): a prepared transaction left open holds locks and stops VACUUM, and is not meant to stay open long"},
		{Name: "replication_lag", Help: "Time until a standby replayed recent WAL (on the primary, per standby)",
			Group: "replication", Num: []string{"replay_lag"}, Unit: Seconds,
			Default: lv(":60", ":300"),
			Why:     "postgres_exporter's mixin (PostgreSQLReplicationLag) alerts past a minute of lag"},
		{Name: "replay_delay", Help: "On a standby: time since the last replayed transaction's commit on the primary",
			Group: "server", Num: []string{"replay_delay"}, Unit: Seconds,
			Default: lv(":300", ":1800"),
			Why:     "it also grows while the primary is idle, so its levels are wider than replication_lag's; check_postgres hot_standby_delay has no default and asks for one"},
		{Name: "slot_retained", Help: "WAL kept on the primary's disk for a replication slot",
			Group: "slot", Num: []string{"retained_bytes"}, Unit: Bytes,
			Default: lv(":1073741824", ":10737418240"),
			Why:     "PostgreSQL's manual (Replication Slots): a slot keeps WAL without limit and can fill the disk; 1 GB is 1 default max_wal_size, 10 GB is ten"},
		{Name: "slot_inactive", Help: "1 when no consumer uses the replication slot",
			Group: "slot", Num: []string{"active"}, Scale: -1, Offset: 1, Unit: Boolean,
			Default: lv(":0", "-"),
			Why:     "an inactive slot retains WAL until it is dropped (PostgreSQL's manual, Replication Slots); postgres_exporter's mixin alerts on inactive slots"},
		{Name: "archive_failures", Help: "Failed attempts to archive a WAL file, in the interval",
			Group: "archiver", Num: []string{"failed_count"}, Per: PerInterval, Unit: Count,
			Default: lv(":0", "-"),
			Why:     "PostgreSQL's manual (Continuous Archiving): WAL piles up in pg_wal while archive_command fails; Zabbix's template graphs failed_count"},
		{Name: "checksum_failures", Help: "Data page checksum failures, in the interval",
			Group: "database", Num: []string{"checksum_failures"}, Per: PerInterval, Unit: Count,
			Default: lv("-", ":0"),
			Why:     "a checksum failure is corruption on disk (PostgreSQL's manual, data_checksums); Zabbix's template collects it"},
		{Name: "deadlocks", Help: "Deadlocks detected, per minute",
			Group: "database", Num: []string{"deadlocks"}, Per: PerMinute, Unit: Count,
			Default: lv(":0", ":5"),
			Why:     "Zabbix's template warns on any deadlock ({$PG.DEADLOCKS.MAX.WARN} = 0); postgres_exporter's mixin (PostgreSQLDeadLocks) alerts above 5 a minute"},
		{Name: "cache_hit", Help: "Blocks found in shared buffers as a percentage of blocks read, in the interval",
			Group: "database", Num: []string{"blks_hit"}, Den: []string{"blks_hit", "blks_read"}, Scale: 100, Unit: UnitPercent,
			Default: lv("90:", "-"),
			Why:     "Zabbix's and many templates' cache hit ratio threshold is 90%; below it a busy database reads from disk"},
		{Name: "sequence_used", Help: "Share of a sequence's range handed out, in percent (a CYCLE sequence starts over instead of failing)",
			Group: "sequence", Num: []string{"used_ratio"}, Scale: 100, Unit: UnitPercent,
			Default: lv(":85", ":95"),
			Why:     "check_postgres's sequence action warns at 85% and is critical at 95% of a sequence's values used; at 100% nextval() fails and inserts stop"},
		{Name: "table_bloat", Help: "Estimated space a table wastes on dead rows and free space (statistics only, see the README's method)",
			Group: "table", Num: []string{"bloat_bytes"}, Unit: Bytes,
			Default: lv(":1073741824", ":5368709120"),
			Why:     "check_postgres's bloat action warns at 1 GB and is critical at 5 GB wasted; smaller tables waste too little to page anyone"},
		{Name: "subscription_errors", Help: "Errors of a subscription's apply and table-copy workers, in the interval (15+)",
			Group: "subscription", Num: []string{"apply_error_count", "sync_error_count"}, Per: PerInterval, Unit: Count,
			Default: lv(":0", "-"),
			Why:     "PostgreSQL's manual (Logical Replication, Conflicts): an apply error stops replication and the worker retries the same change until someone resolves it"},
		{Name: "wal_receiver_silence", Help: "On a standby: time since the WAL receiver's last message from the primary",
			Group: "wal_receiver", Num: []string{"last_message_age"}, Unit: Seconds,
			Default: lv(":120", ":600"),
			Why:     "the primary sends at least a keepalive every wal_sender_timeout / 2 (30 s); the standby drops the connection after wal_receiver_timeout (60 s) of silence, so two minutes means the stream is broken"},
		{Name: CheckCollection, Help: "1 while the client's collection fails (tunnel, login, read or store)",
			Unit: UnitFailed, Default: lv("-", ":0"),
			Why: "a failed run means no data: Munin and Zabbix alert on an unreachable host once, instead of on every plugin"},
		{Name: CheckStale, Help: "Time since the client's last successful collection, in collection intervals",
			Unit: UnitIntervals, Default: lv("-", ":3"),
			Why: "three missed runs: the cron job or the host is down, or every run fails"},
	}
}

// Checks returns every check: the derived ones, then one per column of
// every group, named group.column, with no default levels. Each call
// returns a new slice, which the caller may modify (not the checks'
// Num and Den, which it shares with every other caller).
func Checks() []Check { return slices.Clone(checkTable()) }

// checkTable is the check table, built once per process: a CGI process
// needs it for config.ini's keys and for the graphs' thresholds, and it
// holds a check per column of every group. Nothing changes it once
// built.
var checkTable = sync.OnceValue(buildChecks)

// buildChecks builds the check table (see Checks).
func buildChecks() []Check {
	cs := DerivedChecks()
	for _, g := range Groups() {
		for _, c := range g.Columns {
			unit := c.Unit
			help := c.Help
			if c.Kind == Counter {
				unit += "/s"
				help += ", per second"
			}
			cs = append(cs, Check{Name: g.Name + "." + c.Name, Help: help, Group: g.Name, Num: []string{c.Name}, Unit: unit})
		}
	}
	return cs
}

// Value computes the check's value from one sample of its group, whose
// values are in the order of cols (the group's column names). It returns
// NaN when the value cannot be computed.
func (c *Check) Value(cols []string, counters []bool, s *Sample) float64 {
	sum := func(names []string) float64 {
		t := 0.0
		for _, n := range names {
			i := index(cols, n)
			if i < 0 || i >= len(s.Values) {
				return math.NaN()
			}
			v := s.Values[i]
			if counters[i] {
				switch c.Per {
				case PerSecond:
					v /= s.Seconds
				case PerMinute:
					v = v / s.Seconds * 60
				}
			}
			t += v
		}
		return t
	}
	v := sum(c.Num)
	if len(c.Den) > 0 {
		d := sum(c.Den)
		if d == 0 {
			return math.NaN()
		}
		v /= d
	}
	scale := c.Scale
	if scale == 0 {
		scale = 1
	}
	v = c.Offset + scale*v
	if math.IsInf(v, 0) {
		return math.NaN()
	}
	return v
}

func index(names []string, n string) int {
	for i, x := range names {
		if x == n {
			return i
		}
	}
	return -1
}

// LookupCheck finds a check of cs by name.
func LookupCheck(cs []Check, name string) (Check, bool) {
	for _, c := range cs {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}
