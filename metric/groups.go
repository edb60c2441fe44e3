package metric

import (
	"fmt"
	"strings"
	"sync"
)

// This file is pggraph's metric table: every group, its columns and its
// SQL per minimum server_version_num. It is data; nothing else in the
// package branches on the server version.
//
// Conventions every query follows (see Query for the contract):
//
//   - Keys are OIDs as text where the object has one, so a rename keeps
//     the object's history; qualified names are format('%I.%I', schema,
//     name), which quotes whatever needs quoting and cannot be ambiguous.
//   - A column the server version lacks is NULL::float8, never a guess.
//   - The current WAL position is pg_current_wal_lsn() on a primary and
//     pg_last_wal_replay_lsn() on a standby, where pg_current_wal_lsn()
//     raises an error: see currentLSN.
//   - Every query reads each statistics view once, joins instead of
//     running correlated subqueries per row, and runs as a member of
//     pg_monitor.
//   - Ages of the oldest thing of a kind (transaction, query, prepared
//     transaction) are 0, not NULL, when there is none: a graph of
//     "oldest age" reads naturally as "nothing old", without gaps.
//   - The size functions (pg_table_size, pg_indexes_size,
//     pg_relation_size) take a brief AccessShareLock per relation, so the
//     table and index groups wait behind an ACCESS EXCLUSIVE lock (VACUUM
//     FULL, a rewriting ALTER TABLE): the connection running them should
//     set lock_timeout.

// MinServerVersion is the lowest server_version_num the table supports:
// below it, Group.SQL reports false for every group.
const MinServerVersion = 120000

// currentLSN is the server's current WAL position, safe on a standby.
// pg_current_wal_lsn() is volatile, so the CASE really skips it in
// recovery (volatile calls are never folded at plan time).
const currentLSN = `CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END`

// dbStatsReset is the FROM item giving the current database's
// stats_reset to the table and index groups: pg_stat_reset() and, from 15
// on, pg_stat_reset_single_table_counters() set it, and per-object
// statistics have no reset time of their own.
const dbStatsReset = `(SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()) r`

// Groups returns every metric group pggraph collects, in a fixed order:
// the server-wide groups first, then the per-database ones. Each call
// builds a new slice, which the caller may modify.
func Groups() []Group {
	return []Group{
		databaseGroup(),
		activityGroup(),
		serverGroup(),
		bgwriterGroup(),
		walGroup(),
		archiverGroup(),
		replicationGroup(),
		slotGroup(),
		waitGroup(),
		waitSamplingGroup(),
		ioGroup(),
		conflictGroup(),
		walReceiverGroup(),
		subscriptionGroup(),
		slruGroup(),
		tableGroup(),
		indexGroup(),
		sequenceGroup(),
		functionGroup(),
		vacuumGroup(),
	}
}

// storedTable is StoredGroups built once per process, for lookups by
// name: a graph with thresholds looks its lines' columns up while a CGI
// process draws it. Nothing changes it once built.
var storedTable = sync.OnceValue(StoredGroups)

// GroupByName returns the group named name of StoredGroups, and false
// when there is none. Its Columns and Queries are shared with every other
// caller: read them, do not change them.
func GroupByName(name string) (Group, bool) {
	for _, g := range storedTable() {
		if g.Name == name {
			return g, true
		}
	}
	return Group{}, false
}

// SQL returns the group's query for a server_version_num: the SQL of the
// Query with the highest MinVersion <= version. ok is false when none
// applies: the group does not exist on that server (pg_stat_wal before
// 14), or the server is older than MinServerVersion.
func (g Group) SQL(version int) (sql string, ok bool) {
	q, ok := g.QueryFor(version)
	return q.SQL, ok
}

// QueryFor returns the Query whose SQL the group runs on a server of
// version, and false when none applies (see SQL).
func (g Group) QueryFor(version int) (Query, bool) {
	var (
		best  Query
		found bool
	)
	for _, q := range g.Queries {
		if q.MinVersion <= version && (!found || q.MinVersion > best.MinVersion) {
			best, found = q, true
		}
	}
	return best, found
}

func databaseGroup() Group {
	return Group{
		Name:  "database",
		Help:  "Per database: transactions, block and tuple traffic, sessions, size and wraparound age (pg_stat_database)",
		Scope: Server,
		Columns: []Column{
			{Name: "xact_commit", Kind: Counter, Unit: Count, Help: "Transactions committed"},
			{Name: "xact_rollback", Kind: Counter, Unit: Count, Help: "Transactions rolled back"},
			{Name: "blks_read", Kind: Counter, Unit: Blocks, Help: "Blocks read from disk (or the OS cache)"},
			{Name: "blks_hit", Kind: Counter, Unit: Blocks, Help: "Blocks found in shared buffers"},
			{Name: "tup_returned", Kind: Counter, Unit: Count, Help: "Rows returned by sequential and index scans"},
			{Name: "tup_fetched", Kind: Counter, Unit: Count, Help: "Rows fetched by index scans"},
			{Name: "tup_inserted", Kind: Counter, Unit: Count, Help: "Rows inserted"},
			{Name: "tup_updated", Kind: Counter, Unit: Count, Help: "Rows updated"},
			{Name: "tup_deleted", Kind: Counter, Unit: Count, Help: "Rows deleted"},
			{Name: "conflicts", Kind: Counter, Unit: Count, Help: "Queries cancelled by recovery conflicts (standby only)"},
			{Name: "temp_files", Kind: Counter, Unit: Count, Help: "Temporary files created by queries"},
			{Name: "temp_bytes", Kind: Counter, Unit: Bytes, Help: "Bytes written to temporary files by queries"},
			{Name: "deadlocks", Kind: Counter, Unit: Count, Help: "Deadlocks detected"},
			{Name: "checksum_failures", Kind: Counter, Unit: Count, Help: "Data page checksum failures (NULL when checksums are off)"},
			{Name: "blk_read_time", Kind: Counter, Unit: Milliseconds, Help: "Time spent reading blocks (needs track_io_timing)"},
			{Name: "blk_write_time", Kind: Counter, Unit: Milliseconds, Help: "Time spent writing blocks (needs track_io_timing)"},
			{Name: "session_time", Kind: Counter, Unit: Milliseconds, Help: "Time spent by sessions (14+)"},
			{Name: "active_time", Kind: Counter, Unit: Milliseconds, Help: "Time spent executing statements (14+)"},
			{Name: "idle_in_transaction_time", Kind: Counter, Unit: Milliseconds, Help: "Time spent idle in a transaction (14+)"},
			{Name: "sessions", Kind: Counter, Unit: Count, Help: "Sessions established (14+)"},
			{Name: "sessions_abandoned", Kind: Counter, Unit: Count, Help: "Sessions ended by the client going away (14+)"},
			{Name: "sessions_fatal", Kind: Counter, Unit: Count, Help: "Sessions ended by a fatal error (14+)"},
			{Name: "sessions_killed", Kind: Counter, Unit: Count, Help: "Sessions terminated by an operator (14+)"},
			{Name: "numbackends", Kind: Gauge, Unit: Count, Help: "Backends connected to the database"},
			{Name: "size", Kind: Gauge, Unit: Bytes, Help: "Database size on disk (pg_database_size)"},
			{Name: "frozen_xid_age", Kind: Gauge, Unit: XIDs, Help: "Age of datfrozenxid: transactions until anti-wraparound vacuum matters"},
			{Name: "min_mxid_age", Kind: Gauge, Unit: XIDs, Help: "Age of datminmxid, in multixact IDs"},
		},
		Queries: []Query{
			{MinVersion: 120000, SQL: `
SELECT d.datid::text AS key,
       d.datname::text AS name,
       NULL::text AS parent,
       d.stats_reset,
       d.xact_commit, d.xact_rollback, d.blks_read, d.blks_hit,
       d.tup_returned, d.tup_fetched, d.tup_inserted, d.tup_updated, d.tup_deleted,
       d.conflicts, d.temp_files, d.temp_bytes, d.deadlocks, d.checksum_failures,
       d.blk_read_time, d.blk_write_time,
       NULL::float8 AS session_time,
       NULL::float8 AS active_time,
       NULL::float8 AS idle_in_transaction_time,
       NULL::float8 AS sessions,
       NULL::float8 AS sessions_abandoned,
       NULL::float8 AS sessions_fatal,
       NULL::float8 AS sessions_killed,
       d.numbackends,
       pg_database_size(db.oid) AS size,
       age(db.datfrozenxid) AS frozen_xid_age,
       mxid_age(db.datminmxid) AS min_mxid_age
FROM pg_stat_database d
JOIN pg_database db ON db.oid = d.datid`},
			{MinVersion: 140000, SQL: `
SELECT d.datid::text AS key,
       d.datname::text AS name,
       NULL::text AS parent,
       d.stats_reset,
       d.xact_commit, d.xact_rollback, d.blks_read, d.blks_hit,
       d.tup_returned, d.tup_fetched, d.tup_inserted, d.tup_updated, d.tup_deleted,
       d.conflicts, d.temp_files, d.temp_bytes, d.deadlocks, d.checksum_failures,
       d.blk_read_time, d.blk_write_time,
       d.session_time, d.active_time, d.idle_in_transaction_time,
       d.sessions, d.sessions_abandoned, d.sessions_fatal, d.sessions_killed,
       d.numbackends,
       pg_database_size(db.oid) AS size,
       age(db.datfrozenxid) AS frozen_xid_age,
       mxid_age(db.datminmxid) AS min_mxid_age
FROM pg_stat_database d
JOIN pg_database db ON db.oid = d.datid`},
		},
	}
}

func activityGroup() Group {
	return Group{
		Name: "activity",
		Help: "Per database: client sessions by state, waits, oldest transaction and query, prepared transactions, locks by mode",
		// The CTEs act and lk are each referenced twice, so PostgreSQL
		// materialises them: one pass over pg_stat_activity and one over
		// pg_locks, then hash joins against pg_database. The monitoring
		// backend itself is left out of both.
		Scope: Server,
		Columns: []Column{
			{Name: "sessions_active", Kind: Gauge, Unit: Count, Help: "Client sessions running a statement"},
			{Name: "sessions_idle", Kind: Gauge, Unit: Count, Help: "Client sessions idle outside a transaction"},
			{Name: "sessions_idle_in_transaction", Kind: Gauge, Unit: Count, Help: "Client sessions idle inside a transaction"},
			{Name: "sessions_idle_in_transaction_aborted", Kind: Gauge, Unit: Count, Help: "Client sessions idle inside a failed transaction"},
			{Name: "sessions_fastpath", Kind: Gauge, Unit: Count, Help: "Client sessions running a fast-path function call"},
			{Name: "sessions_disabled", Kind: Gauge, Unit: Count, Help: "Client sessions with track_activities off"},
			{Name: "sessions_waiting", Kind: Gauge, Unit: Count, Help: "Client sessions waiting for a lock"},
			{Name: "oldest_xact_age", Kind: Gauge, Unit: Seconds, Help: "Age of the oldest open transaction of a client session, 0 when none"},
			{Name: "oldest_query_age", Kind: Gauge, Unit: Seconds, Help: "Run time of the oldest running statement of a client session, 0 when none"},
			{Name: "oldest_idle_in_transaction_age", Kind: Gauge, Unit: Seconds, Help: "Longest time a client session has been idle in a transaction, 0 when none"},
			{Name: "prepared_xacts", Kind: Gauge, Unit: Count, Help: "Prepared (two-phase) transactions"},
			{Name: "oldest_prepared_xact_age", Kind: Gauge, Unit: Seconds, Help: "Age of the oldest prepared transaction, 0 when none"},
			{Name: "locks_access_share", Kind: Gauge, Unit: Count, Help: "AccessShareLock locks on objects of the database, held or awaited"},
			{Name: "locks_row_share", Kind: Gauge, Unit: Count, Help: "RowShareLock locks on objects of the database, held or awaited"},
			{Name: "locks_row_exclusive", Kind: Gauge, Unit: Count, Help: "RowExclusiveLock locks on objects of the database, held or awaited"},
			{Name: "locks_share_update_exclusive", Kind: Gauge, Unit: Count, Help: "ShareUpdateExclusiveLock locks on objects of the database, held or awaited"},
			{Name: "locks_share", Kind: Gauge, Unit: Count, Help: "ShareLock locks on objects of the database, held or awaited"},
			{Name: "locks_share_row_exclusive", Kind: Gauge, Unit: Count, Help: "ShareRowExclusiveLock locks on objects of the database, held or awaited"},
			{Name: "locks_exclusive", Kind: Gauge, Unit: Count, Help: "ExclusiveLock locks on objects of the database, held or awaited"},
			{Name: "locks_access_exclusive", Kind: Gauge, Unit: Count, Help: "AccessExclusiveLock locks on objects of the database, held or awaited"},
			{Name: "locks_not_granted", Kind: Gauge, Unit: Count, Help: "Locks awaited by sessions connected to the database (row-lock waits included)"},
			{Name: "vacuums_running", Kind: Gauge, Unit: Count, Help: "VACUUMs running in the database, autovacuum's included (pg_stat_progress_vacuum)"},
		},
		Queries: []Query{
			{MinVersion: 120000, SQL: `
WITH act AS (
    SELECT pid, datid, backend_type, state, wait_event_type, xact_start, query_start, state_change
    FROM pg_stat_activity
    WHERE pid <> pg_backend_pid()
), lk AS (
    SELECT pid, database, mode, granted
    FROM pg_locks
    WHERE pid IS DISTINCT FROM pg_backend_pid()
), sess AS (
    SELECT datid,
           count(*) FILTER (WHERE state = 'active') AS active,
           count(*) FILTER (WHERE state = 'idle') AS idle,
           count(*) FILTER (WHERE state = 'idle in transaction') AS idle_in_transaction,
           count(*) FILTER (WHERE state = 'idle in transaction (aborted)') AS idle_in_transaction_aborted,
           count(*) FILTER (WHERE state = 'fastpath function call') AS fastpath,
           count(*) FILTER (WHERE state = 'disabled') AS disabled,
           count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiting,
           extract(epoch FROM max(now() - xact_start)) AS oldest_xact,
           extract(epoch FROM max(now() - query_start)
               FILTER (WHERE state IN ('active', 'fastpath function call'))) AS oldest_query,
           extract(epoch FROM max(now() - state_change)
               FILTER (WHERE state IN ('idle in transaction', 'idle in transaction (aborted)'))) AS oldest_idle_in_transaction
    FROM act
    WHERE backend_type = 'client backend'
    GROUP BY datid
), modes AS (
    SELECT database AS datid,
           count(*) FILTER (WHERE mode = 'AccessShareLock') AS access_share,
           count(*) FILTER (WHERE mode = 'RowShareLock') AS row_share,
           count(*) FILTER (WHERE mode = 'RowExclusiveLock') AS row_exclusive,
           count(*) FILTER (WHERE mode = 'ShareUpdateExclusiveLock') AS share_update_exclusive,
           count(*) FILTER (WHERE mode = 'ShareLock') AS share,
           count(*) FILTER (WHERE mode = 'ShareRowExclusiveLock') AS share_row_exclusive,
           count(*) FILTER (WHERE mode = 'ExclusiveLock') AS exclusive,
           count(*) FILTER (WHERE mode = 'AccessExclusiveLock') AS access_exclusive
    FROM lk
    WHERE database IS NOT NULL
    GROUP BY database
), waits AS (
    SELECT a.datid, count(*) AS not_granted
    FROM lk
    JOIN act a ON a.pid = lk.pid
    WHERE NOT lk.granted
    GROUP BY a.datid
), prep AS (
    SELECT database, count(*) AS n, extract(epoch FROM max(now() - prepared)) AS oldest
    FROM pg_prepared_xacts
    GROUP BY database
), vac AS (
    SELECT datid, count(*) AS n
    FROM pg_stat_progress_vacuum
    GROUP BY datid
)
SELECT d.oid::text AS key,
       d.datname::text AS name,
       NULL::text AS parent,
       NULL::timestamptz AS stats_reset,
       coalesce(s.active, 0) AS sessions_active,
       coalesce(s.idle, 0) AS sessions_idle,
       coalesce(s.idle_in_transaction, 0) AS sessions_idle_in_transaction,
       coalesce(s.idle_in_transaction_aborted, 0) AS sessions_idle_in_transaction_aborted,
       coalesce(s.fastpath, 0) AS sessions_fastpath,
       coalesce(s.disabled, 0) AS sessions_disabled,
       coalesce(s.waiting, 0) AS sessions_waiting,
       greatest(coalesce(s.oldest_xact, 0), 0) AS oldest_xact_age,
       greatest(coalesce(s.oldest_query, 0), 0) AS oldest_query_age,
       greatest(coalesce(s.oldest_idle_in_transaction, 0), 0) AS oldest_idle_in_transaction_age,
       coalesce(p.n, 0) AS prepared_xacts,
       greatest(coalesce(p.oldest, 0), 0) AS oldest_prepared_xact_age,
       coalesce(m.access_share, 0) AS locks_access_share,
       coalesce(m.row_share, 0) AS locks_row_share,
       coalesce(m.row_exclusive, 0) AS locks_row_exclusive,
       coalesce(m.share_update_exclusive, 0) AS locks_share_update_exclusive,
       coalesce(m.share, 0) AS locks_share,
       coalesce(m.share_row_exclusive, 0) AS locks_share_row_exclusive,
       coalesce(m.exclusive, 0) AS locks_exclusive,
       coalesce(m.access_exclusive, 0) AS locks_access_exclusive,
       coalesce(w.not_granted, 0) AS locks_not_granted,
       coalesce(v.n, 0) AS vacuums_running
FROM pg_database d
LEFT JOIN sess s ON s.datid = d.oid
LEFT JOIN modes m ON m.datid = d.oid
LEFT JOIN waits w ON w.datid = d.oid
LEFT JOIN prep p ON p.database = d.datname
LEFT JOIN vac v ON v.datid = d.oid`},
		},
	}
}

func serverGroup() Group {
	return Group{
		Name:  "server",
		Help:  "The server as a whole: connections, recovery state, replay delay, uptime, xmin horizon (one row, key '')",
		Scope: Server,
		Columns: []Column{
			{Name: "max_connections", Kind: Gauge, Unit: Count, Help: "The max_connections setting"},
			{Name: "client_backends", Kind: Gauge, Unit: Count, Help: "Client sessions, all databases (the monitor's own included)"},
			{Name: "autovacuum_workers", Kind: Gauge, Unit: Count, Help: "Autovacuum workers running"},
			{Name: "wal_senders", Kind: Gauge, Unit: Count, Help: "WAL sender processes (standbys, subscriptions, base backups)"},
			{Name: "in_recovery", Kind: Gauge, Unit: Boolean, Help: "1 on a standby (in recovery), 0 on a primary"},
			{Name: "replay_delay", Kind: Gauge, Unit: Seconds, Help: "Time since the last replayed transaction's commit on the primary (standby only; grows while the primary is idle)"},
			{Name: "replay_pending_bytes", Kind: Gauge, Unit: Bytes, Help: "WAL received but not yet replayed (standby only)"},
			{Name: "uptime", Kind: Gauge, Unit: Seconds, Help: "Time since the server started"},
			{Name: "xmin_age", Kind: Gauge, Unit: XIDs, Help: "Age of the oldest snapshot xmin of any backend, what holds VACUUM back; 0 when none"},
		},
		Queries: []Query{
			{MinVersion: 120000, SQL: `
SELECT ''::text AS key,
       'server'::text AS name,
       NULL::text AS parent,
       NULL::timestamptz AS stats_reset,
       current_setting('max_connections')::int AS max_connections,
       a.client_backends,
       a.autovacuum_workers,
       a.wal_senders,
       pg_is_in_recovery()::int AS in_recovery,
       CASE WHEN pg_is_in_recovery()
            THEN greatest(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)
       END AS replay_delay,
       CASE WHEN pg_is_in_recovery()
            THEN greatest(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0)
       END AS replay_pending_bytes,
       extract(epoch FROM now() - pg_postmaster_start_time()) AS uptime,
       a.xmin_age
FROM (
    SELECT count(*) FILTER (WHERE backend_type = 'client backend') AS client_backends,
           count(*) FILTER (WHERE backend_type = 'autovacuum worker') AS autovacuum_workers,
           count(*) FILTER (WHERE backend_type = 'walsender') AS wal_senders,
           coalesce(max(age(backend_xmin)), 0) AS xmin_age
    FROM pg_stat_activity
) a`},
		},
	}
}

func bgwriterGroup() Group {
	return Group{
		Name: "bgwriter",
		Help: "Checkpoints and buffer writes by the checkpointer, the background writer and backends (one row, key '')",
		// One schema for both layouts: up to 16 everything is in
		// pg_stat_bgwriter; from 17 the checkpoint columns moved to
		// pg_stat_checkpointer and the backend writes are read from
		// pg_stat_io (shared-buffer writes and fsyncs of every process
		// but the checkpointer and the background writer, which is what
		// buffers_backend and buffers_backend_fsync counted).
		// stats_reset is then the latest reset of the three views, so a
		// reset of any of them is seen.
		Scope: Server,
		Columns: []Column{
			{Name: "checkpoints_timed", Kind: Counter, Unit: Count, Help: "Checkpoints started because checkpoint_timeout passed"},
			{Name: "checkpoints_req", Kind: Counter, Unit: Count, Help: "Checkpoints requested (max_wal_size reached, CHECKPOINT, shutdown…)"},
			{Name: "checkpoint_write_time", Kind: Counter, Unit: Milliseconds, Help: "Time checkpoints spent writing files"},
			{Name: "checkpoint_sync_time", Kind: Counter, Unit: Milliseconds, Help: "Time checkpoints spent syncing files to disk"},
			{Name: "buffers_checkpoint", Kind: Counter, Unit: Blocks, Help: "Buffers written by checkpoints"},
			{Name: "buffers_clean", Kind: Counter, Unit: Blocks, Help: "Buffers written by the background writer"},
			{Name: "maxwritten_clean", Kind: Counter, Unit: Count, Help: "Background writer rounds stopped by bgwriter_lru_maxpages"},
			{Name: "buffers_backend", Kind: Counter, Unit: Blocks, Help: "Buffers written by backends themselves (17+: from pg_stat_io)"},
			{Name: "buffers_backend_fsync", Kind: Counter, Unit: Count, Help: "Fsyncs backends had to do themselves (17+: from pg_stat_io)"},
			{Name: "buffers_alloc", Kind: Counter, Unit: Blocks, Help: "Buffers allocated"},
		},
		Queries: []Query{
			{MinVersion: 120000, SQL: `
SELECT ''::text AS key,
       'bgwriter'::text AS name,
       NULL::text AS parent,
       stats_reset,
       checkpoints_timed, checkpoints_req, checkpoint_write_time, checkpoint_sync_time,
       buffers_checkpoint, buffers_clean, maxwritten_clean,
       buffers_backend, buffers_backend_fsync, buffers_alloc
FROM pg_stat_bgwriter`},
			{MinVersion: 170000, SQL: `
SELECT ''::text AS key,
       'bgwriter'::text AS name,
       NULL::text AS parent,
       greatest(c.stats_reset, b.stats_reset, io.stats_reset) AS stats_reset,
       c.num_timed AS checkpoints_timed,
       c.num_requested AS checkpoints_req,
       c.write_time AS checkpoint_write_time,
       c.sync_time AS checkpoint_sync_time,
       c.buffers_written AS buffers_checkpoint,
       b.buffers_clean, b.maxwritten_clean,
       io.writes AS buffers_backend,
       io.fsyncs AS buffers_backend_fsync,
       b.buffers_alloc
FROM pg_stat_checkpointer c
CROSS JOIN pg_stat_bgwriter b
CROSS JOIN (
    SELECT sum(writes) AS writes, sum(fsyncs) AS fsyncs, max(stats_reset) AS stats_reset
    FROM pg_stat_io
    WHERE object = 'relation' AND backend_type NOT IN ('checkpointer', 'background writer')
) io`},
		},
	}
}

func walGroup() Group {
	return Group{
		Name:  "wal",
		Help:  "WAL generated: position and, from 14, pg_stat_wal (one row, key '')",
		Scope: Server,
		Columns: []Column{
			{Name: "wal_lsn", Kind: Counter, Unit: Bytes, Help: "WAL position (replay position on a standby): WAL generated or replayed"},
			{Name: "wal_records", Kind: Counter, Unit: Count, Help: "WAL records generated (14+)"},
			{Name: "wal_fpi", Kind: Counter, Unit: Count, Help: "WAL full page images generated (14+)"},
			{Name: "wal_bytes", Kind: Counter, Unit: Bytes, Help: "WAL bytes generated (14+)"},
			{Name: "wal_buffers_full", Kind: Counter, Unit: Count, Help: "WAL writes forced by full WAL buffers (14+)"},
			{Name: "wal_write", Kind: Counter, Unit: Count, Help: "WAL buffer writes to disk (14-17)"},
			{Name: "wal_sync", Kind: Counter, Unit: Count, Help: "WAL file syncs to disk (14-17)"},
			{Name: "wal_write_time", Kind: Counter, Unit: Milliseconds, Help: "Time spent writing WAL (14-17, needs track_wal_io_timing)"},
			{Name: "wal_sync_time", Kind: Counter, Unit: Milliseconds, Help: "Time spent syncing WAL (14-17, needs track_wal_io_timing)"},
		},
		Queries: []Query{
			{MinVersion: 120000, SQL: `
SELECT ''::text AS key,
       'wal'::text AS name,
       NULL::text AS parent,
       NULL::timestamptz AS stats_reset,
       pg_wal_lsn_diff(` + currentLSN + `, '0/0') AS wal_lsn,
       NULL::float8 AS wal_records,
       NULL::float8 AS wal_fpi,
       NULL::float8 AS wal_bytes,
       NULL::float8 AS wal_buffers_full,
       NULL::float8 AS wal_write,
       NULL::float8 AS wal_sync,
       NULL::float8 AS wal_write_time,
       NULL::float8 AS wal_sync_time`},
			{MinVersion: 140000, SQL: `
SELECT ''::text AS key,
       'wal'::text AS name,
       NULL::text AS parent,
       w.stats_reset,
       pg_wal_lsn_diff(` + currentLSN + `, '0/0') AS wal_lsn,
       w.wal_records, w.wal_fpi, w.wal_bytes, w.wal_buffers_full,
       w.wal_write, w.wal_sync, w.wal_write_time, w.wal_sync_time
FROM pg_stat_wal w`},
			// 18 moved the write and sync columns to pg_stat_io.
			{MinVersion: 180000, SQL: `
SELECT ''::text AS key,
       'wal'::text AS name,
       NULL::text AS parent,
       w.stats_reset,
       pg_wal_lsn_diff(` + currentLSN + `, '0/0') AS wal_lsn,
       w.wal_records, w.wal_fpi, w.wal_bytes, w.wal_buffers_full,
       NULL::float8 AS wal_write,
       NULL::float8 AS wal_sync,
       NULL::float8 AS wal_write_time,
       NULL::float8 AS wal_sync_time
FROM pg_stat_wal w`},
		},
	}
}

func archiverGroup() Group {
	return Group{
		Name:  "archiver",
		Help:  "WAL archiving (pg_stat_archiver; one row, key '')",
		Scope: Server,
		Columns: []Column{
			{Name: "archived_count", Kind: Counter, Unit: Count, Help: "WAL files archived"},
			{Name: "failed_count", Kind: Counter, Unit: Count, Help: "Failed attempts to archive a WAL file"},
		},
		Queries: []Query{
			{MinVersion: 120000, SQL: `
SELECT ''::text AS key,
       'archiver'::text AS name,
       NULL::text AS parent,
       stats_reset,
       archived_count,
       failed_count
FROM pg_stat_archiver`},
		},
	}
}

func replicationGroup() Group {
	return Group{
		Name: "replication",
		Help: "Per WAL sender (standby, subscription, base backup): lag behind this server (pg_stat_replication)",
		// The key is application_name@client address ("local" for a
		// Unix socket); the address comes last and holds no '@', so the
		// key splits unambiguously. Senders sharing both get "#2", "#3"…
		// in order of connection, so keys stay unique. A lag the server
		// shows as NULL because nothing is in flight (the position
		// reached equals the position sent) is 0.
		Scope: Server,
		Columns: []Column{
			{Name: "write_lag", Kind: Gauge, Unit: Seconds, Help: "Time until the standby wrote recent WAL"},
			{Name: "flush_lag", Kind: Gauge, Unit: Seconds, Help: "Time until the standby flushed recent WAL"},
			{Name: "replay_lag", Kind: Gauge, Unit: Seconds, Help: "Time until the standby replayed recent WAL"},
			{Name: "replay_lag_bytes", Kind: Gauge, Unit: Bytes, Help: "WAL not yet replayed by the standby (NULL when this server is itself a standby)"},
			{Name: "streaming", Kind: Gauge, Unit: Boolean, Help: "1 while the sender is streaming"},
		},
		Queries: []Query{
			{MinVersion: 120000, SQL: `
SELECT s.ident || CASE WHEN s.n > 1 THEN '#' || s.n ELSE '' END AS key,
       s.ident || CASE WHEN s.n > 1 THEN '#' || s.n ELSE '' END AS name,
       NULL::text AS parent,
       NULL::timestamptz AS stats_reset,
       CASE WHEN s.write_lag IS NULL AND s.write_lsn = s.sent_lsn THEN 0
            ELSE extract(epoch FROM s.write_lag) END AS write_lag,
       CASE WHEN s.flush_lag IS NULL AND s.flush_lsn = s.sent_lsn THEN 0
            ELSE extract(epoch FROM s.flush_lag) END AS flush_lag,
       CASE WHEN s.replay_lag IS NULL AND s.replay_lsn = s.sent_lsn THEN 0
            ELSE extract(epoch FROM s.replay_lag) END AS replay_lag,
       CASE WHEN pg_is_in_recovery() THEN NULL
            ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), s.replay_lsn) END AS replay_lag_bytes,
       (s.state = 'streaming')::int AS streaming
FROM (
    SELECT r.*,
           coalesce(r.application_name, '') || '@' || coalesce(host(r.client_addr), 'local') AS ident,
           row_number() OVER (PARTITION BY r.application_name, r.client_addr
                              ORDER BY r.backend_start, r.pid) AS n
    FROM pg_stat_replication r
) s`},
		},
	}
}

func slotGroup() Group {
	return Group{
		Name:  "slot",
		Help:  "Per replication slot: activity and the WAL and xmin it holds back (pg_replication_slots)",
		Scope: Server,
		Columns: []Column{
			{Name: "active", Kind: Gauge, Unit: Boolean, Help: "1 while a consumer uses the slot"},
			{Name: "retained_bytes", Kind: Gauge, Unit: Bytes, Help: "WAL kept for the slot: current (or replayed) position minus restart_lsn"},
			{Name: "safe_wal_size", Kind: Gauge, Unit: Bytes, Help: "WAL that can still be written before the slot is lost (13+, NULL without max_slot_wal_keep_size)"},
			{Name: "xmin_age", Kind: Gauge, Unit: XIDs, Help: "Age of the oldest xmin or catalog_xmin the slot holds back"},
		},
		Queries: []Query{
			{MinVersion: 120000, SQL: `
SELECT s.slot_name::text AS key,
       s.slot_name::text AS name,
       NULL::text AS parent,
       NULL::timestamptz AS stats_reset,
       s.active::int AS active,
       pg_wal_lsn_diff(cur.lsn, s.restart_lsn) AS retained_bytes,
       NULL::float8 AS safe_wal_size,
       greatest(age(s.xmin), age(s.catalog_xmin)) AS xmin_age
FROM pg_replication_slots s
CROSS JOIN (SELECT ` + currentLSN + ` AS lsn) cur`},
			{MinVersion: 130000, SQL: `
SELECT s.slot_name::text AS key,
       s.slot_name::text AS name,
       NULL::text AS parent,
       NULL::timestamptz AS stats_reset,
       s.active::int AS active,
       pg_wal_lsn_diff(cur.lsn, s.restart_lsn) AS retained_bytes,
       s.safe_wal_size,
       greatest(age(s.xmin), age(s.catalog_xmin)) AS xmin_age
FROM pg_replication_slots s
CROSS JOIN (SELECT ` + currentLSN + ` AS lsn) cur`},
		},
	}
}

// tableColumns are the table group's columns.
func tableColumns() []Column {
	return []Column{
		{Name: "seq_scan", Kind: Counter, Unit: Count, Help: "Sequential scans"},
		{Name: "seq_tup_read", Kind: Counter, Unit: Count, Help: "Rows read by sequential scans"},
		{Name: "idx_scan", Kind: Counter, Unit: Count, Help: "Index scans (NULL: the table has no index)"},
		{Name: "idx_tup_fetch", Kind: Counter, Unit: Count, Help: "Rows fetched by index scans (NULL: no index)"},
		{Name: "n_tup_ins", Kind: Counter, Unit: Count, Help: "Rows inserted"},
		{Name: "n_tup_upd", Kind: Counter, Unit: Count, Help: "Rows updated"},
		{Name: "n_tup_del", Kind: Counter, Unit: Count, Help: "Rows deleted"},
		{Name: "n_tup_hot_upd", Kind: Counter, Unit: Count, Help: "Rows HOT-updated (no index update needed)"},
		{Name: "n_tup_newpage_upd", Kind: Counter, Unit: Count, Help: "Rows updated onto a new page (16+)"},
		{Name: "vacuum_count", Kind: Counter, Unit: Count, Help: "Manual VACUUMs"},
		{Name: "autovacuum_count", Kind: Counter, Unit: Count, Help: "Autovacuum runs"},
		{Name: "analyze_count", Kind: Counter, Unit: Count, Help: "Manual ANALYZEs"},
		{Name: "autoanalyze_count", Kind: Counter, Unit: Count, Help: "Autoanalyze runs"},
		{Name: "total_vacuum_time", Kind: Counter, Unit: Milliseconds, Help: "Time spent in manual VACUUM (18+)"},
		{Name: "total_autovacuum_time", Kind: Counter, Unit: Milliseconds, Help: "Time spent in autovacuum (18+)"},
		{Name: "total_analyze_time", Kind: Counter, Unit: Milliseconds, Help: "Time spent in manual ANALYZE (18+)"},
		{Name: "total_autoanalyze_time", Kind: Counter, Unit: Milliseconds, Help: "Time spent in autoanalyze (18+)"},
		{Name: "heap_blks_read", Kind: Counter, Unit: Blocks, Help: "Table blocks read from disk (or the OS cache)"},
		{Name: "heap_blks_hit", Kind: Counter, Unit: Blocks, Help: "Table blocks found in shared buffers"},
		{Name: "idx_blks_read", Kind: Counter, Unit: Blocks, Help: "Index blocks read, all indexes of the table (NULL: no index)"},
		{Name: "idx_blks_hit", Kind: Counter, Unit: Blocks, Help: "Index blocks found in shared buffers (NULL: no index)"},
		{Name: "toast_blks_read", Kind: Counter, Unit: Blocks, Help: "TOAST table blocks read (NULL: no TOAST table)"},
		{Name: "toast_blks_hit", Kind: Counter, Unit: Blocks, Help: "TOAST table blocks found in shared buffers (NULL: no TOAST table)"},
		{Name: "n_live_tup", Kind: Gauge, Unit: Count, Help: "Estimated live rows"},
		{Name: "n_dead_tup", Kind: Gauge, Unit: Count, Help: "Estimated dead rows"},
		{Name: "n_mod_since_analyze", Kind: Gauge, Unit: Count, Help: "Rows changed since the last ANALYZE"},
		{Name: "n_ins_since_vacuum", Kind: Gauge, Unit: Count, Help: "Rows inserted since the last VACUUM (13+)"},
		{Name: "table_size", Kind: Gauge, Unit: Bytes, Help: "Table size with TOAST, without indexes (pg_table_size)"},
		{Name: "total_size", Kind: Gauge, Unit: Bytes, Help: "Table size with TOAST and indexes (as pg_total_relation_size)"},
		{Name: "last_vacuum_age", Kind: Gauge, Unit: Seconds, Help: "Time since the last VACUUM, manual or autovacuum (NULL: never; vacuum_count and autovacuum_count tell which)"},
		{Name: "last_analyze_age", Kind: Gauge, Unit: Seconds, Help: "Time since the last ANALYZE, manual or autoanalyze (NULL: never)"},
		{Name: "bloat_bytes", Kind: Gauge, Unit: Bytes, Help: "Estimated bloat of the table (heap, without TOAST), from statistics (NULL: under 1 MB, or no statistics)"},
		{Name: "bloat_ratio", Kind: Gauge, Unit: Ratio, Help: "Estimated bloat as a share of the table's pages"},
	}
}

// The bloat estimate: how many pages a table or B-tree index has beyond
// what its rows need, from statistics alone (pg_class.reltuples and
// relpages, pg_stats.avg_width and null_frac, as of the last ANALYZE or
// VACUUM), never reading the relation itself. This is the estimate of
// check_postgres and of the widely used pgsql-bloat-estimation queries,
// written once for both groups:
//
//   - a row takes MAXALIGN(header) + MAXALIGN(sum of avg_width × (1 -
//     null_frac)) + a 4-byte line pointer, the header being 23 bytes
//     (+ a null bitmap when a column has NULLs) for a table, 8 (16 with
//     NULLs) for an index; MAXALIGN is 8 (64-bit servers);
//   - a page holds floor((block_size - 24 [- 16 B-tree special]) ×
//     fillfactor / 100 / row) rows; an index has one meta page more;
//   - bloat = relpages - the pages reltuples need (not below 0).
//
// A relation without a statistics row for every column (never
// analyzed, or columns the monitoring role may not read) gets NULL, not
// a guess, and so does one of fewer than bloatMinPages pages: a page of
// rounding would be more than the estimate's stated error, and its
// bloat is a few kilobytes at most. Padding between columns of mixed
// alignment is not counted, so a table whose columns are out of
// alignment order reads more bloat than it has; B-tree deduplication
// (13+) makes an index of repeated keys smaller than estimated, so it
// reads less. Each is one pass over the catalogs and over the
// statistics of the relations estimated (pg_stats, joined by name), no
// per-relation query.

// bloatMinPages is the size from which a relation's bloat is estimated:
// 1 MB of 8 kB pages.
const bloatMinPages = 128

// bloat returns the CTE name(relid, bloat_bytes, bloat_ratio) of the
// relations cols lists, one row per column of each: cols(relid,
// relpages, reltuples, reloptions, nspname, relname, attname), relname
// and attname naming the statistics that apply. header is a row's
// header in bytes (null_frac of the row's columns known as st),
// overhead the bytes of a page rows cannot use, meta the pages beyond
// the rows', fill the default fillfactor.
//
// Both sets are MATERIALIZED and joined by equality: the planner then
// hashes them, where, joining pg_stats by expressions, it chose a
// nested loop that compared every index column with every statistic
// (300 ms for 1,000 indexes instead of 30).
func bloat(name, cols, header string, overhead, meta, fill int) string {
	return name + ` AS (
    WITH cols AS MATERIALIZED (` + cols + `
    ), st AS MATERIALIZED (
        SELECT schemaname, tablename, attname, null_frac, avg_width
        FROM pg_stats
        WHERE NOT inherited AND (schemaname, tablename) IN (SELECT nspname, relname FROM cols)
    ), t AS (
        SELECT c.relid, c.relpages, c.reltuples,
               count(st.attname) = count(*) AS complete,
               ` + header + `
                 + ceil(sum((1 - st.null_frac) * st.avg_width) / 8.0) * 8 + 4 AS tuple,
               (current_setting('block_size')::int - ` + fmt.Sprint(overhead) + `)
                 * coalesce(substring(array_to_string(c.reloptions, ',') FROM '(?:^|,)fillfactor=([0-9]+)')::int, ` + fmt.Sprint(fill) + `)
                 / 100.0 AS usable
        FROM cols c
        LEFT JOIN st ON st.schemaname = c.nspname AND st.tablename = c.relname AND st.attname = c.attname
        GROUP BY c.relid, c.relpages, c.reltuples, c.reloptions
    )
    SELECT t.relid,
           x.extra * current_setting('block_size')::int AS bloat_bytes,
           CASE WHEN t.relpages > 0 THEN x.extra / t.relpages ELSE x.extra END AS bloat_ratio
    FROM t
    CROSS JOIN LATERAL (
        SELECT CASE WHEN t.complete AND t.reltuples >= 0
                    THEN greatest(t.relpages - ` + fmt.Sprint(meta) + ` - ceil(t.reltuples / greatest(floor(t.usable / t.tuple), 1)), 0)::float8
               END AS extra
    ) x
)`
}

// userSchema holds for a schema n of user relations.
const userSchema = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'`

// tableBloat is the CTE bl(relid, bloat_bytes, bloat_ratio) of every
// user table and materialized view: see "The bloat estimate".
var tableBloat = bloat("bl", `
        SELECT c.oid AS relid, c.relpages, c.reltuples, c.reloptions, n.nspname, c.relname, a.attname
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE c.relkind IN ('r', 'm') AND c.relpages >= `+fmt.Sprint(bloatMinPages)+` AND `+userSchema,
	`ceil((23 + CASE WHEN max(st.null_frac) > 0 THEN (count(*) + 7) / 8 ELSE 0 END) / 8.0) * 8`,
	24, 0, 100)

// indexBloat is the CTE ib(relid, bloat_bytes, bloat_ratio) of every
// B-tree index of a user table: see "The bloat estimate". The index's
// own attributes are its columns; one of a table column (indkey not 0)
// has that column's statistics, one of an expression its own, under the
// index's name.
var indexBloat = bloat("ib", `
        SELECT i.indexrelid AS relid, ci.relpages, ci.reltuples, ci.reloptions, n.nspname,
               CASE WHEN ta.attname IS NULL THEN ci.relname ELSE ct.relname END AS relname,
               coalesce(ta.attname, a.attname) AS attname
        FROM pg_index i
        JOIN pg_class ci ON ci.oid = i.indexrelid
        JOIN pg_am am ON am.oid = ci.relam AND am.amname = 'btree'
        JOIN pg_class ct ON ct.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = ct.relnamespace
        JOIN pg_attribute a ON a.attrelid = i.indexrelid AND a.attnum > 0
        LEFT JOIN pg_attribute ta ON ta.attrelid = i.indrelid AND ta.attnum = i.indkey[a.attnum - 1]
        WHERE ci.relpages >= `+fmt.Sprint(bloatMinPages)+` AND `+userSchema,
	`CASE WHEN max(st.null_frac) > 0 THEN 16 ELSE 8 END`,
	24+16, 1, 90)

func tableGroup() Group {
	return Group{
		Name: "table",
		Help: "Per user table of each collected database (pg_stat_user_tables, pg_statio_user_tables)",
		// Other sessions' temporary tables (schemas pg_temp_N) are left
		// out: they come and go with their sessions. Partitioned parents
		// are left out too (pg_statio_user_tables has none): they hold
		// no data, their partitions are listed. stats_reset is the
		// database's. total_size is pg_table_size + pg_indexes_size,
		// which is what pg_total_relation_size computes, but without
		// measuring the table twice: the size functions are most of
		// the query's cost (on the rig, ~27 of ~31 ms per 1,000 tables).
		Scope:   Database,
		Columns: tableColumns(),
		Queries: []Query{
			{MinVersion: 120000, SQL: `
WITH ` + tableBloat + `
SELECT s.relid::text AS key,
       format('%I.%I', s.schemaname, s.relname) AS name,
       NULL::text AS parent,
       r.stats_reset,
       s.seq_scan, s.seq_tup_read, s.idx_scan, s.idx_tup_fetch,
       s.n_tup_ins, s.n_tup_upd, s.n_tup_del, s.n_tup_hot_upd,
       NULL::float8 AS n_tup_newpage_upd,
       s.vacuum_count, s.autovacuum_count, s.analyze_count, s.autoanalyze_count,
       NULL::float8 AS total_vacuum_time,
       NULL::float8 AS total_autovacuum_time,
       NULL::float8 AS total_analyze_time,
       NULL::float8 AS total_autoanalyze_time,
       io.heap_blks_read, io.heap_blks_hit, io.idx_blks_read, io.idx_blks_hit,
       io.toast_blks_read, io.toast_blks_hit,
       s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze,
       NULL::float8 AS n_ins_since_vacuum,
       sz.table_size,
       sz.table_size + sz.indexes_size AS total_size,
       extract(epoch FROM now() - greatest(s.last_vacuum, s.last_autovacuum)) AS last_vacuum_age,
       extract(epoch FROM now() - greatest(s.last_analyze, s.last_autoanalyze)) AS last_analyze_age,
       bl.bloat_bytes, bl.bloat_ratio
FROM pg_stat_user_tables s
JOIN pg_statio_user_tables io ON io.relid = s.relid
LEFT JOIN bl ON bl.relid = s.relid
CROSS JOIN LATERAL (SELECT pg_table_size(s.relid) AS table_size, pg_indexes_size(s.relid) AS indexes_size) sz
CROSS JOIN ` + dbStatsReset + `
WHERE s.schemaname !~ '^pg_temp_'`},
			{MinVersion: 130000, SQL: `
WITH ` + tableBloat + `
SELECT s.relid::text AS key,
       format('%I.%I', s.schemaname, s.relname) AS name,
       NULL::text AS parent,
       r.stats_reset,
       s.seq_scan, s.seq_tup_read, s.idx_scan, s.idx_tup_fetch,
       s.n_tup_ins, s.n_tup_upd, s.n_tup_del, s.n_tup_hot_upd,
       NULL::float8 AS n_tup_newpage_upd,
       s.vacuum_count, s.autovacuum_count, s.analyze_count, s.autoanalyze_count,
       NULL::float8 AS total_vacuum_time,
       NULL::float8 AS total_autovacuum_time,
       NULL::float8 AS total_analyze_time,
       NULL::float8 AS total_autoanalyze_time,
       io.heap_blks_read, io.heap_blks_hit, io.idx_blks_read, io.idx_blks_hit,
       io.toast_blks_read, io.toast_blks_hit,
       s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze, s.n_ins_since_vacuum,
       sz.table_size,
       sz.table_size + sz.indexes_size AS total_size,
       extract(epoch FROM now() - greatest(s.last_vacuum, s.last_autovacuum)) AS last_vacuum_age,
       extract(epoch FROM now() - greatest(s.last_analyze, s.last_autoanalyze)) AS last_analyze_age,
       bl.bloat_bytes, bl.bloat_ratio
FROM pg_stat_user_tables s
JOIN pg_statio_user_tables io ON io.relid = s.relid
LEFT JOIN bl ON bl.relid = s.relid
CROSS JOIN LATERAL (SELECT pg_table_size(s.relid) AS table_size, pg_indexes_size(s.relid) AS indexes_size) sz
CROSS JOIN ` + dbStatsReset + `
WHERE s.schemaname !~ '^pg_temp_'`},
			{MinVersion: 160000, SQL: `
WITH ` + tableBloat + `
SELECT s.relid::text AS key,
       format('%I.%I', s.schemaname, s.relname) AS name,
       NULL::text AS parent,
       r.stats_reset,
       s.seq_scan, s.seq_tup_read, s.idx_scan, s.idx_tup_fetch,
       s.n_tup_ins, s.n_tup_upd, s.n_tup_del, s.n_tup_hot_upd, s.n_tup_newpage_upd,
       s.vacuum_count, s.autovacuum_count, s.analyze_count, s.autoanalyze_count,
       NULL::float8 AS total_vacuum_time,
       NULL::float8 AS total_autovacuum_time,
       NULL::float8 AS total_analyze_time,
       NULL::float8 AS total_autoanalyze_time,
       io.heap_blks_read, io.heap_blks_hit, io.idx_blks_read, io.idx_blks_hit,
       io.toast_blks_read, io.toast_blks_hit,
       s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze, s.n_ins_since_vacuum,
       sz.table_size,
       sz.table_size + sz.indexes_size AS total_size,
       extract(epoch FROM now() - greatest(s.last_vacuum, s.last_autovacuum)) AS last_vacuum_age,
       extract(epoch FROM now() - greatest(s.last_analyze, s.last_autoanalyze)) AS last_analyze_age,
       bl.bloat_bytes, bl.bloat_ratio
FROM pg_stat_user_tables s
JOIN pg_statio_user_tables io ON io.relid = s.relid
LEFT JOIN bl ON bl.relid = s.relid
CROSS JOIN LATERAL (SELECT pg_table_size(s.relid) AS table_size, pg_indexes_size(s.relid) AS indexes_size) sz
CROSS JOIN ` + dbStatsReset + `
WHERE s.schemaname !~ '^pg_temp_'`},
			{MinVersion: 180000, SQL: `
WITH ` + tableBloat + `
SELECT s.relid::text AS key,
       format('%I.%I', s.schemaname, s.relname) AS name,
       NULL::text AS parent,
       r.stats_reset,
       s.seq_scan, s.seq_tup_read, s.idx_scan, s.idx_tup_fetch,
       s.n_tup_ins, s.n_tup_upd, s.n_tup_del, s.n_tup_hot_upd, s.n_tup_newpage_upd,
       s.vacuum_count, s.autovacuum_count, s.analyze_count, s.autoanalyze_count,
       s.total_vacuum_time, s.total_autovacuum_time, s.total_analyze_time, s.total_autoanalyze_time,
       io.heap_blks_read, io.heap_blks_hit, io.idx_blks_read, io.idx_blks_hit,
       io.toast_blks_read, io.toast_blks_hit,
       s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze, s.n_ins_since_vacuum,
       sz.table_size,
       sz.table_size + sz.indexes_size AS total_size,
       extract(epoch FROM now() - greatest(s.last_vacuum, s.last_autovacuum)) AS last_vacuum_age,
       extract(epoch FROM now() - greatest(s.last_analyze, s.last_autoanalyze)) AS last_analyze_age,
       bl.bloat_bytes, bl.bloat_ratio
FROM pg_stat_user_tables s
JOIN pg_statio_user_tables io ON io.relid = s.relid
LEFT JOIN bl ON bl.relid = s.relid
CROSS JOIN LATERAL (SELECT pg_table_size(s.relid) AS table_size, pg_indexes_size(s.relid) AS indexes_size) sz
CROSS JOIN ` + dbStatsReset + `
WHERE s.schemaname !~ '^pg_temp_'`},
		},
	}
}

func indexGroup() Group {
	return Group{
		Name: "index",
		Help: "Per index of a user table of each collected database; parent is the table's key (pg_stat_user_indexes, pg_statio_user_indexes)",
		// Same exclusions and stats_reset as the table group, so every
		// parent is a key of the table group.
		Scope: Database,
		Columns: []Column{
			{Name: "idx_scan", Kind: Counter, Unit: Count, Help: "Scans of the index"},
			{Name: "idx_tup_read", Kind: Counter, Unit: Count, Help: "Index entries returned by scans"},
			{Name: "idx_tup_fetch", Kind: Counter, Unit: Count, Help: "Live table rows fetched by simple index scans"},
			{Name: "idx_blks_read", Kind: Counter, Unit: Blocks, Help: "Index blocks read from disk (or the OS cache)"},
			{Name: "idx_blks_hit", Kind: Counter, Unit: Blocks, Help: "Index blocks found in shared buffers"},
			{Name: "size", Kind: Gauge, Unit: Bytes, Help: "Index size (pg_relation_size, main fork)"},
			{Name: "bloat_bytes", Kind: Gauge, Unit: Bytes, Help: "Estimated bloat of a B-tree index, from statistics (NULL: not a B-tree, under 1 MB, or no statistics)"},
			{Name: "bloat_ratio", Kind: Gauge, Unit: Ratio, Help: "Estimated bloat as a share of the index's pages"},
		},
		Queries: []Query{
			{MinVersion: 120000, SQL: `
WITH ` + indexBloat + `
SELECT s.indexrelid::text AS key,
       format('%I.%I', s.schemaname, s.indexrelname) AS name,
       s.relid::text AS parent,
       r.stats_reset,
       s.idx_scan, s.idx_tup_read, s.idx_tup_fetch,
       io.idx_blks_read, io.idx_blks_hit,
       pg_relation_size(s.indexrelid) AS size,
       ib.bloat_bytes, ib.bloat_ratio
FROM pg_stat_user_indexes s
JOIN pg_statio_user_indexes io ON io.indexrelid = s.indexrelid
LEFT JOIN ib ON ib.relid = s.indexrelid
CROSS JOIN ` + dbStatsReset + `
WHERE s.schemaname !~ '^pg_temp_'`},
		},
	}
}

// waitTypes are the wait_event_type values that get a column of their
// own in the wait groups, by column name; 'CPU' stands for no wait event.
// Any other type (Activity, InjectionPoint…) is counted in "other".
func waitTypes() []struct{ column, waitType string } {
	return []struct{ column, waitType string }{
		{"cpu", "CPU"},
		{"lock", "Lock"},
		{"lwlock", "LWLock"},
		{"io", "IO"},
		{"ipc", "IPC"},
		{"client", "Client"},
		{"timeout", "Timeout"},
		{"bufferpin", "BufferPin"},
		{"extension", "Extension"},
	}
}

// waitColumns are the columns of the wait groups, of kind and unit:
// the row's total, then one per wait type, then the rest.
func waitColumns(kind Kind, unit Unit, total string) []Column {
	help := map[string]string{
		"cpu":       "No wait event: running on a CPU, or in a wait the server does not report",
		"lock":      "Lock: heavyweight locks (rows, tables, transaction IDs)",
		"lwlock":    "LWLock: lightweight locks on shared memory",
		"io":        "IO: reading and writing data files and WAL",
		"ipc":       "IPC: waiting for another server process",
		"client":    "Client: waiting for the client to read or send (idle sessions' ClientRead left out)",
		"timeout":   "Timeout: sleeping (pg_sleep, vacuum cost delay, checkpoint pacing)",
		"bufferpin": "BufferPin: waiting for a buffer no other process pins",
		"extension": "Extension: waits of extensions",
	}
	cols := []Column{{Name: "sessions", Kind: kind, Unit: unit, Help: total}}
	for _, w := range waitTypes() {
		cols = append(cols, Column{Name: w.column, Kind: kind, Unit: unit, Help: help[w.column]})
	}
	return append(cols, Column{Name: "other", Kind: kind, Unit: unit, Help: "Any other wait type (InjectionPoint in 17+)"})
}

// waitSplit is the select list of a wait group over w(type, event, n),
// grouped by event and type: the row's key and name (the event as
// 'Type:Event', 'CPU' for none), its total, and the total again in the
// column of its type, 0 in the others. One row per event, so that
// summing a column over the objects gives the wait type's total, and the
// events can be ranked.
func waitSplit() string {
	var b strings.Builder
	b.WriteString(`SELECT w.event AS key,
       w.event AS name,
       NULL::text AS parent,
       NULL::timestamptz AS stats_reset,
       sum(w.n) AS sessions`)
	var known []string
	for _, t := range waitTypes() {
		fmt.Fprintf(&b, ",\n       CASE WHEN w.type = '%s' THEN sum(w.n) ELSE 0 END AS %s", t.waitType, t.column)
		known = append(known, "'"+t.waitType+"'")
	}
	fmt.Fprintf(&b, ",\n       CASE WHEN w.type NOT IN (%s) THEN sum(w.n) ELSE 0 END AS other", strings.Join(known, ", "))
	b.WriteString("\nFROM w\nGROUP BY w.event, w.type")
	return b.String()
}

func waitGroup() Group {
	return Group{
		Name: "wait",
		Help: "Client sessions running a statement, by wait event, as seen at each collection (pg_stat_activity; one row per event, 'CPU' for none)",
		// Client backends and their parallel workers in state active,
		// the monitoring session left out. The 'CPU' row is always there
		// (0 when nothing runs), so every run has a sample even when
		// nothing waits. All columns are gauges: an event seen once is
		// sampled at once (see collector.Deltas).
		Scope:   Server,
		Columns: waitColumns(Gauge, Count, "Sessions in this wait event"),
		Queries: []Query{
			{MinVersion: 120000, SQL: `
WITH w AS (
    SELECT coalesce(a.wait_event_type, 'CPU') AS type,
           coalesce(a.wait_event_type || ':' || a.wait_event, 'CPU') AS event,
           1 AS n
    FROM pg_stat_activity a
    WHERE a.state = 'active' AND a.backend_type IN ('client backend', 'parallel worker')
      AND a.pid <> pg_backend_pid()
    UNION ALL
    SELECT 'CPU', 'CPU', 0
)
` + waitSplit()},
		},
	}
}

// waitSamplingNeeds holds when pg_wait_sampling is loaded and its views
// are visible on the connection: the extension created in that database
// (the collector's first one, postgres by default) in a schema on the
// search_path.
const waitSamplingNeeds = `current_setting('shared_preload_libraries') ~ '(^|[\s,"])pg_wait_sampling([\s,"]|$)'
AND to_regclass('pg_wait_sampling_profile') IS NOT NULL`

func waitSamplingGroup() Group {
	return Group{
		Name: "wait_sampling",
		Help: "Time spent in each wait event by every server process, sampled every pg_wait_sampling.profile_period ms by pg_wait_sampling (its profile; one row per event)",
		// The profile counts samples per process, event and query since
		// the last pg_wait_sampling_reset_profile(); a count times the
		// sampling period is the time spent, so its growth per second is
		// the average number of processes in that event. Left out: the
		// Activity type (background processes idle in their main loop),
		// Client:ClientRead (sessions idle, waiting for a command) and
		// Extension:Extension (the sampler's own sleep). pg_wait_sampling
		// 1.1 samples waits only (cpu stays 0); later versions with
		// pg_wait_sampling.sample_cpu also processes on a CPU. A version
		// that evicts profile entries makes a sum go down now and then:
		// that interval is NULL, like a reset.
		Scope:   Server,
		Columns: waitColumns(Counter, Seconds, "Time spent in this wait event, all processes together"),
		Queries: []Query{
			{MinVersion: 120000, Needs: waitSamplingNeeds, SQL: `
WITH w AS (
    SELECT coalesce(p.event_type, 'CPU') AS type,
           coalesce(p.event_type || ':' || p.event, 'CPU') AS event,
           p.count * current_setting('pg_wait_sampling.profile_period')::float8 / 1000 AS n
    FROM pg_wait_sampling_profile p
    WHERE p.event_type IS DISTINCT FROM 'Activity'
      AND (p.event_type, p.event) IS DISTINCT FROM ('Client', 'ClientRead')
      AND (p.event_type, p.event) IS DISTINCT FROM ('Extension', 'Extension')
    UNION ALL
    SELECT 'CPU', 'CPU', 0
)
` + waitSplit()},
		},
	}
}

func sequenceGroup() Group {
	return Group{
		Name: "sequence",
		Help: "Per sequence of each collected database: how much of its range is used (pg_sequence, pg_sequence_last_value)",
		// last_value is only readable with SELECT or USAGE on the
		// sequence (pg_read_all_data has it): without, the values are
		// NULL, never a guess. A sequence never called yet has used
		// nothing. Temporary sequences are left out, and unlogged ones
		// on a standby, which cannot be read there. Ranges are computed
		// in numeric: a bigint sequence's range overflows bigint.
		Scope: Database,
		Columns: []Column{
			{Name: "values_used", Kind: Counter, Unit: Count, Help: "Values handed out, from MINVALUE up (MAXVALUE down for a descending sequence): its growth is the rate IDs are taken"},
			{Name: "used_ratio", Kind: Gauge, Unit: Ratio, Help: "Fraction of the sequence's range handed out: 1 is the end (NULL without the right to read it)"},
			{Name: "values_left", Kind: Gauge, Unit: Count, Help: "Values left before the sequence reaches MAXVALUE (MINVALUE descending)"},
			{Name: "cycles", Kind: Gauge, Unit: Boolean, Help: "1 when the sequence starts over at its end (CYCLE) instead of failing"},
		},
		Queries: []Query{
			{MinVersion: 120000, SQL: `
SELECT c.oid::text AS key,
       format('%I.%I', n.nspname, c.relname) AS name,
       NULL::text AS parent,
       NULL::timestamptz AS stats_reset,
       u.used::float8 AS values_used,
       (u.used / u.size)::float8 AS used_ratio,
       (u.size - u.used)::float8 AS values_left,
       s.seqcycle::int AS cycles
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (
    SELECT CASE WHEN has_sequence_privilege(c.oid, 'SELECT,USAGE')
                     AND NOT (c.relpersistence = 'u' AND pg_is_in_recovery())
                THEN coalesce(pg_sequence_last_value(c.oid)::numeric, s.seqstart::numeric - s.seqincrement)
           END AS last
) l
CROSS JOIN LATERAL (
    SELECT CASE WHEN d.used < 0 THEN 0 ELSE d.used END AS used, d.size
    FROM (SELECT CASE WHEN s.seqincrement > 0 THEN l.last - s.seqmin + 1 ELSE s.seqmax - l.last + 1 END AS used,
                 s.seqmax::numeric - s.seqmin + 1 AS size) d
) u
WHERE c.relpersistence <> 't'`},
		},
	}
}

func functionGroup() Group {
	return Group{
		Name: "function",
		Help: "Per user function of each collected database that was called: calls and time (pg_stat_user_functions; needs track_functions = pl or all)",
		// The name carries the argument types, so overloaded functions
		// stay apart. SQL functions that the planner inlines are never
		// called, so never counted. stats_reset is the database's.
		Scope: Database,
		Columns: []Column{
			{Name: "calls", Kind: Counter, Unit: Count, Help: "Calls"},
			{Name: "total_time", Kind: Counter, Unit: Milliseconds, Help: "Time in the function and the functions it called"},
			{Name: "self_time", Kind: Counter, Unit: Milliseconds, Help: "Time in the function itself"},
		},
		Queries: []Query{
			{MinVersion: 120000, SQL: `
SELECT f.funcid::text AS key,
       format('%I.%I(%s)', f.schemaname, f.funcname, pg_get_function_identity_arguments(f.funcid)) AS name,
       NULL::text AS parent,
       r.stats_reset,
       f.calls, f.total_time, f.self_time
FROM pg_stat_user_functions f
CROSS JOIN ` + dbStatsReset},
		},
	}
}

func ioGroup() Group {
	c := func(name string, unit Unit, help string) Column {
		return Column{Name: name, Kind: Counter, Unit: unit, Help: help}
	}
	// One select list for every version: 16 and 17 give sizes as
	// op_bytes per operation, 18 as bytes.
	sql := func(readBytes, writeBytes, extendBytes string) string {
		return `
SELECT io.backend_type || '/' || io.object || '/' || io.context AS key,
       io.backend_type || '/' || io.object || '/' || io.context AS name,
       NULL::text AS parent,
       io.stats_reset,
       io.reads, ` + readBytes + ` AS read_bytes, io.read_time,
       io.writes, ` + writeBytes + ` AS write_bytes, io.write_time,
       io.writebacks, io.writeback_time,
       io.extends, ` + extendBytes + ` AS extend_bytes, io.extend_time,
       io.hits, io.evictions, io.reuses, io.fsyncs, io.fsync_time
FROM pg_stat_io io
WHERE coalesce(io.reads, 0) + coalesce(io.writes, 0) + coalesce(io.writebacks, 0) + coalesce(io.extends, 0)
    + coalesce(io.hits, 0) + coalesce(io.evictions, 0) + coalesce(io.reuses, 0) + coalesce(io.fsyncs, 0) > 0`
	}
	return Group{
		Name: "io",
		Help: "I/O by backend type, object and context, 16+ (pg_stat_io; one row per combination that did any)",
		// The key is backend_type/object/context ("client
		// backend/relation/normal"). Combinations that never did any I/O
		// are left out; one that starts is primed by its first run. The
		// times need track_io_timing (track_wal_io_timing for WAL rows,
		// 18+).
		Scope: Server,
		Columns: []Column{
			c("reads", Count, "Read operations"),
			c("read_bytes", Bytes, "Bytes read"),
			c("read_time", Milliseconds, "Time reading (needs track_io_timing)"),
			c("writes", Count, "Write operations"),
			c("write_bytes", Bytes, "Bytes written"),
			c("write_time", Milliseconds, "Time writing (needs track_io_timing)"),
			c("writebacks", Count, "Requests to the kernel to write back to storage"),
			c("writeback_time", Milliseconds, "Time in writeback requests (needs track_io_timing)"),
			c("extends", Count, "Relation extend operations"),
			c("extend_bytes", Bytes, "Bytes added by extends"),
			c("extend_time", Milliseconds, "Time extending (needs track_io_timing)"),
			c("hits", Count, "Blocks found in shared buffers"),
			c("evictions", Count, "Buffers evicted to make room"),
			c("reuses", Count, "Ring buffers reused (bulk reads and writes, vacuum)"),
			c("fsyncs", Count, "fsync calls"),
			c("fsync_time", Milliseconds, "Time in fsync (needs track_io_timing)"),
		},
		Queries: []Query{
			{MinVersion: 160000, SQL: sql("io.reads * io.op_bytes", "io.writes * io.op_bytes", "io.extends * io.op_bytes")},
			{MinVersion: 180000, SQL: sql("io.read_bytes", "io.write_bytes", "io.extend_bytes")},
		},
	}
}

func vacuumGroup() Group {
	// One select list for every version: 17 renamed the dead tuples
	// (now item IDs) and added the index counts, 18 the cost delay time.
	sql := func(deadItems, indexesTotal, indexesProcessed, delayTime string) string {
		return `
SELECT p.relid::text AS key,
       coalesce(format('%I.%I', n.nspname, c.relname), p.relid::text) AS name,
       NULL::text AS parent,
       NULL::timestamptz AS stats_reset,
       1 AS running,
       (a.backend_type = 'autovacuum worker')::int AS autovacuum,
       CASE p.phase
           WHEN 'initializing' THEN 1
           WHEN 'scanning heap' THEN 2
           WHEN 'vacuuming indexes' THEN 3
           WHEN 'vacuuming heap' THEN 4
           WHEN 'cleaning up indexes' THEN 5
           WHEN 'truncating heap' THEN 6
           WHEN 'performing final cleanup' THEN 7
       END AS phase,
       p.heap_blks_total, p.heap_blks_scanned, p.heap_blks_vacuumed,
       p.heap_blks_scanned::float8 / nullif(p.heap_blks_total, 0) AS scanned_ratio,
       p.index_vacuum_count,
       ` + deadItems + ` AS dead_items,
       ` + indexesTotal + ` AS indexes_total,
       ` + indexesProcessed + ` AS indexes_processed,
       ` + delayTime + ` AS delay_time,
       greatest(extract(epoch FROM now() - a.xact_start), 0) AS duration
FROM pg_stat_progress_vacuum p
LEFT JOIN pg_stat_activity a ON a.pid = p.pid
LEFT JOIN pg_class c ON c.oid = p.relid
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE p.datname = current_database()`
	}
	return Group{
		Name: "vacuum",
		Help: "Per table of each collected database being vacuumed at the collection: phase and progress (pg_stat_progress_vacuum)",
		// The key is the table's OID, as in the table group, so the
		// table page finds it by name. Every column is a gauge: a
		// vacuum seen once is sampled at once (see collector.Deltas);
		// a table not being vacuumed has no row. VACUUM FULL shows in
		// pg_stat_progress_cluster instead, and is not here. Each table
		// a VACUUM processes is a transaction of its own, so duration
		// is the time spent on this table.
		Scope: Database,
		Columns: []Column{
			{Name: "running", Kind: Gauge, Unit: Count, Help: "1: a vacuum of the table is running"},
			{Name: "autovacuum", Kind: Gauge, Unit: Boolean, Help: "1 when autovacuum runs it"},
			{Name: "phase", Kind: Gauge, Unit: Count, Help: "Phase: 1 initializing, 2 scanning heap, 3 vacuuming indexes, 4 vacuuming heap, 5 cleaning up indexes, 6 truncating heap, 7 performing final cleanup"},
			{Name: "heap_blks_total", Kind: Gauge, Unit: Blocks, Help: "Table blocks to scan"},
			{Name: "heap_blks_scanned", Kind: Gauge, Unit: Blocks, Help: "Table blocks scanned"},
			{Name: "heap_blks_vacuumed", Kind: Gauge, Unit: Blocks, Help: "Table blocks vacuumed"},
			{Name: "scanned_ratio", Kind: Gauge, Unit: Ratio, Help: "Share of the table's blocks scanned"},
			{Name: "index_vacuum_count", Kind: Gauge, Unit: Count, Help: "Rounds of index vacuuming done (more than one: maintenance_work_mem ran out)"},
			{Name: "dead_items", Kind: Gauge, Unit: Count, Help: "Dead tuples (17+: item IDs) collected since the last index round"},
			{Name: "indexes_total", Kind: Gauge, Unit: Count, Help: "Indexes to vacuum or clean up in this phase (17+)"},
			{Name: "indexes_processed", Kind: Gauge, Unit: Count, Help: "Indexes done in this phase (17+)"},
			{Name: "delay_time", Kind: Gauge, Unit: Milliseconds, Help: "Time slept for vacuum cost delay (18+, needs track_cost_delay_timing)"},
			{Name: "duration", Kind: Gauge, Unit: Seconds, Help: "Time since the vacuum of this table started"},
		},
		Queries: []Query{
			{MinVersion: 120000, SQL: sql("p.num_dead_tuples", "NULL::float8", "NULL::float8", "NULL::float8")},
			{MinVersion: 170000, SQL: sql("p.num_dead_item_ids", "p.indexes_total", "p.indexes_processed", "NULL::float8")},
			{MinVersion: 180000, SQL: sql("p.num_dead_item_ids", "p.indexes_total", "p.indexes_processed", "p.delay_time")},
		},
	}
}

func conflictGroup() Group {
	sql := func(logicalSlot string) string {
		return `
SELECT c.datid::text AS key,
       c.datname::text AS name,
       NULL::text AS parent,
       d.stats_reset,
       c.confl_tablespace, c.confl_lock, c.confl_snapshot, c.confl_bufferpin, c.confl_deadlock,
       ` + logicalSlot + ` AS confl_active_logicalslot
FROM pg_stat_database_conflicts c
JOIN pg_stat_database d ON d.datid = c.datid
WHERE pg_is_in_recovery()`
	}
	return Group{
		Name: "conflicts",
		Help: "Per database of a standby (none on a primary): queries cancelled because replaying the primary's WAL needed what they held, by cause (pg_stat_database_conflicts)",
		// Only a standby has rows: on a primary the counts are always
		// zero (the database group's conflicts says as much). stats_reset
		// is the database's: pg_stat_reset() resets both views.
		Scope: Server,
		Columns: []Column{
			{Name: "confl_tablespace", Kind: Counter, Unit: Count, Help: "A dropped tablespace was in use"},
			{Name: "confl_lock", Kind: Counter, Unit: Count, Help: "A lock the replay needed was held (lock waits past max_standby_streaming_delay)"},
			{Name: "confl_snapshot", Kind: Counter, Unit: Count, Help: "A snapshot still saw rows VACUUM removed on the primary"},
			{Name: "confl_bufferpin", Kind: Counter, Unit: Count, Help: "A buffer the replay needed was pinned"},
			{Name: "confl_deadlock", Kind: Counter, Unit: Count, Help: "A deadlock with the replay"},
			{Name: "confl_active_logicalslot", Kind: Counter, Unit: Count, Help: "A logical slot in use was invalidated (16+)"},
		},
		Queries: []Query{
			{MinVersion: 120000, SQL: sql("NULL::float8")},
			{MinVersion: 160000, SQL: sql("c.confl_active_logicalslot")},
		},
	}
}

func walReceiverGroup() Group {
	sql := func(received string) string {
		return `
SELECT ''::text AS key,
       coalesce(r.sender_host || ':' || r.sender_port, 'wal receiver') AS name,
       NULL::text AS parent,
       NULL::timestamptz AS stats_reset,
       (r.status = 'streaming')::int AS streaming,
       pg_wal_lsn_diff(` + received + `, '0/0') AS received_bytes,
       greatest(extract(epoch FROM now() - r.last_msg_receipt_time), 0) AS last_message_age
FROM pg_stat_wal_receiver r`
	}
	return Group{
		Name: "wal_receiver",
		Help: "On a standby: the WAL receiver streaming from the primary (pg_stat_wal_receiver; one row, key '', none on a primary)",
		// received_bytes is the position received and flushed: its
		// growth is the WAL received. 13 renamed received_lsn to
		// flushed_lsn.
		Scope: Server,
		Columns: []Column{
			{Name: "received_bytes", Kind: Counter, Unit: Bytes, Help: "WAL position received and flushed: its growth is the WAL received"},
			{Name: "streaming", Kind: Gauge, Unit: Boolean, Help: "1 while streaming"},
			{Name: "last_message_age", Kind: Gauge, Unit: Seconds, Help: "Time since the last message from the primary"},
		},
		Queries: []Query{
			{MinVersion: 120000, SQL: sql("r.received_lsn")},
			{MinVersion: 130000, SQL: sql("r.flushed_lsn")},
		},
	}
}

func subscriptionGroup() Group {
	// The kinds of worker by version: 12 to 15 tell them by relid (a
	// table being synchronised), 16 adds parallel apply workers (with a
	// leader_pid), 17 names them in worker_type.
	type workers struct{ apply, sync, parallel string }
	before16 := workers{"w.relid IS NULL", "w.relid IS NOT NULL", "false"}
	from16 := workers{"w.relid IS NULL AND w.leader_pid IS NULL", "w.relid IS NOT NULL", "w.leader_pid IS NOT NULL"}
	from17 := workers{"w.worker_type = 'apply'", "w.worker_type = 'table synchronization'", "w.worker_type = 'parallel apply'"}
	const (
		noStats   = "NULL::timestamptz AS stats_reset, NULL::float8 AS apply_error_count, NULL::float8 AS sync_error_count"
		stats     = "e.stats_reset, e.apply_error_count, e.sync_error_count"
		noConfl   = "NULL::float8"
		conflicts = "e.confl_insert_exists + e.confl_update_origin_differs + e.confl_update_exists + e.confl_update_missing + e.confl_delete_origin_differs + e.confl_delete_missing + e.confl_multiple_unique_conflicts"
		statsJoin = "\nLEFT JOIN pg_stat_subscription_stats e ON e.subid = s.subid"
	)
	sql := func(k workers, errors, conflicts, join string) string {
		return `
SELECT s.subid::text AS key,
       s.subname::text AS name,
       NULL::text AS parent,
       ` + errors + `,
       ` + conflicts + ` AS conflicts,
       s.apply_running, s.sync_workers, s.parallel_workers, s.received_bytes, s.last_message_age
FROM (
    SELECT w.subid, w.subname,
           count(w.pid) FILTER (WHERE ` + k.apply + `) AS apply_running,
           count(w.pid) FILTER (WHERE ` + k.sync + `) AS sync_workers,
           count(w.pid) FILTER (WHERE ` + k.parallel + `) AS parallel_workers,
           max(pg_wal_lsn_diff(w.received_lsn, '0/0')) FILTER (WHERE ` + k.apply + `) AS received_bytes,
           min(greatest(extract(epoch FROM now() - w.last_msg_receipt_time), 0)) FILTER (WHERE ` + k.apply + `) AS last_message_age
    FROM pg_stat_subscription w
    GROUP BY w.subid, w.subname
) s` + join
	}
	return Group{
		Name: "subscription",
		Help: "Per subscription of the server (logical replication, subscriber side): workers, WAL received, errors (pg_stat_subscription, pg_stat_subscription_stats from 15)",
		// One row per subscription, a worker or not. received_bytes is
		// the publisher's WAL position the apply worker has received; a
		// restarted worker may start a little back, which reads as a
		// reset.
		Scope: Server,
		Columns: []Column{
			{Name: "received_bytes", Kind: Counter, Unit: Bytes, Help: "Publisher WAL position received by the apply worker: its growth is the WAL received"},
			{Name: "apply_error_count", Kind: Counter, Unit: Count, Help: "Errors applying changes (15+)"},
			{Name: "sync_error_count", Kind: Counter, Unit: Count, Help: "Errors in the initial copy of a table (15+)"},
			{Name: "conflicts", Kind: Counter, Unit: Count, Help: "Conflicts met applying changes, all kinds (18+)"},
			{Name: "apply_running", Kind: Gauge, Unit: Boolean, Help: "1 while the apply worker runs"},
			{Name: "sync_workers", Kind: Gauge, Unit: Count, Help: "Workers copying a table's initial data"},
			{Name: "parallel_workers", Kind: Gauge, Unit: Count, Help: "Parallel apply workers (16+)"},
			{Name: "last_message_age", Kind: Gauge, Unit: Seconds, Help: "Time since the apply worker's last message from the publisher"},
		},
		Queries: []Query{
			{MinVersion: 120000, SQL: sql(before16, noStats, noConfl, "")},
			{MinVersion: 150000, SQL: sql(before16, stats, noConfl, statsJoin)},
			{MinVersion: 160000, SQL: sql(from16, stats, noConfl, statsJoin)},
			{MinVersion: 170000, SQL: sql(from17, stats, noConfl, statsJoin)},
			{MinVersion: 180000, SQL: sql(from17, stats, conflicts, statsJoin)},
		},
	}
}

func slruGroup() Group {
	sql := func(name string) string {
		return `
SELECT ` + name + ` AS key,
       ` + name + ` AS name,
       NULL::text AS parent,
       s.stats_reset,
       s.blks_zeroed, s.blks_hit, s.blks_read, s.blks_written, s.blks_exists, s.flushes, s.truncates
FROM pg_stat_slru s`
	}
	return Group{
		Name: "slru",
		Help: "Per SLRU cache (transaction status, subtransactions, multixacts, commit timestamps, notify, serializable), 13+ (pg_stat_slru)",
		// Keys are 17's names (transaction, subtransaction,
		// multixact_offset…): 13 to 16 name the caches Xact, Subtrans,
		// MultiXactOffset…, mapped here so that an upgrade keeps each
		// cache's history.
		Scope: Server,
		Columns: []Column{
			{Name: "blks_zeroed", Kind: Counter, Unit: Blocks, Help: "Pages zeroed to start them"},
			{Name: "blks_hit", Kind: Counter, Unit: Blocks, Help: "Pages found in the cache"},
			{Name: "blks_read", Kind: Counter, Unit: Blocks, Help: "Pages read from disk (or the OS cache)"},
			{Name: "blks_written", Kind: Counter, Unit: Blocks, Help: "Pages written"},
			{Name: "blks_exists", Kind: Counter, Unit: Blocks, Help: "Pages checked for existence"},
			{Name: "flushes", Kind: Counter, Unit: Count, Help: "Flushes of dirty pages"},
			{Name: "truncates", Kind: Counter, Unit: Count, Help: "Truncations"},
		},
		Queries: []Query{
			{MinVersion: 130000, SQL: sql(`CASE s.name
           WHEN 'Xact' THEN 'transaction'
           WHEN 'Subtrans' THEN 'subtransaction'
           WHEN 'MultiXactOffset' THEN 'multixact_offset'
           WHEN 'MultiXactMember' THEN 'multixact_member'
           WHEN 'CommitTs' THEN 'commit_timestamp'
           WHEN 'Notify' THEN 'notify'
           WHEN 'Serial' THEN 'serializable'
           ELSE s.name::text
       END`)},
			{MinVersion: 170000, SQL: sql("s.name::text")},
		},
	}
}
