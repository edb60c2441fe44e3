package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/internal/cli"
	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/internal/testing/centraltest"
	"github.com/pggraph/pggraph/internal/testing/rig"
	"github.com/pggraph/pggraph/metric"
)

// binary is ./bin/pggraph-collect, rebuilt by TestMain.
var binary = filepath.Join("..", "..", "bin", "pggraph-collect")

// shared is the package's one rig: a client PostgreSQL behind a bastion
// and a db host, and a central PostgreSQL.
var shared = rig.Lazy{Options: rig.Options{Central: true}}

// centralPassword is role pggraph's password on the rig's central server.
const centralPassword = "central-pw-4RtY"

func TestMain(m *testing.M) {
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build pggraph-collect:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := shared.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close rig:", err)
	}
	os.Exit(code)
}

// central sets the central databases up once per test binary.
var centralSetup centraltest.Once

// env is the rig with its central databases set up.
func env(t testing.TB) *rig.Rig {
	t.Helper()
	return centralSetup.Do(t, shared.Get(t), centralPassword)
}

// clientConfig writes ROOT/<prefix>/config.ini for a client reaching the
// rig's PostgreSQL through the twin tunnel, and returns its path.
func clientConfig(t testing.TB, r *rig.Rig, root, prefix string, edit func(*config.Config)) string {
	t.Helper()
	dir := filepath.Join(root, prefix)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := r.TwinConfig(dir, prefix, config.Local{Database: "pggraph", Port: r.Central.Port, Host: "127.0.0.1", User: "pggraph", Password: centralPassword})
	if edit != nil {
		edit(c)
	}
	path := filepath.Join(dir, "config.ini")
	if err := c.Write(path); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return path
}

// collect runs pggraph-collect in-process and returns its exit code and
// output.
func collect(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	err := run(t.Context(), args, &o, &e, func(string) string { return "" })
	return cli.ExitCode(err), o.String(), e.String()
}

// openStore loads a client's config.ini and opens its central store
// for the test.
func openStore(t *testing.T, path string) (*config.Config, *store.Store) {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.Context(), cfg.Local, metric.Groups())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	return cfg, st
}

// mustCollect runs one collection and fails the test unless it succeeds.
func mustCollect(t *testing.T, path string) string {
	t.Helper()
	code, out, errs := collect(t, path)
	if code != 0 {
		t.Fatalf("pggraph-collect %s: exit %d\n%s%s", path, code, out, errs)
	}
	return out
}

// remoteExec runs statements on the client's server as superuser, in one
// session, and makes sure its statistics are flushed before returning.
func remoteExec(t testing.TB, r *rig.Rig, db string, stmts ...string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), r.PG.ConnString(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, s := range append(stmts, "SELECT pg_stat_force_next_flush()", "SELECT 1") {
		if _, err := conn.Exec(t.Context(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// central opens a superuser connection to the central samples database.
func central(t testing.TB, r *rig.Rig) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), r.Central.ConnString("pggraph"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// samples returns the stored samples of one object (by group and name),
// oldest first: each a map of column to value, NaN for NULL.
func samples(t *testing.T, conn *pgx.Conn, prefix, group, name string) []map[string]float64 {
	t.Helper()
	g, ok := metric.GroupByName(group)
	if !ok {
		t.Fatalf("no group %s", group)
	}
	cols := []string{"t.seconds"}
	for _, c := range g.Columns {
		cols = append(cols, "t."+pgx.Identifier{c.Name}.Sanitize())
	}
	sql := fmt.Sprintf("SELECT %s FROM %s t JOIN %s o ON o.id = t.object WHERE o.name = $1 ORDER BY t.ts",
		strings.Join(cols, ", "), pgx.Identifier{prefix + "_" + group}.Sanitize(), pgx.Identifier{prefix + "_object"}.Sanitize())
	rows, err := conn.Query(t.Context(), sql, name)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []map[string]float64
	for rows.Next() {
		vals := make([]*float64, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		m := map[string]float64{}
		for i, v := range vals {
			name := "seconds"
			if i > 0 {
				name = g.Columns[i-1].Name
			}
			m[name] = math.NaN()
			if v != nil {
				m[name] = *v
			}
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// countRows counts the rows of every table of a client.
func countRows(t *testing.T, conn *pgx.Conn, prefix string) map[string]int {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT tablename FROM pg_tables WHERE tablename LIKE $1`, prefix+`\_%`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, n := range names {
		var c int
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM "+pgx.Identifier{n}.Sanitize()).Scan(&c); err != nil {
			t.Fatal(err)
		}
		counts[n] = c
	}
	return counts
}

// noNegatives checks every counter column of every group of a client.
func noNegatives(t *testing.T, conn *pgx.Conn, prefix string) {
	t.Helper()
	for _, g := range metric.Groups() {
		for _, c := range g.Columns {
			if c.Kind != metric.Counter {
				continue
			}
			var n int
			sql := fmt.Sprintf("SELECT count(*) FROM %s WHERE %s < 0", pgx.Identifier{prefix + "_" + g.Name}.Sanitize(), pgx.Identifier{c.Name}.Sanitize())
			if err := conn.QueryRow(t.Context(), sql).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				t.Errorf("%s_%s.%s has %d negative values", prefix, g.Name, c.Name, n)
			}
		}
	}
}

func TestExactWorkload(t *testing.T) {
	r := env(t)
	remoteExec(t, r, "postgres", "CREATE DATABASE shop")
	remoteExec(t, r, "shop", "CREATE TABLE orders (id int, v int) WITH (autovacuum_enabled = off)")
	path := clientConfig(t, r, t.TempDir(), "exact", nil)

	out := mustCollect(t, path)
	if !strings.Contains(out, "primed") || !strings.Contains(out, "graphs appear after the next run") {
		t.Errorf("first run says %q, want it to say it primed", out)
	}
	const n, u, d, s = 1000, 250, 100, 5
	stmts := []string{
		fmt.Sprintf("INSERT INTO orders SELECT i, 0 FROM generate_series(1, %d) i", n),
		fmt.Sprintf("UPDATE orders SET v = 1 WHERE id <= %d", u), // one seq scan
		fmt.Sprintf("DELETE FROM orders WHERE id > %d", n-d),     // one seq scan
	}
	for range s {
		stmts = append(stmts, "SELECT count(*) FROM orders") // one seq scan each
	}
	remoteExec(t, r, "shop", stmts...)
	mustCollect(t, path)

	conn := central(t, r)
	got := samples(t, conn, "exact", "table", "public.orders")
	if len(got) != 1 {
		t.Fatalf("%d samples of public.orders, want 1", len(got))
	}
	want := map[string]float64{"n_tup_ins": n, "n_tup_upd": u, "n_tup_del": d, "seq_scan": s + 2, "n_live_tup": n - d}
	for col, w := range want {
		if got[0][col] != w {
			t.Errorf("%s = %v, want %v", col, got[0][col], w)
		}
	}
	var size float64
	remote, err := pgx.Connect(t.Context(), r.PG.ConnString("shop"))
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close(context.Background())
	if err := remote.QueryRow(t.Context(), "SELECT pg_total_relation_size('orders')").Scan(&size); err != nil {
		t.Fatal(err)
	}
	if got[0]["total_size"] != size {
		t.Errorf("total_size = %v, want pg_total_relation_size %v", got[0]["total_size"], size)
	}
	db := samples(t, conn, "exact", "database", "shop")
	if len(db) != 1 || db[0]["xact_commit"] < 2+s || db[0]["tup_inserted"] != n {
		t.Errorf("database sample %v: want xact_commit >= %d and tup_inserted %d", db, 2+s, n)
	}
	if sec := got[0]["seconds"]; !(sec > 0 && sec < 60) {
		t.Errorf("seconds = %v, want the interval between the runs", sec)
	}
	var outcome string
	var samplesWritten int
	clients, err := pgx.Connect(t.Context(), r.Central.ConnString("pggraph_clients"))
	if err != nil {
		t.Fatal(err)
	}
	defer clients.Close(context.Background())
	if err := clients.QueryRow(t.Context(), "SELECT last_outcome, last_samples FROM clients WHERE prefix = 'exact'").Scan(&outcome, &samplesWritten); err != nil {
		t.Fatal(err)
	}
	if outcome != "ok" || samplesWritten == 0 {
		t.Errorf("clients row: outcome %q, samples %d; want ok and > 0", outcome, samplesWritten)
	}
}

// isNaN reports whether every named column of a sample is NULL.
func allNaN(s map[string]float64, cols ...string) bool {
	for _, c := range cols {
		if !math.IsNaN(s[c]) {
			return false
		}
	}
	return true
}

// TestResets: pg_stat_reset(), pg_stat_reset_shared() and a server
// restart between runs each leave a NULL interval (a gap), never a
// negative value, and the run after is normal again.
func TestResets(t *testing.T) {
	r := env(t)
	remoteExec(t, r, "postgres", "CREATE DATABASE resets")
	remoteExec(t, r, "resets", "CREATE TABLE r (id int) WITH (autovacuum_enabled = off)")
	path := clientConfig(t, r, t.TempDir(), "resets", func(c *config.Config) { c.Remote.Databases = []string{"resets"} })
	conn := central(t, r)
	insert := func(n int) {
		remoteExec(t, r, "resets", fmt.Sprintf("INSERT INTO r SELECT generate_series(1, %d)", n))
	}

	mustCollect(t, path)
	insert(10)
	mustCollect(t, path) // 1: normal
	insert(20)
	remoteExec(t, r, "resets", "SELECT pg_stat_reset()")
	insert(5)
	mustCollect(t, path) // 2: reset in the interval
	insert(7)
	mustCollect(t, path) // 3: normal again
	remoteExec(t, r, "resets", "SELECT pg_stat_reset_shared('bgwriter')")
	mustCollect(t, path) // 4: bgwriter reset
	mustCollect(t, path) // 5: normal
	if err := r.PG.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := r.PG.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	insert(3)
	mustCollect(t, path) // 6: server restarted
	insert(4)
	mustCollect(t, path) // 7: normal

	tbl := samples(t, conn, "resets", "table", "public.r")
	if len(tbl) != 7 {
		t.Fatalf("%d table samples, want 7", len(tbl))
	}
	ins := []float64{10, math.NaN(), 7, 0, 0, math.NaN(), 4}
	for i, w := range ins {
		if g := tbl[i]["n_tup_ins"]; g != w && !(math.IsNaN(g) && math.IsNaN(w)) {
			t.Errorf("interval %d: n_tup_ins = %v, want %v", i+1, g, w)
		}
	}
	if !allNaN(tbl[1], "n_tup_ins", "seq_scan", "heap_blks_hit") || !allNaN(tbl[5], "n_tup_ins", "seq_scan") {
		t.Errorf("reset intervals keep counters: %v / %v", tbl[1], tbl[5])
	}
	if math.IsNaN(tbl[1]["n_live_tup"]) {
		t.Error("a reset interval lost its gauges")
	}
	db := samples(t, conn, "resets", "database", "resets")
	if len(db) != 7 || !allNaN(db[1], "xact_commit", "tup_inserted") || !allNaN(db[5], "xact_commit") || math.IsNaN(db[2]["xact_commit"]) || math.IsNaN(db[6]["xact_commit"]) {
		t.Errorf("database samples: want NULL counters in intervals 2 and 6 only: %v", db)
	}
	bg := samples(t, conn, "resets", "bgwriter", "bgwriter")
	if len(bg) != 7 || !allNaN(bg[3], "buffers_alloc", "checkpoints_timed") || math.IsNaN(bg[4]["buffers_alloc"]) || !allNaN(bg[5], "buffers_alloc") {
		t.Errorf("bgwriter samples: want NULL counters in intervals 4 and 6: %v", bg)
	}
	noNegatives(t, conn, "resets")
}

// TestObjectLife: a table created, renamed and dropped between runs is
// primed, keeps its history under its new name, and stops, without error.
func TestObjectLife(t *testing.T) {
	r := env(t)
	remoteExec(t, r, "postgres", "CREATE DATABASE life")
	path := clientConfig(t, r, t.TempDir(), "life", func(c *config.Config) { c.Remote.Databases = []string{"life"} })
	conn := central(t, r)

	mustCollect(t, path)
	remoteExec(t, r, "life", "CREATE TABLE born (id int)", "INSERT INTO born VALUES (1)")
	mustCollect(t, path) // born primes
	remoteExec(t, r, "life", "INSERT INTO born VALUES (2), (3)")
	mustCollect(t, path) // born: +2
	remoteExec(t, r, "life", "ALTER TABLE born RENAME TO renamed", "INSERT INTO renamed VALUES (4), (5), (6)")
	mustCollect(t, path) // renamed: +3, same object
	remoteExec(t, r, "life", "DROP TABLE renamed")
	mustCollect(t, path) // gone: no sample, no error

	if got := samples(t, conn, "life", "table", "public.born"); len(got) != 0 {
		t.Errorf("old name still names samples: %v", got)
	}
	got := samples(t, conn, "life", "table", "public.renamed")
	if len(got) != 2 || got[0]["n_tup_ins"] != 2 || got[1]["n_tup_ins"] != 3 {
		t.Errorf("samples under the new name: %v; want n_tup_ins 2 then 3 (history kept)", got)
	}
}

// TestHostileNames: databases and tables named with spaces, quotes,
// capitals, unicode and 63 bytes are collected under their real names.
func TestHostileNames(t *testing.T) {
	r := env(t)
	long := strings.Repeat("x", 63)
	dbName := `Shop "Ünïcode" db`
	remoteExec(t, r, "postgres", "CREATE DATABASE "+pgx.Identifier{dbName}.Sanitize(), "CREATE DATABASE "+pgx.Identifier{long}.Sanitize())
	tables := []string{`Mixed Case`, `with "quotes"`, `dot.ted`, `ünï cödé`, strings.Repeat("t", 63)}
	var stmts []string
	for _, tb := range tables {
		stmts = append(stmts, "CREATE TABLE "+pgx.Identifier{tb}.Sanitize()+" (id int)", "INSERT INTO "+pgx.Identifier{tb}.Sanitize()+" VALUES (1)")
	}
	remoteExec(t, r, dbName, stmts...)
	remoteExec(t, r, long, "CREATE TABLE plain (id int)")
	path := clientConfig(t, r, t.TempDir(), "hostile", nil)
	mustCollect(t, path)
	for _, tb := range tables {
		remoteExec(t, r, dbName, "INSERT INTO "+pgx.Identifier{tb}.Sanitize()+" VALUES (2), (3)")
	}
	mustCollect(t, path)

	conn := central(t, r)
	for _, tb := range tables {
		name := "public." + pgx.Identifier{tb}.Sanitize()
		if tb == tables[4] { // format('%I') leaves plain lowercase names unquoted
			name = "public." + tb
		}
		got := samples(t, conn, "hostile", "table", name)
		if len(got) != 1 || got[0]["n_tup_ins"] != 2 {
			t.Errorf("table %q (stored as %q): samples %v, want one with n_tup_ins 2", tb, name, got)
		}
	}
	for _, db := range []string{dbName, long} {
		if got := samples(t, conn, "hostile", "database", db); len(got) != 1 {
			t.Errorf("database %q: %d samples, want 1", db, len(got))
		}
	}
	if got := samples(t, conn, "hostile", "table", "public.plain"); len(got) != 1 {
		t.Errorf("table in the 63-byte database: %d samples, want 1", len(got))
	}
}

// failureLines are the lines of stderr that report a failure.
func failureLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "pggraph-collect: ") {
			out = append(out, l)
		}
	}
	return out
}

// TestOneRunAtATime: a run finds the client locked by another and fails
// with one line, writing nothing; two runs started at once write one
// sample.
func TestOneRunAtATime(t *testing.T) {
	r := env(t)
	path := clientConfig(t, r, t.TempDir(), "locked", func(c *config.Config) { c.Remote.Databases = []string{"postgres"} })
	conn := central(t, r)
	mustCollect(t, path)

	_, st := openStore(t, path)
	unlock, err := st.Lock(t.Context(), "locked")
	if err != nil {
		t.Fatal(err)
	}
	before := countRows(t, conn, "locked")
	code, _, stderr := collect(t, path)
	lines := failureLines(stderr)
	if code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "pggraph-collect: locked: lock: ") || !strings.Contains(lines[0], "another collection") {
		t.Errorf("locked run: exit %d, stderr %q; want 1 and one line naming the lock", code, stderr)
	}
	unlock()
	if after := countRows(t, conn, "locked"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a locked run wrote: %v -> %v", before, after)
	}

	// Two processes at once: one collects, the other finds the lock.
	before2 := len(samples(t, conn, "locked", "database", "postgres"))
	var wg sync.WaitGroup
	codes := make([]int, 2)
	outs := make([]string, 2)
	for i := range 2 {
		wg.Go(func() {
			cmd := exec.Command(binary, path)
			out, err := cmd.CombinedOutput()
			outs[i] = string(out)
			if ee, ok := err.(*exec.ExitError); ok {
				codes[i] = ee.ExitCode()
			} else if err != nil {
				codes[i] = -1
			}
		})
	}
	wg.Wait()
	if got := len(samples(t, conn, "locked", "database", "postgres")) - before2; got != 1 {
		t.Errorf("two runs at once added %d database samples, want 1 (exits %v: %q)", got, codes, outs)
	}
	if !(codes[0] == 0 && codes[1] == 1 || codes[0] == 1 && codes[1] == 0) {
		t.Errorf("exit codes %v, want one 0 and one 1; output %q", codes, outs)
	}
}

// TestTunnelKilledMidRun: the db host's sshd dies while a run reads: the
// run fails with one line and writes nothing; the next run is normal.
func TestTunnelKilledMidRun(t *testing.T) {
	r := env(t)
	remoteExec(t, r, "postgres", "CREATE DATABASE midrun")
	remoteExec(t, r, "midrun", "CREATE TABLE blocker (id int)")
	path := clientConfig(t, r, t.TempDir(), "midrun", func(c *config.Config) { c.Remote.Databases = []string{"midrun"} })
	conn := central(t, r)
	mustCollect(t, path)
	before := countRows(t, conn, "midrun")

	// An ACCESS EXCLUSIVE lock makes the table group's size functions
	// wait, so the run is surely mid-read when sshd goes.
	holder, err := pgx.Connect(t.Context(), r.PG.ConnString("midrun"))
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	tx, err := holder.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), "LOCK TABLE blocker IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	type result struct {
		code   int
		stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, _, stderr := collect(t, path)
		done <- result{code, stderr}
	}()
	// Watch from a third session: the holder's transaction would see a
	// cached pg_stat_activity.
	watch, err := pgx.Connect(t.Context(), r.PG.ConnString("midrun"))
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(context.Background())
	deadline := time.Now().Add(4 * time.Second)
	for {
		var waiting int
		err := watch.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pggraph' AND wait_event_type = 'Lock'`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case res := <-done:
			t.Fatalf("the run ended before waiting on the lock: exit %d: %s", res.code, res.stderr)
		default:
		}
		if time.Now().After(deadline) {
			res := <-done
			t.Fatalf("the run never waited on the lock; it ended with %d: %s", res.code, res.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.DBHost.Stop(); err != nil {
		t.Fatal(err)
	}
	res := <-done
	tx.Rollback(t.Context())
	if err := r.DBHost.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	lines := failureLines(res.stderr)
	if res.code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "pggraph-collect: midrun: tunnel: ") {
		t.Errorf("exit %d, stderr %q; want 1 and one line naming the client and the tunnel", res.code, res.stderr)
	}
	// It wrote nothing but its failure, an event.
	before["midrun_event"]++
	if after := countRows(t, conn, "midrun"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the failed run wrote: %v -> %v", before, after)
	}
	remoteExec(t, r, "midrun", "INSERT INTO blocker VALUES (1), (2)")
	mustCollect(t, path)
	got := samples(t, conn, "midrun", "table", "public.blocker")
	if len(got) != 1 || got[0]["n_tup_ins"] != 2 {
		t.Errorf("run after the failure: %v, want one sample with n_tup_ins 2", got)
	}
}

// TestCentralDown: the central PostgreSQL is down: one clear line.
func TestCentralDown(t *testing.T) {
	r := env(t)
	path := clientConfig(t, r, t.TempDir(), "cdown", nil)
	if err := r.Central.Stop(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, _, stderr := collect(t, path)
	if err := r.Central.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	lines := failureLines(stderr)
	if code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "pggraph-collect: cdown: store: ") || !strings.Contains(lines[0], "connect") {
		t.Errorf("exit %d, stderr %q; want 1 and one line: client, store step, connect", code, stderr)
	}
	if strings.Contains(stderr, centralPassword) {
		t.Errorf("stderr shows the password: %q", stderr)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("took %s", took)
	}
}

// TestAll: -all over 20 installs, 3 of them broken: the 17 good ones are
// collected, the broken ones named, and the exit code is 1.
func TestAll(t *testing.T) {
	r := env(t)
	root := t.TempDir()
	var good []string
	for i := 1; i <= 17; i++ {
		p := fmt.Sprintf("all%02d", i)
		good = append(good, p)
		clientConfig(t, r, root, p, func(c *config.Config) { c.Remote.Databases = []string{"postgres"} })
	}
	bad := clientConfig(t, r, root, "all18", nil)
	os.WriteFile(bad, []byte("[ssh]\nport = abc\n"), 0o600)
	clientConfig(t, r, root, "all19", func(c *config.Config) { c.SSH.Keyfile = r.Keys.Unauthorized })
	clientConfig(t, r, root, "all20", func(c *config.Config) { c.Remote.Password = "wrong" })

	cmd := exec.Command(binary, "-all", root, "-jobs", "4")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1; stderr:\n%s", err, stderr.String())
	}
	lines := failureLines(stderr.String())
	want := []string{bad + ": config: ", "all19: tunnel: ", "all20: remote: ", "17 of 20 clients collected; failed: " + bad + ", all19, all20"}
	if len(lines) != len(want) {
		t.Fatalf("stderr lines:\n%s\nwant %d", strings.Join(lines, "\n"), len(want))
	}
	for _, w := range want {
		found := false
		for _, l := range lines {
			found = found || strings.Contains(l, w)
		}
		if !found {
			t.Errorf("no line with %q in:\n%s", w, strings.Join(lines, "\n"))
		}
	}
	if n := strings.Count(stdout.String(), ": primed: "); n != 17 {
		t.Errorf("%d clients primed, want 17:\n%s", n, stdout.String())
	}
	clients, err := pgx.Connect(t.Context(), r.Central.ConnString("pggraph_clients"))
	if err != nil {
		t.Fatal(err)
	}
	defer clients.Close(context.Background())
	var primed, failed int
	err = clients.QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE last_outcome = 'primed'), count(*) FILTER (WHERE last_outcome = 'failed')
		FROM clients WHERE prefix LIKE 'all%'`).Scan(&primed, &failed)
	if err != nil || primed != 17 || failed != 2 {
		t.Errorf("clients rows: %d primed, %d failed (%v); want 17 and 2", primed, failed, err)
	}
}

// TestCheckMode: -t passes on a good config without changing a row, and
// names the failing step on a broken one.
func TestCheckMode(t *testing.T) {
	r := env(t)
	root := t.TempDir()
	path := clientConfig(t, r, root, "check", func(c *config.Config) { c.Remote.Databases = []string{"postgres"} })
	brokenPath := clientConfig(t, r, root, "checkbad", func(c *config.Config) { c.Remote.Password = "wrong" })
	conn := central(t, r)
	mustCollect(t, path)
	before := countRows(t, conn, "check")
	clients, err := pgx.Connect(t.Context(), r.Central.ConnString("pggraph_clients"))
	if err != nil {
		t.Fatal(err)
	}
	defer clients.Close(context.Background())
	lastRun := func() string {
		var s string
		clients.QueryRow(t.Context(), "SELECT last_run::text FROM clients WHERE prefix = 'check'").Scan(&s)
		return s
	}
	runBefore := lastRun()

	code, stdout, stderr := collect(t, "-t", path)
	if code != 0 || !strings.Contains(stdout, "check: ok:") {
		t.Errorf("-t: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if after := countRows(t, conn, "check"); fmt.Sprint(after) != fmt.Sprint(before) || lastRun() != runBefore {
		t.Errorf("-t changed rows: %v -> %v, last_run %s -> %s", before, after, runBefore, lastRun())
	}
	code, _, stderr = collect(t, "-t", brokenPath)
	lines := failureLines(stderr)
	if code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "pggraph-collect: checkbad: remote: ") || !strings.Contains(lines[0], "password authentication failed") {
		t.Errorf("-t broken: exit %d, stderr %q; want 1 and one line naming the remote step", code, stderr)
	}
}

// TestLogFileAndSilence: [pggraph] log_file gets the run's log lines with
// time, client and step; a successful run after the first prints nothing
// (cron mails any output).
func TestLogFileAndSilence(t *testing.T) {
	r := env(t)
	logFile := filepath.Join(t.TempDir(), "pggraph.log")
	path := clientConfig(t, r, t.TempDir(), "logged", func(c *config.Config) {
		c.Remote.Databases = []string{"postgres"}
		c.PGGraph.LogFile = logFile
	})
	mustCollect(t, path)
	code, stdout, stderr := collect(t, path)
	if code != 0 || stdout != "" || stderr != "" {
		t.Errorf("second run: exit %d, stdout %q, stderr %q; want 0 and silence", code, stdout, stderr)
	}
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("log file has %d lines, want 2 (primed, collected):\n%s", len(lines), data)
	}
	for i, want := range []string{"primed", "collected"} {
		for _, part := range []string{"time=", "level=INFO", "client=logged", "step=store", want} {
			if !strings.Contains(lines[i], part) {
				t.Errorf("log line %d %q lacks %q", i+1, lines[i], part)
			}
		}
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad", "config.ini")
	os.MkdirAll(filepath.Dir(bad), 0o755)
	os.WriteFile(bad, []byte("[local]\nprefix = Bad-Prefix\n"), 0o600)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "nothing to collect", want: "no config.ini given"},
		{name: "bad jobs", args: []string{"-jobs", "0", bad}, want: "-jobs must be at least 1"},
		{name: "both", args: []string{"-all", dir, bad}, want: "not both"},
		{name: "empty root", args: []string{"-all", t.TempDir()}, want: "no "},
		{name: "bad config", args: []string{bad}, want: bad + ": config: config " + bad + ": [install] directory"},
		{name: "unknown flag", args: []string{"-x"}, want: "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := collect(t, tt.args...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.want)
			}
		})
	}
}
