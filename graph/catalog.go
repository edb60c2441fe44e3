package graph

import "github.com/pggraph/pggraph/metric"

// Units of the y axis (Def.Unit).
const (
	UnitCount        = "count"
	UnitPerSecond    = "per second"
	UnitBytes        = "bytes"
	UnitBytesPerSec  = "bytes per second"
	UnitBlocksPerSec = "blocks per second"
	UnitPercent      = "%"
	UnitSeconds      = "seconds"
	UnitMsPerSec     = "ms per second"
	UnitMilliseconds = "ms"
	// UnitAvgSessions draws counters of session time (seconds) per
	// second: the average number of sessions in a state.
	UnitAvgSessions = "sessions (average)"
)

// Ways of combining one column over several objects (every database of
// the server, every standby, every object of a name).
const (
	overSum = "sum" // totals: sessions, sizes, counters
	overMax = "max" // the worst one: ages, lags
)

// line is one line of a graph: a column of the graph's group, or the
// ratio of two of its counters.
type line struct {
	label  string
	column string // the column drawn; for a ratio, the numerator
	// other, when set, makes the line a ratio in percent:
	// 100 × column / (column + other), both counters.
	other string
	over  string // overSum or overMax
	// percent draws a Ratio gauge (0 to 1) in percent: 100 × column.
	percent bool
	// object, when set, draws only the objects of that name (of a
	// server-wide group): one SLRU cache, say.
	object string
	// per, when set, makes the line column / per: an amount per event
	// (time per call, say), both counters.
	per string
}

// spec is one graph of the catalog: its public Def and where its lines
// come from.
type spec struct {
	name, title string
	scope       Scope
	unit        string
	group       string // the metric group every line reads
	lines       []line
	stacked     bool // each line drawn on top of the ones before it
	// absent, when set, makes the graph optional: pages show it only
	// when its group has objects in the range, and otherwise say why
	// with this text (e.g. the server version the view needs).
	absent string
	// replaces names a graph of the same scope this one stands in for
	// when a page shows it: a finer source of the same data.
	replaces string
	top      *Ranking // Def.Top
	// one says that each line draws one object of group (the server,
	// the database or the table of the page), not a sum over several:
	// the per-object alert checks then apply to its lines
	// (thresholds.go); a line of the worst object (worst) always is one.
	one bool
}

// Line constructors keep the catalog to one line per graph line.

// total is a column summed over the objects.
func total(label, column string) line { return line{label: label, column: column, over: overSum} }

// worst is a column's highest value over the objects.
func worst(label, column string) line { return line{label: label, column: column, over: overMax} }

// hitRatio is 100 × hit / (hit + miss), the counters summed over the
// objects.
func hitRatio(label, hit, miss string) line {
	return line{label: label, column: hit, other: miss, over: overSum}
}

// of is a column of the objects named object, summed.
func of(label, column, object string) line {
	return line{label: label, column: column, over: overSum, object: object}
}

// perCall is a counter per another one (time per call), both summed
// over the objects.
func perCall(label, column, per string) line {
	return line{label: label, column: column, per: per, over: overSum}
}

// highestShare is a Ratio gauge's highest value over the objects, in
// percent.
func highestShare(label, column string) line {
	return line{label: label, column: column, over: overMax, percent: true}
}

// subscriptionsAbsent says why a server may have no subscription graphs.
const subscriptionsAbsent = "Shown when the server subscribes to a publication (logical replication)."

// functionsAbsent says why a database may have no function graphs.
const functionsAbsent = "No function of this database was called, or the server does not count calls: " +
	"track_functions = pl counts PL/pgSQL functions, all counts SQL and C functions too."

// catalog is every graph, in page order: the overview, then one
// database, then one table. It is data: Load, CSV and PNG follow it.
func catalog() []spec {
	const (
		db  = "database"
		act = "activity"
		tbl = "table"
	)
	// perDatabase are the graphs of the database groups, drawn over the
	// whole server (scope Server, summed over every database) or for one
	// database (scope Database, graph names prefixed with db_).
	perDatabase := func(scope Scope, prefix string) []spec {
		return []spec{
			{name: prefix + "sessions", title: "Sessions by state", scope: scope, unit: UnitCount, group: act, lines: []line{
				total("active", "sessions_active"),
				total("idle", "sessions_idle"),
				total("idle in transaction", "sessions_idle_in_transaction"),
				total("idle in transaction (aborted)", "sessions_idle_in_transaction_aborted"),
			}},
			{name: prefix + "transactions", title: "Transactions", scope: scope, unit: UnitPerSecond, group: db, lines: []line{
				total("commit", "xact_commit"),
				total("rollback", "xact_rollback"),
			}},
			{name: prefix + "tuples", title: "Rows", scope: scope, unit: UnitPerSecond, group: db, lines: []line{
				total("returned", "tup_returned"),
				total("fetched", "tup_fetched"),
				total("inserted", "tup_inserted"),
				total("updated", "tup_updated"),
				total("deleted", "tup_deleted"),
			}},
			{name: prefix + "cache_hit", title: "Cache hit ratio", scope: scope, unit: UnitPercent, group: db, lines: []line{
				hitRatio("shared buffers hit", "blks_hit", "blks_read"),
			}},
			{name: prefix + "size", title: "Database size", scope: scope, unit: UnitBytes, group: db, lines: []line{
				total("size", "size"),
			}},
			{name: prefix + "locks", title: "Lock waits", scope: scope, unit: UnitCount, group: act, lines: []line{
				total("locks not granted", "locks_not_granted"),
				total("sessions waiting", "sessions_waiting"),
			}},
			{name: prefix + "oldest", title: "Oldest transaction and query", scope: scope, unit: UnitSeconds, group: act, lines: []line{
				worst("transaction", "oldest_xact_age"),
				worst("query", "oldest_query_age"),
				worst("idle in transaction", "oldest_idle_in_transaction_age"),
			}},
			{name: prefix + "temp", title: "Temporary files written", scope: scope, unit: UnitBytesPerSec, group: db, lines: []line{
				total("temp bytes", "temp_bytes"),
			}},
			{name: prefix + "deadlocks", title: "Deadlocks and recovery conflicts", scope: scope, unit: UnitPerSecond, group: db, lines: []line{
				total("deadlocks", "deadlocks"),
				total("conflicts", "conflicts"),
			}},
		}
	}
	// waitLines are the wait groups' types, bottom to top.
	waitLines := func() []line {
		var out []line
		for _, w := range [][2]string{
			{"CPU", "cpu"}, {"IO", "io"}, {"Lock", "lock"}, {"LWLock", "lwlock"}, {"IPC", "ipc"},
			{"Client", "client"}, {"Timeout", "timeout"}, {"BufferPin", "bufferpin"}, {"Extension", "extension"}, {"other", "other"},
		} {
			out = append(out, total(w[0], w[1]))
		}
		return out
	}
	// topWaits lists a wait graph's events by their share of the
	// sessions' time.
	topWaits := &Ranking{Title: "Most frequent wait events", Column: "sessions", N: 10}
	var out []spec
	out = append(out, perDatabase(Server, "")...)
	// single marks the graphs of one object each: a database's graphs
	// of the per-database groups, a table's of the table group, the
	// server group's.
	single := func(ss []spec, scope Scope, group string) []spec {
		for i := range ss {
			if ss[i].scope == scope && ss[i].group == group {
				ss[i].one = true
			}
		}
		return ss
	}
	out = append(out,
		spec{name: "waits", title: "Active sessions by wait (pg_stat_activity, once a run)", scope: Server, unit: UnitCount,
			group: "wait", stacked: true, lines: waitLines(), top: topWaits},
		spec{name: "wait_sampling", title: "Active sessions by wait (pg_wait_sampling)", scope: Server, unit: UnitAvgSessions,
			group: "wait_sampling", stacked: true, lines: waitLines(), replaces: "waits", top: topWaits,
			absent: "Wait events come from pg_stat_activity, once a collection: for a finer profile, load pg_wait_sampling " +
				"(shared_preload_libraries) and create its extension in the database pggraph connects to first."},
	)
	out = append(out,
		spec{name: "connections", title: "Connections", scope: Server, unit: UnitCount, group: "server", lines: []line{
			total("client backends", "client_backends"),
			total("max_connections", "max_connections"),
		}},
		spec{name: "checkpoints", title: "Checkpoints", scope: Server, unit: UnitPerSecond, group: "bgwriter", lines: []line{
			total("timed", "checkpoints_timed"),
			total("requested", "checkpoints_req"),
		}},
		spec{name: "buffers_written", title: "Buffers written", scope: Server, unit: UnitBlocksPerSec, group: "bgwriter", lines: []line{
			total("checkpoint", "buffers_checkpoint"),
			total("background writer", "buffers_clean"),
			total("backends", "buffers_backend"),
		}},
		spec{name: "wal", title: "WAL written", scope: Server, unit: UnitBytesPerSec, group: "wal", lines: []line{
			total("WAL", "wal_lsn"),
		}},
		spec{name: "io", title: "I/O by every process (pg_stat_io)", scope: Server, unit: UnitBytesPerSec, group: "io", lines: []line{
			total("read", "read_bytes"),
			total("written", "write_bytes"),
			total("extended", "extend_bytes"),
		}, absent: "pg_stat_io exists from PostgreSQL 16 on: before, the block traffic of the graphs above is all there is."},
		spec{name: "slru", title: "SLRU cache pages read from disk", scope: Server, unit: UnitBlocksPerSec, group: "slru", stacked: true, lines: []line{
			of("transaction", "blks_read", "transaction"),
			of("subtransaction", "blks_read", "subtransaction"),
			of("multixact offset", "blks_read", "multixact_offset"),
			of("multixact member", "blks_read", "multixact_member"),
			of("commit timestamp", "blks_read", "commit_timestamp"),
			of("notify", "blks_read", "notify"),
			of("serializable", "blks_read", "serializable"),
			of("other", "blks_read", "other"),
		}, absent: "pg_stat_slru exists from PostgreSQL 13 on."},
		spec{name: "wal_received", title: "WAL received from the primary", scope: Server, unit: UnitBytesPerSec, group: "wal_receiver", lines: []line{
			total("received", "received_bytes"),
		}, absent: "Shown on a standby streaming from its primary."},
		spec{name: "subscriptions", title: "Subscriptions: publisher WAL received", scope: Server, unit: UnitBytesPerSec, group: "subscription", lines: []line{
			total("received", "received_bytes"),
		}, absent: subscriptionsAbsent},
		spec{name: "subscription_errors", title: "Subscriptions: errors and conflicts", scope: Server, unit: UnitPerSecond, group: "subscription", lines: []line{
			total("apply errors", "apply_error_count"),
			total("table copy errors", "sync_error_count"),
			total("conflicts", "conflicts"),
		}, absent: subscriptionsAbsent},
		spec{name: "replication", title: "Replication lag (worst standby)", scope: Server, unit: UnitSeconds, group: "replication", lines: []line{
			worst("write", "write_lag"),
			worst("flush", "flush_lag"),
			worst("replay", "replay_lag"),
		}},
	)
	out = append(out, perDatabase(Database, "db_")...)
	out = append(out,
		spec{name: "db_conflicts", title: "Recovery conflicts by cause", scope: Database, unit: UnitPerSecond, group: "conflicts", lines: []line{
			total("lock", "confl_lock"),
			total("snapshot", "confl_snapshot"),
			total("buffer pin", "confl_bufferpin"),
			total("deadlock", "confl_deadlock"),
			total("tablespace", "confl_tablespace"),
			total("logical slot", "confl_active_logicalslot"),
		}, absent: "Shown on a standby: the queries it cancelled because replaying the primary's WAL needed what they held."},
		spec{name: "db_vacuums", title: "Vacuums running", scope: Database, unit: UnitCount, group: act, lines: []line{
			total("vacuums (autovacuum's too)", "vacuums_running"),
		}},
		spec{name: "db_table_bloat", title: "Estimated bloat of tables", scope: Database, unit: UnitBytes,
			group: tbl, lines: []line{total("bloat", "bloat_bytes"), total("tables", "table_size")}},
		spec{name: "db_index_bloat", title: "Estimated bloat of B-tree indexes", scope: Database, unit: UnitBytes,
			group: "index", lines: []line{total("bloat", "bloat_bytes"), total("indexes", "size")}},
		spec{name: "db_sequences", title: "Most used sequence (share of its range)", scope: Database, unit: UnitPercent,
			group: "sequence", lines: []line{highestShare("highest", "used_ratio")},
			absent: "This database has no sequence."},
		spec{name: "db_function_calls", title: "Function calls", scope: Database, unit: UnitPerSecond,
			group: "function", lines: []line{total("calls", "calls")}, absent: functionsAbsent},
		spec{name: "db_function_time", title: "Time in functions", scope: Database, unit: UnitMsPerSec,
			group: "function", lines: []line{total("with callees", "total_time"), total("own", "self_time")}, absent: functionsAbsent},
	)
	out = append(out,
		spec{name: "table_scans", title: "Scans", scope: Table, unit: UnitPerSecond, group: tbl, lines: []line{
			total("sequential", "seq_scan"),
			total("index", "idx_scan"),
		}},
		spec{name: "table_tuples", title: "Row changes", scope: Table, unit: UnitPerSecond, group: tbl, lines: []line{
			total("inserted", "n_tup_ins"),
			total("updated", "n_tup_upd"),
			total("deleted", "n_tup_del"),
			total("HOT updated", "n_tup_hot_upd"),
		}},
		spec{name: "table_rows", title: "Live and dead rows", scope: Table, unit: UnitCount, group: tbl, lines: []line{
			total("live", "n_live_tup"),
			total("dead", "n_dead_tup"),
		}},
		spec{name: "table_size", title: "Table size", scope: Table, unit: UnitBytes, group: tbl, lines: []line{
			total("table", "table_size"),
			total("with indexes", "total_size"),
			total("estimated bloat", "bloat_bytes"),
		}},
		spec{name: "table_cache_hit", title: "Cache hit ratio", scope: Table, unit: UnitPercent, group: tbl, lines: []line{
			hitRatio("heap", "heap_blks_hit", "heap_blks_read"),
			hitRatio("indexes", "idx_blks_hit", "idx_blks_read"),
		}},
		spec{name: "table_maintenance", title: "Since the last vacuum and analyze", scope: Table, unit: UnitSeconds, group: tbl, lines: []line{
			worst("(auto)vacuum", "last_vacuum_age"),
			worst("(auto)analyze", "last_analyze_age"),
		}},
		spec{name: "table_vacuum", title: "Vacuum in progress", scope: Table, unit: UnitPercent, group: "vacuum", lines: []line{
			highestShare("heap scanned", "scanned_ratio"),
		}, absent: "No vacuum of this table was running at a collection in this range."},
	)
	out = single(out, Database, db)
	out = single(out, Database, act)
	out = single(out, Table, tbl)
	out = single(out, Server, "server")
	return append(out, statementGraphs()...)
}

// def is the spec's public description.
func (s spec) def() Def {
	d := Def{Name: s.name, Title: s.title, Scope: s.scope, Unit: s.unit,
		Group: s.group, Stacked: s.stacked, Absent: s.absent, Replaces: s.replaces, Top: s.top}
	for _, l := range s.lines {
		d.Lines = append(d.Lines, l.label)
	}
	return d
}

// lookup returns the spec named name.
func lookup(name string) (spec, bool) {
	for _, s := range catalog() {
		if s.name == name {
			return s, true
		}
	}
	return spec{}, false
}

// Defs returns every graph, in page order: the overview's (Server)
// first, then one database's, then one table's. Each call builds a new
// slice, which the caller may modify.
func Defs() []Def {
	specs := catalog()
	out := make([]Def, len(specs))
	for i, s := range specs {
		out[i] = s.def()
	}
	return out
}

// Lookup returns the graph named name, and false when there is none.
func Lookup(name string) (Def, bool) {
	s, ok := lookup(name)
	if !ok {
		return Def{}, false
	}
	return s.def(), true
}

// kind returns whether column of group is a counter, from the
// collector's metric table; ok is false for an unknown column.
func kind(group, column string) (counter, ok bool) {
	g, found := metric.GroupByName(group)
	if !found {
		return false, false
	}
	c, found := g.Column(column)
	return c.Kind == metric.Counter, found
}
