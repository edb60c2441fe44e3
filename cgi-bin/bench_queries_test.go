package main

// Benchmarks of the statement pages and tables over a month of a typical
// client's pg_stat_statements, written straight into the central
// database.

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/collector"
	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/internal/testing/fcgiclient"
	"github.com/pggraph/pggraph/metric"
)

// The client of BenchmarkQueriesPage and BenchmarkStatementStorage: a
// typical one, its statements collected every 10 minutes for a month
// and a day with the defaults (top_queries = 100).
const (
	qbPrefix     = "qbench"
	qbDatabases  = 3
	qbStatements = 300 // distinct statements per database
	qbDays       = 31
	qbStep       = 10 * time.Minute
	qbTop        = 100
)

// qbDatabase is the name of the fixture's database i (from 0) and its
// OID.
func qbDatabase(i int) (string, uint32) { return fmt.Sprintf("app%d", i+1), uint32(16401 + i) }

// qbStatement is one statement of the fixture's model: how much it does
// per run, drawn once from a seed.
type qbStatement struct {
	db      uint32
	queryID int64
	text    string
	weight  float64 // its share of the database's calls, Zipf-like
	active  float64 // the chance it runs in an interval
	meanMS  float64
	rows    float64 // per call
	hit     float64 // shared blocks per call
	miss    float64 // of those, the part read
	dirty   float64 // blocks dirtied per call (writers)
	temp    float64 // temporary blocks per call (sorts and hashes that spill)
	wal     float64 // WAL bytes per call (writers)
}

// qbModel draws the fixture's statements: per database, a few busy ones
// and a long tail of rare ones; times from microseconds to a second a
// call; a quarter of them writing, one in twelve spilling to disk.
func qbModel() []qbStatement {
	var out []qbStatement
	for d := range qbDatabases {
		_, oid := qbDatabase(d)
		for j := range qbStatements {
			rng := rand.New(rand.NewPCG(uint64(d), uint64(j)))
			s := qbStatement{
				db:      oid,
				queryID: int64(uint64(d*1000+j+1) * 0x9E3779B97F4A7C15),
				weight:  1 / math.Pow(float64(j+1), 1.2),
				active:  min(1, 0.2+20/float64(j+1)),
				meanMS:  0.02 * math.Pow(10, 3.5*rng.Float64()),
				rows:    math.Floor(1 + 50*math.Pow(rng.Float64(), 3)),
				hit:     math.Floor(3 + 200*math.Pow(rng.Float64(), 2)),
			}
			if rng.Float64() < 0.5 {
				s.miss = 0.05 * rng.Float64()
			}
			if rng.Float64() < 0.25 {
				s.dirty, s.wal = 1+3*rng.Float64(), 200+2000*rng.Float64()
			}
			if rng.Float64() < 1.0/12 {
				s.temp = 100 + 1000*rng.Float64()
			}
			cols := 2 + rng.IntN(12)
			var sel []string
			for c := range cols {
				sel = append(sel, fmt.Sprintf("t%d.col_%d_%d", c%3, j, c))
			}
			s.text = fmt.Sprintf("SELECT %s FROM app_table_%d t0 JOIN app_detail_%d t1 ON t1.parent_id = t0.id LEFT JOIN app_extra_%d t2 ON t2.id = t1.extra_id WHERE t0.account_id = $1 AND t0.created_at > $2 ORDER BY t0.created_at DESC LIMIT $3",
				strings.Join(sel, ", "), j, j, j)
			out = append(out, s)
		}
	}
	return out
}

// qbKey is a statement's key in a snapshot: queryid/userid/toplevel.
func qbKey(s qbStatement) string { return strconv.FormatInt(s.queryID, 10) + "/10/t" }

// qbFixture writes snapshots of the model's cumulative counters, one per
// run.
type qbFixture struct {
	model  []qbStatement
	totals [][]float64 // per statement, its cumulative values by column
	cols   []string
	rng    *rand.Rand
	start  time.Time // the server's start
}

func newQBFixture() *qbFixture {
	f := &qbFixture{model: qbModel(), rng: rand.New(rand.NewPCG(12, 34)), start: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, c := range metric.StatementGroup().Columns {
		f.cols = append(f.cols, c.Name)
	}
	f.totals = make([][]float64, len(f.model))
	for i := range f.totals {
		f.totals[i] = make([]float64, len(f.cols))
	}
	return f
}

// next advances the counters by the interval ending at t (busier by day
// than by night) and returns the snapshot read at t.
func (f *qbFixture) next(t time.Time) *metric.Snapshot {
	h := float64(t.Unix()%86400) / 86400
	wave := 1 + 0.6*math.Sin(2*math.Pi*(h-0.3))
	rows := make([]metric.Row, len(f.model))
	for i, s := range f.model {
		if f.rng.Float64() < s.active {
			calls := math.Ceil(s.weight * 3000 * wave * (0.5 + f.rng.Float64()))
			hit := math.Round(calls * s.hit)
			read := math.Round(hit * s.miss * f.rng.Float64())
			dirty := math.Round(calls * s.dirty)
			written := math.Round(dirty * 0.1 * f.rng.Float64())
			temp := math.Round(calls * s.temp)
			grow := map[string]float64{
				"calls": calls, "exec_time": calls * s.meanMS * (0.7 + 0.6*f.rng.Float64()), "plan_time": 0,
				"rows": calls * s.rows, "shared_blks_hit": hit, "shared_blks_read": read,
				"shared_blks_dirtied": dirty, "shared_blks_written": written,
				"temp_blks_read": temp, "temp_blks_written": temp,
				"blk_read_time": read * 0.02, "blk_write_time": written * 0.05, "wal_bytes": math.Round(calls * s.wal),
			}
			for c, name := range f.cols {
				f.totals[i][c] += grow[name]
			}
		}
		rows[i] = metric.Row{Database: s.db, Key: qbKey(s), Values: append([]float64(nil), f.totals[i]...)}
	}
	first, _ := qbDatabase(0)
	return &metric.Snapshot{
		Taken: t, ServerStart: f.start, Version: 150000,
		Rows: map[string][]metric.Row{
			metric.StatementRows: rows,
			metric.StatementInfo: {{Key: first, Name: "public", StatsReset: f.start, Values: []float64{0}}},
		},
		Columns: map[string][]string{metric.StatementRows: f.cols},
	}
}

var qb struct {
	once sync.Once
	err  error
	end  time.Time // the last run
	runs int
}

// queriesSite adds client qbench to the web site, once: its fixture and
// its install directory.
func queriesSite(b *testing.B) {
	b.Helper()
	webSite(b)
	qb.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		qb.err = setUpQueries(ctx)
	})
	if qb.err != nil {
		b.Fatalf("set up client %s: %v", qbPrefix, qb.err)
	}
}

// setUpQueries writes the fixture: the first run through the store's
// own transaction (every statement, so every object and text exists),
// the statement samples of every later run (collector.StatementDeltas of
// the model's snapshots, as the collector derives them) and their run
// rows by COPY, the objects' last_seen as those runs would set it, then
// the rollups by Rebuild; and the client's install directory.
func setUpQueries(ctx context.Context) error {
	r := web.rig
	st, err := store.OpenServer(ctx, store.Server{
		Params:   fmt.Sprintf("host=%s port=%d user=pggraph sslmode=disable", r.Central.Host, r.Central.Port),
		Password: ownerPassword,
	}, "pggraph", metric.StoredGroups())
	if err != nil {
		return err
	}
	defer st.Close(ctx)
	end := time.Now().UTC().Truncate(qbStep)
	first := end.Add(-qbDays * 24 * time.Hour)
	qb.end, qb.runs = end, int(end.Sub(first)/qbStep)+1

	f := newQBFixture()
	prev := f.next(first)
	var samples []metric.Sample
	var run metric.StatementRun
	dbGroup, _ := metric.GroupByName("database")
	for d := range qbDatabases {
		name, oid := qbDatabase(d)
		vals := make([]float64, len(dbGroup.Columns))
		for i := range vals {
			vals[i] = math.NaN()
		}
		samples = append(samples, metric.Sample{Group: "database", Key: strconv.FormatUint(uint64(oid), 10), Name: name, Seconds: qbStep.Seconds(), Values: vals})
		samples = append(samples, metric.Sample{Group: metric.StatementGroupName, Database: oid, Key: metric.StatementOther,
			Name: metric.StatementOther, Seconds: qbStep.Seconds(), Values: make([]float64, len(f.cols))})
	}
	for i, s := range f.model {
		samples = append(samples, metric.Sample{Group: metric.StatementGroupName, Database: s.db, Key: qbKey(s),
			Name: strconv.FormatInt(s.queryID, 10), Seconds: qbStep.Seconds(), Values: append([]float64(nil), f.totals[i]...)})
		k := metric.StatementKey{Database: s.db, QueryID: s.queryID}
		run.Stored = append(run.Stored, k)
		run.Texts = append(run.Texts, metric.StatementText{StatementKey: k, Text: s.text})
	}
	run.Status, run.Evicted, run.KeepTexts = metric.StatementsCollected, 0, true
	run.Database, _ = qbDatabase(0)
	tx, err := st.Begin(ctx, qbPrefix)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := tx.Write(ctx, prev, samples); err != nil {
		return err
	}
	if err := tx.(metric.StatementTx).WriteStatements(ctx, run); err != nil {
		return err
	}
	if err := tx.Maintain(ctx, metric.Retention{Raw: (qbDays + 2) * 24 * time.Hour}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}

	conn, err := pgx.Connect(ctx, r.Central.ConnString("pggraph"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	ids := map[string]int32{} // by dbid/key
	rows, err := conn.Query(ctx, `SELECT id, dbid, key FROM `+pgx.Identifier{qbPrefix + "_object"}.Sanitize()+` WHERE grp = $1`, metric.StatementGroupName)
	if err != nil {
		return err
	}
	for rows.Next() {
		var (
			id  int32
			db  uint32
			key string
		)
		if err := rows.Scan(&id, &db, &key); err != nil {
			return err
		}
		ids[fmt.Sprint(db, "/", key)] = id
	}
	if err := rows.Err(); err != nil {
		return err
	}
	// Every later run: its samples, streamed to COPY, and its run row.
	var pending [][]any
	var runRows [][]any
	t := first
	next := func() ([]any, error) {
		for len(pending) == 0 {
			t = t.Add(qbStep)
			if t.After(end) {
				return nil, nil
			}
			cur := f.next(t)
			got := collector.StatementDeltas(prev, cur, qbTop)
			prev = cur
			runRows = append(runRows, []any{t, string(got.Run.Status), got.Run.Evicted, got.Run.Database})
			for _, s := range got.Samples {
				id, ok := ids[fmt.Sprint(s.Database, "/", s.Key)]
				if !ok {
					return nil, fmt.Errorf("no object for statement %d/%s", s.Database, s.Key)
				}
				row := []any{t, id, s.Seconds}
				for _, v := range s.Values {
					row = append(row, v)
				}
				pending = append(pending, row)
			}
		}
		row := pending[0]
		pending = pending[1:]
		return row, nil
	}
	cols := append([]string{"ts", "object", "seconds"}, f.cols...)
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{qbPrefix + "_" + metric.StatementGroupName}, cols, pgx.CopyFromFunc(next)); err != nil {
		return fmt.Errorf("copy statement samples: %w", err)
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{qbPrefix + "_statement_run"}, []string{"ts", "status", "evicted", "database"}, pgx.CopyFromRows(runRows)); err != nil {
		return fmt.Errorf("copy statement runs: %w", err)
	}
	// Every run saw every object (each snapshot holds every statement):
	// their last_seen, as the runs' Writes would have left it.
	if _, err := conn.Exec(ctx, `UPDATE `+pgx.Identifier{qbPrefix + "_object"}.Sanitize()+` SET last_seen = $1`, end); err != nil {
		return fmt.Errorf("mark objects seen: %w", err)
	}
	if err := st.Rebuild(ctx, qbPrefix, first, end.Add(time.Hour)); err != nil {
		return err
	}
	// As autovacuum would after such a load.
	for _, t := range []string{"object", "statement", "statement_hour", "statement_day", "statement_text", "statement_run"} {
		if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+pgx.Identifier{qbPrefix + "_" + t}.Sanitize()); err != nil {
			return err
		}
	}
	if err := st.RecordRun(ctx, qbPrefix, metric.RunRecord{Started: end, Duration: time.Second, Outcome: metric.OK, Samples: 1}); err != nil {
		return err
	}
	_, err = installClient(qbPrefix, "Queries Inc", nil)
	return err
}

// BenchmarkQueriesPage measures the queries page of a database over a
// month (hourly rollups of 31 days of a typical client's statements:
// 3 databases of 300 distinct statements, the top 100 by each measure
// stored every 10 minutes) as Apache starts pggraph.cgi for a logged-in
// user: the whole process, from its start to its exit, central database
// over TCP with a SCRAM login. It reports the median (page-ms; target
// < 150 ms), the statements the page lists (statements) and the
// fixture's hourly rows the page reads (hour-rows). In the same loop the
// page is asked of pggraph.cgi's FastCGI server (-serve), as
// pggraph.conf has Apache reach it by default: from sending the request
// to its last byte (page-fcgi-ms).
func BenchmarkQueriesPage(b *testing.B) {
	queriesSite(b)
	dir := filepath.Join(web.root, qbPrefix)
	script := filepath.Join(dir, "index.cgi")
	db, oid := qbDatabase(0)
	query := "page=queries&db=" + db + "&range=month"
	env := []string{"GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=GET", "SERVER_PROTOCOL=HTTP/1.1", "HTTP_HOST=127.0.0.1",
		"SCRIPT_FILENAME=" + script, "SCRIPT_NAME=/pggraph/" + qbPrefix + "/index.cgi",
		"REQUEST_URI=/pggraph/" + qbPrefix + "/index.cgi?" + query, "QUERY_STRING=" + query,
		"REMOTE_USER=bench", "AUTH_TYPE=form", "MATCH_CLIENT=" + qbPrefix, "GOMAXPROCS=1", // as pggraph.conf sets them
		"REMOTE_ADDR=127.0.0.1", "PGPASSFILE=" + filepath.Join(web.dir, "pgpass"), "PATH=/usr/bin:/bin"}
	stderr, err := os.Create(filepath.Join(b.TempDir(), "cgi.err"))
	if err != nil {
		b.Fatal(err)
	}
	defer stderr.Close()
	page := func() ([]byte, time.Duration) {
		if err := os.RemoveAll(filepath.Join(dir, cacheDirName)); err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(script)
		cmd.Env = env
		var stdout bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, stderr
		start := time.Now()
		err := cmd.Run()
		took := time.Since(start)
		if err != nil || !bytes.Contains(stdout.Bytes(), []byte("Content-Type: text/html")) {
			errs, _ := os.ReadFile(stderr.Name())
			b.Fatalf("pggraph.cgi %s: %v: %.300q %.500s", query, err, stdout.Bytes(), errs)
		}
		return stdout.Bytes(), took
	}
	sock := filepath.Join(b.TempDir(), "web.sock")
	server, err := fcgiclient.Start(b.Context(), web.cgi, []string{"-serve", sock}, sock, fcgiclient.Env(), stderr)
	if err != nil {
		b.Fatal(err)
	}
	defer server.Stop(5 * time.Second)
	params := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		params[k] = v
	}
	served := func() time.Duration {
		if err := os.RemoveAll(filepath.Join(dir, cacheDirName)); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		resp, err := server.Do(b.Context(), params)
		took := time.Since(start)
		if err != nil || resp.Status != 200 || bytes.Count(resp.Body, []byte("page=query&amp;")) != queriesShown {
			errs, _ := os.ReadFile(stderr.Name())
			b.Fatalf("pggraph.cgi -serve %s: %v %+v %.500s", query, err, resp, errs)
		}
		return took
	}
	out, _ := page() // warm: page cache, dynamic loader
	served()
	var took, tookServed []time.Duration
	for b.Loop() {
		_, d := page()
		took = append(took, d)
		tookServed = append(tookServed, served())
	}
	listed := bytes.Count(out, []byte("page=query&amp;"))
	if listed != queriesShown {
		b.Fatalf("the page lists %d statements, want %d", listed, queriesShown)
	}
	var hourRows float64
	conn, err := pgx.Connect(b.Context(), web.rig.Central.ConnString("pggraph"))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	err = conn.QueryRow(b.Context(), `SELECT count(*) FROM `+pgx.Identifier{qbPrefix + "_statement_hour"}.Sanitize()+` s JOIN `+
		pgx.Identifier{qbPrefix + "_object"}.Sanitize()+` o ON o.id = s.object WHERE o.dbid = $1 AND s.ts >= $2`, oid, qb.end.Add(-30*24*time.Hour)).Scan(&hourRows)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(medianOf(took).Microseconds())/1000, "page-ms")
	b.ReportMetric(float64(medianOf(tookServed).Microseconds())/1000, "page-fcgi-ms")
	b.ReportMetric(float64(listed), "statements")
	b.ReportMetric(hourRows, "hour-rows")
}

// BenchmarkStatementStorage measures what a typical client's statement
// tables cost on the central server's disk per client-year, with the
// defaults (top_queries = 100, a run every 10 minutes, keep_raw_days
// 35, keep_hourly_days 100, keep_daily_days 1825).
//
// How: the fixture of BenchmarkQueriesPage is 31 days of real rows, as
// the collector derives them (collector.StatementDeltas) and the store's
// Rebuild rolls them up, written in run order. After VACUUM ANALYZE
// (the free-space and visibility maps, as autovacuum would add),
// pg_total_relation_size ÷ rows is the bytes per row of each table,
// heap, TOAST and indexes included; the rows per run, per hour and per
// day are counted over the whole runs, hours and days of the fixture.
// With R, H, D those bytes per run, per hour and per day, the client
// holds after collecting for days
//
//	R × 144 × min(days, 35) + H × 24 × min(days, 100) + D × min(days, 1825)
//	+ its statement_run rows (one per run, kept as long as daily rows)
//	+ its texts and statement objects (measured as they are)
//
// MB/client-year is that after 365 days, MB-steady from day 1825 on. Not
// counted: space that retention's deletes leave to be reused, and the
// WAL. It also reports the rows per run, hour and day.
func BenchmarkStatementStorage(b *testing.B) {
	queriesSite(b)
	ctx := b.Context()
	conn, err := pgx.Connect(ctx, web.rig.Central.ConnString("pggraph"))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	keep := config.Default().PGGraph
	table := func(suffix string) string { return pgx.Identifier{qbPrefix + "_" + suffix}.Sanitize() }
	// perStep is the bytes per row of table and its rows per step (the
	// whole steps of the fixture: its first and last ts left out).
	perStep := func(suffix string) (bytesPerRow, rowsPerStep float64) {
		t := table(suffix)
		if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+t); err != nil {
			b.Fatal(err)
		}
		err := conn.QueryRow(ctx, `SELECT pg_total_relation_size($1::regclass) / count(*)::float8,
			count(*) FILTER (WHERE ts > (SELECT min(ts) FROM `+t+`) AND ts < (SELECT max(ts) FROM `+t+`))::float8
			/ (count(DISTINCT ts) - 2) FROM `+t, t).Scan(&bytesPerRow, &rowsPerStep)
		if err != nil {
			b.Fatalf("size of %s: %v", t, err)
		}
		return bytesPerRow, rowsPerStep
	}
	var raw, rawRows, hour, hourRows, day, dayRows, run, fixed float64
	for b.Loop() {
		raw, rawRows = perStep(metric.StatementGroupName)
		hour, hourRows = perStep(metric.StatementGroupName + "_hour")
		day, dayRows = perStep(metric.StatementGroupName + "_day")
		run, _ = perStep("statement_run")
		if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+table("statement_text")); err != nil {
			b.Fatal(err)
		}
		// The texts, and the statement objects' share of the object
		// table (its other objects are the databases).
		err := conn.QueryRow(ctx, `SELECT pg_total_relation_size($1::regclass) + pg_total_relation_size($2::regclass)
			* (SELECT count(*) FILTER (WHERE grp = $3)::float8 / count(*) FROM `+table("object")+`)`,
			table("statement_text"), table("object"), metric.StatementGroupName).Scan(&fixed)
		if err != nil {
			b.Fatal(err)
		}
	}
	runsPerDay := float64(24*time.Hour) / float64(keep.Interval)
	after := func(days float64) float64 {
		k := keep.Keep
		return raw*rawRows*runsPerDay*min(days, float64(k.Raw/metric.Day)) +
			hour*hourRows*24*min(days, float64(k.Hourly/metric.Day)) +
			day*dayRows*min(days, float64(k.Daily/metric.Day)) +
			run*runsPerDay*min(days, float64(max(k.Raw, k.Hourly, k.Daily)/metric.Day)) + fixed
	}
	b.ReportMetric(after(365)/1e6, "MB/client-year")
	b.ReportMetric(after(float64(keep.Keep.Daily/metric.Day))/1e6, "MB-steady")
	b.ReportMetric(rawRows, "rows/run")
	b.ReportMetric(hourRows, "rows/hour")
	b.ReportMetric(dayRows, "rows/day")
	b.ReportMetric(raw, "B/raw-row")
	b.ReportMetric(hour, "B/hour-row")
}
