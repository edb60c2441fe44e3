//go:build hard

package faults

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Apache load: requests in all and at once; with Basic auth fewer, as
// each costs a bcrypt check.
const (
	loadRequests      = 2000
	loadBasicRequests = 200
	loadConcurrency   = 20
)

// abFigure matches a figure line of ab's report.
func abFigure(report, name string) (string, bool) {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `:\s+(\S+)`).FindStringSubmatch(report)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// TestApacheLoad sends authenticated requests, loadConcurrency at a time,
// with ab through Apache (the login against pggraph_users, then
// pggraph.cgi), for a graph image and for a page: loadRequests with the
// session cookie of a login on the form, loadBasicRequests with HTTP
// Basic auth (a bcrypt check each, at pggraph-admin's default cost).
// Every one answers 200.
func TestApacheLoad(t *testing.T) {
	w := env(t)
	a := webSite(t)
	// ab sends the credentials as a header: -A would put the password
	// on ab's command line, which the secrets scan reads. The session
	// cookie is on it (-H): that login is this test's own, not one of
	// the secrets the scan looks for (TestFormLoginRefusals' are).
	status, _, cookie, body := formFetch(t, a, formRequest{method: "POST", path: "/pggraph/" + webClient + "/login",
		form: url.Values{"httpd_username": {"alice"}, "httpd_password": {site.users["alice"]}}})
	if status != 302 || cookie == "" {
		t.Fatalf("log in: %d %.300s", status, body)
	}
	basic := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+site.users["alice"]))
	session := "Cookie: " + sessionCookie + "=" + cookie
	for _, tc := range []struct{ name, path, ctype, header string }{
		{"graph PNG (database rows, day), session", webBase + "?graph=db_tuples&db=" + webDB + "&range=day", "image/png", session},
		{"tables page, session", webBase + "?page=tables&db=" + webDB, "text/html", session},
		{"graph PNG (database rows, day), Basic auth", webBase + "?graph=db_tuples&db=" + webDB + "&range=day", "image/png", basic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := loadRequests
			if tc.header == basic {
				n = loadBasicRequests
			}
			status, body, ctype := fetch(t, a, tc.path, "alice")
			if status != 200 || !strings.HasPrefix(ctype, tc.ctype) {
				t.Fatalf("%s: %d %s %.200q", tc.path, status, ctype, body)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
			defer cancel()
			// -l: a graph's bytes change as its day range moves on; any
			// other failure (connect, receive, exception, non-2xx) counts.
			cmd := exec.CommandContext(ctx, "/usr/bin/ab", "-q", "-l", "-n", strconv.Itoa(n), "-c", strconv.Itoa(loadConcurrency),
				"-s", "60", "-H", tc.header, a.URL+tc.path)
			out, err := cmd.CombinedOutput()
			os.WriteFile(filepath.Join(w.logs, "ab-"+strings.ReplaceAll(tc.name, " ", "-")+".out"), out, 0o644)
			report := string(out)
			if err != nil {
				t.Fatalf("ab: %v\n%s", err, report)
			}
			complete, _ := abFigure(report, "Complete requests")
			failed, _ := abFigure(report, "Failed requests")
			non2xx, hasNon2xx := abFigure(report, "Non-2xx responses")
			rps, _ := abFigure(report, "Requests per second")
			mean, _ := abFigure(report, "Time per request")
			nFailed, _ := strconv.Atoi(failed)
			nNon2xx, _ := strconv.Atoi(non2xx)
			if complete != strconv.Itoa(n) || failed != "0" || hasNon2xx {
				t.Errorf("ab: %s complete, %s failed, non-2xx %q; want %d, 0 and none\n%s\n%s", complete, failed, non2xx, n, report, a.Logs())
			}
			t.Logf("%s: %s req/s, %s ms per request at concurrency %d", tc.name, rps, mean, loadConcurrency)
			bad := min(nFailed+nNon2xx, n)
			if t.Failed() && bad == 0 {
				bad = 1
			}
			figures.add(figure{Area: "load", What: fmt.Sprintf("ab -n %d -c %d through Apache: %s", n, loadConcurrency, tc.name),
				Tries: n, Survived: n - bad, Failures: bad,
				Note: fmt.Sprintf("%s req/s, %s ms mean; failed %s, non-2xx %s", rps, mean, failed, orZero(non2xx))})
		})
	}
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// allClients is how many clients TestAllUnderRestart collects at once.
const allClients = 100

// TestAllUnderRestart collects allClients clients with -all, then again
// with the db host's sshd stopped for a second in the middle: every
// client is either collected (one sample) or named on stderr with its
// cause, none has two samples from that run, and the summary names the
// failed ones; a third run collects them all.
func TestAllUnderRestart(t *testing.T) {
	w := env(t)
	r := w.rig
	root := filepath.Join(w.work, "all")
	var prefixes []string
	for i := 1; i <= allClients; i++ {
		p := fmt.Sprintf("all%03d", i)
		prefixes = append(prefixes, p)
		w.clientConfig(t, root, p, []string{"postgres"}, nil)
	}
	conn := centralConn(t, r, "pggraph")
	clients := centralConn(t, r, "pggraph_clients")
	samplesOfAll := func() map[string]int {
		t.Helper()
		out := map[string]int{}
		for _, p := range prefixes {
			var n int
			if err := conn.QueryRow(t.Context(), "SELECT count(DISTINCT ts) FROM "+pgx.Identifier{p + "_database"}.Sanitize()).Scan(&n); err != nil {
				t.Fatal(err)
			}
			out[p] = n
		}
		return out
	}
	all := func() result {
		return w.start(t, "pggraph-collect", "-all", root, "-jobs", "4").wait(t, 5*time.Minute)
	}

	prime := all()
	if prime.code != 0 || strings.Count(prime.stdout, ": primed: ") != allClients {
		t.Fatalf("priming run: %s", prime)
	}
	t.Logf("priming %d clients took %v", allClients, prime.took.Round(time.Millisecond))
	before := samplesOfAll()

	// The second run, with the db host down for a second once half the
	// clients are done.
	started := time.Now()
	run := w.start(t, "pggraph-collect", "-all", root, "-jobs", "4")
	var done int
	for done < allClients/2 {
		if err := clients.QueryRow(t.Context(), `SELECT count(*) FROM clients WHERE prefix LIKE 'all%' AND last_run >= $1`, started.Add(-time.Second)).Scan(&done); err != nil {
			t.Fatal(err)
		}
		select {
		case res := <-run.done:
			t.Fatalf("the run ended before half the clients were done: %s", res)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := r.DBHost.Stop(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	time.Sleep(time.Second)
	if err := r.DBHost.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	downFor := time.Since(down)
	res := run.wait(t, 5*time.Minute)
	after := samplesOfAll()

	named := map[string]string{}
	for _, l := range res.failures() {
		if m := failureLine.FindStringSubmatch(l); m != nil {
			named[m[1]] = m[2]
		}
	}
	var collected, failed, twice int
	steps := map[string]int{}
	for _, p := range prefixes {
		added := after[p] - before[p]
		step, isNamed := named[p]
		switch {
		case added > 1:
			twice++
			t.Errorf("%s: %d samples from one run", p, added)
		case added == 1 && !isNamed:
			collected++
		case added == 0 && isNamed:
			failed++
			steps[step]++
		default:
			t.Errorf("%s: %d samples added, named on stderr: %v (%q)", p, added, isNamed, step)
		}
	}
	wantCode, summary := 0, ""
	if failed > 0 {
		wantCode = 1
		summary = fmt.Sprintf("pggraph-collect: %d of %d clients collected; failed: ", collected, allClients)
	}
	if res.code != wantCode || (summary != "" && !strings.Contains(res.stderr, summary)) || len(res.failures()) != len(named)+min(failed, 1) {
		t.Errorf("exit %d, want %d; summary %q; %d failure lines for %d failed clients\n%s", res.code, wantCode, summary, len(res.failures()), failed, res.stderr)
	}
	if failed == 0 {
		t.Errorf("no client failed while the db host was down for %v: the restart did not happen in the middle", downFor)
	}
	t.Logf("second run: %v; db host down %v after %d clients; %d collected, %d failed (%v)", res.took.Round(time.Millisecond), downFor.Round(time.Millisecond), done, collected, failed, steps)

	// A third run collects every client once.
	third := all()
	final := samplesOfAll()
	if third.code != 0 {
		t.Errorf("third run: %s", third)
	}
	for _, p := range prefixes {
		if final[p]-after[p] != 1 {
			t.Errorf("%s: third run added %d samples, want 1", p, final[p]-after[p])
		}
	}
	var stepList []string
	for s, n := range steps {
		stepList = append(stepList, fmt.Sprintf("%s %d", s, n))
	}
	bad := twice
	if t.Failed() && bad == 0 {
		bad = 1
	}
	figures.add(figure{Area: "load", What: fmt.Sprintf("-all over %d clients, db-host sshd down %.1f s mid-run", allClients, downFor.Seconds()),
		Tries: allClients, Survived: allClients - bad, Failures: bad,
		Note: fmt.Sprintf("%d collected once, %d named with their cause (%s), 0 written twice; run %.1f s, priming %.1f s; the next run collected all",
			collected, failed, strings.Join(stepList, ", "), res.took.Seconds(), prime.took.Seconds())})
}
