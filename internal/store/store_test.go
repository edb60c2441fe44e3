package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/metric"
	schema "github.com/pggraph/pggraph/sql"
)

// catalog is what a second Setup must leave unchanged: roles, databases
// and every database's schema_version rows.
func catalog(t *testing.T, ctx context.Context, srv Server) string {
	t.Helper()
	var b strings.Builder
	for _, db := range []string{"postgres", schema.Samples, schema.Clients, schema.Users} {
		cc, err := srv.ConnConfig(db)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := pgx.ConnectConfig(ctx, cc)
		if err != nil {
			t.Fatal(err)
		}
		q := `SELECT version || ' ' || name || ' ' || applied::text FROM schema_version ORDER BY version`
		if db == "postgres" {
			q = `SELECT r.rolname || ' ' || r.rolcanlogin || ' ' || r.rolsuper || ' ' || r.oid::text || ' ' || coalesce(string_agg(m.rolname, ',' ORDER BY m.rolname), '')
			     FROM pg_roles r LEFT JOIN pg_auth_members a ON a.member = r.oid LEFT JOIN pg_roles m ON m.oid = a.roleid
			     GROUP BY r.oid, r.rolname, r.rolcanlogin, r.rolsuper
			     UNION ALL SELECT datname || ' ' || oid::text || ' ' || pg_get_userbyid(datdba) FROM pg_database
			     ORDER BY 1`
		}
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", db, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("%s: %v", db, err)
		}
		fmt.Fprintf(&b, "%s:\n  %s\n", db, strings.Join(lines, "\n  "))
		conn.Close(ctx)
	}
	return b.String()
}

// TestSetup runs Setup on the rig's other cluster, which nothing has set
// up, as a role with CREATEROLE and CREATEDB but not superuser; then again.
func TestSetup(t *testing.T) {
	r := central(t)
	ctx := t.Context()
	if err := r.PG.Exec(ctx, "postgres", `CREATE ROLE setup_admin LOGIN CREATEROLE CREATEDB PASSWORD 'admin-pw'`); err != nil {
		t.Fatal(err)
	}
	srv := Server{
		Params:   fmt.Sprintf("host=%s port=%d user=setup_admin sslmode=disable", r.PG.Host, r.PG.Port),
		Password: "admin-pw",
	}
	var first []string
	changed, err := Setup(ctx, srv, "", func(l string) { first = append(first, l) })
	if err != nil {
		t.Fatalf("first Setup: %v\n%s", err, strings.Join(first, "\n"))
	}
	if !changed {
		t.Error("first Setup: changed = false")
	}
	for _, want := range []string{
		"role pggraph: created (LOGIN, no password)",
		"role pggraph_web: created (LOGIN, no password)",
		"role pggraph: granted to setup_admin (to create and own its databases)",
		"database pggraph: created (owner pggraph)",
		"database pggraph_clients: created (owner pggraph)",
		"database pggraph_users: created (owner pggraph)",
		"pggraph: applied 0001_init (version 1)",
		"pggraph_clients: applied 0001_init (version 1)",
		"pggraph_clients: applied 0002_alerts (version 2)",
		"pggraph_users: applied 0001_init (version 1)",
	} {
		if !slices.Contains(first, want) {
			t.Errorf("first Setup: no line %q in\n%s", want, strings.Join(first, "\n"))
		}
	}
	for _, l := range first {
		if len(l) > 80 {
			t.Errorf("line longer than 80: %q", l)
		}
	}
	// Everything is pggraph's, including what the migrations created.
	conn, err := pgx.Connect(ctx, r.PG.ConnString("pggraph_users"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var owners []string
	rows, _ := conn.Query(ctx, `SELECT DISTINCT pg_get_userbyid(relowner)::text FROM pg_class WHERE relname IN ('client_users', 'client_access_log', 'schema_version')`)
	owners, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || !slices.Equal(owners, []string{"pggraph"}) {
		t.Errorf("owners of pggraph_users tables = %v, %v; want [pggraph]", owners, err)
	}

	before := catalog(t, ctx, srv)
	var second []string
	changed, err = Setup(ctx, srv, "", func(l string) { second = append(second, l) })
	if err != nil {
		t.Fatalf("second Setup: %v", err)
	}
	if changed {
		t.Error("second Setup: changed = true")
	}
	want := []string{
		"role pggraph: exists",
		"role pggraph_web: exists",
		"database pggraph: exists",
		"database pggraph_clients: exists",
		"database pggraph_users: exists",
		"pggraph: up to date (version 1)",
		"pggraph_clients: up to date (version 2)",
		"pggraph_users: up to date (version 1)",
		"nothing to do",
	}
	if !slices.Equal(second, want) {
		t.Errorf("second Setup said\n%s\nwant\n%s", strings.Join(second, "\n"), strings.Join(want, "\n"))
	}
	if after := catalog(t, ctx, srv); after != before {
		t.Errorf("second Setup changed the catalog:\nbefore\n%s\nafter\n%s", before, after)
	}
}

func TestSetupRefuses(t *testing.T) {
	r := central(t)
	ctx := t.Context()
	for _, db := range []string{"postgres", "template1", "pggraph_clients"} {
		if _, err := Setup(ctx, superServer(r.Central), db, nil); err == nil {
			t.Errorf("Setup with samples database %s: no error", db)
		}
	}
	if err := r.Central.Exec(ctx, "postgres", `CREATE DATABASE foreign_owned`); err != nil {
		t.Fatal(err)
	}
	_, err := Setup(ctx, superServer(r.Central), "foreign_owned", nil)
	if err == nil || !strings.Contains(err.Error(), "owned by postgres, not pggraph") {
		t.Errorf("Setup with a database owned by another role: %v", err)
	}
}

func TestPrefixes(t *testing.T) {
	s := openStore(t, testGroups())
	tests := []struct {
		prefix string
		ok     bool
	}{
		{"a_1", true},
		{"a", true},
		{"z" + strings.Repeat("9", 30), true},
		{"acme_", true},
		{"Acme", false},
		{"a-b", false},
		{"1a", false},
		{"_a", false},
		{"", false},
		{"a b", false},
		{"z" + strings.Repeat("9", 31), false},
		{`a"; DROP TABLE x; --`, false},
		{"é", false},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			err := s.EnsureClient(t.Context(), tt.prefix)
			if tt.ok != (err == nil) {
				t.Fatalf("EnsureClient(%q) = %v, want ok=%v", tt.prefix, err, tt.ok)
			}
			if !tt.ok && !errors.Is(err, ErrPrefix) {
				t.Errorf("error %v does not wrap ErrPrefix", err)
			}
			if !tt.ok {
				if _, err := s.Lock(t.Context(), tt.prefix); !errors.Is(err, ErrPrefix) {
					t.Errorf("Lock: %v, want ErrPrefix", err)
				}
				if _, err := s.Begin(t.Context(), tt.prefix); !errors.Is(err, ErrPrefix) {
					t.Errorf("Begin: %v, want ErrPrefix", err)
				}
				return
			}
			// The longest names fit in 63 bytes and are all there.
			n := count(t, s.samples, "pg_class", "relkind = 'r' AND starts_with(obj_description(oid, 'pg_class'), $1)", commentMark(tt.prefix))
			if want := 3 + 3*len(testGroups()); n != want {
				t.Errorf("%d tables marked as %s's, want %d", n, tt.prefix, want)
			}
		})
	}
}

// tableState is the catalog rows of a client's tables: DDL changes them.
func tableState(t *testing.T, conn *pgx.Conn, prefix string) []string {
	t.Helper()
	rows, err := conn.Query(t.Context(), `
SELECT c.relname || ' ' || c.oid::text || ' ' || c.xmin::text || ' ' || count(a.attnum)
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
WHERE starts_with(obj_description(c.oid, 'pg_class'), $1)
GROUP BY c.oid ORDER BY 1`, commentMark(prefix))
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEnsureClientTwice(t *testing.T) {
	s1 := openStore(t, testGroups())
	if err := s1.EnsureClient(t.Context(), "twice"); err != nil {
		t.Fatal(err)
	}
	before := tableState(t, s1.samples, "twice")
	if len(before) != 9 {
		t.Fatalf("tables after EnsureClient:\n%s", strings.Join(before, "\n"))
	}
	// The snapshot is stored lz4-compressed (this server has lz4) or as is.
	var compression, storage string
	if err := s1.samples.QueryRow(t.Context(), `SELECT attcompression::text, attstorage::text FROM pg_attribute
		WHERE attrelid = 'twice_state'::regclass AND attname = 'snapshot'`).Scan(&compression, &storage); err != nil {
		t.Fatal(err)
	}
	if compression+storage != "lx" && compression+storage != "e" {
		t.Errorf("snapshot column: compression %q storage %q, want lz4 or external", compression, storage)
	}
	s2 := openStore(t, testGroups()) // no cache: a real second check
	if err := s2.EnsureClient(t.Context(), "twice"); err != nil {
		t.Fatal(err)
	}
	if after := tableState(t, s1.samples, "twice"); !slices.Equal(before, after) {
		t.Errorf("second EnsureClient changed tables:\n%s\nto\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
}

func TestEnsureClientAddsColumns(t *testing.T) {
	v1 := testGroups()
	s1 := openStore(t, v1)
	if err := s1.EnsureClient(t.Context(), "grow"); err != nil {
		t.Fatal(err)
	}
	// A later pggraph: one more column in a group, one more group.
	v2 := testGroups()
	v2[1].Columns = append(v2[1].Columns, metric.Column{Name: "n_dead_tup", Kind: metric.Gauge})
	v2 = append(v2, metric.Group{Name: "index", Scope: metric.Database,
		Columns: []metric.Column{{Name: "idx_scan", Kind: metric.Counter}}})
	s2 := openStore(t, v2)
	if err := s2.EnsureClient(t.Context(), "grow"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ table, column string }{
		{"grow_table", "n_dead_tup"}, {"grow_table_hour", "n_dead_tup_max"}, {"grow_table_day", "n_dead_tup_min"},
		{"grow_index", "idx_scan"}, {"grow_index_day", "idx_scan_max"},
	} {
		if n := count(t, s2.samples, "information_schema.columns", "table_name = $1 AND column_name = $2", tc.table, tc.column); n != 1 {
			t.Errorf("%s.%s missing", tc.table, tc.column)
		}
	}
	// The old pggraph still writes: it names its columns.
	now := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	run(t, s1, "grow", &metric.Snapshot{Taken: now}, []metric.Sample{
		{Group: "table", Database: 5, Key: "100", Seconds: 600, Values: []float64{1, 2, 3, 4}},
	}, metric.Retention{})
}

func TestEnsureClientRefusesForeignTables(t *testing.T) {
	groups := []metric.Group{
		{Name: "t", Columns: []metric.Column{{Name: "c", Kind: metric.Counter}}},
		{Name: "x_t", Columns: []metric.Column{{Name: "c", Kind: metric.Counter}}},
	}
	s := openStore(t, groups)
	ctx := t.Context()
	if err := s.EnsureClient(ctx, "col"); err != nil { // creates col_x_t
		t.Fatal(err)
	}
	err := s.EnsureClient(ctx, "col_x") // wants col_x_t too (group t)
	if err == nil || !strings.Contains(err.Error(), "col_x_t exists but is not this client's") {
		t.Errorf("EnsureClient of a prefix whose table another client has: %v", err)
	}
	if _, err := s.samples.Exec(ctx, `CREATE TABLE hand_object (id int)`); err != nil {
		t.Fatal(err)
	}
	err = s.EnsureClient(ctx, "hand")
	if err == nil || !strings.Contains(err.Error(), "hand_object exists but is not this client's") {
		t.Errorf("EnsureClient over a hand-made table: %v", err)
	}
	// Removing col does not touch col_x's (nonexistent) or anyone else's.
	rm, err := s.RemoveClient(ctx, "col")
	if err != nil {
		t.Fatal(err)
	}
	if len(rm.Tables) != 9 {
		t.Errorf("removed %v", rm.Tables)
	}
	if n := count(t, s.samples, "pg_class", "relname = 'hand_object'"); n != 1 {
		t.Error("hand_object dropped")
	}
}

// sameSnapshot compares snapshots exactly: NaN equals NaN, floats by bits,
// times by Equal; no Columns equals empty Columns.
func sameSnapshot(a, b *metric.Snapshot) error {
	if !a.Taken.Equal(b.Taken) || !a.ServerStart.Equal(b.ServerStart) || a.Version != b.Version {
		return fmt.Errorf("header %v %v %d != %v %v %d", a.Taken, a.ServerStart, a.Version, b.Taken, b.ServerStart, b.Version)
	}
	if !maps.EqualFunc(a.Columns, b.Columns, slices.Equal) {
		return fmt.Errorf("columns %v != %v", a.Columns, b.Columns)
	}
	if len(a.Rows) != len(b.Rows) {
		return fmt.Errorf("%d groups != %d", len(a.Rows), len(b.Rows))
	}
	for g, ra := range a.Rows {
		rb, ok := b.Rows[g]
		if !ok || len(ra) != len(rb) {
			return fmt.Errorf("group %s: %d rows != %d", g, len(ra), len(rb))
		}
		for i := range ra {
			x, y := ra[i], rb[i]
			if x.Database != y.Database || x.Key != y.Key || x.Name != y.Name || x.Parent != y.Parent ||
				!x.StatsReset.Equal(y.StatsReset) || len(x.Values) != len(y.Values) || (x.Values == nil) != (y.Values == nil) {
				return fmt.Errorf("group %s row %d: %+v != %+v", g, i, x, y)
			}
			for j := range x.Values {
				if math.Float64bits(x.Values[j]) != math.Float64bits(y.Values[j]) && !(math.IsNaN(x.Values[j]) && math.IsNaN(y.Values[j])) {
					return fmt.Errorf("group %s row %d value %d: %v != %v", g, i, j, x.Values[j], y.Values[j])
				}
			}
		}
	}
	return nil
}

func TestWritePreviousRoundTrip(t *testing.T) {
	s := openStore(t, testGroups())
	ctx := t.Context()
	taken := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	snap := &metric.Snapshot{
		Taken: taken, ServerStart: taken.Add(-48 * time.Hour), Version: 150004,
		Rows: map[string][]metric.Row{
			"server": {{Key: "server", Name: "server", Values: []float64{1e15, math.NaN(), 7}}},
			"table": {
				{Database: 16384, Key: "16390", Name: `public."odd ""name"` + "\n\t\x01é", Parent: "", StatsReset: taken.Add(-time.Hour),
					Values: []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN()}},
				{Database: 16384, Key: "16391", Name: "public.t2", Parent: "16390",
					Values: []float64{0.1, -0, math.Inf(1), math.Inf(-1)}},
				{Database: 1, Key: "k", Values: []float64{}},
				{Database: 1, Key: "k2"},
			},
			"other_group": {{Key: "x", Values: []float64{math.MaxFloat64, math.SmallestNonzeroFloat64}}},
		},
		// As an older or newer pggraph saves them: not the Store's columns.
		Columns: map[string][]string{
			"server":      {"xact_commit", "numbackends", "blks_read"},
			"table":       {"seq_scan", "n_tup_ins", "dropped", "n_live_tup"},
			"other_group": {"a", "b"},
		},
	}
	tx, err := s.Begin(ctx, "round")
	if err != nil {
		t.Fatal(err)
	}
	prev, err := tx.Previous(ctx)
	if err != nil || prev != nil {
		t.Fatalf("Previous of a new client = %v, %v; want nil, nil", prev, err)
	}
	if err := tx.Write(ctx, snap, nil); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	tx, err = s.Begin(ctx, "round")
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	got, err := tx.Previous(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameSnapshot(snap, got); err != nil {
		t.Error(err)
	}
	// Objects of the Store's groups are recorded, with their names.
	if n := count(t, s.samples, "round_object", ""); n != 5 {
		t.Errorf("%d objects, want 5 (other_group is not the store's)", n)
	}
	var parent *string
	if err := s.samples.QueryRow(ctx, `SELECT parent FROM round_object WHERE key = '16390'`).Scan(&parent); err != nil || parent != nil {
		t.Errorf("empty parent stored as %v, %v; want NULL", parent, err)
	}
}

func TestSamplesExact(t *testing.T) {
	s := openStore(t, testGroups())
	ctx := t.Context()
	t1 := time.Date(2025, 4, 1, 8, 0, 0, 0, time.UTC)
	t2 := t1.Add(10 * time.Minute)
	row := func(name string) metric.Row {
		return metric.Row{Database: 5, Key: "200", Name: name, Parent: "100", Values: []float64{0, 0, 0, 0}}
	}
	run(t, s, "exact", &metric.Snapshot{Taken: t1, Rows: map[string][]metric.Row{"table": {row("public.old")}}}, nil, metric.Retention{})
	run(t, s, "exact", &metric.Snapshot{Taken: t2, Rows: map[string][]metric.Row{"table": {row("public.renamed")}}},
		[]metric.Sample{
			{Group: "table", Database: 5, Key: "200", Name: "public.renamed", Parent: "100", Seconds: 600, Values: []float64{1000, math.NaN(), 42.5, 1e300}},
			{Group: "server", Key: "s", Name: "server", Seconds: math.NaN(), Values: []float64{math.NaN(), 3, 0}},
		}, metric.Retention{})

	got := queryFloats(t, s.samples, `SELECT seconds, seq_scan, n_tup_ins, n_live_tup, "order" FROM exact_table t JOIN exact_object o ON o.id = t.object WHERE o.key = '200' AND t.ts = $1`, t2)
	want := []float64{600, 1000, math.NaN(), 42.5, 1e300}
	if !sameFloats(got, want) {
		t.Errorf("table sample = %v, want %v", got, want)
	}
	got = queryFloats(t, s.samples, `SELECT seconds, xact_commit, blks_read, numbackends FROM exact_server`)
	if want := []float64{math.NaN(), math.NaN(), 3, 0}; !sameFloats(got, want) {
		t.Errorf("server sample = %v, want %v", got, want)
	}
	// A rename keeps the object; its name follows.
	var (
		ids                 int
		name, parent        string
		firstSeen, lastSeen time.Time
	)
	if err := s.samples.QueryRow(ctx, `SELECT count(*) OVER (), name, parent, first_seen, last_seen FROM exact_object WHERE grp = 'table'`).
		Scan(&ids, &name, &parent, &firstSeen, &lastSeen); err != nil {
		t.Fatal(err)
	}
	if ids != 1 || name != "public.renamed" || parent != "100" || !firstSeen.Equal(t1) || !lastSeen.Equal(t2) {
		t.Errorf("object: %d rows, %q %q %v %v", ids, name, parent, firstSeen, lastSeen)
	}
}

func sameFloats(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) })
}

func TestWriteRejects(t *testing.T) {
	s := openStore(t, testGroups())
	snap := &metric.Snapshot{Taken: time.Date(2025, 4, 2, 0, 0, 0, 0, time.UTC)}
	good := metric.Sample{Group: "server", Key: "s", Seconds: 600, Values: []float64{1, 2, 3}}
	tests := []struct {
		name    string
		snap    *metric.Snapshot
		samples []metric.Sample
		want    string
	}{
		{"no snapshot", nil, nil, "no snapshot"},
		{"no time", &metric.Snapshot{}, nil, "no time"},
		{"unknown group", snap, []metric.Sample{{Group: "nope", Values: []float64{1}}}, `group "nope": not a group`},
		{"value count", snap, []metric.Sample{{Group: "server", Key: "s", Values: []float64{1}}}, "1 values for 3 columns"},
		{"duplicate", snap, []metric.Sample{good, good}, "two samples of one object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := s.Begin(t.Context(), "rejects")
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(t.Context())
			err = tx.Write(t.Context(), tt.snap, tt.samples)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Write = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestLock(t *testing.T) {
	a := openStore(t, testGroups())
	b := openStore(t, testGroups())
	ctx := t.Context()
	unlockA, err := a.Lock(ctx, "locked")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = b.Lock(ctx, "locked")
	if !errors.Is(err, metric.ErrLocked) || !strings.Contains(err.Error(), "client locked") {
		t.Errorf("second Lock = %v, want ErrLocked naming the client", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("second Lock took %v, want at once", d)
	}
	if _, err := a.Lock(ctx, "locked"); !errors.Is(err, metric.ErrLocked) {
		t.Errorf("same Store, same prefix: %v, want ErrLocked", err)
	}
	unlockOther, err := b.Lock(ctx, "locked_other")
	if err != nil {
		t.Errorf("other prefix: %v", err)
	} else {
		unlockOther()
	}
	// A locked client cannot be removed.
	if _, err := b.RemoveClient(ctx, "locked"); !errors.Is(err, metric.ErrLocked) {
		t.Errorf("RemoveClient of a locked client: %v, want ErrLocked", err)
	}
	unlockA()
	unlockA() // twice is harmless
	unlockB, err := b.Lock(ctx, "locked")
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlockB()
	// Closing the Store ends its session, and so its locks.
	c := openStore(t, testGroups())
	if _, err := c.Lock(ctx, "locked"); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	// The server ends the closed session (and frees its locks) a moment
	// after the client hangs up.
	var err2 error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var unlock func()
		if unlock, err2 = a.Lock(ctx, "locked"); err2 == nil {
			unlock()
			break
		}
	}
	if err2 != nil {
		t.Errorf("Lock 5 s after the holder closed: %v", err2)
	}
}

// rollupGroups has one counter and one gauge.
func rollupGroups() []metric.Group {
	return []metric.Group{{Name: "t", Scope: metric.Database, Columns: []metric.Column{
		{Name: "c", Kind: metric.Counter}, {Name: "g", Kind: metric.Gauge},
	}}}
}

func TestRollups(t *testing.T) {
	s := openStore(t, rollupGroups())
	ctx := t.Context()
	h10 := time.Date(2025, 3, 10, 10, 0, 0, 0, time.UTC)
	h11 := h10.Add(time.Hour)
	h12 := h11.Add(time.Hour)
	sample := func(c, g float64) []metric.Sample {
		return []metric.Sample{{Group: "t", Database: 1, Key: "o", Seconds: 60, Values: []float64{c, g}}}
	}
	at := func(ts time.Time) *metric.Snapshot { return &metric.Snapshot{Taken: ts} }
	// Two hours: deltas 60 and 120 over 60 s each, gauges 1 and 3; hour 11
	// also has a reset (NULL delta) with gauge 5. The run in hour 12 closes
	// hour 11, so the day row then holds it whole (days follow their hours
	// when a new hour starts).
	for _, w := range []struct {
		ts   time.Time
		c, g float64
	}{
		{h10.Add(10 * time.Minute), 60, 1},
		{h10.Add(20 * time.Minute), 120, 3},
		{h11.Add(10 * time.Minute), 60, 1},
		{h11.Add(20 * time.Minute), math.NaN(), 5},
		{h11.Add(30 * time.Minute), 120, 3},
		{h12.Add(10 * time.Minute), 60, 1},
	} {
		run(t, s, "roll", at(w.ts), sample(w.c, w.g), metric.Retention{Raw: 1000 * metric.Day})
	}
	const cols = `seconds, n, c, c_min, c_max, g, g_min, g_max`
	check := func(t *testing.T) {
		t.Helper()
		for _, tc := range []struct {
			table string
			ts    time.Time
			want  []float64
		}{
			{"roll_t_hour", h10, []float64{120, 2, 180, 1, 2, 2, 1, 3}},
			// The reset's interval is not in seconds; its gauge counts.
			{"roll_t_hour", h11, []float64{120, 3, 180, 1, 2, 3, 1, 5}},
			{"roll_t_hour", h12, []float64{60, 1, 60, 1, 1, 1, 1, 1}},
			// The gauge's hourly averages weighted by n: (2×2 + 3×3 + 1×1) / 6.
			{"roll_t_day", h10.Truncate(metric.Day), []float64{300, 6, 420, 1, 2, 14.0 / 6, 1, 5}},
		} {
			got := queryFloats(t, s.samples, `SELECT `+cols+` FROM `+tc.table+` WHERE ts = $1`, tc.ts)
			if !sameFloats(got, tc.want) {
				t.Errorf("%s %s: (%s) = %v, want %v", tc.table, tc.ts.Format(time.RFC3339), cols, got, tc.want)
			}
		}
		if n := count(t, s.samples, "roll_t_hour", ""); n != 3 {
			t.Errorf("%d hourly rows, want 3", n)
		}
	}
	t.Run("maintain", check)

	// Rebuild from scratch gives the same.
	if _, err := s.samples.Exec(ctx, `TRUNCATE roll_t_hour, roll_t_day`); err != nil {
		t.Fatal(err)
	}
	if err := s.Rebuild(ctx, "roll", h10.Add(5*time.Minute), h12.Add(11*time.Minute)); err != nil {
		t.Fatal(err)
	}
	t.Run("rebuild", check)

	if err := s.Rebuild(ctx, "roll", h10, h10); err == nil {
		t.Error("Rebuild of an empty range: no error")
	}
}

func TestRetention(t *testing.T) {
	s := openStore(t, rollupGroups())
	now := time.Date(2025, 6, 15, 12, 30, 0, 0, time.UTC)
	keep := metric.Retention{Raw: time.Hour, Hourly: 2 * metric.Day, Daily: 10 * metric.Day}
	for _, w := range []struct {
		ts  time.Time
		key string
	}{
		{now.Add(-20 * metric.Day), "gone"},
		{now.Add(-5 * metric.Day), "o"},
		{now.Add(-3 * time.Hour), "o"},
		{now, "o"},
	} {
		run(t, s, "ret", &metric.Snapshot{Taken: w.ts, Rows: map[string][]metric.Row{"t": {{Database: 1, Key: w.key}}}},
			[]metric.Sample{{Group: "t", Database: 1, Key: w.key, Seconds: 600, Values: []float64{1, 1}}}, keep)
	}
	for _, tc := range []struct {
		table string
		want  []time.Time
	}{
		{"ret_t", []time.Time{now}},
		{"ret_t_hour", []time.Time{now.Add(-3 * time.Hour).Truncate(time.Hour), now.Truncate(time.Hour)}},
		{"ret_t_day", []time.Time{now.Add(-5 * metric.Day).Truncate(metric.Day), now.Truncate(metric.Day)}},
	} {
		rows, err := s.samples.Query(t.Context(), `SELECT ts FROM `+tc.table+` ORDER BY ts`)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(got, tc.want, time.Time.Equal) {
			t.Errorf("%s keeps %v, want %v", tc.table, got, tc.want)
		}
	}
	if n := count(t, s.samples, "ret_object", "key = 'gone'"); n != 0 {
		t.Error("object unseen for longer than every retention kept")
	}
}

// TestPrefetchAlerts reads a client's active alerts in the background:
// the next ActiveAlerts of the client returns them, as they were then
// (a later one reads again); another use of the connection waits for it
// and drops them; a failed dial fails the first use only; Close closes
// the connection, used or not.
func TestPrefetchAlerts(t *testing.T) {
	r := central(t)
	ctx := t.Context()
	w := openStore(t, testGroups())
	const prefix = "prefetched"
	since := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	if err := w.RecordRun(ctx, prefix, metric.RunRecord{Started: since, Outcome: metric.OK}); err != nil {
		t.Fatal(err)
	}
	put := func(check string) {
		t.Helper()
		x := AlertState{Check: check, State: metric.StateWarning, Text: check, Since: since, Updated: since}
		if err := w.SaveAlerts(ctx, prefix, AlertChanges{Put: []AlertState{x}}); err != nil {
			t.Fatal(err)
		}
	}
	refused := Server{Params: "host=127.0.0.1 port=1 user=pggraph sslmode=disable"}
	tests := []struct {
		name  string
		srv   *Server          // the server the background dial reaches; nil: the Store's
		first func(*Store) any // the first use, after an alert is added
		want  any              // its result
	}{
		{"used", nil, func(s *Store) any { return checks(s.ActiveAlerts(ctx, prefix)) }, "a"},
		{"another client's", nil, func(s *Store) any { return checks(s.ActiveAlerts(ctx, "other")) }, ""},
		{"another use first", nil, func(s *Store) any { return checks(s.AlertStates(ctx, prefix)) }, "a b"},
		{"never used", nil, nil, nil},
		{"dial fails", &refused, func(s *Store) any {
			_, err := s.ActiveAlerts(ctx, prefix)
			return strings.HasPrefix(fmt.Sprint(err), "list active alerts: connect to postgresql 127.0.0.1:1 database pggraph_clients as pggraph: ")
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := w.SaveAlerts(ctx, prefix, AlertChanges{Delete: []AlertState{{Check: "a"}, {Check: "b"}}}); err != nil {
				t.Fatal(err)
			}
			put("a")
			s, err := Open(ctx, ownerLocal(r, ""), testGroups())
			if err != nil {
				t.Fatal(err)
			}
			own := s.srv
			if tt.srv != nil {
				s.srv = *tt.srv
			}
			s.PrefetchAlerts(ctx, prefix)
			s.srv = own
			s.PrefetchAlerts(ctx, prefix) // at work already: nothing more
			<-s.pending.done
			put("b")
			if tt.first != nil {
				if got := tt.first(s); got != tt.want {
					t.Errorf("first use: %v, want %v", got, tt.want)
				}
				if got := checks(s.ActiveAlerts(ctx, prefix)); got != "a b" {
					t.Errorf("next read: %v, want a b", got)
				}
			}
			if err := s.Close(ctx); err != nil {
				t.Errorf("Close: %v", err)
			}
			if s.conns == nil || !s.conns.IsClosed() {
				t.Error("the connection to pggraph_clients is not closed")
			}
		})
	}
}

// checks lists the checks of alert states, or the error.
func checks(states []AlertState, err error) string {
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, a := range states {
		out = append(out, a.Check)
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func TestClients(t *testing.T) {
	s := openStore(t, testGroups())
	ctx := t.Context()
	started := time.Date(2025, 7, 1, 10, 0, 0, 0, time.UTC)
	// A hand-written config: no row yet.
	if err := s.RecordRun(ctx, "handmade", metric.RunRecord{Started: started, Duration: 1500 * time.Millisecond, Outcome: metric.Primed}); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterClient(ctx, Client{Prefix: "installed", Title: "Installed Ltd", Directory: "/var/www/pggraph/installed", WWWPath: "pggraph/installed"}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordRun(ctx, "installed", metric.RunRecord{Started: started, Duration: 2 * time.Second, Outcome: metric.Failed,
		Error: "tunnel: dial\nrefused", Samples: 0}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordRun(ctx, "installed", metric.RunRecord{Started: started.Add(10 * time.Minute), Duration: 3 * time.Second,
		Outcome: metric.OK, Samples: 1234}); err != nil {
		t.Fatal(err)
	}
	err := s.RegisterClient(ctx, Client{Prefix: "thief", Title: "T", Directory: "/var/www/pggraph/installed"})
	if err == nil || !strings.Contains(err.Error(), "another client's") {
		t.Errorf("RegisterClient with another's directory: %v", err)
	}
	list, err := s.ListClients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byPrefix := map[string]Client{}
	for _, c := range list {
		byPrefix[c.Prefix] = c
	}
	h := byPrefix["handmade"]
	if h.Title != "handmade" || h.Directory != "" || h.LastOutcome != metric.Primed || h.LastDuration != 1500*time.Millisecond || !h.LastRun.Equal(started) {
		t.Errorf("handmade = %+v", h)
	}
	i := byPrefix["installed"]
	if i.Title != "Installed Ltd" || i.Directory != "/var/www/pggraph/installed" || i.LastOutcome != metric.OK ||
		i.LastSamples != 1234 || i.LastError != "" || !i.LastRun.Equal(started.Add(10*time.Minute)) || i.Created.IsZero() {
		t.Errorf("installed = %+v", i)
	}
	// A failure's error is kept on one line.
	if err := s.RecordRun(ctx, "installed", metric.RunRecord{Started: started, Outcome: metric.Failed, Error: "a\nb"}); err != nil {
		t.Fatal(err)
	}
	var e string
	clients, err := s.clients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := clients.QueryRow(ctx, `SELECT last_error FROM clients WHERE prefix = 'installed'`).Scan(&e); err != nil || e != "a; b" {
		t.Errorf("last_error = %q, %v", e, err)
	}
}

func TestRemoveClient(t *testing.T) {
	s := openStore(t, testGroups())
	ctx := t.Context()
	if err := s.RegisterClient(ctx, Client{Prefix: "gone", Title: "Gone", Directory: "/x/gone"}); err != nil {
		t.Fatal(err)
	}
	run(t, s, "gone", &metric.Snapshot{Taken: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}, nil, metric.Retention{})
	if err := s.EnsureClient(ctx, "gone_too"); err != nil { // a prefix that extends gone's
		t.Fatal(err)
	}
	rm, err := s.RemoveClient(ctx, "gone")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"gone_event", "gone_object", "gone_server", "gone_server_day", "gone_server_hour", "gone_state", "gone_table", "gone_table_day", "gone_table_hour"}
	if !rm.Row || !slices.Equal(rm.Tables, want) {
		t.Errorf("Removed = %+v, want row and %v", rm, want)
	}
	if n := count(t, s.samples, "pg_class", "relname LIKE 'gone\\_%' AND relkind = 'r' AND NOT relname LIKE 'gone\\_too\\_%'"); n != 0 {
		t.Errorf("%d tables of gone left", n)
	}
	if n := count(t, s.samples, "pg_class", "relname LIKE 'gone\\_too\\_%' AND relkind = 'r'"); n != 9 {
		t.Errorf("gone_too lost tables: %d left", n)
	}
	clients, err := s.clients(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, clients, "clients", "prefix = 'gone'"); n != 0 {
		t.Error("clients row left")
	}
	if _, err := s.RemoveClient(ctx, "gone"); !errors.Is(err, ErrNoClient) {
		t.Errorf("second RemoveClient = %v, want ErrNoClient", err)
	}
	// The collector recreates the tables of a removed client.
	run(t, s, "gone", &metric.Snapshot{Taken: time.Date(2025, 1, 1, 0, 10, 0, 0, time.UTC)}, nil, metric.Retention{})
}

func TestWebRole(t *testing.T) {
	r := central(t)
	s := openStore(t, testGroups())
	ctx := t.Context()
	// Tables created after setup, by pggraph.
	run(t, s, "webby", &metric.Snapshot{Taken: time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)},
		[]metric.Sample{{Group: "server", Key: "s", Seconds: 600, Values: []float64{1, 2, 3}}}, metric.Retention{})
	web := func(db string) *pgx.Conn {
		srv := LocalServer(config.Local{Host: r.Central.Host, Port: r.Central.Port, User: "pggraph_web", Password: webPassword})
		cc, err := srv.ConnConfig(db)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := connect(ctx, cc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(ctx) })
		return conn
	}
	denied := func(err error) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "42501"
	}
	samples := web("pggraph")
	for _, table := range []string{"webby_server", "webby_server_hour", "webby_server_day", "webby_object", "schema_version"} {
		if n := count(t, samples, table, ""); n < 1 {
			t.Errorf("pggraph_web reads %d rows of %s", n, table)
		}
	}
	if _, err := samples.Exec(ctx, `INSERT INTO webby_server (ts, object) VALUES (now(), 1)`); !denied(err) {
		t.Errorf("pggraph_web INSERT into a sample table: %v, want permission denied", err)
	}
	if _, err := samples.Exec(ctx, `DELETE FROM webby_object`); !denied(err) {
		t.Errorf("pggraph_web DELETE: %v, want permission denied", err)
	}
	clients := web("pggraph_clients")
	if _, err := clients.Exec(ctx, `SELECT prefix, title, directory, www_path FROM clients`); err != nil {
		t.Errorf("pggraph_web SELECT clients: %v", err)
	}
	if _, err := clients.Exec(ctx, `UPDATE clients SET title = 'x'`); !denied(err) {
		t.Errorf("pggraph_web UPDATE clients: %v, want permission denied", err)
	}
	users := web("pggraph_users")
	// Apache's queries.
	for _, q := range []string{`SELECT user_passwd FROM client_users WHERE user_name = $1`, `SELECT client FROM client_users WHERE user_name = $1`} {
		if _, err := users.Exec(ctx, q, "nobody"); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
	if _, err := users.Exec(ctx, `INSERT INTO client_access_log (login, request, ip_address, status) VALUES ('u', '/pggraph/webby/', '127.0.0.1', 200)`); err != nil {
		t.Errorf("pggraph_web INSERT client_access_log: %v", err)
	}
	if _, err := users.Exec(ctx, `INSERT INTO client_users VALUES ('evil', 'x', 'webby')`); !denied(err) {
		t.Errorf("pggraph_web INSERT client_users: %v, want permission denied", err)
	}
}

func TestCheck(t *testing.T) {
	r := central(t)
	s := openStore(t, testGroups())
	ctx := t.Context()
	if err := s.Check(ctx, "checked"); err != nil {
		t.Errorf("Check: %v", err)
	}
	if n := count(t, s.samples, "pg_class", "relname LIKE 'checked%'"); n != 0 {
		t.Errorf("Check created %d relations", n)
	}
	if err := s.Check(ctx, "Bad"); !errors.Is(err, ErrPrefix) {
		t.Errorf("Check(Bad) = %v", err)
	}
	// A samples database that setup never saw.
	if err := r.Central.Exec(ctx, "postgres", `CREATE DATABASE not_set_up OWNER pggraph`); err != nil {
		t.Fatal(err)
	}
	l := ownerLocal(r, "x")
	l.Database = "not_set_up"
	bare, err := Open(ctx, l, testGroups())
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close(ctx)
	if err := bare.Check(ctx, "x"); err == nil || !strings.Contains(err.Error(), "database not_set_up: not set up: run sudo -u postgres pggraph-admin setup") {
		t.Errorf("Check on a bare database: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	r := central(t)
	ctx := t.Context()
	l := ownerLocal(r, "x")
	l.Password = "wrong-password-xyzzy"
	_, err := Open(ctx, l, testGroups())
	if err == nil {
		t.Fatal("Open with a wrong password: no error")
	}
	msg := err.Error()
	for _, want := range []string{fmt.Sprintf("127.0.0.1:%d", r.Central.Port), "database pggraph", "as pggraph"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %q", msg, want)
		}
	}
	if strings.Contains(msg, "xyzzy") || strings.Contains(msg, ownerPassword) {
		t.Errorf("error shows the password: %q", msg)
	}
	// Nothing listens: fails within the connect deadline.
	l = ownerLocal(r, "x")
	l.Host, l.Port = "127.0.0.1", 1
	start := time.Now()
	if _, err := Open(ctx, l, testGroups()); err == nil {
		t.Error("Open to a closed port: no error")
	}
	if d := time.Since(start); d > connectTimeout+time.Second {
		t.Errorf("Open took %v", d)
	}
	bad := testGroups()
	bad[0].Name = "Server"
	if _, err := Open(ctx, ownerLocal(r, "x"), bad); err == nil || !strings.Contains(err.Error(), `group "Server"`) {
		t.Errorf("Open with a bad group: %v", err)
	}
}
