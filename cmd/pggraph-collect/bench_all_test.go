package main

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/testing/rig"
)

// A typical client, as the store's benchmarks count one: the server,
// 5 databases (postgres and typicalDatabases), 100 tables and 200 indexes
// (each table's primary key and one more).
const (
	typicalDatabases = 4
	typicalTables    = 25 // per database
)

// typicalSchema creates a typical client's databases on the rig's client
// PostgreSQL once (they stay for the rig's life) and returns their names.
func typicalSchema(b *testing.B, r *rig.Rig) []string {
	b.Helper()
	conn, err := pgx.Connect(b.Context(), r.PG.ConnString("postgres"))
	if err != nil {
		b.Fatal(err)
	}
	rows, _ := conn.Query(b.Context(), "SELECT datname FROM pg_database")
	existing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	conn.Close(context.Background())
	if err != nil {
		b.Fatalf("list databases: %v", err)
	}
	var names []string
	for i := 1; i <= typicalDatabases; i++ {
		name := fmt.Sprintf("typical%d", i)
		names = append(names, name)
		if slices.Contains(existing, name) {
			continue
		}
		remoteExec(b, r, "postgres", "CREATE DATABASE "+name)
		remoteExec(b, r, name, fmt.Sprintf(`DO $$ BEGIN FOR i IN 1..%d LOOP
			EXECUTE format('CREATE TABLE t%%s (id int PRIMARY KEY, v int, note text)', i);
			EXECUTE format('CREATE INDEX ON t%%s (v)', i);
			EXECUTE format('INSERT INTO t%%s SELECT g, g %%%% 7, ''row '' || g FROM generate_series(1, 100 * %%s) g', i, i);
		END LOOP; END $$`, typicalTables))
	}
	return names
}

// typicalWork changes some rows in every typical database, so that the
// next collection stores counters that grew.
func typicalWork(b *testing.B, r *rig.Rig, dbs []string, round int) {
	b.Helper()
	for _, db := range dbs {
		var sql strings.Builder
		for t := 1; t <= typicalTables; t += 1 + round%3 {
			fmt.Fprintf(&sql, "UPDATE t%d SET v = v + 1 WHERE id %% %d = 0; ", t, 3+round%5)
		}
		remoteExec(b, r, db, sql.String())
	}
}

// allClients is how many clients BenchmarkCollectAll collects at once.
const allClients = 100

// BenchmarkCollectAll measures `pggraph-collect -all ROOT` (the one cron
// line for every client) over 100 install directories of typical clients
// (5 databases, 100 tables, 200 indexes), every one reaching the rig's
// client PostgreSQL through the twin tunnel (bastion, then db host), with
// the default -jobs 4. The clients are primed first (not timed: that run
// also creates their tables); each iteration is then one whole
// collection of all of them, a process started by GNU time, which
// reports its peak RSS (a child of this test would inherit the test's).
// It reports the median wall time of the iterations (s-total; target:
// well inside the 10-minute cron interval), that per client (ms/client)
// and the highest peak RSS (MB-peak-RSS).
func BenchmarkCollectAll(b *testing.B) {
	r := env(b)
	dbs := typicalSchema(b, r)
	root := b.TempDir()
	for i := range allClients {
		clientConfig(b, r, root, fmt.Sprintf("all%03d", i), func(c *config.Config) {
			c.Remote.Databases = dbs
			c.PGGraph.Delay = 20 * time.Second
		})
	}
	all := func() ([]byte, error) {
		return exec.CommandContext(b.Context(), "/usr/bin/time", "-f", "maxrss-kb %M", binary, "-q", "-all", root).CombinedOutput()
	}
	if out, err := all(); err != nil {
		b.Fatalf("prime %d clients: %v: %s", allClients, err, out)
	}
	var took []time.Duration
	var rss int64
	round := 0
	for b.Loop() {
		b.StopTimer()
		round++
		typicalWork(b, r, dbs, round)
		b.StartTimer()
		start := time.Now()
		out, err := all()
		took = append(took, time.Since(start))
		if err != nil {
			b.Fatalf("pggraph-collect -all: %v: %s", err, out)
		}
		kb, err := maxRSS(out)
		if err != nil {
			b.Fatal(err)
		}
		rss = max(rss, kb)
	}
	perRun := medianDuration(took).Seconds()
	b.ReportMetric(perRun, "s-total")
	b.ReportMetric(perRun*1000/allClients, "ms/client")
	b.ReportMetric(float64(rss)/1024, "MB-peak-RSS")
}

// medianDuration is the median of ds, which must not be empty.
func medianDuration(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// maxRSS reads the peak RSS in kB from output ending with GNU time's
// "maxrss-kb N" line.
func maxRSS(out []byte) (int64, error) {
	s := string(out)
	i := strings.LastIndex(s, "maxrss-kb")
	if i < 0 {
		return 0, fmt.Errorf("no maxrss-kb line from GNU time in %q", s)
	}
	var kb int64
	if _, err := fmt.Sscanf(s[i:], "maxrss-kb %d", &kb); err != nil {
		return 0, fmt.Errorf("read GNU time's output %q: %w", s[i:], err)
	}
	return kb, nil
}
