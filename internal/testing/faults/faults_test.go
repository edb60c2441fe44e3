//go:build hard

package faults

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/internal/testing/rig"
)

// faultTries is how many times each fault is injected:
// $PGGRAPH_HARD_TRIES, or 20.
func faultTries(t testing.TB) int {
	t.Helper()
	s := os.Getenv("PGGRAPH_HARD_TRIES")
	if s == "" {
		return 20
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("PGGRAPH_HARD_TRIES=%q: want a number from 1", s)
	}
	return n
}

// faultDB is the client database the fault tests read: faultTables
// tables with an index each, so that a run spends a while reading and
// writing, and the probe table whose inserts each check counts.
const (
	faultDB     = "hfault"
	faultTables = 120
	probe       = "public.probe"
)

// fault is one way to break a collection while it runs.
type fault struct {
	name   string
	prefix string // the client collected under this fault
	// kill breaks the run and says what it hit ("" for nothing).
	kill func(ctx context.Context, r *rig.Rig, watch *pgx.Conn) (string, error)
	// restore brings back what kill broke; nil when nothing needs it.
	restore func(ctx context.Context, r *rig.Rig) error
	// whileRemote draws the random point within the part of a run in
	// which the collector's remote backends exist, not within the whole
	// run: the fault can hit nothing else.
	whileRemote bool
}

var faults = []fault{
	{
		name: "kill db-host sshd", prefix: "fdbhost",
		kill:    func(_ context.Context, r *rig.Rig, _ *pgx.Conn) (string, error) { return "sshd", r.DBHost.Stop() },
		restore: func(ctx context.Context, r *rig.Rig) error { return r.DBHost.Start(ctx) },
	},
	{
		name: "kill bastion sshd", prefix: "fbastion",
		kill:    func(_ context.Context, r *rig.Rig, _ *pgx.Conn) (string, error) { return "sshd", r.Bastion.Stop() },
		restore: func(ctx context.Context, r *rig.Rig) error { return r.Bastion.Start(ctx) },
	},
	{
		name: "pg_terminate_backend of the collector's remote backends", prefix: "fbackend",
		kill: func(ctx context.Context, _ *rig.Rig, watch *pgx.Conn) (string, error) {
			var n int
			err := watch.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE application_name = 'pggraph' AND pid <> pg_backend_pid()`).Scan(&n)
			if n == 0 {
				return "", err
			}
			return fmt.Sprintf("%d backends", n), err
		},
		whileRemote: true,
	},
	{
		name: "kill central PostgreSQL (crash: immediate shutdown)", prefix: "fcentral",
		kill: func(_ context.Context, r *rig.Rig, _ *pgx.Conn) (string, error) {
			// SIGQUIT is PostgreSQL's immediate shutdown: every backend
			// ends at once, no checkpoint, crash recovery at the next start.
			if err := syscall.Kill(r.Central.PID, syscall.SIGQUIT); err != nil {
				return "", fmt.Errorf("signal central postmaster %d: %w", r.Central.PID, err)
			}
			return "postmaster", r.Central.Stop()
		},
		restore: func(ctx context.Context, r *rig.Rig) error { return r.Central.Start(ctx) },
	},
}

// failureLine is the one line a failed run prints: client, step, cause.
var failureLine = regexp.MustCompile(`^pggraph-collect: ([a-z0-9_]+): (lock|tunnel|remote|store): \S`)

// TestFaultsMidRun injects each fault faultTries times at a random point
// of a collection (a random delay within the measured length of a normal
// run): every run either exits 0 having written one complete sample, or
// exits 1 with one line naming the client and the step having written
// nothing; after the broken part is restored, the next run stores
// exactly the rows inserted meanwhile.
func TestFaultsMidRun(t *testing.T) {
	w := env(t)
	r := w.rig
	rng, seed := newRand(t)
	var ddl strings.Builder
	for i := range faultTables {
		fmt.Fprintf(&ddl, "CREATE TABLE t%03d (id int PRIMARY KEY, v text); INSERT INTO t%03[1]d SELECT g, 'x' FROM generate_series(1, 10) g;\n", i)
	}
	ddl.WriteString("CREATE TABLE probe (id int) WITH (autovacuum_enabled = off);\n")
	remoteExec(t, r, "postgres", "CREATE DATABASE "+faultDB)
	remoteExec(t, r, faultDB, ddl.String())
	root := t.TempDir()
	tries := faultTries(t)
	// The rig runs its clusters with synchronous_commit off, which loses
	// the last commits in a crash by design; a production server keeps
	// it on. Role settings override the server's command line.
	if err := r.Central.Exec(t.Context(), "postgres", "ALTER ROLE pggraph SET synchronous_commit = on"); err != nil {
		t.Fatal(err)
	}

	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			path := w.clientConfig(t, root, f.prefix, []string{faultDB}, nil)
			conn := centralConn(t, r, "pggraph")
			watch, err := pgx.Connect(t.Context(), r.PG.ConnString(faultDB))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { watch.Close(context.Background()) }()

			// Prime, then three normal runs: the shape of a sample, the
			// length of a run, and when its remote backends exist.
			w.mustCollect(t, path)
			var (
				shape   sampleShape
				runs    []time.Duration
				remote  [2]time.Duration
				windows []string
			)
			for i := range 3 {
				before := fingerprintOf(t, conn, f.prefix)
				n := 5 + i
				remoteExec(t, r, faultDB, fmt.Sprintf("INSERT INTO probe SELECT generate_series(1, %d)", n))
				res, from, to := watchedRun(t, w, path, watch)
				if res.code != 0 {
					t.Fatalf("normal run %d: %s", i, res)
				}
				runs = append(runs, res.took)
				windows = append(windows, fmt.Sprintf("%v-%v", from.Round(time.Millisecond), to.Round(time.Millisecond)))
				if i == 0 || from < remote[0] {
					remote[0] = from
				}
				remote[1] = max(remote[1], to)
				after := fingerprintOf(t, conn, f.prefix)
				if shape == nil {
					shape = shapeOf(f.prefix, before, after)
				}
				if got, err := written(f.prefix, shape, before, after); got != wroteSample {
					t.Fatalf("normal run %d: %v (%s)", i, err, got)
				}
				if v := latestSample(t, conn, f.prefix, probe, "n_tup_ins"); v == nil || *v != float64(n) {
					t.Fatalf("normal run %d: n_tup_ins %s, want %d", i, fmtPtr(v), n)
				}
			}
			slices.Sort(runs)
			runLength := runs[1]
			t.Logf("a normal run takes %v (runs %v); its remote backends exist %s; sample shape %v", runLength, runs, strings.Join(windows, ", "), shape)
			if f.whileRemote && remote[1] <= remote[0] {
				t.Fatalf("no remote backend of the collector seen during normal runs")
			}

			var failedRuns, completed, inDoubt, survived, broken int
			var steps []string
			for try := range tries {
				ok := true
				fail := func(format string, args ...any) {
					t.Helper()
					ok = false
					t.Errorf("try %d: "+format, append([]any{try + 1}, args...)...)
				}
				before := fingerprintOf(t, conn, f.prefix)
				delay := time.Duration(rng.Int64N(int64(runLength)))
				if f.whileRemote {
					delay = remote[0] + time.Duration(rng.Int64N(int64(remote[1]-remote[0])))
				}
				run := w.start(t, "pggraph-collect", path)
				time.Sleep(delay)
				hit, kerr := f.kill(t.Context(), r, watch)
				if kerr != nil {
					t.Fatalf("try %d: inject %s: %v", try+1, f.name, kerr)
				}
				res := run.wait(t, runLimit)
				if f.restore != nil {
					if err := f.restore(t.Context(), r); err != nil {
						t.Fatalf("try %d: restore after %s: %v", try+1, f.name, err)
					}
				}
				if f.prefix == "fcentral" {
					// The connection died with the server.
					conn = centralConn(t, r, "pggraph")
				}
				after := fingerprintOf(t, conn, f.prefix)
				wrote, werr := written(f.prefix, shape, before, after)
				lines := res.failures()
				switch {
				case werr != nil:
					fail("%v; run: %s", werr, res)
				case res.code == 0 && wrote == wroteSample && len(lines) == 0:
					completed++
				case res.code == 1 && len(lines) == 1 && failureLine.MatchString(lines[0]) && strings.HasPrefix(lines[0], "pggraph-collect: "+f.prefix+": "):
					step := failureLine.FindStringSubmatch(lines[0])[2]
					steps = append(steps, step)
					failedRuns++
					if wrote != wroteNothing {
						// The commit reached the server but its answer did
						// not reach the collector: the sample is whole, the
						// run reports failure.
						inDoubt++
						if step != "store" {
							fail("failed at step %s but wrote %s: %s", step, wrote, res)
						}
					}
				default:
					fail("run after %v, fault hit %q: wrote %s, %s; want exit 0 and a sample, or exit 1, one line naming %s and the step, and nothing written", delay, hit, wrote, res, f.prefix)
				}
				t.Logf("try %2d: %s after %4dms (hit %s): exit %d, wrote %s %s", try+1, f.name, delay.Milliseconds(), orNone(hit), res.code, wrote, strings.Join(lines, " "))

				// The next normal run is correct.
				n := 1 + rng.IntN(50)
				remoteExec(t, r, faultDB, fmt.Sprintf("INSERT INTO probe SELECT generate_series(1, %d)", n))
				res = w.collect(t, path)
				next := fingerprintOf(t, conn, f.prefix)
				if res.code != 0 {
					fail("the run after the fault failed: %s", res)
				} else if got, err := written(f.prefix, shape, after, next); got != wroteSample {
					fail("the run after the fault: %v (%s)", err, got)
				} else if v := latestSample(t, conn, f.prefix, probe, "n_tup_ins"); v == nil || *v != float64(n) {
					fail("the run after the fault stored n_tup_ins %s, want %d", fmtPtr(v), n)
				}
				if ok {
					survived++
				} else {
					broken++
				}
			}
			point := fmt.Sprintf("a %dms run", runLength.Milliseconds())
			if f.whileRemote {
				point = fmt.Sprintf("its remote reads (%d-%dms)", remote[0].Milliseconds(), remote[1].Milliseconds())
			}
			note := fmt.Sprintf("random point within %s, seed %d: %d runs failed (steps: %s), %d completed", point, seed, failedRuns, countSteps(steps), completed)
			if inDoubt > 0 {
				note += fmt.Sprintf(", %d committed but reported failed", inDoubt)
			}
			note += "; each next run exact"
			figures.add(figure{Area: "fault", What: f.name, Tries: tries, Survived: survived, Failures: broken, Note: note})
		})
	}
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// countSteps summarises failure steps as "tunnel 12, remote 3".
func countSteps(steps []string) string {
	if len(steps) == 0 {
		return "none"
	}
	count := map[string]int{}
	var order []string
	for _, s := range steps {
		if count[s] == 0 {
			order = append(order, s)
		}
		count[s]++
	}
	var out []string
	for _, s := range order {
		out = append(out, fmt.Sprintf("%s %d", s, count[s]))
	}
	return strings.Join(out, ", ")
}

// watchedRun runs one collection while watching the client's server: it
// returns when, after the start, the collector's first remote backend
// was seen and its last one was still there.
func watchedRun(t testing.TB, w *world, path string, watch *pgx.Conn) (res result, from, to time.Duration) {
	t.Helper()
	run := w.start(t, "pggraph-collect", path)
	for {
		select {
		case res = <-run.done:
			return res, from, to
		default:
		}
		var n int
		if err := watch.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pggraph'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			at := time.Since(run.started)
			if from == 0 {
				from = at
			}
			to = at
		}
		time.Sleep(2 * time.Millisecond)
	}
}
