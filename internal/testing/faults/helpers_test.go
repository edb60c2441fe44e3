//go:build hard

package faults

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/testing/rig"
	"github.com/pggraph/pggraph/metric"
)

// clientConfig writes root/<prefix>/config.ini for a client reaching the
// rig's PostgreSQL through the twin tunnel (bastion, then db host), with
// a delay of 5 s, reading the given databases (nil: every one), and
// returns its path. edit may change the config before it is written.
func (w *world) clientConfig(t testing.TB, root, prefix string, databases []string, edit func(*config.Config)) string {
	t.Helper()
	r := w.rig
	dir := filepath.Join(root, prefix)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := r.TwinConfig(dir, prefix, config.Local{Database: "pggraph", Port: r.Central.Port, Host: "127.0.0.1", User: "pggraph", Password: config.Secret(w.centralPassword)})
	c.Remote.Databases = databases
	if edit != nil {
		edit(c)
	}
	path := filepath.Join(dir, "config.ini")
	if err := c.Write(path); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return path
}

// result is how a program run ended.
type result struct {
	code           int // exit code; -1 when it did not exit by itself
	stdout, stderr string
	took           time.Duration
}

// failures are the lines of stderr that report a failure.
func (r result) failures() []string {
	var out []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(l, "pggraph-collect: ") {
			out = append(out, l)
		}
	}
	return out
}

func (r result) String() string {
	return fmt.Sprintf("exit %d after %v\nstdout: %s\nstderr: %s", r.code, r.took.Round(time.Millisecond), r.stdout, r.stderr)
}

// running is a program started by start.
type running struct {
	cmd            *exec.Cmd
	name           string
	stdout, stderr bytes.Buffer
	started        time.Time
	done           chan result
}

// runSeq numbers the output files of the programs the tests run.
var runSeq atomic.Int64

// start starts one of the built programs with a clean environment (no
// PG* variables, no ssh-agent); stdin is empty.
func (w *world) start(t testing.TB, name string, args ...string) *running {
	t.Helper()
	return w.startIn(t, "", name, args...)
}

// startIn is start with stdin.
func (w *world) startIn(t testing.TB, stdin, name string, args ...string) *running {
	t.Helper()
	r := &running{name: name, done: make(chan result, 1)}
	r.cmd = exec.CommandContext(t.Context(), w.program(name), args...)
	r.cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/root", "LANG=C"}
	r.cmd.Stdin = strings.NewReader(stdin)
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	r.started = time.Now()
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		err := r.cmd.Wait()
		res := result{code: 0, took: time.Since(r.started), stdout: r.stdout.String(), stderr: r.stderr.String()}
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			res.code = ee.ExitCode()
		case err != nil:
			res.code = -1
		}
		n := runSeq.Add(1)
		base := filepath.Join(w.logs, fmt.Sprintf("%05d-%s", n, name))
		_ = os.WriteFile(base+".out", []byte(strings.Join(append([]string{name}, args...), " ")+"\n"+res.stdout), 0o644)
		_ = os.WriteFile(base+".err", []byte(res.stderr), 0o644)
		r.done <- res
	}()
	return r
}

// wait waits for the program, killing it after limit.
func (r *running) wait(t testing.TB, limit time.Duration) result {
	t.Helper()
	select {
	case res := <-r.done:
		return res
	case <-time.After(limit):
		_ = r.cmd.Process.Kill()
		res := <-r.done
		res.code = -1
		t.Errorf("%s still ran after %v: killed; %s", r.name, limit, res)
		return res
	}
}

// runLimit bounds any one program run of the suite.
const runLimit = 2 * time.Minute

// collect runs pggraph-collect and waits for it.
func (w *world) collect(t testing.TB, args ...string) result {
	t.Helper()
	return w.start(t, "pggraph-collect", args...).wait(t, runLimit)
}

// mustCollect runs one collection and fails the test unless it succeeds.
func (w *world) mustCollect(t testing.TB, path string) result {
	t.Helper()
	res := w.collect(t, path)
	if res.code != 0 {
		t.Fatalf("pggraph-collect %s: %s", path, res)
	}
	return res
}

// remoteExec runs statements on the client's server as superuser, in one
// session, and makes sure its statistics are flushed before returning.
func remoteExec(t testing.TB, r *rig.Rig, db string, stmts ...string) {
	t.Helper()
	if err := r.PG.ExecFlushed(t.Context(), db, stmts...); err != nil {
		t.Fatal(err)
	}
}

// centralConn opens a superuser connection to one of the central
// databases, closed at the test's end.
func centralConn(t testing.TB, r *rig.Rig, db string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), r.Central.ConnString(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// newRand returns a generator seeded from $PGGRAPH_HARD_SEED, or from the
// clock, and logs the seed so a run can be repeated.
func newRand(t testing.TB) (*rand.Rand, uint64) {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PGGRAPH_HARD_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("PGGRAPH_HARD_SEED=%q: %v", s, err)
		}
		seed = n
	}
	t.Logf("random seed %d (repeat with PGGRAPH_HARD_SEED=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seed
}

// tableState is one central table of a client: its rows and, for sample
// and rollup tables, its distinct times and the latest.
type tableState struct {
	rows, times int
	last        time.Time
}

// fingerprint is the state of a client's central tables.
type fingerprint struct {
	tables map[string]tableState
	taken  time.Time // the saved snapshot's time
}

// fingerprintOf reads the fingerprint of a client. Its events table is
// left out: a failed run records its failure there at once, by design
// (the events tests check that), outside the run's transaction.
func fingerprintOf(t testing.TB, conn *pgx.Conn, prefix string) fingerprint {
	t.Helper()
	ctx := t.Context()
	rows, err := conn.Query(ctx, `SELECT c.relname, EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'ts' AND NOT a.attisdropped)
		FROM pg_class c WHERE c.relkind IN ('r', 'p') AND c.relname LIKE $1 AND c.relnamespace = 'public'::regnamespace`, prefix+`\_%`)
	if err != nil {
		t.Fatal(err)
	}
	type tbl struct {
		name  string
		hasTS bool
	}
	var tbls []tbl
	for rows.Next() {
		var tb tbl
		if err := rows.Scan(&tb.name, &tb.hasTS); err != nil {
			t.Fatal(err)
		}
		tbls = append(tbls, tb)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	fp := fingerprint{tables: map[string]tableState{}}
	for _, tb := range tbls {
		if tb.name == prefix+"_event" {
			continue
		}
		var st tableState
		id := pgx.Identifier{tb.name}.Sanitize()
		if tb.hasTS {
			var last *time.Time
			err = conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT ts), max(ts) FROM "+id).Scan(&st.rows, &st.times, &last)
			if last != nil {
				st.last = *last
			}
		} else {
			err = conn.QueryRow(ctx, "SELECT count(*) FROM "+id).Scan(&st.rows)
		}
		if err != nil {
			t.Fatal(err)
		}
		fp.tables[tb.name] = st
	}
	var taken *time.Time
	err = conn.QueryRow(ctx, "SELECT max(taken) FROM "+pgx.Identifier{prefix + "_state"}.Sanitize()).Scan(&taken)
	if err != nil {
		t.Fatal(err)
	}
	if taken != nil {
		fp.taken = *taken
	}
	return fp
}

// sampleShape is how many rows one complete sample adds to each group's
// table, learned from a normal run.
type sampleShape map[string]int

// shapeOf returns the rows a run added per group table between two
// fingerprints of a normal run.
func shapeOf(prefix string, before, after fingerprint) sampleShape {
	s := sampleShape{}
	for _, g := range metric.Groups() {
		name := prefix + "_" + g.Name
		s[name] = after.tables[name].rows - before.tables[name].rows
	}
	return s
}

// What a run left in the central tables.
const (
	wroteNothing = "nothing"
	wroteSample  = "a complete sample"
)

// written compares two fingerprints of a client around one run: nothing
// changed, or exactly one complete sample was added (one new time in every
// group table that has objects, the shape's rows each, that time being the
// saved snapshot's). Anything else is an error naming what is partial.
func written(prefix string, shape sampleShape, before, after fingerprint) (string, error) {
	same := after.taken.Equal(before.taken) && len(after.tables) == len(before.tables)
	for name, b := range before.tables {
		same = same && after.tables[name] == b
	}
	if same {
		return wroteNothing, nil
	}
	var problems []string
	if !after.taken.After(before.taken) {
		problems = append(problems, fmt.Sprintf("snapshot time %v -> %v", before.taken, after.taken))
	}
	for name, rows := range shape {
		b, a := before.tables[name], after.tables[name]
		wantTimes := 0
		if rows > 0 {
			wantTimes = 1
		}
		if a.rows-b.rows != rows || a.times-b.times != wantTimes || (rows > 0 && !a.last.Equal(after.taken)) {
			problems = append(problems, fmt.Sprintf("%s: %+d rows (want %+d), %+d times (want %+d), latest %v (snapshot %v)",
				name, a.rows-b.rows, rows, a.times-b.times, wantTimes, a.last, after.taken))
		}
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("partial write: %s", strings.Join(problems, "; "))
	}
	return wroteSample, nil
}

// latestSample returns a counter or gauge of the latest stored sample of
// one table object (SCHEMA.TABLE), NULL as nil.
func latestSample(t testing.TB, conn *pgx.Conn, prefix, table, column string) *float64 {
	t.Helper()
	var v *float64
	sql := fmt.Sprintf("SELECT t.%s FROM %s t JOIN %s o ON o.id = t.object WHERE o.name = $1 ORDER BY t.ts DESC LIMIT 1",
		pgx.Identifier{column}.Sanitize(), pgx.Identifier{prefix + "_table"}.Sanitize(), pgx.Identifier{prefix + "_object"}.Sanitize())
	if err := conn.QueryRow(t.Context(), sql, table).Scan(&v); err != nil {
		t.Fatalf("latest %s of %s: %v", column, table, err)
	}
	return v
}

func fmtPtr(v *float64) string {
	if v == nil {
		return "NULL"
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}
