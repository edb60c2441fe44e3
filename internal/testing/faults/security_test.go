//go:build hard

package faults

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pggraph/pggraph/internal/config"
)

// TestHostKeys: a known_hosts whose line for the bastion or the db host
// holds another key makes the run fail with one line saying the key
// changed; a host missing from known_hosts is refused with its
// fingerprint. Nothing is collected either way.
func TestHostKeys(t *testing.T) {
	w := env(t)
	r := w.rig
	root := t.TempDir()
	other, err := os.ReadFile(r.Keys.Unauthorized + ".pub") // an ed25519 key no server has
	if err != nil {
		t.Fatal(err)
	}
	otherKey := strings.Fields(string(other))[1]
	lines, err := os.ReadFile(r.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	// knownHosts writes the rig's known_hosts with the line of addr
	// changed by edit (nil: dropped).
	knownHosts := func(name, addr string, edit func(fields []string) []string) string {
		hostPort := strings.Replace(addr, "127.0.0.1:", "[127.0.0.1]:", 1)
		var b strings.Builder
		found := false
		for _, l := range strings.Split(strings.TrimSpace(string(lines)), "\n") {
			f := strings.Fields(l)
			if len(f) == 3 && f[0] == hostPort {
				found = true
				if edit == nil {
					continue
				}
				f = edit(f)
			}
			b.WriteString(strings.Join(f, " ") + "\n")
		}
		if !found {
			t.Fatalf("no line for %s in %s", hostPort, r.KnownHosts)
		}
		path := filepath.Join(root, name)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	changeKey := func(f []string) []string { return []string{f[0], f[1], otherKey} }
	tests := []struct {
		name, prefix string
		hosts        string
		want         []string
	}{
		{"bastion host key changed", "hkbastion", knownHosts("bastion-changed", r.Bastion.Addr, changeKey),
			[]string{"tunnel: bastion " + r.Bastion.Addr + ": ssh handshake: ", "host key of", "changed"}},
		{"db host key changed", "hkdbhost", knownHosts("dbhost-changed", r.DBHost.Addr, changeKey),
			[]string{"tunnel: db host " + r.DBHost.Addr + ": ssh handshake: ", "host key of", "changed"}},
		{"db host unknown", "hkunknown", knownHosts("dbhost-missing", r.DBHost.Addr, nil),
			[]string{"tunnel: db host " + r.DBHost.Addr + ": ssh handshake: ", "unknown", "SHA256:"}},
	}
	conn := centralConn(t, r, "pggraph")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := w.clientConfig(t, root, tc.prefix, []string{"postgres"}, func(c *config.Config) { c.SSH.KnownHosts = tc.hosts })
			res := w.collect(t, path)
			lines := res.failures()
			ok := res.code == 1 && len(lines) == 1 && strings.HasPrefix(lines[0], "pggraph-collect: "+tc.prefix+": ")
			for _, want := range tc.want {
				ok = ok && strings.Contains(lines[0], want)
			}
			if !ok {
				t.Errorf("%s; want exit 1 and one line with %q", res, tc.want)
			}
			var state *string
			if err := conn.QueryRow(t.Context(), "SELECT to_regclass($1)::text", tc.prefix+"_state").Scan(&state); err != nil {
				t.Fatal(err)
			}
			if state != nil && !fingerprintOf(t, conn, tc.prefix).taken.IsZero() {
				t.Errorf("a refused host was collected")
			}
			addFigure(t, "security", tc.name, "exit 1: "+keyCause.FindString(cause(lines, tc.prefix)))
		})
	}
}

// keyCause is the part of a host key failure the table shows.
var keyCause = regexp.MustCompile(`host key of \S+ (changed|is unknown)`)

// addFigure records a one-try row whose outcome is the test's.
func addFigure(t testing.TB, area, what, note string) {
	f := figure{Area: area, What: what, Tries: 1, Survived: 1, Note: note}
	if t.Failed() {
		f.Survived, f.Failures = 0, 1
	}
	figures.add(f)
}

// TestConfigMode: a config.ini holding passwords that group or others
// may read gets a warning line naming it; a 0600 one none.
func TestConfigMode(t *testing.T) {
	w := env(t)
	root := t.TempDir()
	for _, tc := range []struct {
		mode os.FileMode
		warn bool
	}{{0o600, false}, {0o640, true}, {0o644, true}} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			prefix := fmt.Sprintf("mode%o", tc.mode)
			path := w.clientConfig(t, root, prefix, []string{"postgres"}, nil)
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			res := w.collect(t, "-t", path)
			warned := strings.Contains(res.stderr, "level=WARN") && strings.Contains(res.stderr, path+" is readable by group/others") && strings.Contains(res.stderr, "chmod 600")
			if res.code != 0 || warned != tc.warn {
				t.Errorf("mode %v: %s; want exit 0 and a warning: %v", tc.mode, res, tc.warn)
			}
			if tc.warn {
				note := "no warning"
				if m := regexp.MustCompile(`msg="([^"]*)"`).FindStringSubmatch(res.stderr); m != nil {
					note = "warning: " + strings.Replace(m[1], "config "+path, "config.ini", 1)
				}
				addFigure(t, "security", fmt.Sprintf("config.ini mode %o", tc.mode.Perm()), note)
			}
		})
	}
}

// TestWrongPasswords: runs with a wrong remote or central password fail
// with one line naming the step, and never show the password given (the
// secrets scan at the end reads their output again).
func TestWrongPasswords(t *testing.T) {
	w := env(t)
	root := t.TempDir()
	for _, tc := range []struct {
		name, prefix, step string
		edit               func(c *config.Config, pw string)
	}{
		{"wrong remote password", "wrongremote", "remote", func(c *config.Config, pw string) { c.Remote.Password = config.Secret(pw) }},
		{"wrong central password", "wrongcentral", "store", func(c *config.Config, pw string) { c.Local.Password = config.Secret(pw) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pw := "wrong-pw-" + rand.Text()
			secrets.add(tc.name, pw)
			path := w.clientConfig(t, root, tc.prefix, []string{"postgres"}, func(c *config.Config) { tc.edit(c, pw) })
			res := w.collect(t, "-v", path)
			lines := res.failures()
			if res.code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "pggraph-collect: "+tc.prefix+": "+tc.step+": ") || !strings.Contains(lines[0], "password authentication failed") {
				t.Errorf("%s; want exit 1 and one line naming step %s and the failed authentication", res, tc.step)
			}
			if strings.Contains(res.stdout+res.stderr, pw) {
				t.Errorf("the output shows the password: %s", res)
			}
		})
	}
}

// webRequest is one hostile request of TestWebRefusals.
type webRequest struct {
	name, path, user string
	status           []int // any of these
}

// TestWebRefusals sends Apache and the CGI what an attacker would:
// config.ini, another client's pages, SQL in every kind of parameter,
// oversized and malformed parameters. Each gets its 4xx with a one-line
// body (never a 5xx, never data), and the central tables are the same
// afterwards.
func TestWebRefusals(t *testing.T) {
	w := env(t)
	a := webSite(t)
	conn := centralConn(t, w.rig, "pggraph")
	before := fingerprintOf(t, conn, webClient)
	q := func(raw string) string { return webBase + "?" + raw }
	esc := url.QueryEscape
	long := strings.Repeat("x", 100_000)
	tests := []webRequest{
		{"config.ini", "/pggraph/" + webClient + "/config.ini", "alice", []int{403}},
		{"config.ini without credentials", "/pggraph/" + webClient + "/config.ini", "", []int{403}},
		{"config.ini encoded", "/pggraph/" + webClient + "/config%2eini", "alice", []int{403}},
		{"config.ini via dot segments", "/pggraph/" + resetsClient + "/../" + webClient + "/config.ini", "alice", []int{403}},
		{"no credentials", webBase, "", []int{401}},
		{"user of another client", webBase, "bob", []int{403}},
		{"user of another client, a graph", q("graph=connections&format=csv"), "bob", []int{403}},
		{"another client's user the other way", "/pggraph/" + resetsClient + "/index.cgi", "alice", []int{403}},
		{"SQL in a graph name", q("graph=" + esc("x';DROP TABLE "+webClient+"_table;--")), "alice", []int{404}},
		{"SQL in a database name", q("page=tables&db=" + esc("1' OR '1'='1")), "alice", []int{404}},
		{"SQL in a table name", q("page=table&db=" + webDB + "&table=" + esc("public.orders' UNION SELECT user_passwd FROM client_users--")), "alice", []int{404}},
		{"SQL in db of a graph", q("graph=db_size&db=" + esc("1 OR 1=1")), "alice", []int{404}},
		{"SQL in a page number", q("page=tables&db=" + webDB + "&p=" + esc("1 OR 1=1")), "alice", []int{400}},
		{"SQL in a width", q("graph=table_size&db=" + webDB + "&table=public.orders&width=" + esc("800;DROP TABLE x")), "alice", []int{400}},
		{"SQL in a range", q("range=" + esc("day'; DELETE FROM clients;--")), "alice", []int{400}},
		{"SQL in a sort", q("page=tables&db=" + webDB + "&sort=" + esc("size; DROP TABLE "+webClient+"_object")), "alice", []int{400}},
		{"SQL in a format", q("graph=connections&format=" + esc("csv' OR 1=1")), "alice", []int{400}},
		{"SQL in a time", q("graph=connections&range=custom&from=" + esc("2025-01-01' OR 1=1--")), "alice", []int{400}},
		{"SQL as a parameter name", q(esc("db;DROP TABLE x") + "=1"), "alice", []int{400}},
		{"value of 300 bytes", q("page=tables&db=" + strings.Repeat("d", 300)), "alice", []int{400}},
		{"query of 6 kB", q("page=tables&db=" + webDB + "&p=1&x=" + strings.Repeat("y", 6000)), "alice", []int{400}},
		// Beyond Apache's LimitRequestLine (8190 bytes): Apache answers
		// 414 itself, the CGI never runs (TestCGIOversized sends it the
		// same value directly: 400).
		{"value of 100 kB", q("page=tables&db=" + long), "alice", []int{414}},
		{"NUL byte", q("page=tables&db=a%00b"), "alice", []int{400}},
		{"invalid UTF-8", q("page=tables&db=%ff%fe"), "alice", []int{400}},
		{"bad escape", q("page=tables&db=%zz"), "alice", []int{400}},
		{"repeated parameter", q("graph=connections&graph=connections"), "alice", []int{400}},
		{"huge page number", q("page=tables&db=" + webDB + "&p=99999999999999999999"), "alice", []int{400}},
		{"negative width", q("graph=connections&width=-5"), "alice", []int{400}},
		{"script in a database name", q("page=tables&db=" + esc("<script>alert(1)</script>")), "alice", []int{404}},
	}
	refused := 0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, ctype := fetch(t, a, tc.path, tc.user)
			ok := false
			for _, s := range tc.status {
				ok = ok || status == s
			}
			if !ok {
				t.Errorf("%.120s as %q: %d, want %v\n%.300s", tc.path, tc.user, status, tc.status, body)
			}
			if status >= 500 || strings.Contains(body, "SQLSTATE") || strings.Contains(body, "goroutine") {
				t.Errorf("%.120s: %d with %.300q", tc.path, status, body)
			}
			if strings.Contains(body, "<script>") && !strings.HasPrefix(ctype, "text/plain") {
				t.Errorf("%.120s: %d %s echoes markup: %.300q", tc.path, status, ctype, body)
			}
			if (status == 400 || status == 404 || status == 403) && strings.HasPrefix(tc.path, webBase) && tc.user == "alice" && !oneLine(body) {
				t.Errorf("%.120s: body not one line: %.300q", tc.path, body)
			}
			for _, s := range secrets.all() {
				if strings.Contains(body, s.value) {
					t.Errorf("%.120s: the body shows the %s", tc.path, s.name)
				}
			}
			if !t.Failed() {
				refused++
			}
		})
	}
	if after := fingerprintOf(t, conn, webClient); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the central tables changed: %v -> %v", before, after)
	}
	figures.add(figure{Area: "security", What: "hostile HTTP requests (config.ini, other client, SQL, oversized, malformed)", Tries: len(tests), Survived: refused, Failures: len(tests) - refused,
		Note: "each its 401/403/400/404/414 with a one-line body, never a 5xx; tables unchanged"})
}

// TestCGIOversized runs the CGI as Apache would, with query strings of
// about 100 kB, which Apache itself refuses (longer than its request
// line; Linux caps one environment string at 128 kB): still 400.
func TestCGIOversized(t *testing.T) {
	w := env(t)
	webSite(t)
	for _, query := range []string{
		"page=tables&db=" + strings.Repeat("x", 100_000),
		"graph=connections&" + strings.Repeat("a=1&", 25_000),
		"page=tables&db=" + url.QueryEscape(strings.Repeat("é'; DROP TABLE x;--", 3000)),
	} {
		cmd := exec.CommandContext(t.Context(), filepath.Join(installDir(webClient), "index.cgi"))
		cmd.Env = []string{"GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=GET", "SERVER_PROTOCOL=HTTP/1.1", "HTTP_HOST=127.0.0.1",
			"SCRIPT_FILENAME=" + filepath.Join(installDir(webClient), "index.cgi"), "REQUEST_URI=" + webBase + "?" + query, "QUERY_STRING=" + query,
			"REMOTE_USER=alice", "REMOTE_ADDR=192.0.2.7", "PGPASSFILE=" + site.pgpass}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		os.WriteFile(filepath.Join(w.logs, "cgi-oversized.err"), stderr.Bytes(), 0o644)
		if err != nil || !strings.HasPrefix(stdout.String(), "Status: 400 Bad Request\r\n") {
			t.Errorf("%d-byte query: %v\n%.300q\n%.300s", len(query), err, stdout.String(), stderr.String())
		}
	}
	addFigure(t, "security", "100 kB parameters straight to the CGI", "400, one line")
}

// TestWebRoleReadOnly: the role the CGI and Apache use, pggraph_web, may
// read samples and append to the access log, and nothing else: every
// write to samples, clients and users is refused.
func TestWebRoleReadOnly(t *testing.T) {
	w := env(t)
	webSite(t)
	c := w.rig.Central
	web := func(db string) *pgx.Conn {
		t.Helper()
		conn, err := pgx.Connect(t.Context(), fmt.Sprintf("host=127.0.0.1 port=%d user=pggraph_web password='%s' dbname=%s sslmode=disable", c.Port, site.web, db))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		return conn
	}
	samples, clients, users := web("pggraph"), web("pggraph_clients"), web("pggraph_users")
	tbl := pgx.Identifier{webClient + "_table"}.Sanitize()
	obj := pgx.Identifier{webClient + "_object"}.Sanitize()
	state := pgx.Identifier{webClient + "_state"}.Sanitize()
	denied := []struct {
		conn *pgx.Conn
		sql  string
	}{
		{samples, "INSERT INTO " + tbl + " (ts, object, seconds) VALUES (now(), 1, 1)"},
		{samples, "UPDATE " + tbl + " SET seconds = 0"},
		{samples, "DELETE FROM " + tbl},
		{samples, "TRUNCATE " + tbl},
		{samples, "DROP TABLE " + tbl},
		{samples, "ALTER TABLE " + tbl + " ADD COLUMN evil int"},
		{samples, "INSERT INTO " + obj + " (grp, dbid, key, first_seen, last_seen) VALUES ('table', 1, 'x', now(), now())"},
		{samples, "UPDATE " + state + " SET taken = now()"},
		{samples, "CREATE TABLE " + webClient + "_evil (id int)"},
		{samples, "UPDATE schema_version SET version = 0"},
		{clients, "UPDATE clients SET last_outcome = 'ok'"},
		{clients, "DELETE FROM clients"},
		{users, "UPDATE client_users SET client = '" + webClient + "'"},
		{users, "INSERT INTO client_users (user_name, user_passwd, client) VALUES ('mallory', 'x', '" + webClient + "')"},
		{users, "DELETE FROM client_access_log"},
		{users, "UPDATE client_access_log SET login = 'x'"},
	}
	refused := 0
	for _, d := range denied {
		_, err := d.conn.Exec(t.Context(), d.sql)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "42501" {
			t.Errorf("as pggraph_web: %s: %v; want permission denied (42501)", d.sql, err)
			continue
		}
		refused++
	}
	// What it may do.
	var n int
	if err := samples.QueryRow(t.Context(), "SELECT count(*) FROM "+tbl).Scan(&n); err != nil || n == 0 {
		t.Errorf("pggraph_web cannot read the samples: %d rows, %v", n, err)
	}
	if _, err := users.Exec(t.Context(), "INSERT INTO client_access_log (login, request, ip_address) VALUES ('hard', '/test', '127.0.0.1')"); err != nil {
		t.Errorf("pggraph_web cannot append to the access log: %v", err)
	}
	figures.add(figure{Area: "security", What: "writes as the web role pggraph_web", Tries: len(denied), Survived: refused, Failures: len(denied) - refused,
		Note: "INSERT/UPDATE/DELETE/TRUNCATE/DROP/ALTER/CREATE on samples, clients, users: permission denied"})
}
