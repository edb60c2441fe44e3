// Package store is all the SQL pggraph runs against its central
// PostgreSQL: the samples database ("pggraph", or [local] database),
// pggraph_clients and pggraph_users. It sets them up (Setup, with the
// versioned files of package schema in sql/), implements the collector's
// metric.Store and metric.Tx, creates each client's tables
// (EnsureClient) and keeps the clients table (RegisterClient, RecordRun,
// ListClients, RemoveClient).
//
// The central server must be PostgreSQL 14 or later (date_bin, lz4).
//
// # Roles and databases
//
// Role pggraph owns the three databases and every table in them; the
// collector and the installer connect as pggraph. Role pggraph_web (the
// CGI and Apache) may read every table pggraph creates in the samples
// database, now or later (ALTER DEFAULT PRIVILEGES FOR ROLE pggraph), the
// clients table and client_users, and may append to client_access_log.
// Tables created by another user than pggraph are not readable by
// pggraph_web: connect the collector as pggraph.
//
// # A client's tables
//
// In the samples database, in the first schema of the search_path
// (public), named <prefix>_…, where prefix follows metric.PrefixRule:
//
//	<prefix>_object   id serial PRIMARY KEY, grp text, dbid oid, key text,
//	                  name text, parent text, first_seen, last_seen timestamptz,
//	                  UNIQUE (grp, dbid, key)
//	<prefix>_state    id int PRIMARY KEY CHECK (id = 1), taken timestamptz,
//	                  snapshot bytea
//	per group G, with columns c1, c2, … (double precision):
//	<prefix>_G        ts timestamptz, object int, seconds float8, c1, c2, …
//	                  PRIMARY KEY (object, ts), BRIN (ts)
//	<prefix>_G_hour   ts, object, seconds, n int, c1, c1_min, c1_max, c2, …
//	<prefix>_G_day    PRIMARY KEY (object, ts), BRIN (ts)
//
// Objects. An object (a server, database, table, index…) is identified by
// its group, database OID (0 for server-wide groups) and key (the
// collector's identity, normally an OID as text), so a rename keeps its
// history; name and parent follow the latest run ("" is stored as NULL).
// Sample and rollup rows refer to it by id. first_seen and last_seen are
// the first and last run that saw it; an object not seen for longer than
// every retention is deleted with its last rows. Write reads the ids of
// the run's objects in one query, inserts only new ones, renames only
// renamed ones and sets last_seen of the rest in one UPDATE. Keys, names
// and parents are stored as valid UTF-8 (invalid bytes become U+FFFD).
//
// Samples. A raw row is one object's sample of one run: ts is the run's
// snapshot time (metric.Snapshot.Taken, the end of the interval),
// seconds the interval's length, and each column the counter's growth over
// the interval or the gauge's value. NULL is the collector's NaN: no value,
// or a counter reset in the interval (a gap in the graph).
//
// State. The snapshot the next run starts from, as JSON (see state.go):
// NaN is written as null and read back as NaN, ±Inf as "Infinity" and
// "-Infinity", numbers with the fewest digits that read back exactly. The
// column is lz4-compressed where the server has lz4, else stored
// uncompressed (pglz costs more than it saves on megabytes per run).
//
// Ownership mark. Every client table carries COMMENT 'pggraph client
// <prefix>: …'. Prefixes may contain "_", so client "a" with group "b_c"
// and client "a_b" with group "c" would both want a_b_c: EnsureClient
// refuses a table of one of its names that does not carry its mark, and
// client remove drops exactly the tables that carry it.
//
// # Rollups
//
// Buckets are UTC hours and UTC days (date_bin from a UTC midnight),
// keyed by their start; a sample falls in the bucket of its ts. In a rollup row, n is the number of samples
// and seconds the sum of the intervals of the samples with at least one
// non-NULL counter (of all samples, for a group without counters), so
// that sum / seconds is the average rate. Per column c:
//
//	counter: c = sum of the deltas; c_min, c_max = lowest and highest
//	         per-second rate of one sample (delta / seconds)
//	gauge:   c = average; c_min, c_max = lowest and highest value
//
// A daily row is computed from the day's hourly rows: sums of c, seconds
// and n, min of c_min, max of c_max, and for a gauge the hours' averages
// weighted by n. Tx.Maintain recomputes, in each run, the hourly buckets
// of the run's samples (and the previous hour when the last run was in
// it) from raw; when the run is the first of a new hour, it also
// recomputes the days from the previous run's to this one from hourly, so
// a daily row lags by an hour at most. Both use INSERT … SELECT … GROUP
// BY … ON CONFLICT DO UPDATE: recomputing is idempotent, so a bucket is
// right however often it is done. Store.Rebuild does the same over any
// range.
//
// # Retention
//
// Maintain deletes raw rows older than Retention.Raw (35 days by
// default), hourly rows older than Retention.Hourly (100 days) and daily
// rows older than Retention.Daily (5 years), counted back from the run's
// time. The cut-off is rounded down to a whole UTC hour for raw rows and a
// whole UTC day for rollups, so every bucket that remains is complete and
// Rebuild over any range gives what the runs gave.
//
// # Locks
//
// A run holds the client's session-level advisory lock (pggraph's class,
// hashtext(prefix)) in the samples database (Store.Lock). EnsureClient's
// DDL and Setup's migrations take transaction-level advisory locks of
// the same class, so concurrent installers and collectors do not race.
package store
