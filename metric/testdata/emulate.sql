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

-- 12's WAL receiver (received_lsn, renamed flushed_lsn in 13), streaming
-- from "primary" on this emulated standby.
CREATE VIEW pg120000.pg_stat_wal_receiver AS
SELECT 4321 AS pid, 'streaming'::text AS status, '0/1000'::pg_lsn AS receive_start_lsn, 1 AS receive_start_tli,
       '0/3000'::pg_lsn AS received_lsn, 1 AS received_tli,
       now() - interval '2 s' AS last_msg_send_time, now() - interval '1 s' AS last_msg_receipt_time,
       '0/3000'::pg_lsn AS latest_end_lsn, now() - interval '1 s' AS latest_end_time,
       NULL::text AS slot_name, 'primary'::text AS sender_host, 5432 AS sender_port, ''::text AS conninfo;

-- Subscriptions of 12 to 15: sub_a with its apply worker and a table
-- being synchronised, sub_b with no worker.
CREATE VIEW pg120000.pg_stat_subscription AS
SELECT subid::oid, subname::name, pid::int, relid::oid, received_lsn::pg_lsn,
       last_msg_send_time::timestamptz, last_msg_receipt_time::timestamptz,
       latest_end_lsn::pg_lsn, latest_end_time::timestamptz
FROM (VALUES
    (9001, 'sub_a', 11, NULL, '0/2000', now(), now() - interval '3 s', '0/2000', now()),
    (9001, 'sub_a', 13, 1234, NULL, NULL, NULL, NULL, NULL),
    (9002, 'sub_b', NULL, NULL, NULL, NULL, NULL, NULL, NULL)
) AS v(subid, subname, pid, relid, received_lsn, last_msg_send_time, last_msg_receipt_time, latest_end_lsn, latest_end_time);

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

CREATE VIEW pg130000.pg_stat_subscription AS SELECT * FROM pg120000.pg_stat_subscription;

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

-- 16: pg_stat_database_conflicts gained confl_active_logicalslot;
-- pg_stat_subscription gained leader_pid: sub_a has a parallel apply
-- worker too.
CREATE VIEW pg160000.pg_stat_database_conflicts AS
SELECT c.*, 0::bigint AS confl_active_logicalslot FROM pg_catalog.pg_stat_database_conflicts c;

CREATE VIEW pg160000.pg_stat_subscription AS
SELECT s.subid, s.subname, s.pid, NULL::int AS leader_pid, s.relid, s.received_lsn,
       s.last_msg_send_time, s.last_msg_receipt_time, s.latest_end_lsn, s.latest_end_time
FROM pg120000.pg_stat_subscription s
UNION ALL
SELECT 9001, 'sub_a', 12, 11, NULL, NULL, NULL, NULL, NULL, NULL;

-- 17: pg_stat_bgwriter lost the checkpoint and backend columns, which
-- moved to the new pg_stat_checkpointer and to pg_stat_io.
CREATE VIEW pg170000.pg_stat_user_tables AS SELECT * FROM pg160000.pg_stat_user_tables;
CREATE VIEW pg170000.pg_stat_io AS SELECT * FROM pg160000.pg_stat_io;
CREATE VIEW pg170000.pg_stat_database_conflicts AS SELECT * FROM pg160000.pg_stat_database_conflicts;

-- 17: pg_stat_subscription names each worker's kind.
CREATE VIEW pg170000.pg_stat_subscription AS
SELECT s.subid, s.subname,
       CASE WHEN s.pid IS NULL THEN NULL
            WHEN s.relid IS NOT NULL THEN 'table synchronization'
            WHEN s.leader_pid IS NOT NULL THEN 'parallel apply'
            ELSE 'apply' END AS worker_type,
       s.pid, s.leader_pid, s.relid, s.received_lsn,
       s.last_msg_send_time, s.last_msg_receipt_time, s.latest_end_lsn, s.latest_end_time
FROM pg160000.pg_stat_subscription s;

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

-- 17: pg_stat_slru names the caches in lower case, some anew.
CREATE VIEW pg170000.pg_stat_slru AS
SELECT (CASE name WHEN 'Xact' THEN 'transaction' WHEN 'Subtrans' THEN 'subtransaction'
                  WHEN 'MultiXactOffset' THEN 'multixact_offset' WHEN 'MultiXactMember' THEN 'multixact_member'
                  WHEN 'CommitTs' THEN 'commit_timestamp' WHEN 'Notify' THEN 'notify'
                  WHEN 'Serial' THEN 'serializable' ELSE name END)::text AS name,
       blks_zeroed, blks_hit, blks_read, blks_written, blks_exists, flushes, truncates, stats_reset
FROM pg_catalog.pg_stat_slru;

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

CREATE VIEW pg180000.pg_stat_database_conflicts AS SELECT * FROM pg160000.pg_stat_database_conflicts;
CREATE VIEW pg180000.pg_stat_slru AS SELECT * FROM pg170000.pg_stat_slru;
CREATE VIEW pg180000.pg_stat_subscription AS SELECT * FROM pg170000.pg_stat_subscription;

-- 18: pg_stat_subscription_stats counts conflicts by kind.
CREATE VIEW pg180000.pg_stat_subscription_stats AS
SELECT 9001::oid AS subid, 'sub_a'::name AS subname, 2::bigint AS apply_error_count, 1::bigint AS sync_error_count,
       1::bigint AS confl_insert_exists, 1::bigint AS confl_update_origin_differs, 1::bigint AS confl_update_exists,
       1::bigint AS confl_update_missing, 1::bigint AS confl_delete_origin_differs, 1::bigint AS confl_delete_missing,
       1::bigint AS confl_multiple_unique_conflicts, '2032-01-01 00:00:00+00'::timestamptz AS stats_reset;

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
