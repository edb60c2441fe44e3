package metric_test

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pggraph/pggraph/internal/testing/rig"
	"github.com/pggraph/pggraph/metric"
)

// The central store names tables <prefix>_<group>_hour (prefix: up to 31
// characters) and adds _min and _max to column names in rollups; both must
// fit PostgreSQL's 63-byte identifiers.
const (
	metricMaxGroupName  = 63 - 31 - len("_") - len("_hour")
	metricMaxColumnName = 63 - len("_max")
)

var (
	metricIdentRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	// metricReservedColumns are the store's own column names.
	metricReservedColumns = []string{"key", "name", "parent", "stats_reset", "ts", "object", "seconds", "n"}
)

// TestMetricGroupsInvariants walks the whole table: names, scopes, kinds,
// units, help and the order of the queries.
func TestMetricGroupsInvariants(t *testing.T) {
	groups := metric.Groups()
	if len(groups) == 0 {
		t.Fatal("Groups() is empty")
	}
	units := []metric.Unit{metric.Count, metric.Bytes, metric.Blocks, metric.Seconds, metric.Milliseconds, metric.XIDs, metric.Boolean, metric.Ratio}
	seenGroup := map[string]bool{}
	for i, g := range groups {
		t.Run(fmt.Sprintf("%d_%s", i, g.Name), func(t *testing.T) {
			if !metricIdentRE.MatchString(g.Name) || len(g.Name) > metricMaxGroupName {
				t.Errorf("group name %q: want %s, at most %d bytes", g.Name, metricIdentRE, metricMaxGroupName)
			}
			if seenGroup[g.Name] {
				t.Errorf("group name %q used twice", g.Name)
			}
			seenGroup[g.Name] = true
			if g.Scope != metric.Server && g.Scope != metric.Database {
				t.Errorf("scope %d: want Server or Database", g.Scope)
			}
			if g.Help == "" || strings.Contains(g.Help, "\n") {
				t.Errorf("help %q: want one non-empty line", g.Help)
			}
			if len(g.Columns) == 0 {
				t.Error("no columns")
			}
			seenCol := map[string]bool{}
			for _, c := range g.Columns {
				switch {
				case !metricIdentRE.MatchString(c.Name) || len(c.Name) > metricMaxColumnName:
					t.Errorf("column %q: want %s, at most %d bytes", c.Name, metricIdentRE, metricMaxColumnName)
				case slices.Contains(metricReservedColumns, c.Name):
					t.Errorf("column %q: reserved by the store", c.Name)
				case strings.HasSuffix(c.Name, "_min") || strings.HasSuffix(c.Name, "_max"):
					t.Errorf("column %q: _min and _max are the rollups' suffixes", c.Name)
				case seenCol[c.Name]:
					t.Errorf("column %q: used twice", c.Name)
				}
				seenCol[c.Name] = true
				if c.Kind != metric.Counter && c.Kind != metric.Gauge {
					t.Errorf("column %q: kind %d, want Counter or Gauge", c.Name, c.Kind)
				}
				if !slices.Contains(units, c.Unit) {
					t.Errorf("column %q: unit %q unknown", c.Name, c.Unit)
				}
				if c.Help == "" || strings.Contains(c.Help, "\n") {
					t.Errorf("column %q: help %q, want one non-empty line", c.Name, c.Help)
				}
			}
			if len(g.Queries) == 0 {
				t.Fatal("no queries")
			}
			if g.Queries[0].MinVersion < metric.MinServerVersion {
				t.Errorf("first query for %d: below MinServerVersion %d", g.Queries[0].MinVersion, metric.MinServerVersion)
			}
			for j, q := range g.Queries {
				if strings.TrimSpace(q.SQL) == "" {
					t.Errorf("query %d (MinVersion %d): empty SQL", j, q.MinVersion)
				}
				if strings.Contains(q.SQL, ";") || strings.Contains(q.Needs, ";") {
					t.Errorf("query %d (MinVersion %d): holds a ';' (one statement, no terminator)", j, q.MinVersion)
				}
				if j > 0 && q.MinVersion <= g.Queries[j-1].MinVersion {
					t.Errorf("query %d: MinVersion %d not above %d", j, q.MinVersion, g.Queries[j-1].MinVersion)
				}
			}
			got, ok := metric.GroupByName(g.Name)
			if !ok || got.Name != g.Name || len(got.Columns) != len(g.Columns) {
				t.Errorf("GroupByName(%q) = %q, %v", g.Name, got.Name, ok)
			}
		})
	}
	if _, ok := metric.GroupByName("nosuch"); ok {
		t.Error(`GroupByName("nosuch") found a group`)
	}
}

// TestMetricVersionChoice checks which Query each group uses on each
// supported major version.
func TestMetricVersionChoice(t *testing.T) {
	versions := []int{120000, 130000, 140000, 150000, 160000, 170000, 180000}
	// want[group] lists the chosen MinVersion for each of versions, 0
	// where the group does not exist.
	want := map[string][]int{
		"database":      {120000, 120000, 140000, 140000, 140000, 140000, 140000},
		"activity":      {120000, 120000, 120000, 120000, 120000, 120000, 120000},
		"server":        {120000, 120000, 120000, 120000, 120000, 120000, 120000},
		"bgwriter":      {120000, 120000, 120000, 120000, 120000, 170000, 170000},
		"wal":           {120000, 120000, 140000, 140000, 140000, 140000, 180000},
		"archiver":      {120000, 120000, 120000, 120000, 120000, 120000, 120000},
		"replication":   {120000, 120000, 120000, 120000, 120000, 120000, 120000},
		"slot":          {120000, 130000, 130000, 130000, 130000, 130000, 130000},
		"table":         {120000, 130000, 130000, 130000, 160000, 160000, 180000},
		"index":         {120000, 120000, 120000, 120000, 120000, 120000, 120000},
		"wait":          {120000, 120000, 120000, 120000, 120000, 120000, 120000},
		"wait_sampling": {120000, 120000, 120000, 120000, 120000, 120000, 120000},
		"io":            {0, 0, 0, 0, 160000, 160000, 180000},
		"vacuum":        {120000, 120000, 120000, 120000, 120000, 170000, 180000},
		"conflicts":     {120000, 120000, 120000, 120000, 160000, 160000, 160000},
		"wal_receiver":  {120000, 130000, 130000, 130000, 130000, 130000, 130000},
		"subscription":  {120000, 120000, 120000, 150000, 160000, 170000, 180000},
		"slru":          {0, 130000, 130000, 130000, 130000, 170000, 170000},
		"sequence":      {120000, 120000, 120000, 120000, 120000, 120000, 120000},
		"function":      {120000, 120000, 120000, 120000, 120000, 120000, 120000},
	}
	var names []string
	for _, g := range metric.Groups() {
		names = append(names, g.Name)
	}
	if got := slices.Sorted(maps.Keys(want)); !slices.Equal(got, slices.Sorted(slices.Values(names))) {
		t.Fatalf("groups %v, table covers %v", names, got)
	}
	for _, g := range metric.Groups() {
		for i, v := range versions {
			t.Run(fmt.Sprintf("%s/%d", g.Name, v), func(t *testing.T) {
				sql, ok := g.SQL(v)
				q, qok := g.QueryFor(v)
				if want[g.Name][i] == 0 {
					if ok || qok || sql != "" {
						t.Errorf("SQL(%d) = %q, %v; want none: the group does not exist there", v, sql, ok)
					}
					return
				}
				if !ok || !qok || sql != q.SQL || sql == "" {
					t.Fatalf("SQL(%d) = ok %v (query ok %v)", v, ok, qok)
				}
				if q.MinVersion != want[g.Name][i] {
					t.Errorf("SQL(%d) uses the query for %d, want %d", v, q.MinVersion, want[g.Name][i])
				}
			})
		}
		t.Run(g.Name+"/too_old", func(t *testing.T) {
			if sql, ok := g.SQL(110000); ok || sql != "" {
				t.Errorf("SQL(110000) = %q, %v; want \"\", false", sql, ok)
			}
		})
	}

	// What the chosen SQL reads, for the version changes that matter.
	contains := []struct {
		group   string
		version int
		has     []string
		hasNot  []string
	}{
		{"bgwriter", 160000, []string{"FROM pg_stat_bgwriter", "buffers_backend_fsync"}, []string{"pg_stat_checkpointer", "pg_stat_io"}},
		{"bgwriter", 170000, []string{"pg_stat_checkpointer", "pg_stat_bgwriter", "pg_stat_io", "greatest("}, nil},
		{"wal", 120000, []string{"pg_current_wal_lsn()", "pg_last_wal_replay_lsn()"}, []string{"pg_stat_wal"}},
		{"wal", 140000, []string{"FROM pg_stat_wal", "w.wal_write_time"}, nil},
		{"wal", 180000, []string{"FROM pg_stat_wal", "NULL::float8 AS wal_write,", "NULL::float8 AS wal_sync_time"}, []string{"w.wal_write"}},
		{"database", 130000, []string{"NULL::float8 AS session_time", "checksum_failures"}, []string{"d.session_time"}},
		{"database", 140000, []string{"d.session_time", "d.sessions_killed"}, []string{"NULL::float8 AS session"}},
		{"table", 150000, []string{"NULL::float8 AS n_tup_newpage_upd", "s.n_ins_since_vacuum"}, nil},
		{"table", 170000, []string{"s.n_tup_newpage_upd", "NULL::float8 AS total_vacuum_time"}, nil},
		{"table", 180000, []string{"s.total_vacuum_time"}, []string{"NULL::float8"}},
		{"slot", 120000, []string{"NULL::float8 AS safe_wal_size"}, nil},
		{"slot", 130000, []string{"s.safe_wal_size"}, nil},
	}
	for _, c := range contains {
		g, _ := metric.GroupByName(c.group)
		sql, _ := g.SQL(c.version)
		for _, s := range c.has {
			if !strings.Contains(sql, s) {
				t.Errorf("%s on %d: SQL lacks %q", c.group, c.version, s)
			}
		}
		for _, s := range c.hasNot {
			if strings.Contains(sql, s) {
				t.Errorf("%s on %d: SQL has %q", c.group, c.version, s)
			}
		}
	}
}

// TestMetricGroupSQLChoice checks Group.SQL on a made-up group whose first
// query needs 14: nothing below it, the highest MinVersion <= version
// above, whatever the order of Queries.
func TestMetricGroupSQLChoice(t *testing.T) {
	g := metric.Group{Name: "x", Queries: []metric.Query{{MinVersion: 170000, SQL: "17"}, {MinVersion: 140000, SQL: "14"}}}
	for _, tc := range []struct {
		version int
		want    string
		ok      bool
	}{
		{0, "", false},
		{120000, "", false},
		{139999, "", false},
		{140000, "14", true},
		{160009, "14", true},
		{170000, "17", true},
		{180002, "17", true},
	} {
		if got, ok := g.SQL(tc.version); got != tc.want || ok != tc.ok {
			t.Errorf("SQL(%d) = %q, %v; want %q, %v", tc.version, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := (metric.Group{}).SQL(170000); ok {
		t.Error("a group without queries has SQL")
	}
}

//go:embed testdata/emulate.sql
var metricEmulateSQL string

// metricEmulated are the versions testdata/emulate.sql emulates.
var metricEmulated = []int{120000, 130000, 160000, 170000, 180000}

// Names the rig-backed test creates. The schema and table names are
// hostile on purpose: quotes, dots, spaces, capitals, non-ASCII, and a
// 63-byte name (PostgreSQL's longest).
const (
	metricTestDB       = `pggraph "metrics" ü`
	metricWeirdSchema  = `We"ird. Name ü`
	metricWeirdTable   = `Tab.le "X" ü`
	metricWeirdIndex   = `Idx "Y".ü`
	metricCountedTable = "counted"
	metricTestSlot     = "pggraph_test_slot"
)

// metricLongTable is a 63-byte table name ending in a two-byte character.
var metricLongTable = strings.Repeat("L", 61) + "é"

// metricRow is one decoded result row of a metric query.
type metricRow struct {
	key        string
	name       *string
	parent     *string
	statsReset *time.Time
	values     map[string]*float64
}

// metricNumericOIDs are the result types a Column may have: all decode to
// float64.
var metricNumericOIDs = []uint32{pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.Float4OID, pgtype.Float8OID, pgtype.NumericOID}

// metricRun runs sql (the group's query) on conn and checks the result
// against the Query contract: key, name, parent (text) and stats_reset
// (timestamptz) first, in that order, then exactly the group's columns by
// name, in any order, each numeric and decoded as float64; key never NULL
// and unique.
func metricRun(ctx context.Context, t *testing.T, conn *pgx.Conn, g metric.Group, sql string) []metricRow {
	t.Helper()
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		t.Fatalf("%s: query: %v", g.Name, err)
	}
	defer rows.Close()
	fds := rows.FieldDescriptions()
	head := []struct {
		name string
		oid  uint32
	}{{"key", pgtype.TextOID}, {"name", pgtype.TextOID}, {"parent", pgtype.TextOID}, {"stats_reset", pgtype.TimestamptzOID}}
	if len(fds) != len(head)+len(g.Columns) {
		t.Errorf("%s: %d result columns, want %d (4 + %d Columns)", g.Name, len(fds), len(head)+len(g.Columns), len(g.Columns))
	}
	for i, h := range head {
		if i >= len(fds) {
			t.Fatalf("%s: no result column %d, want %s", g.Name, i, h.name)
		}
		if fds[i].Name != h.name || fds[i].DataTypeOID != h.oid {
			t.Fatalf("%s: result column %d is %s of type OID %d, want %s of type OID %d", g.Name, i, fds[i].Name, fds[i].DataTypeOID, h.name, h.oid)
		}
	}
	want := map[string]bool{}
	for _, c := range g.Columns {
		want[c.Name] = true
	}
	got := map[string]bool{}
	for _, fd := range fds[len(head):] {
		switch {
		case got[fd.Name]:
			t.Errorf("%s: result column %q twice", g.Name, fd.Name)
		case !want[fd.Name]:
			t.Errorf("%s: result column %q is not a Column", g.Name, fd.Name)
		case !slices.Contains(metricNumericOIDs, fd.DataTypeOID):
			t.Errorf("%s: result column %q has type OID %d, want a numeric type", g.Name, fd.Name, fd.DataTypeOID)
		}
		got[fd.Name] = true
	}
	for name := range want {
		if !got[name] {
			t.Errorf("%s: Column %q missing from the result", g.Name, name)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	var out []metricRow
	keys := map[string]bool{}
	for rows.Next() {
		var (
			key  *string
			r    metricRow
			vals = make([]*float64, len(fds)-len(head))
			dest = []any{&key, &r.name, &r.parent, &r.statsReset}
		)
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatalf("%s: scan: %v", g.Name, err)
		}
		if key == nil {
			t.Fatalf("%s: NULL key (name %v)", g.Name, metricDeref(r.name))
		}
		r.key = *key
		if keys[r.key] {
			t.Errorf("%s: key %q twice", g.Name, r.key)
		}
		keys[r.key] = true
		r.values = map[string]*float64{}
		for i, fd := range fds[len(head):] {
			r.values[fd.Name] = vals[i]
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", g.Name, err)
	}
	return out
}

func metricDeref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// metricFind returns the row named name.
func metricFind(t *testing.T, rows []metricRow, name string) metricRow {
	t.Helper()
	for _, r := range rows {
		if r.name != nil && *r.name == name {
			return r
		}
	}
	var names []any
	for _, r := range rows {
		names = append(names, metricDeref(r.name))
	}
	t.Fatalf("no row named %q among %v", name, names)
	return metricRow{}
}

// metricValue returns column c of row r, NaN for NULL.
func metricValue(r metricRow, c string) float64 {
	if v := r.values[c]; v != nil {
		return *v
	}
	return math.NaN()
}

// metricConnect opens a connection to db and closes it when the test ends.
func metricConnect(ctx context.Context, t *testing.T, cfg *pgx.ConnConfig) *pgx.Conn {
	t.Helper()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to %s as %s: %v", cfg.Database, cfg.User, err)
	}
	t.Cleanup(func() { conn.Close(context.WithoutCancel(ctx)) })
	return conn
}

// metricMonitorConfig is a connection to db as the rig's pg_monitor role, over
// TCP with its password, as the collector connects.
func metricMonitorConfig(t *testing.T, pg *rig.Postgres, db string) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d sslmode=disable", pg.Host, pg.Port))
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Password, cfg.Database = pg.MonitorUser, pg.MonitorPassword, db
	return cfg
}

// metricSuperConfig is a connection to db as the superuser.
func metricSuperConfig(t *testing.T, pg *rig.Postgres, db string) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(pg.ConnString(db))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestMetricSQL runs every query of the table on the rig's PostgreSQL 15
// as the pg_monitor role: those meant for 15 and older against the real
// catalog, those for newer versions as PREPARE (a syntax error fails, an
// unknown view, column or function is expected); and the query each
// version gets against emulated catalogs of 12, 13, 16, 17 and 18
// (testdata/emulate.sql). Then it checks what
// the rows say about objects and a workload it made itself, and how long
// the per-database groups take on 1,000 tables.
func TestMetricSQL(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	t0 := time.Now()
	r := rig.StartTest(ctx, t, rig.Options{})
	t.Logf("rig started in %v", time.Since(t0).Round(time.Millisecond))
	pg := r.PG

	// Objects for the database-scope groups, made by the superuser.
	if err := pg.Exec(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{metricTestDB}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	setup := fmt.Sprintf(`
CREATE SCHEMA %[1]s;
CREATE TABLE %[1]s.%[2]s (id int PRIMARY KEY, body text);
CREATE INDEX %[3]s ON %[1]s.%[2]s (body);
INSERT INTO %[1]s.%[2]s SELECT g, repeat('x', g) FROM generate_series(1, 100) g;
CREATE TABLE %[4]s (id int);
CREATE TABLE %[5]s (id bigint PRIMARY KEY);
SELECT pg_create_physical_replication_slot('%[6]s', true);
CREATE EXTENSION pg_wait_sampling;
`, pgx.Identifier{metricWeirdSchema}.Sanitize(), pgx.Identifier{metricWeirdTable}.Sanitize(), pgx.Identifier{metricWeirdIndex}.Sanitize(),
		metricCountedTable, pgx.Identifier{metricLongTable}.Sanitize(), metricTestSlot)
	if err := pg.Exec(ctx, metricTestDB, setup+metricEmulateSQL); err != nil {
		t.Fatal(err)
	}
	super := metricConnect(ctx, t, metricSuperConfig(t, pg, metricTestDB))
	var (
		weirdOID, weirdIndexOID, testDBOID uint32
		weirdTotalSize                     float64
	)
	if err := super.QueryRow(ctx, `SELECT $1::regclass::oid, $2::regclass::oid, (SELECT oid FROM pg_database WHERE datname = current_database()), pg_total_relation_size($1::regclass)`,
		pgx.Identifier{metricWeirdSchema, metricWeirdTable}.Sanitize(), pgx.Identifier{metricWeirdSchema, metricWeirdIndex}.Sanitize(),
	).Scan(&weirdOID, &weirdIndexOID, &testDBOID, &weirdTotalSize); err != nil {
		t.Fatal(err)
	}

	mon := metricConnect(ctx, t, metricMonitorConfig(t, pg, metricTestDB))
	var (
		version int
		isSuper bool
	)
	if err := mon.QueryRow(ctx, `SELECT current_setting('server_version_num')::int, rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&version, &isSuper); err != nil {
		t.Fatal(err)
	}
	if isSuper {
		t.Fatalf("monitor role %s is a superuser: the test must run as pg_monitor only", pg.MonitorUser)
	}
	t.Logf("server_version_num %d", version)

	// Every query meant for this server or an older one runs and keeps
	// the contract (an older one of an emulated version runs on its own
	// catalog below instead: it may name columns 15 renamed); later
	// ones at least parse.
	results := map[string][]metricRow{}
	for _, g := range metric.Groups() {
		for _, q := range g.Queries {
			name := fmt.Sprintf("%s/%d", g.Name, q.MinVersion)
			chosen, _ := g.QueryFor(version)
			if q.MinVersion < chosen.MinVersion && slices.Contains(metricEmulated, q.MinVersion) {
				continue
			}
			if q.MinVersion <= version {
				t.Run("run/"+name, func(t *testing.T) {
					if q.Needs != "" {
						// Everything a query needs is there on the rig.
						var holds bool
						if err := mon.QueryRow(ctx, "SELECT ("+q.Needs+") IS TRUE").Scan(&holds); err != nil || !holds {
							t.Fatalf("needs %s: %v, %v", q.Needs, holds, err)
						}
					}
					rows := metricRun(ctx, t, mon, g, q.SQL)
					if chosen, _ := g.QueryFor(version); chosen.MinVersion == q.MinVersion {
						results[g.Name] = rows
					}
				})
				continue
			}
			t.Run("prepare/"+name, func(t *testing.T) {
				_, err := mon.Prepare(ctx, "", q.SQL)
				var pgErr *pgconn.PgError
				switch {
				case err == nil:
				case errors.As(err, &pgErr) && slices.Contains([]string{"42P01", "42703", "42883"}, pgErr.Code):
					t.Logf("expected on %d: %s %s", version, pgErr.Code, pgErr.Message)
				default:
					t.Errorf("prepare: %v", err)
				}
			})
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	t.Run("emulated", func(t *testing.T) {
		for _, v := range metricEmulated {
			cfg := metricMonitorConfig(t, pg, metricTestDB)
			cfg.RuntimeParams["search_path"] = fmt.Sprintf("pg%d, pg_catalog, public", v)
			conn := metricConnect(ctx, t, cfg)
			for _, g := range metric.Groups() {
				sql, ok := g.SQL(v)
				if !ok {
					if g.Queries[0].MinVersion <= v {
						t.Errorf("%s: no SQL for %d", g.Name, v)
					}
					continue
				}
				t.Run(fmt.Sprintf("%d/%s", v, g.Name), func(t *testing.T) {
					rows := metricRun(ctx, t, conn, g, sql)
					metricCheckEmulated(t, v, g.Name, rows, metricWeirdName())
				})
			}
		}
	})

	t.Run("objects", func(t *testing.T) {
		db := metricFind(t, results["database"], metricTestDB)
		if db.key != fmt.Sprint(testDBOID) || metricValue(db, "size") <= 0 || metricValue(db, "frozen_xid_age") <= 0 || math.IsNaN(metricValue(db, "sessions")) {
			t.Errorf("database %q: key %s (want %d), size %v, frozen_xid_age %v, sessions %v", metricTestDB, db.key, testDBOID,
				metricValue(db, "size"), metricValue(db, "frozen_xid_age"), metricValue(db, "sessions"))
		}
		act := metricFind(t, results["activity"], metricTestDB)
		if act.key != db.key {
			t.Errorf("activity key %s, database key %s", act.key, db.key)
		}
		metricFind(t, results["activity"], "template0") // no sessions, still a row

		tab := metricFind(t, results["table"], metricWeirdName())
		if tab.key != fmt.Sprint(weirdOID) || tab.parent != nil {
			t.Errorf("table %s: key %s parent %v, want key %d and no parent", metricWeirdName(), tab.key, metricDeref(tab.parent), weirdOID)
		}
		if metricValue(tab, "n_live_tup") != 100 || metricValue(tab, "total_size") != weirdTotalSize || metricValue(tab, "table_size") <= 0 || metricValue(tab, "table_size") >= weirdTotalSize {
			t.Errorf("table %s: n_live_tup %v, table_size %v, total_size %v (pg_total_relation_size %v)", metricWeirdName(),
				metricValue(tab, "n_live_tup"), metricValue(tab, "table_size"), metricValue(tab, "total_size"), weirdTotalSize)
		}
		if math.IsNaN(metricValue(tab, "toast_blks_hit")) || math.IsNaN(metricValue(tab, "idx_scan")) {
			t.Errorf("table %s has a TOAST table and indexes: toast_blks_hit %v, idx_scan %v", metricWeirdName(), metricValue(tab, "toast_blks_hit"), metricValue(tab, "idx_scan"))
		}
		counted := metricFind(t, results["table"], "public.counted")
		if !math.IsNaN(metricValue(counted, "idx_scan")) {
			t.Errorf("public.counted has no index, idx_scan = %v, want NULL", metricValue(counted, "idx_scan"))
		}
		metricFind(t, results["table"], "public."+pgx.Identifier{metricLongTable}.Sanitize())
		if counted.statsReset == nil && db.statsReset != nil || counted.statsReset != nil && (db.statsReset == nil || !counted.statsReset.Equal(*db.statsReset)) {
			t.Errorf("table stats_reset %v, database's %v", metricDeref(counted.statsReset), metricDeref(db.statsReset))
		}

		idxName := pgx.Identifier{metricWeirdSchema}.Sanitize() + "." + pgx.Identifier{metricWeirdIndex}.Sanitize()
		idx := metricFind(t, results["index"], idxName)
		if idx.key != fmt.Sprint(weirdIndexOID) || metricDeref(idx.parent) != tab.key || metricValue(idx, "size") <= 0 {
			t.Errorf("index %s: key %s (want %d), parent %v (want %s), size %v", idxName, idx.key, weirdIndexOID, metricDeref(idx.parent), tab.key, metricValue(idx, "size"))
		}
		for _, r := range results["index"] {
			if r.parent == nil {
				t.Errorf("index %v without parent", metricDeref(r.name))
				continue
			}
			if !slices.ContainsFunc(results["table"], func(t metricRow) bool { return t.key == *r.parent }) {
				t.Errorf("index %v: parent %s is not a key of the table group", metricDeref(r.name), *r.parent)
			}
		}

		slot := metricFind(t, results["slot"], metricTestSlot)
		if slot.key != metricTestSlot || metricValue(slot, "active") != 0 || metricValue(slot, "retained_bytes") < 0 || math.IsNaN(metricValue(slot, "retained_bytes")) {
			t.Errorf("slot: key %s, active %v, retained_bytes %v", slot.key, metricValue(slot, "active"), metricValue(slot, "retained_bytes"))
		}

		srv := results["server"]
		if len(srv) != 1 || srv[0].key != "" || metricValue(srv[0], "in_recovery") != 0 || !math.IsNaN(metricValue(srv[0], "replay_delay")) ||
			metricValue(srv[0], "max_connections") != 200 || metricValue(srv[0], "client_backends") < 1 || metricValue(srv[0], "uptime") <= 0 {
			t.Errorf("server: %+v", srv)
		}
		for _, g := range []string{"server", "bgwriter", "wal", "archiver"} {
			if len(results[g]) != 1 || results[g][0].key != "" {
				t.Errorf("%s: want one row with key '', got %d", g, len(results[g]))
			}
		}
		wal := results["wal"][0]
		if metricValue(wal, "wal_lsn") <= 0 || metricValue(wal, "wal_bytes") <= 0 {
			t.Errorf("wal: wal_lsn %v, wal_bytes %v", metricValue(wal, "wal_lsn"), metricValue(wal, "wal_bytes"))
		}
	})

	t.Run("counters", func(t *testing.T) {
		g, _ := metric.GroupByName("table")
		sql, _ := g.SQL(version)
		read := func() float64 {
			t.Helper()
			if _, err := mon.Exec(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
				t.Fatal(err)
			}
			return metricValue(metricFind(t, metricRun(ctx, t, mon, g, sql), "public.counted"), "n_tup_ins")
		}
		before := read()
		// Pg.Exec's connection ends right after the INSERT; a backend
		// flushes its pending statistics on exit (and at most once a
		// second while it runs), so the growth shows up shortly after.
		if err := pg.Exec(ctx, metricTestDB, "INSERT INTO counted SELECT g FROM generate_series(1, 1000) g"); err != nil {
			t.Fatal(err)
		}
		after := before
		for deadline := time.Now().Add(10 * time.Second); after-before < 1000 && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			after = read()
		}
		if after-before != 1000 {
			t.Errorf("n_tup_ins grew by %v (from %v to %v), want 1000", after-before, before, after)
		}
	})

	t.Run("activity", func(t *testing.T) {
		// Session a holds an ACCESS EXCLUSIVE lock, idle in its
		// transaction; session b waits for it.
		a := metricConnect(ctx, t, metricSuperConfig(t, pg, metricTestDB))
		b := metricConnect(ctx, t, metricSuperConfig(t, pg, metricTestDB))
		tx, err := a.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "LOCK TABLE counted IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, err := b.Exec(ctx, "SELECT count(*) FROM counted"); err != nil {
				t.Errorf("waiting session: %v", err)
			}
		})
		g, _ := metric.GroupByName("activity")
		sql, _ := g.SQL(version)
		var row metricRow
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			row = metricFind(t, metricRun(ctx, t, mon, g, sql), metricTestDB)
			if metricValue(row, "sessions_waiting") > 0 {
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
		row = metricFind(t, metricRun(ctx, t, mon, g, sql), metricTestDB)
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		for c, want := range map[string]float64{
			"sessions_waiting":             1,
			"sessions_active":              1,
			"sessions_idle_in_transaction": 1,
			"locks_access_exclusive":       1,
			"locks_not_granted":            1,
			"prepared_xacts":               0,
			"oldest_prepared_xact_age":     0,
		} {
			if got := metricValue(row, c); got != want {
				t.Errorf("%s = %v, want %v", c, got, want)
			}
		}
		for _, c := range []string{"oldest_xact_age", "oldest_query_age", "oldest_idle_in_transaction_age"} {
			if got := metricValue(row, c); !(got > 0) {
				t.Errorf("%s = %v, want > 0", c, got)
			}
		}
	})

	t.Run("replication", func(t *testing.T) {
		// Two WAL senders (logical replication connections) from the same
		// application and address: their keys must differ.
		for range 2 {
			cfg, err := pgconn.ParseConfig(pg.ConnString(metricTestDB) + " replication=database application_name='pggraph \"test\"'")
			if err != nil {
				t.Fatal(err)
			}
			c, err := pgconn.ConnectConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close(context.WithoutCancel(ctx)) })
		}
		g, _ := metric.GroupByName("replication")
		sql, _ := g.SQL(version)
		rows := metricRun(ctx, t, mon, g, sql)
		var keys []string
		for _, r := range rows {
			keys = append(keys, r.key)
			if metricValue(r, "streaming") != 0 || !math.IsNaN(metricValue(r, "replay_lag_bytes")) {
				t.Errorf("%s: streaming %v, replay_lag_bytes %v; want 0 and NULL before START_REPLICATION", r.key, metricValue(r, "streaming"), metricValue(r, "replay_lag_bytes"))
			}
		}
		slices.Sort(keys)
		if want := []string{`pggraph "test"@127.0.0.1`, `pggraph "test"@127.0.0.1#2`}; !slices.Equal(keys, want) {
			t.Errorf("keys %q, want %q", keys, want)
		}
	})

	env := metricEnv{ctx: ctx, rig: r, pg: pg, mon: mon, version: version}
	t.Run("wait", env.testWait)
	t.Run("sequence", env.testSequence)
	t.Run("function", env.testFunction)
	t.Run("standby", env.testStandby)
	t.Run("subscription", env.testSubscription)
	t.Run("slru", env.testSLRU)
	t.Run("bloat", env.testBloat)
	t.Run("vacuum", env.testVacuum)

	t.Run("1000 tables", func(t *testing.T) {
		// One database of 1,000 tables, each with a primary key, a second
		// index, a TOAST table and a row, analyzed and readable by the
		// monitoring role: every table and index is read; none is large
		// enough for a bloat estimate. (What it costs is measured by
		// BenchmarkCollect, not here.)
		const perfDB = "pggraph_perf"
		if err := pg.Exec(ctx, "postgres", "CREATE DATABASE "+perfDB); err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		for i := 0; i < 1000; i += 250 {
			if err := pg.Exec(ctx, perfDB, fmt.Sprintf(`DO $$ BEGIN
  FOR i IN %d..%d LOOP
    EXECUTE format('CREATE TABLE t%%s (id int PRIMARY KEY, body text, n int)', i);
    EXECUTE format('CREATE INDEX ON t%%s (n)', i);
    EXECUTE format('INSERT INTO t%%s VALUES (1, ''x'', 1)', i);
  END LOOP;
END $$`, i+1, i+250)); err != nil {
				t.Fatal(err)
			}
		}
		if err := pg.Exec(ctx, perfDB, "ANALYZE; GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+pgx.Identifier{pg.MonitorUser}.Sanitize()); err != nil {
			t.Fatal(err)
		}
		t.Logf("created 1000 tables in %v", time.Since(t1).Round(time.Millisecond))
		conn := metricConnect(ctx, t, metricMonitorConfig(t, pg, perfDB))
		var perDB, server time.Duration
		for _, g := range metric.Groups() {
			q, ok := g.QueryFor(version)
			if !ok || q.Needs != "" {
				continue // not on this server, or no extension in this database
			}
			sql := q.SQL
			best := time.Duration(math.MaxInt64)
			var n int
			for range 3 {
				t2 := time.Now()
				n = len(metricRun(ctx, t, conn, g, sql))
				best = min(best, time.Since(t2))
			}
			t.Logf("%-12s %4d rows in %v", g.Name, n, best.Round(100*time.Microsecond))
			if want := map[string]int{"table": 1000, "index": 2000}[g.Name]; n < want {
				t.Errorf("%s: %d rows, want at least %d", g.Name, n, want)
			}
			if g.Name == "table" || g.Name == "index" {
				if rows := metricRun(ctx, t, conn, g, sql); !math.IsNaN(metricValue(rows[0], "bloat_ratio")) {
					t.Errorf("%s: a bloat estimate for %v, of one page", g.Name, metricDeref(rows[0].name))
				}
			}
			if g.Scope == metric.Database {
				perDB += best
			} else {
				server += best
			}
		}
		total := 5*perDB + server
		t.Logf("per database %v, server groups %v: 5 databases of 1000 tables ≈ %v", perDB.Round(time.Millisecond), server.Round(time.Millisecond), total.Round(time.Millisecond))
	})
}

// metricWeirdName is the table group's name of the hostile table.
func metricWeirdName() string {
	return pgx.Identifier{metricWeirdSchema}.Sanitize() + "." + pgx.Identifier{metricWeirdTable}.Sanitize()
}

// metricCheckEmulated checks the values the emulated catalogs of
// testdata/emulate.sql make up, as the query for version maps them.
func metricCheckEmulated(t *testing.T, version int, group string, rows []metricRow, table string) {
	t.Helper()
	switch group {
	case "bgwriter":
		if version < 170000 {
			return
		}
		r := rows[0]
		for c, want := range map[string]float64{
			"checkpoints_timed": 11, "checkpoints_req": 12, "checkpoint_write_time": 13.5,
			"checkpoint_sync_time": 14.5, "buffers_checkpoint": 15,
			// client backend normal 7 + bulkwrite 2 + autovacuum 1; not
			// temp relations, the checkpointer or the background writer.
			"buffers_backend": 10, "buffers_backend_fsync": 1,
		} {
			if got := metricValue(r, c); got != want {
				t.Errorf("%s = %v, want %v", c, got, want)
			}
		}
		for _, c := range []string{"buffers_clean", "maxwritten_clean", "buffers_alloc"} {
			if math.IsNaN(metricValue(r, c)) {
				t.Errorf("%s is NULL", c)
			}
		}
		if want := time.Date(2031, 2, 3, 0, 0, 0, 0, time.UTC); r.statsReset == nil || !r.statsReset.Equal(want) {
			t.Errorf("stats_reset %v, want the latest of the three views, %v", metricDeref(r.statsReset), want)
		}
	case "database":
		for _, r := range rows {
			if got := metricValue(r, "sessions"); version < 140000 && !math.IsNaN(got) || version >= 140000 && math.IsNaN(got) {
				t.Errorf("%v: sessions = %v on %d", metricDeref(r.name), got, version)
			}
		}
	case "wal":
		r := rows[0]
		if version >= 180000 {
			for _, c := range []string{"wal_write", "wal_sync", "wal_write_time", "wal_sync_time"} {
				if !math.IsNaN(metricValue(r, c)) {
					t.Errorf("%s = %v on %d, want NULL", c, metricValue(r, c), version)
				}
			}
		}
		if version < 140000 {
			if !math.IsNaN(metricValue(r, "wal_records")) || r.statsReset != nil || !(metricValue(r, "wal_lsn") > 0) {
				t.Errorf("wal_records %v, stats_reset %v, wal_lsn %v on %d; want NULL, NULL, > 0",
					metricValue(r, "wal_records"), metricDeref(r.statsReset), metricValue(r, "wal_lsn"), version)
			}
		} else if math.IsNaN(metricValue(r, "wal_records")) || r.statsReset == nil {
			t.Errorf("wal_records %v, stats_reset %v", metricValue(r, "wal_records"), metricDeref(r.statsReset))
		}
	case "slru":
		var keys []string
		for _, r := range rows {
			keys = append(keys, r.key)
		}
		slices.Sort(keys)
		if want := []string{"commit_timestamp", "multixact_member", "multixact_offset", "notify", "other", "serializable", "subtransaction", "transaction"}; !slices.Equal(keys, want) {
			t.Errorf("caches %v on %d, want %v", keys, version, want)
		}
	case "conflicts":
		if len(rows) != 0 {
			t.Errorf("%d rows on a primary, want none", len(rows))
		}
	case "wal_receiver":
		if version >= 130000 {
			if len(rows) != 0 {
				t.Errorf("%d rows on a primary", len(rows))
			}
			return
		}
		r := metricFind(t, rows, "primary:5432")
		if r.key != "" || metricValue(r, "received_bytes") != 0x3000 || metricValue(r, "streaming") != 1 || !(metricValue(r, "last_message_age") >= 1) {
			t.Errorf("wal_receiver: key %q, received_bytes %v, streaming %v, last_message_age %v", r.key,
				metricValue(r, "received_bytes"), metricValue(r, "streaming"), metricValue(r, "last_message_age"))
		}
	case "subscription":
		if version < 150000 {
			// The real 15 views hold no subscription (pg_stat_subscription
			// is emulated only where its columns differ).
		}
		parallel, errs, confl := 1.0, math.NaN(), math.NaN()
		if version < 160000 {
			parallel = 0
		}
		if version >= 180000 {
			errs, confl = 2, 7
		}
		a := metricFind(t, rows, "sub_a")
		for c, want := range map[string]float64{
			"apply_running": 1, "sync_workers": 1, "parallel_workers": parallel, "received_bytes": 0x2000,
			"apply_error_count": errs, "conflicts": confl,
		} {
			if got := metricValue(a, c); got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
				t.Errorf("sub_a: %s = %v on %d, want %v", c, got, version, want)
			}
		}
		if age := metricValue(a, "last_message_age"); !(age >= 3) {
			t.Errorf("sub_a: last_message_age = %v, want 3 s or more", age)
		}
		b := metricFind(t, rows, "sub_b")
		if metricValue(b, "apply_running") != 0 || !math.IsNaN(metricValue(b, "received_bytes")) {
			t.Errorf("sub_b without a worker: apply_running %v, received_bytes %v", metricValue(b, "apply_running"), metricValue(b, "received_bytes"))
		}
	case "vacuum":
		if version < 170000 {
			return // the real view: no vacuum to show
		}
		r := metricFind(t, rows, "public.counted")
		delay := math.NaN()
		if version >= 180000 {
			delay = 3.5
		}
		for c, want := range map[string]float64{
			"running": 1, "autovacuum": 0, "phase": 3, "heap_blks_total": 100, "heap_blks_scanned": 50, "heap_blks_vacuumed": 25,
			"scanned_ratio": 0.5, "index_vacuum_count": 1, "dead_items": 7, "indexes_total": 2, "indexes_processed": 1, "delay_time": delay,
		} {
			if got := metricValue(r, c); got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
				t.Errorf("%s = %v on %d, want %v", c, got, version, want)
			}
		}
	case "io":
		// Sizes in bytes from op_bytes (16, 17) or as given (18); the
		// combination that did nothing is left out.
		if len(rows) != 6 {
			t.Errorf("%d rows, want 6 (the 7th did no I/O)", len(rows))
		}
		r := metricFind(t, rows, "client backend/relation/normal")
		for c, want := range map[string]float64{
			"reads": 1, "read_bytes": 8192, "writes": 7, "write_bytes": 7 * 8192, "extends": 2, "extend_bytes": 2 * 8192,
			"hits": 9, "evictions": 1, "fsyncs": 1, "reuses": math.NaN(),
		} {
			if got := metricValue(r, c); got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
				t.Errorf("%s = %v on %d, want %v", c, got, version, want)
			}
		}
		if want := time.Date(2031, 2, 3, 0, 0, 0, 0, time.UTC); r.statsReset == nil || !r.statsReset.Equal(want) {
			t.Errorf("stats_reset %v, want %v", metricDeref(r.statsReset), want)
		}
	case "table":
		r := metricFind(t, rows, table)
		if got := metricValue(r, "n_tup_newpage_upd"); version >= 160000 && got != 4 || version < 160000 && !math.IsNaN(got) {
			t.Errorf("n_tup_newpage_upd = %v on %d", got, version)
		}
		if got := metricValue(r, "n_ins_since_vacuum"); version >= 130000 && math.IsNaN(got) || version < 130000 && !math.IsNaN(got) {
			t.Errorf("n_ins_since_vacuum = %v on %d", got, version)
		}
		if got, want := metricValue(r, "total_autovacuum_time"), 2.5; version >= 180000 && got != want || version < 180000 && !math.IsNaN(got) {
			t.Errorf("total_autovacuum_time = %v on %d", got, version)
		}
	}
}

// TestMetricReadmeRows checks that README.md's table of groups ("What is
// collected") has, in the table's order, one row per group saying what
// the group says: its help and its counters and gauges.
func TestMetricReadmeRows(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n### What is collected\n")
	section, _, _ = strings.Cut(section, "\n### ")
	var rows []string
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "| `") && strings.Count(line, " | ") == 3 {
			rows = append(rows, line)
		}
	}
	var want []string
	for _, g := range metric.Groups() {
		var counters, gauges []string
		for _, c := range g.Columns {
			if c.Kind == metric.Counter {
				counters = append(counters, c.Name)
			} else {
				gauges = append(gauges, c.Name)
			}
		}
		want = append(want, fmt.Sprintf("| `%s` | %s | %s | %s |", g.Name, g.Help, strings.Join(counters, ", "), strings.Join(gauges, ", ")))
	}
	if !slices.Equal(rows, want) {
		t.Errorf("README.md's group rows differ from the table; want:\n%s", strings.Join(want, "\n"))
	}
}
