package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/testing/rig"
	"github.com/pggraph/pggraph/metric"
)

// benchDatabases are the remote databases of BenchmarkCollect, each with
// benchTables tables (and their primary-key indexes).
const (
	benchDatabases = 5
	benchTables    = 1000
)

// benchSchema creates the benchmark's databases once (they stay for the
// rig's life).
func benchSchema(b *testing.B, r *rig.Rig) []string {
	b.Helper()
	var names []string
	for i := 1; i <= benchDatabases; i++ {
		name := fmt.Sprintf("bench%d", i)
		names = append(names, name)
		var exists bool
		conn, err := pgx.Connect(b.Context(), r.PG.ConnString("postgres"))
		if err != nil {
			b.Fatal(err)
		}
		conn.QueryRow(b.Context(), "SELECT true FROM pg_database WHERE datname = $1", name).Scan(&exists)
		conn.Close(context.Background())
		if exists {
			continue
		}
		remoteExec(b, r, "postgres", "CREATE DATABASE "+name)
		remoteExec(b, r, name, fmt.Sprintf(`DO $$ BEGIN FOR i IN 1..%d LOOP
			EXECUTE format('CREATE TABLE t%%s (id int PRIMARY KEY, v int)', i);
			EXECUTE format('INSERT INTO t%%s VALUES (1, 1)', i);
		END LOOP; END $$`, benchTables))
	}
	return names
}

// sshForward starts OpenSSH's `ssh -N -L` through the bastion to the db
// host (the way an operator would) and returns the local port and a stop
// function.
func sshForward(b *testing.B, r *rig.Rig, dir string) (int, func()) {
	b.Helper()
	cfg := filepath.Join(dir, "ssh_config")
	if err := r.WriteSSHConfig(cfg, r.Keys.ED25519); err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command("ssh", "-F", cfg, "-N", "-L", fmt.Sprintf("127.0.0.1:%d:127.0.0.1:%d", port, r.PG.Port), "via-bastion")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return port, stop
		}
		if time.Now().After(deadline) {
			stop()
			b.Fatalf("ssh -L not listening: %v", err)
		}
	}
}

// BenchmarkCollect measures one collection of a remote with 5 databases ×
// 1,000 tables through the twin tunnel (the pggraph-collect binary: wall
// time, peak RSS, rows and bytes stored) against the same catalog queries
// run by psql through OpenSSH's ssh -L over the same bastion, measured in
// the same loop. Target: ratio ≤ 1.2 and < 3 s.
func BenchmarkCollect(b *testing.B) {
	r := env(b)
	dbs := benchSchema(b, r)
	dir := b.TempDir()
	path := clientConfig(b, r, dir, "bench", func(c *config.Config) { c.Remote.Databases = dbs })
	if out, err := exec.Command(binary, "-q", path).CombinedOutput(); err != nil {
		b.Fatalf("prime: %v: %s", err, out)
	}

	// The baseline's SQL: the same queries, server groups once, database
	// groups in every database. A query with Needs is left out: its
	// extension is not created in these databases, so the collector
	// skips it too.
	var serverSQL, dbSQL []string
	for _, g := range metric.Groups() {
		q, ok := g.QueryFor(150000)
		if !ok || q.Needs != "" {
			continue
		}
		if g.Scope == metric.Server {
			serverSQL = append(serverSQL, q.SQL)
		} else {
			dbSQL = append(dbSQL, q.SQL)
		}
	}
	serverFile, dbFile := filepath.Join(dir, "server.sql"), filepath.Join(dir, "db.sql")
	os.WriteFile(serverFile, []byte(strings.Join(serverSQL, ";\n")+";\n"), 0o600)
	os.WriteFile(dbFile, []byte(strings.Join(dbSQL, ";\n")+";\n"), 0o600)
	pgpass := filepath.Join(dir, "pgpass")
	os.WriteFile(pgpass, fmt.Appendf(nil, "*:*:*:%s:%s\n", r.PG.MonitorUser, r.PG.MonitorPassword), 0o600)

	psql := func(port int, db string, files ...string) {
		args := []string{"-X", "-q", "-o", "/dev/null", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", fmt.Sprint(port), "-U", r.PG.MonitorUser, "-d", db}
		for _, f := range files {
			args = append(args, "-f", f)
		}
		cmd := exec.Command("psql", args...)
		cmd.Env = append(os.Environ(), "PGPASSFILE="+pgpass)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("psql: %v: %s", err, out)
		}
	}
	conn := central(b, r)
	size := func() float64 {
		var s float64
		conn.QueryRow(b.Context(), `SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c WHERE relname LIKE 'bench\_%' AND relkind = 'r'`).Scan(&s)
		return s
	}

	var collect, baseline time.Duration
	var rss int64
	bytesBefore := size()
	for b.Loop() {
		start := time.Now()
		port, stop := sshForward(b, r, dir)
		psql(port, dbs[0], serverFile, dbFile)
		for _, db := range dbs[1:] {
			psql(port, db, dbFile)
		}
		stop()
		baseline += time.Since(start)

		// GNU time forks the collector from its own small process: a
		// child of this test would inherit the test's peak RSS.
		start = time.Now()
		cmd := exec.Command("/usr/bin/time", "-f", "maxrss-kb %M", binary, "-q", path)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("pggraph-collect: %v: %s", err, out)
		}
		collect += time.Since(start)
		var kb int64
		if _, err := fmt.Sscanf(string(out[strings.LastIndex(string(out), "maxrss-kb"):]), "maxrss-kb %d", &kb); err != nil {
			b.Fatalf("read GNU time's output %q: %v", out, err)
		}
		rss = max(rss, kb)
	}
	n := float64(b.N)
	var rows int
	conn2, err := pgx.Connect(b.Context(), r.Central.ConnString("pggraph_clients"))
	if err != nil {
		b.Fatal(err)
	}
	defer conn2.Close(context.Background())
	conn2.QueryRow(b.Context(), "SELECT last_samples FROM clients WHERE prefix = 'bench'").Scan(&rows)
	b.ReportMetric(float64(collect.Milliseconds())/n, "ms-collect")
	b.ReportMetric(float64(baseline.Milliseconds())/n, "ms-psql-ssh")
	b.ReportMetric(float64(collect)/float64(baseline), "ratio")
	b.ReportMetric(float64(rss)/1024, "MB-peak-RSS")
	b.ReportMetric(float64(rows), "rows/run")
	b.ReportMetric((size()-bytesBefore)/n/1024, "KB-stored/run")
}
