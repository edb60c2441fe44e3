package graph

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/internal/testing/rig"
	"github.com/pggraph/pggraph/metric"
)

// shared is the package's one rig (with the central cluster), started on
// first use; TestMain closes it.
var shared = rig.Lazy{Options: rig.Options{Central: true}}

func TestMain(m *testing.M) {
	code := m.Run()
	if err := shared.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close rig:", err)
	}
	if helper.path != "" { // the benchmarks' render helper
		os.RemoveAll(filepath.Dir(helper.path))
	}
	os.Exit(code)
}

// The fixture: client prefix fxPrefix, 400 days of 10-minute samples
// ending at fixture.end for two databases, two tables and two indexes.
const (
	fxPrefix = "gtest"
	fxDays   = 400
	fxStep   = 10 * time.Minute
)

// fxObject is one object of the fixture.
type fxObject struct {
	group       string
	db          uint32
	key, name   string
	parent      string
	k           float64 // its number within the group, for its values
	columns     []string
	values      func(i int, k float64) []float64 // one per column
	seconds     float64
	description string
}

// fxObjects are the fixture's objects and how their values go: simple
// integer functions of the sample number i, so sums are exact.
func fxObjects() []fxObject {
	dbCols := []string{"xact_commit", "xact_rollback", "blks_read", "blks_hit", "tup_returned", "tup_inserted", "size", "numbackends", "temp_bytes"}
	dbVals := func(i int, k float64) []float64 {
		return []float64{100 + float64(i%50) + 1000*k, float64(i % 3), 10 + float64(i%7), 1000 + float64(i%11),
			5000 + float64(i%13), 7, 1e9 + float64(i)*1000 + k*1e8, 5 + k, 4096 * float64(i%2)}
	}
	actCols := []string{"sessions_active", "sessions_idle", "oldest_xact_age", "locks_not_granted", "sessions_waiting"}
	actVals := func(i int, k float64) []float64 {
		return []float64{1 + float64(i%4), 10, float64(i%6)*10 + k*100, float64(i % 2), 0}
	}
	tblCols := []string{"seq_scan", "idx_scan", "n_tup_ins", "n_tup_upd", "n_tup_del", "n_tup_hot_upd", "n_live_tup", "n_dead_tup", "table_size", "total_size", "heap_blks_read", "heap_blks_hit"}
	tblVals := func(i int, k float64) []float64 {
		return []float64{float64(i%5) + k, 10*k + float64(i%3), 3 * (k + 1), 2, 1, 1, 1000 * (k + 1), 50*(k+1) + float64(i%10), 8192 * (k + 1) * 100, 8192 * (k + 1) * 150, 1, 99}
	}
	idxCols := []string{"idx_scan", "size"}
	return []fxObject{
		{group: "database", key: "16384", name: "app", k: 1, columns: dbCols, values: dbVals},
		{group: "database", key: "5", name: "postgres", k: 0, columns: dbCols, values: dbVals},
		{group: "activity", key: "16384", name: "app", k: 1, columns: actCols, values: actVals},
		{group: "activity", key: "5", name: "postgres", k: 0, columns: actCols, values: actVals},
		// The busiest table is the smaller one.
		{group: "table", db: 16384, key: "20000", name: "public.orders", k: 0, columns: tblCols, values: tblVals},
		{group: "table", db: 16384, key: "20001", name: "public.items", k: 1, columns: tblCols, values: func(i int, k float64) []float64 {
			v := tblVals(i, k)
			v[0], v[1], v[2] = 0, 0, 1 // never scanned, few inserts: 4 operations a sample to orders' 9
			return v
		}},
		{group: "index", db: 16384, key: "20002", name: "public.orders_pkey", parent: "20000", columns: idxCols,
			values: func(i int, k float64) []float64 { return []float64{float64(i%4 + 1), 16384} }},
		{group: "index", db: 16384, key: "20003", name: "public.orders_note_idx", parent: "20000", columns: idxCols,
			values: func(i int, k float64) []float64 { return []float64{0, 8192} }},
		{group: "wal", key: "", name: "wal", columns: []string{"wal_lsn"},
			values: func(i int, k float64) []float64 { return []float64{1e6 + float64(i%100)} }},
	}
}

// fixture is the loaded fixture.
type fixture struct {
	store *store.Store
	end   time.Time // the last sample
	first time.Time // the first sample
	// down is the window without samples (the collector was down).
	downFrom, downTo time.Time
	// reset is the sample time at which app's counters are NULL.
	reset time.Time
	super *pgx.Conn
}

// index returns the sample number of t.
func (f *fixture) index(t time.Time) int { return int(t.Sub(f.first) / fxStep) }

// has reports whether the fixture has a sample at t.
func (f *fixture) has(t time.Time) bool {
	return !t.Before(f.first) && !t.After(f.end) && (t.Before(f.downFrom) || !t.Before(f.downTo))
}

var fx struct {
	once sync.Once
	f    *fixture
	err  error
}

// loadFixture sets the central cluster up and writes the fixture once
// per test binary. It fails the test, never skips it, when the rig does
// not start.
func loadFixture(t testing.TB) *fixture {
	t.Helper()
	r := shared.Get(t)
	fx.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		fx.f, fx.err = writeFixture(ctx, r)
	})
	if fx.err != nil {
		t.Fatalf("load fixture: %v", fx.err)
	}
	return fx.f
}

// writeFixture writes the fixture: the first and the last samples through
// the store's own transactions (Begin, Write, Maintain, Commit), the
// 57,000 sample times between by COPY, then the rollups by Rebuild.
func writeFixture(ctx context.Context, r *rig.Rig) (*fixture, error) {
	srv := store.Server{
		Params:   fmt.Sprintf("host=127.0.0.1 port=%d user=postgres", r.Central.Port),
		Password: config.Secret(r.Central.SuperPassword),
	}
	if _, err := store.Setup(ctx, srv, "pggraph", nil); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	s, err := store.OpenServer(ctx, srv, "pggraph", metric.Groups())
	if err != nil {
		return nil, err
	}
	if _, err := s.RemoveClient(ctx, fxPrefix); err != nil && !errors.Is(err, store.ErrNoClient) {
		return nil, err
	}
	super, err := pgx.Connect(ctx, r.Central.ConnString("pggraph"))
	if err != nil {
		return nil, err
	}
	end := time.Now().UTC().Truncate(fxStep)
	f := &fixture{
		store: s, end: end, first: end.Add(-fxDays * 24 * time.Hour), super: super,
		downFrom: end.Add(-6 * time.Hour), downTo: end.Add(-4 * time.Hour),
		reset: end.Add(-fxStep),
	}
	objs := fxObjects()
	groups := map[string]metric.Group{}
	for _, g := range metric.Groups() {
		groups[g.Name] = g
	}
	// sample returns object o's sample at time t, NaN where the fixture
	// has none.
	sample := func(o fxObject, t time.Time) metric.Sample {
		g := groups[o.group]
		vals := make([]float64, len(g.Columns))
		for i := range vals {
			vals[i] = math.NaN()
		}
		v := o.values(f.index(t), o.k)
		for j, name := range o.columns {
			for i, c := range g.Columns {
				if c.Name == name {
					vals[i] = v[j]
					if t.Equal(f.reset) && o.name == "app" && c.Kind == metric.Counter {
						vals[i] = math.NaN() // a reset: every counter of the object
					}
				}
			}
		}
		return metric.Sample{Group: o.group, Database: o.db, Key: o.key, Name: o.name, Parent: o.parent,
			Seconds: fxStep.Seconds(), Values: vals}
	}
	runAt := func(t time.Time) error {
		var samples []metric.Sample
		for _, o := range objs {
			samples = append(samples, sample(o, t))
		}
		tx, err := s.Begin(ctx, fxPrefix)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if err := tx.Write(ctx, &metric.Snapshot{Taken: t}, samples); err != nil {
			return err
		}
		if err := tx.Maintain(ctx, metric.Retention{Raw: (fxDays + 1) * 24 * time.Hour}); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	if err := runAt(f.first); err != nil {
		return nil, fmt.Errorf("first run: %w", err)
	}
	// The objects' ids, as the first run stored them.
	ids := map[string]int32{}
	rows, err := super.Query(ctx, `SELECT id, grp, key FROM `+pgx.Identifier{fxPrefix + "_object"}.Sanitize())
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var (
			id       int32
			grp, key string
		)
		if err := rows.Scan(&id, &grp, &key); err != nil {
			return nil, err
		}
		ids[grp+"/"+key] = id
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// The bulk, by COPY: every time after the first up to the last three.
	last := end.Add(-3 * fxStep)
	for _, g := range []string{"database", "activity", "table", "index", "wal"} {
		var mine []fxObject
		for _, o := range objs {
			if o.group == g {
				mine = append(mine, o)
			}
		}
		cols := append([]string{"ts", "object", "seconds"}, mine[0].columns...)
		var src [][]any
		for t := f.first.Add(fxStep); !t.After(last); t = t.Add(fxStep) {
			if !f.has(t) {
				continue
			}
			for _, o := range mine {
				row := []any{t, ids[g+"/"+o.key], fxStep.Seconds()}
				for _, v := range o.values(f.index(t), o.k) {
					row = append(row, v)
				}
				src = append(src, row)
			}
		}
		if _, err := super.CopyFrom(ctx, pgx.Identifier{fxPrefix + "_" + g}, cols, pgx.CopyFromRows(src)); err != nil {
			return nil, fmt.Errorf("copy %s: %w", g, err)
		}
	}
	// The last three runs through the store, one with app's reset.
	for t := last.Add(fxStep); !t.After(end); t = t.Add(fxStep) {
		if err := runAt(t); err != nil {
			return nil, fmt.Errorf("run at %s: %w", t, err)
		}
	}
	if err := s.Rebuild(ctx, fxPrefix, f.first, end.Add(time.Hour)); err != nil {
		return nil, err
	}
	return f, nil
}

// csvRows parses a CSV into its header and rows.
func csvRows(t *testing.T, d *Data) ([]string, [][]string) {
	t.Helper()
	var b bytes.Buffer
	if err := d.CSV(&b); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs[0], recs[1:]
}

func TestLoadDayIsRawAndExact(t *testing.T) {
	f := loadFixture(t)
	ctx := t.Context()
	r, err := ParseRange("day", "", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	d, err := Load(ctx, f.store, fxPrefix, Query{Graph: "transactions", Range: r})
	if err != nil {
		t.Fatal(err)
	}
	if d.Resolution != "raw" {
		t.Errorf("resolution %s, want raw", d.Resolution)
	}
	header, rows := csvRows(t, d)
	if strings.Join(header, ",") != "time,seconds,commit,rollback" {
		t.Errorf("header %q", header)
	}
	// One row per stored sample time in the range, the sum of both
	// databases' stored deltas, exactly; app's reset is a gap.
	want := 0
	for ts := r.From.Truncate(fxStep); !ts.After(f.end); ts = ts.Add(fxStep) {
		if !ts.Before(r.From) && f.has(ts) {
			want++
		}
	}
	if len(rows) != want {
		t.Fatalf("%d rows, want %d", len(rows), want)
	}
	for _, row := range rows {
		ts, err := time.Parse(time.RFC3339, row[0])
		if err != nil {
			t.Fatal(err)
		}
		if !f.has(ts) {
			t.Errorf("row at %s, where there is no sample", row[0])
		}
		i := f.index(ts)
		commit := strconv.FormatFloat(2*(100+float64(i%50))+1000, 'f', -1, 64)
		rollback := strconv.Itoa(2 * (i % 3))
		if ts.Equal(f.reset) {
			commit, rollback = "", ""
		}
		if row[1] != "600" || row[2] != commit || row[3] != rollback {
			t.Errorf("row %q, want seconds 600, commit %q, rollback %q", row, commit, rollback)
		}
	}
	// And against the stored rows themselves.
	var stored []float64
	rowsDB, err := f.super.Query(ctx, `SELECT sum(xact_commit) FROM gtest_database
		WHERE ts >= $1 AND ts < $2 GROUP BY ts HAVING count(xact_commit) = count(*) ORDER BY ts`, r.From, r.To)
	if err != nil {
		t.Fatal(err)
	}
	stored, err = pgx.CollectRows(rowsDB, pgx.RowTo[float64])
	if err != nil {
		t.Fatal(err)
	}
	var got []float64
	for _, p := range d.Series[0].Points {
		if !math.IsNaN(p.V) {
			got = append(got, p.V)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(stored) {
		t.Errorf("commit values differ from the stored sums:\n got %v\nwant %v", got, stored)
	}
	// The gaps: the reset is NaN (never 0), the down time has no points,
	// and the drawing breaks at both.
	nan := 0
	for _, p := range d.Series[0].Points {
		if math.IsNaN(p.V) {
			nan++
			if !p.T.Equal(f.reset) {
				t.Errorf("NaN at %s", p.T)
			}
		}
		if !p.T.Before(f.downFrom) && p.T.Before(f.downTo) {
			t.Errorf("point at %s, in the down time", p.T)
		}
	}
	if nan != 1 {
		t.Errorf("%d NaN points, want 1 (the reset)", nan)
	}
	if segs := len(d.chart().Lines[0].Segments); segs != 3 {
		t.Errorf("%d segments, want 3 (broken at the down time and at the reset)", segs)
	}
	var png bytes.Buffer
	if err := d.PNG(&png); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, png.Bytes(), 800, 300)
	writeSample(t, "rig-transactions-day.png", png.Bytes())
}

func TestLoadYearIsDaily(t *testing.T) {
	f := loadFixture(t)
	ctx := t.Context()
	r, err := ParseRange("year", "", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"transactions", "size", "sessions", "oldest", "cache_hit", "wal", "db_tuples"} {
		t.Run(g, func(t *testing.T) {
			d, err := Load(ctx, f.store, fxPrefix, Query{Graph: g, DB: "app", Range: r})
			if err != nil {
				t.Fatal(err)
			}
			if d.Resolution != "day" {
				t.Errorf("resolution %s, want day", d.Resolution)
			}
			for _, s := range d.Series {
				if n := len(s.Points); n > 800 || n < 360 {
					t.Errorf("line %s: %d points, want 360 to 800", s.Label, n)
				}
				var nan []time.Time
				for _, p := range s.Points {
					if math.IsNaN(p.V) {
						nan = append(nan, p.T)
					}
				}
				// A column the fixture leaves NULL is NaN throughout; any
				// other has a value every day.
				if len(nan) > 0 && len(nan) < len(s.Points) {
					t.Errorf("line %s: NaN at %v", s.Label, nan)
				}
			}
			var png bytes.Buffer
			if err := d.PNG(&png); err != nil {
				t.Fatal(err)
			}
			checkPNG(t, png.Bytes(), 800, 300)
			writeSample(t, "rig-"+g+"-year.png", png.Bytes())
		})
	}
	// The daily sums are the raw deltas' sums, exactly.
	d, err := Load(ctx, f.store, fxPrefix, Query{Graph: "transactions", Range: r})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.super.Query(ctx, `SELECT date_bin('1 day', ts, '2000-01-01 00:00:00+00'), sum(xact_commit)
		FROM gtest_database GROUP BY 1 HAVING date_bin('1 day', ts, '2000-01-01 00:00:00+00') >= $1 ORDER BY 1`, r.From)
	if err != nil {
		t.Fatal(err)
	}
	type day struct {
		T time.Time
		V float64
	}
	want, err := pgx.CollectRows(rows, pgx.RowToStructByPos[day])
	if err != nil {
		t.Fatal(err)
	}
	pts := d.Series[0].Points
	if len(pts) != len(want) {
		t.Fatalf("%d points, want %d days", len(pts), len(want))
	}
	for i, p := range pts {
		if !p.T.Equal(want[i].T) || p.V != want[i].V {
			t.Errorf("point %d: %s %v, want %s %v", i, p.T, p.V, want[i].T, want[i].V)
		}
	}
	// A year of CSV: at most ~800 rows.
	if _, rows := csvRows(t, d); len(rows) > 800 {
		t.Errorf("year CSV has %d rows", len(rows))
	}
}

func TestLoadWeekAndMonthAreHourly(t *testing.T) {
	f := loadFixture(t)
	for _, name := range []string{"week", "month"} {
		r, err := ParseRange(name, "", "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		d, err := Load(t.Context(), f.store, fxPrefix, Query{Graph: "db_transactions", DB: "app", Range: r})
		if err != nil {
			t.Fatal(err)
		}
		if d.Resolution != "hour" {
			t.Errorf("%s: resolution %s, want hour", name, d.Resolution)
		}
		// One point per bucket: an hour for a week, two for a month (at
		// most a point per pixel column of the plot); a range that does
		// not start on a bucket's boundary touches one bucket more.
		bucket := bucketWidth(r, defaultWidth, store.ResolutionHour)
		want := int(r.To.Sub(r.From) / bucket)
		if n := len(d.Series[0].Points); n > want+1 || n < want-4 {
			t.Errorf("%s: %d points, want about %d (one per %s)", name, n, want, bucket)
		}
		// app alone: 100 + i%50 + 1000 per sample; a bucket of k samples
		// sums to k × 1100 + the k i%50.
		// The first bucket may start before the range and hold only part
		// of its samples (its rate divides by the seconds it holds), so
		// whole buckets only.
		k := float64(bucket / fxStep)
		for _, p := range d.Series[0].Points {
			whole := !p.T.Before(r.From) && p.T.Before(f.downFrom.Add(-bucket))
			if whole && (p.V < k*1100 || p.V > k*1149) {
				t.Errorf("%s: %s: commit %v outside an hour's range", name, p.T, p.V)
				break
			}
		}
		var png bytes.Buffer
		if err := d.PNG(&png); err != nil {
			t.Fatal(err)
		}
		writeSample(t, "rig-db_transactions-"+name+".png", png.Bytes())
	}
}

func TestLoadTableAndNotFound(t *testing.T) {
	f := loadFixture(t)
	ctx := t.Context()
	r, _ := ParseRange("day", "", "", time.Now())
	d, err := Load(ctx, f.store, fxPrefix, Query{Graph: "table_scans", DB: "app", Table: "public.orders", Range: r})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range d.Series[0].Points {
		if i := f.index(p.T); p.V != float64(i%5) {
			t.Errorf("seq_scan at %s = %v, want %d", p.T, p.V, i%5)
			break
		}
	}
	d, err = Load(ctx, f.store, fxPrefix, Query{Graph: "table_cache_hit", DB: "app", Table: "public.orders", Range: r})
	if err != nil {
		t.Fatal(err)
	}
	if p := d.Series[0].Points[0]; p.V != 99 {
		t.Errorf("heap hit ratio %v, want 99", p.V)
	}
	if p := d.Series[1].Points[0]; !math.IsNaN(p.V) {
		t.Errorf("index hit ratio %v, want NaN (no index blocks read or hit)", p.V)
	}
	for name, q := range map[string]Query{
		"unknown database":            {Graph: "db_sessions", DB: "nope", Range: r},
		"unknown table":               {Graph: "table_rows", DB: "app", Table: "public.nope", Range: r},
		"table of another database":   {Graph: "table_rows", DB: "postgres", Table: "public.orders", Range: r},
		"database name with a quote":  {Graph: "db_size", DB: `a"b'c`, Range: r},
		"unknown database for tables": {Graph: "table_size", DB: "nope", Table: "public.orders", Range: r},
	} {
		if _, err := Load(ctx, f.store, fxPrefix, q); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: Load = %v, want ErrNotFound", name, err)
		}
	}
	if _, err := Load(ctx, f.store, "Bad-Prefix", Query{Graph: "sessions", Range: r}); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("bad prefix: %v", err)
	}
	// A graph without samples is no error: "no data yet".
	d, err = Load(ctx, f.store, fxPrefix, Query{Graph: "replication", Range: r})
	if err != nil {
		t.Fatal(err)
	}
	if c := d.chart(); c.Message != NoData {
		t.Errorf("replication without standby: message %q", c.Message)
	}
	var png bytes.Buffer
	if err := d.PNG(&png); err != nil {
		t.Fatal(err)
	}
	writeSample(t, "rig-replication-nodata.png", png.Bytes())
}

func TestListings(t *testing.T) {
	f := loadFixture(t)
	ctx := t.Context()
	dbs, err := Databases(ctx, f.store, fxPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(dbs) != "[app postgres]" {
		t.Errorf("Databases = %q", dbs)
	}
	r, _ := ParseRange("week", "", "", time.Now())
	for _, tt := range []struct {
		order  string
		offset int
		limit  int
		want   string
	}{
		{"", 0, 10, "public.orders public.items"},
		{"busiest", 0, 1, "public.orders"},
		{"busiest", 1, 1, "public.items"},
		{"busiest", 5, 1, ""},
		{"size", 0, 10, "public.items public.orders"},
		{"dead", 0, 10, "public.items public.orders"},
	} {
		page, total, err := Tables(ctx, f.store, fxPrefix, "app", tt.order, r, tt.offset, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range page {
			names = append(names, p.Name)
		}
		if strings.Join(names, " ") != tt.want || total != 2 {
			t.Errorf("Tables(%s, %d, %d) = %q, %d; want %q, 2", tt.order, tt.offset, tt.limit, names, total, tt.want)
		}
	}
	page, _, err := Tables(ctx, f.store, fxPrefix, "app", "size", r, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if p := page[0]; p.Size != 8192*2*150 || p.DeadTuples < 100 || p.DeadTuples > 109 || p.Activity <= 0 {
		t.Errorf("items: %+v", p)
	}
	if _, _, err := Tables(ctx, f.store, fxPrefix, "nope", "", r, 0, 10); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown database: %v", err)
	}
	if _, _, err := Tables(ctx, f.store, fxPrefix, "app", "random", r, 0, 10); !errors.Is(err, ErrBadQuery) {
		t.Errorf("unknown order: %v", err)
	}
	idx, err := Indexes(ctx, f.store, fxPrefix, "app", "public.orders", r)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx) != 2 || idx[0].Name != "public.orders_note_idx" || !idx[0].Unused || idx[0].Scans != 0 ||
		idx[1].Name != "public.orders_pkey" || idx[1].Unused || idx[1].Scans <= 0 || idx[1].Size != 16384 {
		t.Errorf("Indexes = %+v", idx)
	}
	if _, err := Indexes(ctx, f.store, fxPrefix, "app", "public.nope", r); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown table: %v", err)
	}
}

// writeSample keeps a PNG in the -samples directory, when given.
func writeSample(t *testing.T, name string, b []byte) {
	t.Helper()
	if *samples == "" {
		return
	}
	if err := os.WriteFile(*samples+"/"+name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
