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

	"github.com/pggraph/pggraph/internal/testing/fcgiclient"
)

// cgiGraph is the graph BenchmarkCGIVsRRDtool asks the CGI for: an
// overview graph with two counter lines over the fixture's databases.
const cgiGraph = "transactions"

// BenchmarkCGIVsRRDtool is the whole cost a browser's image request has,
// with the central server reached over TCP (SCRAM login) and over the
// local socket:
// the pggraph.cgi process, started as Apache starts it for a logged-in
// user (CGI environment with REMOTE_USER and pggraph.conf's MATCH_CLIENT,
// config.ini beside SCRIPT_FILENAME), connecting to the central PostgreSQL
// as pggraph_web, reading the 400-day fixture at the range's resolution,
// writing the PNG and spooling its access log row — against `rrdtool
// graph` drawing the same points from an RRD file, in the same loop. It
// reports the medians from process start to exit (cgi-ms, rrd-ms), their
// ratio (cgi/rrd; targets ≤ 0.4 for day and year, ≤ 0.7 for week and
// month), the CGI's mean CPU time (cgi-cpu-ms; without the spool's
// writer, a process of its own about once a second), the same for the
// image answered again from the CGI's cache (cached-ms, cached-cpu-ms),
// and its peak RSS measured by GNU time (target < 40 MB for a year).
// In the same loop, the same request goes to pggraph.cgi's FastCGI
// server (-serve), as pggraph.conf has Apache reach it by default: one
// process, kept with its connections to the central database across the
// requests (fcgi-ms from sending the request to
// its last byte, fcgi/rrd, fcgi-cpu-ms from the process's schedstat, and
// fcgi-cached-ms, and the process's peak RSS so far, fcgi-peak-MB).
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
			"REMOTE_USER=bench", "AUTH_TYPE=form", "MATCH_CLIENT=" + fxPrefix, "GOMAXPROCS=1", // as pggraph.conf sets them
			"REMOTE_ADDR=127.0.0.1", "PGPASSFILE=" + pgpass, "PATH=/usr/bin:/bin"}
	}
	// Its stderr is a file, as Apache's error log is: the spool's writer
	// keeps it open after the CGI exits, which a pipe's reader would
	// wait for.
	stderr, err := os.Create(filepath.Join(dir, "cgi.err"))
	if err != nil {
		b.Fatal(err)
	}
	defer stderr.Close()
	runCGI := func(script, query string) (took, cpu time.Duration) {
		cmd := exec.Command(script)
		cmd.Env = request(script, query)
		var stdout bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, stderr
		start := time.Now()
		err := cmd.Run()
		took = time.Since(start)
		if err != nil || !bytes.Contains(stdout.Bytes(), []byte("Content-Type: image/png")) {
			errs, _ := os.ReadFile(stderr.Name())
			b.Fatalf("pggraph.cgi %s: %v: %.200q %.500s", query, err, stdout.Bytes(), errs)
		}
		return took, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}

	// The FastCGI processes, one per install directory's transport.
	fcgis := map[string]*fcgiclient.Process{}
	for transport, script := range scripts {
		sock := filepath.Join(filepath.Dir(script), "web.sock")
		p, err := fcgiclient.Start(b.Context(), cgi, []string{"-serve", sock}, sock, fcgiclient.Env(), stderr)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Stop(5 * time.Second)
		fcgis[transport] = p
	}
	runFCGI := func(p *fcgiclient.Process, script, query string) (took, cpu time.Duration) {
		params := map[string]string{}
		for _, kv := range request(script, query) {
			k, v, _ := strings.Cut(kv, "=")
			params[k] = v
		}
		before := schedCPU(b, p.PID())
		start := time.Now()
		resp, err := p.Do(b.Context(), params)
		took = time.Since(start)
		if err != nil || resp.Status != 200 || resp.Header["Content-Type"] != "image/png" {
			errs, _ := os.ReadFile(stderr.Name())
			b.Fatalf("pggraph.cgi as FastCGI %s: %v %+v %.500s", query, err, resp, errs)
		}
		return took, schedCPU(b, p.PID()) - before
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
			fcgi := fcgis[sub.transport]
			runCGI(script, query) // warm all three: page cache, dynamic loader, a kept connection
			runFCGI(fcgi, script, query)
			timed(b, "rrdtool", rrdArgs...)
			// Each iteration draws the image (its cache emptied first), then
			// answers it again from the cache, as a CGI and as FastCGI.
			cacheDir := filepath.Join(filepath.Dir(script), "cache")
			var cgiT, cachedT, rrdT, fcgiT, fcgiCachedT []time.Duration
			var cpu, cachedCPU, fcgiCPU time.Duration
			for b.Loop() {
				if err := os.RemoveAll(cacheDir); err != nil {
					b.Fatal(err)
				}
				t, c := runCGI(script, query)
				cgiT, cpu = append(cgiT, t), cpu+c
				t, c = runCGI(script, query)
				cachedT, cachedCPU = append(cachedT, t), cachedCPU+c
				if err := os.RemoveAll(cacheDir); err != nil {
					b.Fatal(err)
				}
				t, c = runFCGI(fcgi, script, query)
				fcgiT, fcgiCPU = append(fcgiT, t), fcgiCPU+c
				t, _ = runFCGI(fcgi, script, query)
				fcgiCachedT = append(fcgiCachedT, t)
				t, _ = timed(b, "rrdtool", rrdArgs...)
				rrdT = append(rrdT, t)
			}
			fc := median(fcgiT)
			b.ReportMetric(float64(fc.Microseconds())/1000, "fcgi-ms")
			b.ReportMetric(fc.Seconds()/median(rrdT).Seconds(), "fcgi/rrd")
			b.ReportMetric(float64(fcgiCPU.Microseconds())/1000/float64(len(fcgiT)), "fcgi-cpu-ms")
			b.ReportMetric(float64(median(fcgiCachedT).Microseconds())/1000, "fcgi-cached-ms")
			b.ReportMetric(peakKB(b, fcgi.PID())/1024, "fcgi-peak-MB")
			c, rr := median(cgiT), median(rrdT)
			b.ReportMetric(float64(c.Microseconds())/1000, "cgi-ms")
			b.ReportMetric(float64(rr.Microseconds())/1000, "rrd-ms")
			b.ReportMetric(c.Seconds()/rr.Seconds(), "cgi/rrd")
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(cgiT)), "cgi-cpu-ms")
			b.ReportMetric(float64(median(cachedT).Microseconds())/1000, "cached-ms")
			b.ReportMetric(float64(cachedCPU.Microseconds())/1000/float64(len(cachedT)), "cached-cpu-ms")

			// GNU time forks the CGI from its own small process (a
			// child of this test would inherit the test's peak RSS).
			if err := os.RemoveAll(cacheDir); err != nil { // drawn, not cached
				b.Fatal(err)
			}
			timeOut := filepath.Join(rdir, "time.out")
			cmd := exec.Command("/usr/bin/time", "-o", timeOut, "-f", "maxrss-kb %M", script)
			cmd.Env = request(script, query)
			cmd.Stdout, cmd.Stderr = nil, stderr
			if err := cmd.Run(); err != nil {
				b.Fatalf("time pggraph.cgi: %v", err)
			}
			raw, err := os.ReadFile(timeOut)
			if err != nil {
				b.Fatal(err)
			}
			out := string(raw)
			kb, err := strconv.ParseFloat(strings.TrimSpace(out[strings.LastIndex(out, "maxrss-kb")+len("maxrss-kb"):]), 64)
			if err != nil {
				b.Fatalf("GNU time printed %q", out)
			}
			b.ReportMetric(kb/1024, "cgi-peak-MB")
		})
	}
}

// schedCPU is the CPU time process pid's threads have run so far, from
// /proc/PID/task/*/schedstat (nanoseconds, unlike /proc/PID/stat's ticks).
func schedCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(stats) == 0 {
		b.Fatalf("schedstat of process %d: %v", pid, err)
	}
	var total time.Duration
	for _, f := range stats {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue // a thread that ended
		}
		ns, err := strconv.ParseInt(strings.Fields(string(raw))[0], 10, 64)
		if err != nil {
			b.Fatalf("%s: %q", f, raw)
		}
		total += time.Duration(ns)
	}
	return total
}

// peakKB is process pid's peak RSS so far (VmHWM), in KB.
func peakKB(b *testing.B, pid int) float64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				b.Fatalf("VmHWM %q", v)
			}
			return kb
		}
	}
	b.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}
