package metric_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/internal/testing/rig"
	"github.com/pggraph/pggraph/metric"
)

// This file drives the numbers of the newer groups with known actions on
// the rig's server (TestMetricSQL runs them once its objects exist).

// metricEnv is what TestMetricSQL's group tests share: the rig, its
// client PostgreSQL, a connection to metricTestDB as the pg_monitor role
// and the server's version.
type metricEnv struct {
	ctx     context.Context
	rig     *rig.Rig
	pg      *rig.Postgres
	mon     *pgx.Conn
	version int
}

// read runs the group's query for the server on the monitor connection,
// with fresh statistics.
func (e metricEnv) read(t *testing.T, group string) []metricRow {
	t.Helper()
	return e.readOn(t, e.mon, group)
}

// readOn is read on another connection.
func (e metricEnv) readOn(t *testing.T, conn *pgx.Conn, group string) []metricRow {
	t.Helper()
	g, ok := metric.GroupByName(group)
	if !ok {
		t.Fatalf("no group %s", group)
	}
	sql, ok := g.SQL(e.version)
	if !ok {
		t.Fatalf("group %s has no SQL for %d", group, e.version)
	}
	if _, err := conn.Exec(e.ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
		t.Fatal(err)
	}
	return metricRun(e.ctx, t, conn, g, sql)
}

// exec runs sql as the superuser in metricTestDB, on a connection that
// ends at once (and so flushes its statistics).
func (e metricEnv) exec(t *testing.T, sql string) {
	t.Helper()
	if err := e.pg.Exec(e.ctx, metricTestDB, sql); err != nil {
		t.Fatal(err)
	}
}

// until reads group until ok holds for its rows, for at most 10 s (a
// backend's statistics reach the views within a second of its exit),
// and returns the last rows.
func (e metricEnv) until(t *testing.T, group string, ok func([]metricRow) bool) []metricRow {
	t.Helper()
	var rows []metricRow
	// A bound for a loaded machine, not a measure: the server's workers
	// (apply, stats flush) may wait for a CPU for seconds.
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		rows = e.read(t, group)
		if ok(rows) {
			return rows
		}
	}
	return rows
}

// metricLookup returns the row named name, and false when there is none.
func metricLookup(rows []metricRow, name string) (metricRow, bool) {
	for _, r := range rows {
		if r.name != nil && *r.name == name {
			return r, true
		}
	}
	return metricRow{}, false
}

// metricSum is column c summed over rows, NULLs left out.
func metricSum(rows []metricRow, c string) float64 {
	var s float64
	for _, r := range rows {
		if v := metricValue(r, c); !math.IsNaN(v) {
			s += v
		}
	}
	return s
}

// metricWaitTypeColumns are the wait groups' per-type columns.
var metricWaitTypeColumns = []string{"cpu", "lock", "lwlock", "io", "ipc", "client", "timeout", "bufferpin", "extension", "other"}

// testWait holds a session on a lock another one has and checks both
// wait groups: pg_stat_activity's sees one session in Lock:relation at
// that moment, pg_wait_sampling's profile grows by the time it waited.
func (e metricEnv) testWait(t *testing.T) {
	a := metricConnect(e.ctx, t, metricSuperConfig(t, e.pg, metricTestDB))
	b := metricConnect(e.ctx, t, metricSuperConfig(t, e.pg, metricTestDB))
	tx, err := a.Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.WithoutCancel(e.ctx))
	if _, err := tx.Exec(e.ctx, "LOCK TABLE counted IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		if _, err := b.Exec(e.ctx, "SELECT count(*) FROM counted"); err != nil {
			t.Errorf("waiting session: %v", err)
		}
	})
	const event = "Lock:relation"
	rows := e.until(t, "wait", func(rows []metricRow) bool {
		r, ok := metricLookup(rows, event)
		return ok && metricValue(r, "lock") == 1
	})
	r, ok := metricLookup(rows, event)
	if !ok {
		t.Fatalf("wait: no row %s", event)
	}
	for _, c := range append([]string{"sessions"}, metricWaitTypeColumns...) {
		want := 0.0
		if c == "sessions" || c == "lock" {
			want = 1
		}
		if got := metricValue(r, c); got != want {
			t.Errorf("wait %s: %s = %v, want %v", event, c, got, want)
		}
	}
	if r.key != event {
		t.Errorf("wait: key %q, want %q", r.key, event)
	}
	if _, ok := metricLookup(rows, "CPU"); !ok {
		t.Error("wait: no CPU row")
	}
	if got := metricSum(rows, "lock"); got != 1 {
		t.Errorf("wait: lock summed over the events = %v, want 1", got)
	}

	// The profile, around a wait of about a second.
	lockTime := func() (float64, time.Time) {
		t.Helper()
		rows := e.read(t, "wait_sampling")
		at := time.Now()
		for _, r := range rows {
			for _, c := range metricWaitTypeColumns {
				if v := metricValue(r, c); math.IsNaN(v) || v < 0 || (c != "cpu" && r.key == "CPU" && v != 0) {
					t.Errorf("wait_sampling %s: %s = %v", r.key, c, v)
				}
			}
			if r.key == "Client:ClientRead" || r.key == "Extension:Extension" || len(r.key) > 9 && r.key[:9] == "Activity:" {
				t.Errorf("wait_sampling: row %s should be left out", r.key)
			}
		}
		r, _ := metricLookup(rows, event)
		return metricValue(r, "lock"), at
	}
	before, t0 := lockTime()
	if math.IsNaN(before) {
		before = 0 // the event is new in the profile
	}
	time.Sleep(time.Second)
	after, t1 := lockTime()
	if err := tx.Rollback(e.ctx); err != nil {
		t.Fatal(err)
	}
	waited := t1.Sub(t0).Seconds()
	// One sample every 10 ms while the session waits: the profile's
	// time is the wait, to a sample or two; a sampler the machine
	// descheduled takes fewer samples, so it may read less, never more.
	if got := after - before; !(got >= 0.5*waited && got <= waited+0.05) {
		t.Errorf("wait_sampling %s: lock grew by %.3f s over %.3f s of waiting", event, got, waited)
	}
	t.Logf("wait_sampling %s: lock grew by %.3f s over %.3f s of waiting", event, after-before, waited)
}

// testSequence advances sequences to known points of their ranges.
func (e metricEnv) testSequence(t *testing.T) {
	e.exec(t, fmt.Sprintf(`
CREATE SEQUENCE seq_up MAXVALUE 100;
SELECT setval('seq_up', 80);
CREATE SEQUENCE seq_down INCREMENT -1 MINVALUE -100 MAXVALUE -1;
SELECT setval('seq_down', -80);
CREATE SEQUENCE seq_new;
CREATE SEQUENCE seq_cycle MAXVALUE 10 CYCLE;
CREATE SEQUENCE seq_hidden MAXVALUE 100;
SELECT setval('seq_hidden', 50);
GRANT SELECT ON SEQUENCE seq_up, seq_down, seq_new, seq_cycle TO %s`, pgx.Identifier{e.pg.MonitorUser}.Sanitize()))
	rows := e.read(t, "sequence")
	nan := math.NaN()
	for _, tc := range []struct {
		name                    string
		used, ratio, left, cycl float64
	}{
		{"public.seq_up", 80, 0.8, 20, 0},
		{"public.seq_down", 80, 0.8, 20, 0},
		{"public.seq_new", 0, 0, math.MaxInt64, 0},
		{"public.seq_cycle", 0, 0, 10, 1},
		{"public.seq_hidden", nan, nan, nan, 0}, // no right to read it: unknown, not guessed
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := metricFind(t, rows, tc.name)
			for c, want := range map[string]float64{"values_used": tc.used, "used_ratio": tc.ratio, "values_left": tc.left, "cycles": tc.cycl} {
				if got := metricValue(r, c); got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
					t.Errorf("%s = %v, want %v", c, got, want)
				}
			}
		})
	}
	e.exec(t, "SELECT nextval('seq_up') FROM generate_series(1, 5)")
	r := metricFind(t, e.read(t, "sequence"), "public.seq_up")
	if got := metricValue(r, "values_used"); got != 85 {
		t.Errorf("values_used after 5 nextval = %v, want 85", got)
	}
}

// testFunction calls a function 500 times, twice.
func (e metricEnv) testFunction(t *testing.T) {
	const name = "public.counted_fn(i integer)"
	e.exec(t, `CREATE FUNCTION counted_fn(i int) RETURNS int LANGUAGE plpgsql AS $$BEGIN RETURN i + 1; END$$`)
	calls := func(want float64) metricRow {
		t.Helper()
		rows := e.until(t, "function", func(rows []metricRow) bool {
			r, ok := metricLookup(rows, name)
			return ok && metricValue(r, "calls") >= want
		})
		r := metricFind(t, rows, name)
		if got := metricValue(r, "calls"); got != want {
			t.Errorf("calls = %v, want %v", got, want)
		}
		return r
	}
	e.exec(t, "SELECT sum(counted_fn(g)) FROM generate_series(1, 500) g")
	r := calls(500)
	if tot, self := metricValue(r, "total_time"), metricValue(r, "self_time"); !(tot > 0 && self > 0 && self <= tot) {
		t.Errorf("total_time %v, self_time %v", tot, self)
	}
	e.exec(t, "SELECT sum(counted_fn(g)) FROM generate_series(1, 500) g")
	calls(1000)
}

// testBloat checks the statistics-only bloat estimate against tables of
// known dead space: 40% of a table's rows deleted and not vacuumed
// leave 40% of its pages (and of its primary key's) unneeded, which the
// estimate must read within its stated error, 5 points for columns in
// alignment order; a fresh table reads about none; a table of columns
// out of alignment order reads the padding it does not see (the known
// error the README names); a table without statistics, or one the role
// may not read, or one under 1 MB, reads NULL.
func (e metricEnv) testBloat(t *testing.T) {
	const (
		rows    = 100000
		deleted = 0.4 // id % 5 < 2
		bound   = 0.05
	)
	e.exec(t, fmt.Sprintf(`
CREATE TABLE bloated (id int8 PRIMARY KEY, v int8 NOT NULL, pad text NOT NULL) WITH (autovacuum_enabled = off);
INSERT INTO bloated SELECT g, g, repeat('x', 20) FROM generate_series(1, %[1]d) g;
CREATE INDEX bloated_expr ON bloated ((v * 2));
DELETE FROM bloated WHERE id %% 5 < 2;
CREATE TABLE fresh (id int8 PRIMARY KEY, v int8 NOT NULL, pad text NOT NULL) WITH (autovacuum_enabled = off);
INSERT INTO fresh SELECT g, g, repeat('x', 20) FROM generate_series(1, %[1]d) g;
CREATE TABLE padded (a boolean NOT NULL, b int8 NOT NULL, c boolean NOT NULL, d int8 NOT NULL) WITH (autovacuum_enabled = off);
INSERT INTO padded SELECT true, g, false, g FROM generate_series(1, %[1]d) g;
CREATE TABLE unanalyzed (id int8 PRIMARY KEY) WITH (autovacuum_enabled = off);
INSERT INTO unanalyzed SELECT g FROM generate_series(1, %[1]d) g;
CREATE TABLE unreadable (id int8 PRIMARY KEY) WITH (autovacuum_enabled = off);
INSERT INTO unreadable SELECT g FROM generate_series(1, %[1]d) g;
CREATE TABLE small (id int8 PRIMARY KEY) WITH (autovacuum_enabled = off);
INSERT INTO small SELECT g FROM generate_series(1, 1000) g;
DELETE FROM small WHERE id %% 2 = 0;
ANALYZE bloated, fresh, padded, unreadable, small;
GRANT SELECT ON bloated, fresh, padded, unanalyzed, small TO %[2]s`, rows, pgx.Identifier{e.pg.MonitorUser}.Sanitize()))
	// VACUUM sets relpages, as ANALYZE would, but gathers no statistics.
	e.exec(t, "VACUUM unanalyzed")
	tables, indexes := e.read(t, "table"), e.read(t, "index")
	// An expression's statistics belong to its index, which only its
	// owner (or pg_read_all_data) may read: the superuser's view.
	super := metricConnect(e.ctx, t, metricSuperConfig(t, e.pg, metricTestDB))
	asOwner := e.readOn(t, super, "index")
	// padded's rows take 24 + 32 bytes (each boolean padded to 8) + 4,
	// 136 a page; the estimate sees 24 + MAXALIGN(18) + 4, 157 a page.
	paddedError := 1 - 136.0/157
	nan := math.NaN()
	for _, tc := range []struct {
		group, name string  // group "owner": the index group as the superuser reads it
		want        float64 // bloat_ratio; NaN: NULL
	}{
		{"table", "public.bloated", deleted},
		{"index", "public.bloated_pkey", deleted},
		{"owner", "public.bloated_expr", deleted},
		{"index", "public.bloated_expr", nan},
		{"table", "public.fresh", 0},
		{"index", "public.fresh_pkey", 0},
		{"table", "public.padded", paddedError},
		{"table", "public.unanalyzed", nan},
		{"index", "public.unanalyzed_pkey", nan},
		{"table", "public.unreadable", nan},
		{"index", "public.unreadable_pkey", nan},
		{"table", "public.small", nan}, // 5 pages: a page is 20%
		{"index", "public.small_pkey", nan},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := map[string][]metricRow{"table": tables, "index": indexes, "owner": asOwner}[tc.group]
			r := metricFind(t, rows, tc.name)
			ratio, bytes := metricValue(r, "bloat_ratio"), metricValue(r, "bloat_bytes")
			t.Logf("bloat_ratio %.4f, bloat_bytes %v", ratio, bytes)
			if math.IsNaN(tc.want) {
				if !math.IsNaN(ratio) || !math.IsNaN(bytes) {
					t.Errorf("bloat_ratio %v, bloat_bytes %v; want NULL (no statistics to estimate from)", ratio, bytes)
				}
				return
			}
			if math.Abs(ratio-tc.want) > bound {
				t.Errorf("bloat_ratio %.4f, want %.2f ± %.2f", ratio, tc.want, bound)
			}
			if bytes < 0 || math.Mod(bytes, 8192) != 0 {
				t.Errorf("bloat_bytes %v: want whole pages", bytes)
			}
		})
	}
}

// testVacuum holds a VACUUM of a table of some thousand pages in its
// heap scan (cost delay after every page) and reads its progress, then
// the ages of a table's last VACUUM and ANALYZE.
func (e metricEnv) testVacuum(t *testing.T) {
	e.exec(t, `
CREATE TABLE big (id int8, pad text) WITH (autovacuum_enabled = off);
INSERT INTO big SELECT g, repeat('v', 100) FROM generate_series(1, 100000) g;
DELETE FROM big WHERE id % 10 = 0`)
	var pages float64
	if err := e.mon.QueryRow(e.ctx, "SELECT pg_relation_size('big') / current_setting('block_size')::int").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	// A page costs at least 1: with a limit of 1, the VACUUM sleeps
	// 100 ms after every page, until cancelled.
	cfg := metricSuperConfig(t, e.pg, metricTestDB)
	cfg.RuntimeParams["vacuum_cost_limit"], cfg.RuntimeParams["vacuum_cost_delay"] = "1", "100ms"
	v := metricConnect(e.ctx, t, cfg)
	var pid int
	if err := v.QueryRow(e.ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		_, err := v.Exec(e.ctx, "VACUUM big")
		if err == nil || !strings.Contains(err.Error(), "canceling statement") {
			t.Errorf("VACUUM: %v, want it cancelled", err)
		}
	})
	defer e.exec(t, fmt.Sprintf("SELECT pg_cancel_backend(%d)", pid))
	rows := e.until(t, "vacuum", func(rows []metricRow) bool {
		r, ok := metricLookup(rows, "public.big")
		return ok && metricValue(r, "heap_blks_scanned") >= 2
	})
	r := metricFind(t, rows, "public.big")
	scanned := metricValue(r, "heap_blks_scanned")
	for c, want := range map[string]float64{
		"running": 1, "autovacuum": 0, "phase": 2, "heap_blks_total": pages,
		"scanned_ratio": scanned / pages, "index_vacuum_count": 0,
	} {
		if got := metricValue(r, c); got != want {
			t.Errorf("%s = %v, want %v", c, got, want)
		}
	}
	if d := metricValue(r, "duration"); !(d > 0 && d < 60) {
		t.Errorf("duration = %v, want the seconds since the VACUUM began", d)
	}
	// Without an index, each page is vacuumed as it is scanned.
	if vacuumed := metricValue(r, "heap_blks_vacuumed"); !(scanned >= 2 && scanned < pages && vacuumed <= scanned) {
		t.Errorf("heap_blks_scanned %v, heap_blks_vacuumed %v of %v", scanned, vacuumed, pages)
	}
	act := metricFind(t, e.read(t, "activity"), metricTestDB)
	if got := metricValue(act, "vacuums_running"); got != 1 {
		t.Errorf("activity: vacuums_running = %v, want 1", got)
	}

	// The ages of the last maintenance, on tables autovacuum leaves
	// alone: one vacuumed and analyzed, one never.
	start := time.Now()
	e.exec(t, "CREATE TABLE kept (id int) WITH (autovacuum_enabled = off); CREATE TABLE left_alone (id int) WITH (autovacuum_enabled = off)")
	e.exec(t, "VACUUM kept")
	e.exec(t, "ANALYZE kept")
	tables := e.read(t, "table")
	elapsed := time.Since(start).Seconds()
	kept, alone := metricFind(t, tables, "public.kept"), metricFind(t, tables, "public.left_alone")
	for _, c := range []string{"last_vacuum_age", "last_analyze_age"} {
		if got := metricValue(kept, c); !(got >= 0 && got <= elapsed) {
			t.Errorf("kept: %s = %v, want 0 to %.3f s", c, got, elapsed)
		}
		if got := metricValue(alone, c); !math.IsNaN(got) {
			t.Errorf("left_alone: %s = %v, want NULL (never)", c, got)
		}
	}
}

// testStandby starts a streaming standby of the rig's server and reads
// it: its WAL receiver streams and counts the WAL it receives, and a
// session holding a lock the replay of a DROP TABLE needs is cancelled
// (max_standby_streaming_delay 0), one lock conflict of its database.
func (e metricEnv) testStandby(t *testing.T) {
	st, err := e.rig.StartStandby(e.ctx, "standby", "max_standby_streaming_delay = 0")
	if err != nil {
		t.Fatalf("start standby: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Stop(); err != nil {
			t.Errorf("stop standby: %v", err)
		}
	})
	if rows := e.read(t, "wal_receiver"); len(rows) != 0 {
		t.Errorf("wal_receiver on the primary: %d rows, want none", len(rows))
	}
	e.exec(t, "CREATE TABLE conflicted (id int); INSERT INTO conflicted VALUES (1)")
	mon := metricConnect(e.ctx, t, metricMonitorConfig(t, st, metricTestDB))
	holder := metricConnect(e.ctx, t, metricSuperConfig(t, st, metricTestDB))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var there bool
		if err := holder.QueryRow(e.ctx, "SELECT to_regclass('conflicted') IS NOT NULL").Scan(&there); err != nil {
			t.Fatal(err)
		}
		if there {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the standby did not replay CREATE TABLE in 10 s")
		}
	}
	rec := metricFind(t, e.readOn(t, mon, "wal_receiver"), fmt.Sprintf("%s:%d", e.pg.SocketDir, e.pg.Port))
	received := metricValue(rec, "received_bytes")
	if rec.key != "" || metricValue(rec, "streaming") != 1 || !(received > 0) || !(metricValue(rec, "last_message_age") >= 0) {
		t.Errorf("wal_receiver: key %q, streaming %v, received_bytes %v, last_message_age %v",
			rec.key, metricValue(rec, "streaming"), received, metricValue(rec, "last_message_age"))
	}

	tx, err := holder.Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(e.ctx, "SELECT * FROM conflicted"); err != nil {
		t.Fatal(err)
	}
	e.exec(t, "DROP TABLE conflicted")
	var conflicts metricRow
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		conflicts = metricFind(t, e.readOn(t, mon, "conflicts"), metricTestDB)
		if metricValue(conflicts, "confl_lock") > 0 {
			break
		}
	}
	for c, want := range map[string]float64{"confl_lock": 1, "confl_snapshot": 0, "confl_tablespace": 0, "confl_bufferpin": 0, "confl_deadlock": 0} {
		if got := metricValue(conflicts, c); got != want {
			t.Errorf("conflicts on the standby: %s = %v, want %v", c, got, want)
		}
	}
	if _, err := tx.Exec(e.ctx, "SELECT 1"); err == nil {
		t.Error("the session holding the lock survived the conflict")
	}
	after := metricFind(t, e.readOn(t, mon, "wal_receiver"), fmt.Sprintf("%s:%d", e.pg.SocketDir, e.pg.Port))
	if got := metricValue(after, "received_bytes"); !(got > received) {
		t.Errorf("wal_receiver: received_bytes %v after a DROP TABLE, was %v", got, received)
	}
}

// testSubscription subscribes a table of the test database to a
// publication of another database of the same server, then makes the
// apply worker fail once on a duplicate key.
func (e metricEnv) testSubscription(t *testing.T) {
	const src = "pub_src"
	if err := e.pg.Exec(e.ctx, "postgres", "CREATE DATABASE "+src); err != nil {
		t.Fatal(err)
	}
	// The slot is made apart: CREATE SUBSCRIPTION cannot make one on its
	// own server.
	for _, sql := range []string{
		"CREATE TABLE items (id int PRIMARY KEY); CREATE PUBLICATION items_pub FOR TABLE items",
		"SELECT pg_create_logical_replication_slot('items_sub', 'pgoutput')",
	} {
		if err := e.pg.Exec(e.ctx, src, sql); err != nil {
			t.Fatal(err)
		}
	}
	e.exec(t, "CREATE TABLE items (id int PRIMARY KEY)")
	e.exec(t, fmt.Sprintf(`CREATE SUBSCRIPTION items_sub CONNECTION 'host=%s port=%d dbname=%s user=%s'
PUBLICATION items_pub WITH (create_slot = false, slot_name = 'items_sub', disable_on_error = true)`, e.pg.SocketDir, e.pg.Port, src, e.pg.Superuser))
	t.Cleanup(func() {
		e.exec(t, "ALTER SUBSCRIPTION items_sub DISABLE")
		e.exec(t, "ALTER SUBSCRIPTION items_sub SET (slot_name = NONE)")
		e.exec(t, "DROP SUBSCRIPTION items_sub")
	})
	running := func(rows []metricRow) bool {
		r, ok := metricLookup(rows, "items_sub")
		return ok && metricValue(r, "apply_running") == 1 && metricValue(r, "sync_workers") == 0 && !math.IsNaN(metricValue(r, "received_bytes"))
	}
	r := metricFind(t, e.until(t, "subscription", running), "items_sub")
	if !running([]metricRow{r}) || metricValue(r, "apply_error_count") != 0 || metricValue(r, "parallel_workers") != 0 {
		t.Fatalf("subscription: apply_running %v, sync_workers %v, received_bytes %v, apply_error_count %v",
			metricValue(r, "apply_running"), metricValue(r, "sync_workers"), metricValue(r, "received_bytes"), metricValue(r, "apply_error_count"))
	}
	received := metricValue(r, "received_bytes")
	if err := e.pg.Exec(e.ctx, src, "INSERT INTO items SELECT g FROM generate_series(1, 100) g"); err != nil {
		t.Fatal(err)
	}
	r = metricFind(t, e.until(t, "subscription", func(rows []metricRow) bool {
		r, _ := metricLookup(rows, "items_sub")
		return metricValue(r, "received_bytes") > received
	}), "items_sub")
	if got := metricValue(r, "received_bytes"); !(got > received) {
		t.Errorf("received_bytes %v after 100 rows published, was %v", got, received)
	}

	// A row the subscriber has already: the apply worker fails on it, and
	// the subscription stops there (disable_on_error), so the error is
	// counted once, not once per retry.
	e.exec(t, "INSERT INTO items VALUES (1000)")
	if err := e.pg.Exec(e.ctx, src, "INSERT INTO items VALUES (1000)"); err != nil {
		t.Fatal(err)
	}
	r = metricFind(t, e.until(t, "subscription", func(rows []metricRow) bool {
		r, _ := metricLookup(rows, "items_sub")
		return metricValue(r, "apply_error_count") > 0
	}), "items_sub")
	if got := metricValue(r, "apply_error_count"); got != 1 {
		t.Errorf("apply_error_count = %v after one duplicate key, want 1", got)
	}
}

// testSLRU commits 500 transactions with a transaction ID each: every
// commit sets its status in the transaction cache, a page hit at least.
func (e metricEnv) testSLRU(t *testing.T) {
	hits := func() float64 {
		t.Helper()
		return metricValue(metricFind(t, e.read(t, "slru"), "transaction"), "blks_hit")
	}
	before := hits()
	e.exec(t, "DO $$ BEGIN FOR i IN 1..500 LOOP PERFORM txid_current(); COMMIT; END LOOP; END $$")
	after := before
	for deadline := time.Now().Add(10 * time.Second); after-before < 500 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		after = hits()
	}
	if after-before < 500 {
		t.Errorf("transaction cache: blks_hit grew by %v over 500 commits, want 500 or more", after-before)
	}
	t.Logf("transaction cache: blks_hit grew by %v over 500 commits", after-before)
}
