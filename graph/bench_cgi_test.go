package graph

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cgiGraph is the graph BenchmarkCGIVsRRDtool asks the CGI for: an
// overview graph with two counter lines over the fixture's databases.
const cgiGraph = "transactions"

// BenchmarkCGIVsRRDtool is the whole cost a browser's image request has,
// with the central server reached over TCP (SCRAM login) and over the
// local socket:
// the pggraph.cgi process, started as Apache starts it (CGI environment,
// config.ini beside SCRIPT_FILENAME), connecting to the central PostgreSQL
// as pggraph_web, reading the 400-day fixture at the range's resolution
// and writing the PNG — against `rrdtool graph` drawing the same points
// from an RRD file, in the same loop. It reports the medians (cgi-ms,
// rrd-ms), their ratio (cgi/rrd; targets ≤ 0.7 for day, week and month,
// ≤ 1.0 for year) and the CGI's peak RSS measured by GNU time (target
// < 40 MB for a year).
func BenchmarkCGIVsRRDtool(b *testing.B) {
	f := loadFixture(b)
	r := shared.Get(b)
	dir := b.TempDir()
	cgi := filepath.Join(dir, "pggraph.cgi")
	build := exec.Command("go", "build", "-trimpath", "-o", cgi, "../cgi-bin")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // as make build does
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build pggraph.cgi: %v: %s", err, out)
	}
	const webPassword = "bench-web-pw"
	if err := r.Central.Exec(b.Context(), "postgres", "ALTER ROLE pggraph_web PASSWORD '"+webPassword+"'"); err != nil {
		b.Fatal(err)
	}
	// The fixture's tables were made by the superuser; pggraph_web reads
	// those pggraph makes by default privileges, as in production.
	if err := r.Central.Exec(b.Context(), "pggraph", "GRANT SELECT ON ALL TABLES IN SCHEMA public TO pggraph_web"); err != nil {
		b.Fatal(err)
	}
	pgpass := filepath.Join(dir, "pgpass")
	os.WriteFile(pgpass, fmt.Appendf(nil, "127.0.0.1:%d:*:pggraph_web:%s\n", r.Central.Port, webPassword), 0o600)
	// One install directory per way of reaching the central server: TCP
	// with SCRAM (as the rig's clients log in), and the local socket (no
	// password exchange: peer authentication in production, trust on the
	// rig), which an operator with a local central database would use.
	scripts := map[string]string{}
	for transport, host := range map[string]string{"tcp": "127.0.0.1", "socket": r.Central.SocketDir} {
		install := filepath.Join(dir, transport, fxPrefix)
		os.MkdirAll(install, 0o755)
		os.WriteFile(filepath.Join(install, "config.ini"), fmt.Appendf(nil, `[install]
directory = %s
www_path = pggraph/%s
title = Bench
[local]
database = pggraph
prefix = %s
port = %d
host = %s
user = pggraph
[remote]
user = mon
`, install, fxPrefix, fxPrefix, r.Central.Port, host), 0o600)
		scripts[transport] = filepath.Join(install, "index.cgi")
		if err := os.Symlink(cgi, scripts[transport]); err != nil {
			b.Fatal(err)
		}
	}
	request := func(script, query string) []string {
		return []string{"GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=GET", "SERVER_PROTOCOL=HTTP/1.1", "HTTP_HOST=127.0.0.1",
			"SCRIPT_FILENAME=" + script, "SCRIPT_NAME=/pggraph/" + fxPrefix + "/index.cgi",
			"REQUEST_URI=/pggraph/" + fxPrefix + "/index.cgi?" + query, "QUERY_STRING=" + query,
			"REMOTE_ADDR=127.0.0.1", "PGPASSFILE=" + pgpass, "PATH=/usr/bin:/bin"}
	}
	runCGI := func(script, query string) time.Duration {
		cmd := exec.Command(script)
		cmd.Env = request(script, query)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		took := time.Since(start)
		if err != nil || !bytes.Contains(stdout.Bytes(), []byte("Content-Type: image/png")) {
			b.Fatalf("pggraph.cgi %s: %v: %.200q %s", query, err, stdout.Bytes(), stderr.String())
		}
		return took
	}

	for _, sub := range []struct{ transport, name string }{
		{"socket", RangeDay}, {"socket", RangeWeek}, {"socket", RangeMonth}, {"socket", RangeYear},
		{"tcp", RangeDay}, {"tcp", RangeWeek}, {"tcp", RangeMonth}, {"tcp", RangeYear},
	} {
		name, script := sub.name, scripts[sub.transport]
		b.Run(sub.transport+"/"+name, func(b *testing.B) {
			rdir := b.TempDir()
			rng, err := ParseRange(name, "", "", f.end)
			if err != nil {
				b.Fatal(err)
			}
			query := "graph=" + cgiGraph + "&from=" + rng.From.Format(time.RFC3339) + "&to=" + rng.To.Format(time.RFC3339)
			d, err := Load(b.Context(), f.store, fxPrefix, Query{Graph: cgiGraph, Range: rng})
			if err != nil {
				b.Fatal(err)
			}
			rrdArgs := rrdFiles(b, d, rdir)
			runCGI(script, query) // warm both: page cache, dynamic loader
			timed(b, "rrdtool", rrdArgs...)
			var cgiT, rrdT []time.Duration
			for b.Loop() {
				cgiT = append(cgiT, runCGI(script, query))
				t, _ := timed(b, "rrdtool", rrdArgs...)
				rrdT = append(rrdT, t)
			}
			c, rr := median(cgiT), median(rrdT)
			b.ReportMetric(float64(c.Microseconds())/1000, "cgi-ms")
			b.ReportMetric(float64(rr.Microseconds())/1000, "rrd-ms")
			b.ReportMetric(c.Seconds()/rr.Seconds(), "cgi/rrd")

			// GNU time forks the CGI from its own small process (a
			// child of this test would inherit the test's peak RSS).
			cmd := exec.Command("/usr/bin/time", "-f", "maxrss-kb %M", script)
			cmd.Env = request(script, query)
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = nil, &stderr
			if err := cmd.Run(); err != nil {
				b.Fatalf("time pggraph.cgi: %v: %s", err, stderr.String())
			}
			out := stderr.String()
			kb, err := strconv.ParseFloat(strings.TrimSpace(out[strings.LastIndex(out, "maxrss-kb")+len("maxrss-kb"):]), 64)
			if err != nil {
				b.Fatalf("GNU time printed %q", out)
			}
			b.ReportMetric(kb/1024, "cgi-peak-MB")
		})
	}
}
