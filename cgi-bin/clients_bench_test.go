package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// benchClients is how many clients BenchmarkClientsPage lists, beside
// the site's own.
const benchClients = 1000

// BenchmarkClientsPage runs the all-clients page over 1,000 clients (a
// tenth with active alerts, one in fifty never collected) as a whole
// pggraph.cgi process, started as Apache starts it for an operator:
// connecting as pggraph_web, checking the user in pggraph_users, reading
// every client's health in one query, rendering, and writing its access
// log row before it exits. It reports the median process time (target
// < 200 ms), the page's size and the clients listed.
func BenchmarkClientsPage(b *testing.B) {
	webSite(b)
	ctx := b.Context()
	c := web.rig.Central
	conn, err := pgx.Connect(ctx, c.ConnString("pggraph_clients"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, `
INSERT INTO clients (prefix, title, directory, www_path, last_run, last_duration_ms, last_outcome, last_error, last_samples, last_ok)
SELECT 'bc' || i, 'Bench client ' || i || ' <&>', '/srv/bc' || i, 'pggraph/bc' || i,
       CASE WHEN i % 50 <> 0 THEN now() - (i || ' s')::interval END, 1000 + i,
       CASE WHEN i % 50 = 0 THEN NULL WHEN i % 25 = 0 THEN 'failed' ELSE 'ok' END,
       CASE WHEN i % 25 = 0 AND i % 50 <> 0 THEN 'tunnel: dial db host: connection refused' END, 10000,
       CASE WHEN i % 50 <> 0 THEN now() - (i || ' s')::interval END
FROM generate_series(1, $1) i`, benchClients); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `
INSERT INTO alert_state (prefix, check_name, object, state, text, since, updated)
SELECT 'bc' || i, c, 'database/' || i, CASE WHEN i % 20 = 0 THEN 'CRITICAL' ELSE 'WARNING' END, c || ' beyond', now(), now()
FROM generate_series(10, $1, 10) i, unnest(ARRAY['deadlocks', 'cache_hit', 'oldest_query']) c`, benchClients); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if _, err := conn.Exec(context.Background(), `DELETE FROM clients WHERE prefix ~ '^bc[0-9]+$'`); err != nil {
			b.Errorf("remove the bench clients: %v", err)
		}
	})
	env := []string{"GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=GET", "SERVER_PROTOCOL=HTTP/1.1", "HTTP_HOST=127.0.0.1",
		"SCRIPT_FILENAME=" + filepath.Join(web.root, "index.cgi"), "SCRIPT_NAME=/pggraph/index.cgi", "REQUEST_URI=/pggraph/",
		"REMOTE_USER=olga", "AUTH_TYPE=form", "REMOTE_ADDR=192.0.2.7", "REMOTE_PORT=5555",
		"PGPASSFILE=" + filepath.Join(web.dir, "pgpass"), "GOMAXPROCS=1"}
	var ds []time.Duration
	var size, rows int
	for b.Loop() {
		cmd := exec.CommandContext(ctx, filepath.Join(web.root, "index.cgi"))
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("pggraph.cgi: %v\n%s", err, stderr.String())
		}
		ds = append(ds, time.Since(start))
		out := stdout.String()
		if !strings.HasPrefix(out, "Status: 200 OK\r\n") && !strings.HasPrefix(out, "Content-Type: text/html") {
			b.Fatalf("pggraph.cgi: %.300q\n%s", out, stderr.String())
		}
		size, rows = len(out), strings.Count(out, "<tr class=")
	}
	if rows < benchClients {
		b.Fatalf("the page lists %d clients, want at least %d", rows, benchClients)
	}
	b.ReportMetric(float64(medianOf(ds).Microseconds())/1000, "page-ms")
	b.ReportMetric(float64(size)/1024, "KB")
	b.ReportMetric(float64(rows), "clients")
}
