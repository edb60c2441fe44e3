-- Emulated statistics views of PostgreSQL versions the rig lacks (only 15
-- is packaged here), for TestMetricSQL: one schema per server_version_num,
-- each holding every view the metric queries read whose columns differ
-- from 15's (14 differs in none of them, so it needs no schema). A connection whose search_path is
-- "pgNNNNNN, pg_catalog" then sees that version's columns, so the query
-- Group.SQL picks for NNNNNN runs with its real column names and types.
-- Column lists follow the PostgreSQL documentation of each release
-- (monitoring.sgml, "Viewing Statistics"); values are made up, and chosen
-- so the test can check the mapping (see wantEmulated in metrics_test.go).

CREATE SCHEMA pg120000;
CREATE SCHEMA pg130000;
CREATE SCHEMA pg160000;
CREATE SCHEMA pg170000;
CREATE SCHEMA pg180000;

-- 12: older column lists of the views whose later columns a query for
-- 12 must not use: pg_stat_database (session columns came in 14),
-- pg_stat_activity (leader_pid 13, query_id 14), pg_locks (waitstart 14),
-- pg_replication_slots (wal_status and safe_wal_size 13, two_phase 14),
-- pg_stat_*_tables (n_ins_since_vacuum 13). pg_stat_wal (14) did not
-- exist: its stand-in has no statistics column at all.
CREATE VIEW pg120000.pg_stat_database AS
SELECT datid, datname, numbackends, xact_commit, xact_rollback, blks_read, blks_hit,
       tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted,
       conflicts, temp_files, temp_bytes, deadlocks,
       checksum_failures, checksum_last_failure, blk_read_time, blk_write_time, stats_reset
FROM pg_catalog.pg_stat_database;

CREATE VIEW pg120000.pg_stat_activity AS
SELECT datid, datname, pid, usesysid, usename, application_name,
       client_addr, client_hostname, client_port, backend_start, xact_start, query_start,
       state_change, wait_event_type, wait_event, state, backend_xid, backend_xmin,
       query, backend_type
FROM pg_catalog.pg_stat_activity;

CREATE VIEW pg120000.pg_locks AS
SELECT locktype, database, relation, page, tuple, virtualxid, transactionid,
       classid, objid, objsubid, virtualtransaction, pid, mode, granted, fastpath
FROM pg_catalog.pg_locks;

CREATE VIEW pg120000.pg_replication_slots AS
SELECT slot_name, plugin, slot_type, datoid, database, temporary, active, active_pid,
       xmin, catalog_xmin, restart_lsn, confirmed_flush_lsn
FROM pg_catalog.pg_replication_slots;

CREATE VIEW pg120000.pg_stat_user_tables AS
SELECT relid, schemaname, relname, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch,
       n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd, n_live_tup, n_dead_tup, n_mod_since_analyze,
       last_vacuum, last_autovacuum, last_analyze, last_autoanalyze,
       vacuum_count, autovacuum_count, analyze_count, autoanalyze_count
FROM pg_catalog.pg_stat_user_tables;

CREATE VIEW pg120000.pg_stat_wal AS SELECT 'no pg_stat_wal before 14'::text AS missing;

-- 13: as 12, with pg_stat_activity.leader_pid, pg_replication_slots'
-- wal_status and safe_wal_size, pg_stat_*_tables.n_ins_since_vacuum.
CREATE VIEW pg130000.pg_stat_database AS SELECT * FROM pg120000.pg_stat_database;

CREATE VIEW pg130000.pg_stat_activity AS
SELECT datid, datname, pid, leader_pid, usesysid, usename, application_name,
       client_addr, client_hostname, client_port, backend_start, xact_start, query_start,
       state_change, wait_event_type, wait_event, state, backend_xid, backend_xmin,
       query, backend_type
FROM pg_catalog.pg_stat_activity;

CREATE VIEW pg130000.pg_locks AS SELECT * FROM pg120000.pg_locks;

CREATE VIEW pg130000.pg_replication_slots AS
SELECT slot_name, plugin, slot_type, datoid, database, temporary, active, active_pid,
       xmin, catalog_xmin, restart_lsn, confirmed_flush_lsn, wal_status, safe_wal_size
FROM pg_catalog.pg_replication_slots;

CREATE VIEW pg130000.pg_stat_user_tables AS
SELECT relid, schemaname, relname, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch,
       n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd, n_live_tup, n_dead_tup,
       n_mod_since_analyze, n_ins_since_vacuum,
       last_vacuum, last_autovacuum, last_analyze, last_autoanalyze,
       vacuum_count, autovacuum_count, analyze_count, autoanalyze_count
FROM pg_catalog.pg_stat_user_tables;

CREATE VIEW pg130000.pg_stat_wal AS SELECT * FROM pg120000.pg_stat_wal;

-- 16: pg_stat_*_tables gained last_seq_scan, last_idx_scan and
-- n_tup_newpage_upd; pg_stat_io is new.
CREATE VIEW pg160000.pg_stat_user_tables AS
SELECT relid, schemaname, relname,
       seq_scan, NULL::timestamptz AS last_seq_scan, seq_tup_read,
       idx_scan, NULL::timestamptz AS last_idx_scan, idx_tup_fetch,
       n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd,
       4::bigint AS n_tup_newpage_upd,
       n_live_tup, n_dead_tup, n_mod_since_analyze, n_ins_since_vacuum,
       last_vacuum, last_autovacuum, last_analyze, last_autoanalyze,
       vacuum_count, autovacuum_count, analyze_count, autoanalyze_count
FROM pg_catalog.pg_stat_user_tables;

CREATE VIEW pg160000.pg_stat_io AS
SELECT backend_type::text, object::text, context::text,
       reads::bigint, read_time::float8, writes::bigint, write_time::float8,
       writebacks::bigint, writeback_time::float8, extends::bigint, extend_time::float8,
       8192::bigint AS op_bytes,
       hits::bigint, evictions::bigint, reuses::bigint,
       fsyncs::bigint, fsync_time::float8, stats_reset::timestamptz
FROM (VALUES
    ('client backend', 'relation', 'normal', 1, 0, 7, 0, 0, 0, 2, 0, 9, 1, NULL, 1, 0, '2031-02-03 00:00:00+00'),
    ('client backend', 'relation', 'bulkwrite', 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, '2031-02-03 00:00:00+00'),
    ('autovacuum worker', 'relation', 'vacuum', 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, '2031-02-03 00:00:00+00'),
    ('client backend', 'temp relation', 'normal', 0, 0, 1000, 0, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL, '2031-02-03 00:00:00+00'),
    ('checkpointer', 'relation', 'normal', NULL, NULL, 100, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, 50, 0, '2031-02-03 00:00:00+00'),
    ('background writer', 'relation', 'normal', NULL, NULL, 20, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, 0, 0, '2031-02-03 00:00:00+00'),
    ('standalone backend', 'relation', 'normal', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, 0, 0, '2031-02-03 00:00:00+00')
) AS v(backend_type, object, context, reads, read_time, writes, write_time,
       writebacks, writeback_time, extends, extend_time, hits, evictions, reuses,
       fsyncs, fsync_time, stats_reset);

-- 17: pg_stat_bgwriter lost the checkpoint and backend columns, which
-- moved to the new pg_stat_checkpointer and to pg_stat_io.
CREATE VIEW pg170000.pg_stat_user_tables AS SELECT * FROM pg160000.pg_stat_user_tables;
CREATE VIEW pg170000.pg_stat_io AS SELECT * FROM pg160000.pg_stat_io;

CREATE VIEW pg170000.pg_stat_bgwriter AS
SELECT buffers_clean, maxwritten_clean, buffers_alloc, stats_reset
FROM pg_catalog.pg_stat_bgwriter;

CREATE VIEW pg170000.pg_stat_checkpointer AS
SELECT 11::bigint AS num_timed, 12::bigint AS num_requested,
       0::bigint AS restartpoints_timed, 0::bigint AS restartpoints_req, 0::bigint AS restartpoints_done,
       13.5::float8 AS write_time, 14.5::float8 AS sync_time,
       15::bigint AS buffers_written,
       '2030-01-01 00:00:00+00'::timestamptz AS stats_reset;

-- 17: pg_stat_progress_vacuum counts dead item IDs (and their bytes)
-- instead of dead tuples, and the indexes of the phase; a made-up vacuum
-- of table counted, run by the querying session.
CREATE VIEW pg170000.pg_stat_progress_vacuum AS
SELECT pg_backend_pid() AS pid, d.oid AS datid, d.datname, 'counted'::regclass::oid AS relid,
       'vacuuming indexes'::text AS phase,
       100::bigint AS heap_blks_total, 50::bigint AS heap_blks_scanned, 25::bigint AS heap_blks_vacuumed,
       1::bigint AS index_vacuum_count,
       65536::bigint AS max_dead_tuple_bytes, 1024::bigint AS dead_tuple_bytes, 7::bigint AS num_dead_item_ids,
       2::bigint AS indexes_total, 1::bigint AS indexes_processed
FROM pg_catalog.pg_database d
WHERE d.datname = current_database();

-- 18: pg_stat_wal lost wal_write, wal_sync, wal_write_time and
-- wal_sync_time; pg_stat_*_tables gained the total_*_time columns;
-- pg_stat_checkpointer gained num_done and slru_written; pg_stat_io lost
-- op_bytes and gained read_bytes, write_bytes and extend_bytes.
CREATE VIEW pg180000.pg_stat_user_tables AS
SELECT t.*,
       1.5::float8 AS total_vacuum_time, 2.5::float8 AS total_autovacuum_time,
       3.5::float8 AS total_analyze_time, 4.5::float8 AS total_autoanalyze_time
FROM pg160000.pg_stat_user_tables t;

CREATE VIEW pg180000.pg_stat_io AS
SELECT backend_type, object, context,
       reads, reads * 8192 AS read_bytes, read_time,
       writes, writes * 8192 AS write_bytes, write_time,
       writebacks, writeback_time,
       extends, extends * 8192 AS extend_bytes, extend_time,
       hits, evictions, reuses, fsyncs, fsync_time, stats_reset
FROM pg160000.pg_stat_io;

CREATE VIEW pg180000.pg_stat_bgwriter AS SELECT * FROM pg170000.pg_stat_bgwriter;

CREATE VIEW pg180000.pg_stat_progress_vacuum AS
SELECT v.*, 3.5::float8 AS delay_time FROM pg170000.pg_stat_progress_vacuum v;

CREATE VIEW pg180000.pg_stat_checkpointer AS
SELECT num_timed, num_requested, 10::bigint AS num_done,
       restartpoints_timed, restartpoints_req, restartpoints_done,
       write_time, sync_time, buffers_written, 0::bigint AS slru_written, stats_reset
FROM pg170000.pg_stat_checkpointer;

CREATE VIEW pg180000.pg_stat_wal AS
SELECT wal_records, wal_fpi, wal_bytes, wal_buffers_full, stats_reset
FROM pg_catalog.pg_stat_wal;

GRANT USAGE ON SCHEMA pg120000, pg130000, pg160000, pg170000, pg180000 TO pg_monitor;
GRANT SELECT ON ALL TABLES IN SCHEMA pg120000, pg130000, pg160000, pg170000, pg180000 TO pg_monitor;
