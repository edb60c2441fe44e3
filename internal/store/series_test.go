package store

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pggraph/pggraph/metric"
)

// seriesFixture writes four 10-minute runs of two databases (app with
// OID 16384, postgres with OID 5), the activity of both, and one table
// with one index in app, through the store's runs, and rebuilds the
// rollups. app's counters are NULL (a reset) in the third run. It returns
// the store and the first run's time.
func seriesFixture(t *testing.T, prefix string) (*Store, time.Time) {
	t.Helper()
	s := openStore(t, metric.Groups())
	if _, err := s.RemoveClient(t.Context(), prefix); err != nil && !errors.Is(err, ErrNoClient) {
		t.Fatal(err)
	}
	groups := map[string]metric.Group{}
	for _, g := range metric.Groups() {
		groups[g.Name] = g
	}
	// values fills a group's columns from a map; the rest are NaN.
	values := func(group string, v map[string]float64) []float64 {
		g := groups[group]
		out := make([]float64, len(g.Columns))
		for i, c := range g.Columns {
			out[i] = math.NaN()
			if x, ok := v[c.Name]; ok {
				out[i] = x
			}
		}
		return out
	}
	t0 := time.Date(2025, 3, 3, 10, 10, 0, 0, time.UTC)
	for i := range 4 {
		ts := t0.Add(time.Duration(i) * 10 * time.Minute)
		fi := float64(i)
		appCommit := 100 * (fi + 1)
		if i == 2 {
			appCommit = math.NaN()
		}
		samples := []metric.Sample{
			{Group: "database", Key: "16384", Name: "app", Seconds: 600, Values: values("database", map[string]float64{
				"xact_commit": appCommit, "size": 1000 + fi, "numbackends": 2})},
			{Group: "database", Key: "5", Name: "postgres", Seconds: 600, Values: values("database", map[string]float64{
				"xact_commit": 10, "size": 500, "numbackends": 1})},
			{Group: "activity", Key: "16384", Name: "app", Seconds: 600, Values: values("activity", map[string]float64{
				"sessions_active": 3, "oldest_xact_age": 60 * (fi + 1)})},
			{Group: "activity", Key: "5", Name: "postgres", Seconds: 600, Values: values("activity", map[string]float64{
				"sessions_active": 1, "oldest_xact_age": 100})},
			{Group: "table", Database: 16384, Key: "20000", Name: "public.orders", Seconds: 600, Values: values("table", map[string]float64{
				"seq_scan": fi, "n_tup_ins": 5, "total_size": 8192 * (fi + 1), "n_dead_tup": 7, "bloat_bytes": 8192 * fi})},
			{Group: "index", Database: 16384, Key: "20001", Name: "public.orders_pkey", Parent: "20000", Seconds: 600, Values: values("index", map[string]float64{
				"idx_scan": 0, "size": 16384, "bloat_bytes": 8192})},
		}
		run(t, s, prefix, &metric.Snapshot{Taken: ts}, samples, metric.Retention{})
	}
	// A day's row lags its hours by up to an hour: bring it up to date.
	if err := s.Rebuild(t.Context(), prefix, t0.Truncate(time.Hour), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	return s, t0
}

// seriesString prints rows as "T seconds/value/min/max …" per column,
// NaN as "-".
func seriesString(rows []SeriesRow) string {
	f := func(v float64) string {
		if math.IsNaN(v) {
			return "-"
		}
		return fmt.Sprint(v)
	}
	var out []string
	for _, r := range rows {
		parts := []string{r.T.Format("15:04")}
		for i := range r.Values {
			parts = append(parts, f(r.Seconds[i])+"/"+f(r.Values[i])+"/"+f(r.Min[i])+"/"+f(r.Max[i]))
		}
		out = append(out, strings.Join(parts, " "))
	}
	return strings.Join(out, "; ")
}

func TestSeries(t *testing.T) {
	const prefix = "series_t"
	s, t0 := seriesFixture(t, prefix)
	from, to := t0.Add(-time.Hour), t0.Add(time.Hour)
	tests := []struct {
		name string
		q    SeriesQuery
		want string
	}{
		{
			name: "raw, summed over databases, a NULL delta is a gap",
			q:    SeriesQuery{Group: "database", Resolution: ResolutionRaw, Columns: []SeriesColumn{{Name: "xact_commit"}, {Name: "size"}}},
			want: "10:10 600/110/0.18333333333333332/0.18333333333333332 600/1500/1500/1500; " +
				"10:20 600/210/0.35/0.35 600/1501/1501/1501; " +
				"10:30 600/-/-/- 600/1502/1502/1502; " +
				"10:40 600/410/0.6833333333333333/0.6833333333333333 600/1503/1503/1503",
		},
		{
			name: "raw, one database by name",
			q:    SeriesQuery{Group: "database", Resolution: ResolutionRaw, Database: "postgres", Columns: []SeriesColumn{{Name: "xact_commit"}}},
			want: "10:10 600/10/0.016666666666666666/0.016666666666666666; 10:20 600/10/0.016666666666666666/0.016666666666666666; " +
				"10:30 600/10/0.016666666666666666/0.016666666666666666; 10:40 600/10/0.016666666666666666/0.016666666666666666",
		},
		{
			name: "raw, max over databases",
			q:    SeriesQuery{Group: "activity", Resolution: ResolutionRaw, Columns: []SeriesColumn{{Name: "oldest_xact_age", Max: true}, {Name: "sessions_active"}}},
			want: "10:10 600/100/100/100 600/4/4/4; 10:20 600/120/120/120 600/4/4/4; 10:30 600/180/180/180 600/4/4/4; 10:40 600/240/240/240 600/4/4/4",
		},
		{
			// Buckets 10:00, 10:20 and 10:40: the middle one holds a NULL
			// delta, so its amount is a gap; its seconds and rates are
			// those of the other sample.
			name: "raw downsampled to 20 minutes: counters summed, gauges averaged",
			q:    SeriesQuery{Group: "database", Resolution: ResolutionRaw, Database: "app", Bucket: 20 * time.Minute, Columns: []SeriesColumn{{Name: "xact_commit"}, {Name: "size"}}},
			want: "10:10 600/100/0.16666666666666666/0.16666666666666666 600/1000/1000/1000; " +
				"10:30 600/-/0.3333333333333333/0.3333333333333333 1200/1001.5/1001/1002; " +
				"10:40 600/400/0.6666666666666666/0.6666666666666666 600/1003/1003/1003",
		},
		{
			name: "a table of a database",
			q:    SeriesQuery{Group: "table", Resolution: ResolutionRaw, Database: "app", Table: "public.orders", Columns: []SeriesColumn{{Name: "seq_scan"}}},
			want: "10:10 600/0/0/0; 10:20 600/1/0.0016666666666666668/0.0016666666666666668; 10:30 600/2/0.0033333333333333335/0.0033333333333333335; 10:40 600/3/0.005/0.005",
		},
		{
			name: "raw, the objects of a name (a server-wide group)",
			q:    SeriesQuery{Group: "activity", Resolution: ResolutionRaw, Object: "postgres", Columns: []SeriesColumn{{Name: "sessions_active"}}},
			want: "10:10 600/1/1/1; 10:20 600/1/1/1; 10:30 600/1/1/1; 10:40 600/1/1/1",
		},
		{
			name: "raw, a name no object has: no rows",
			q:    SeriesQuery{Group: "activity", Resolution: ResolutionRaw, Object: "nope", Columns: []SeriesColumn{{Name: "sessions_active"}}},
			want: "",
		},
		{
			name: "hourly rollups",
			q:    SeriesQuery{Group: "database", Resolution: ResolutionHour, Columns: []SeriesColumn{{Name: "xact_commit"}, {Name: "size"}}},
			want: "10:00 2400/740/0.18333333333333332/0.6833333333333333 2400/1501.5/1500/1503",
		},
		{
			name: "daily rollups, one database",
			q:    SeriesQuery{Group: "activity", Resolution: ResolutionDay, Database: "app", Columns: []SeriesColumn{{Name: "oldest_xact_age", Max: true}}},
			want: "00:00 2400/150/60/240",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.Prefix, q.From, q.To = prefix, from, to
			if q.Resolution == ResolutionDay {
				q.From = t0.Truncate(24 * time.Hour)
			}
			rows, err := s.Series(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			if got := seriesString(rows); got != tt.want {
				t.Errorf("Series:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestSeriesErrors(t *testing.T) {
	const prefix = "series_t"
	s, t0 := seriesFixture(t, prefix)
	seqScan := []SeriesColumn{{Name: "seq_scan"}}
	base := SeriesQuery{Prefix: prefix, Group: "database", Resolution: ResolutionRaw,
		Columns: []SeriesColumn{{Name: "xact_commit"}}, From: t0, To: t0.Add(time.Hour)}
	tests := []struct {
		name     string
		spoil    func(q *SeriesQuery)
		notFound bool
	}{
		{"unknown database", func(q *SeriesQuery) { q.Database = "nope" }, true},
		{"quoted database name", func(q *SeriesQuery) { q.Database = `x'; DROP TABLE "series_t_object"; --` }, true},
		{"unknown table", func(q *SeriesQuery) { q.Group, q.Database, q.Table, q.Columns = "table", "app", "public.nope", seqScan }, true},
		{"table in another database", func(q *SeriesQuery) {
			q.Group, q.Database, q.Table, q.Columns = "table", "postgres", "public.orders", seqScan
		}, true},
		{"table without database", func(q *SeriesQuery) { q.Group, q.Table, q.Columns = "table", "public.orders", seqScan }, false},
		{"object and database", func(q *SeriesQuery) { q.Object, q.Database = "app", "app" }, false},
		{"object of a per-database group", func(q *SeriesQuery) { q.Group, q.Object, q.Columns = "table", "public.orders", seqScan }, false},
		{"unknown column", func(q *SeriesQuery) { q.Columns = []SeriesColumn{{Name: "nope"}} }, false},
		{"no columns", func(q *SeriesQuery) { q.Columns = nil }, false},
		{"unknown group", func(q *SeriesQuery) { q.Group = "nope" }, false},
		{"unknown resolution", func(q *SeriesQuery) { q.Resolution = "minute" }, false},
		{"bad prefix", func(q *SeriesQuery) { q.Prefix = "Bad" }, false},
		{"empty range", func(q *SeriesQuery) { q.To = q.From }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := base
			tt.spoil(&q)
			_, err := s.Series(t.Context(), q)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, ErrNoObject) != tt.notFound {
				t.Errorf("error %v: ErrNoObject %v, want %v", err, errors.Is(err, ErrNoObject), tt.notFound)
			}
		})
	}
	// The objects table survived the quoted name.
	if _, err := s.Series(t.Context(), base); err != nil {
		t.Fatal(err)
	}
}

func TestSeriesListings(t *testing.T) {
	const prefix = "series_t"
	s, t0 := seriesFixture(t, prefix)
	ctx := t.Context()
	names, err := s.DatabaseNames(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(names) != "[app postgres]" {
		t.Errorf("DatabaseNames = %q", names)
	}
	q := TableQuery{Prefix: prefix, Database: "app", Resolution: ResolutionRaw, From: t0, To: t0.Add(time.Hour), Order: OrderBusiest, Limit: 10}
	stats, total, err := s.TableStats(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if total != 1 || len(stats) != 1 || stats[0] != (TableStat{Name: "public.orders", Size: 8192 * 4, DeadTuples: 7, Bloat: 8192 * 3, Activity: 0 + 1 + 2 + 3 + 4*5}) {
		t.Errorf("TableStats = %+v, %d", stats, total)
	}
	q.Offset = 1
	if stats, total, err := s.TableStats(ctx, q); err != nil || len(stats) != 0 || total != 1 {
		t.Errorf("TableStats past the end = %+v, %d, %v", stats, total, err)
	}
	q.Database = "nope"
	if _, _, err := s.TableStats(ctx, q); !errors.Is(err, ErrNoObject) {
		t.Errorf("TableStats of an unknown database: %v", err)
	}
	q.Database, q.Order = "app", "random"
	if _, _, err := s.TableStats(ctx, q); err == nil {
		t.Error("TableStats accepted an unknown order")
	}
	idx, err := s.IndexStats(ctx, prefix, "app", "public.orders", ResolutionHour, t0.Truncate(time.Hour), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(idx) != 1 || idx[0] != (IndexStat{Name: "public.orders_pkey", Scans: 0, Size: 16384, Bloat: 8192}) {
		t.Errorf("IndexStats = %+v", idx)
	}
	if _, err := s.IndexStats(ctx, prefix, "app", "public.nope", ResolutionRaw, t0, t0.Add(time.Hour)); !errors.Is(err, ErrNoObject) {
		t.Errorf("IndexStats of an unknown table: %v", err)
	}
}

func TestDataSince(t *testing.T) {
	const prefix = "since_t"
	s := openStore(t, metric.Groups())
	ctx := t.Context()
	if _, err := s.RemoveClient(ctx, prefix); err != nil && !errors.Is(err, ErrNoClient) {
		t.Fatal(err)
	}
	since := func(want time.Time, when string) {
		t.Helper()
		got, err := s.DataSince(ctx, prefix)
		if err != nil || !got.Equal(want) {
			t.Errorf("DataSince %s = %v, %v; want %v", when, got, err, want)
		}
	}
	since(time.Time{}, "before any collection")
	var g metric.Group
	for _, x := range metric.Groups() {
		if x.Name == "database" {
			g = x
		}
	}
	row := metric.Row{Key: "16384", Name: "app", Values: make([]float64, len(g.Columns))}
	snap := func(at time.Time) *metric.Snapshot {
		return &metric.Snapshot{Taken: at, Rows: map[string][]metric.Row{"database": {row}}}
	}
	sample := []metric.Sample{{Group: "database", Key: "16384", Name: "app", Seconds: 600, Values: make([]float64, len(g.Columns))}}

	t0 := time.Date(2025, 3, 3, 10, 7, 31, 500_000_000, time.UTC)
	run(t, s, prefix, snap(t0), nil, metric.Retention{}) // primes: objects, no sample
	since(time.Time{}, "after the priming run")
	t1 := t0.Add(10 * time.Minute)
	run(t, s, prefix, snap(t1), sample, metric.Retention{})
	since(t0, "after the first sample (its interval starts at the priming)")
	run(t, s, prefix, snap(t1.Add(10*time.Minute)), sample, metric.Retention{})
	since(t0, "after the second sample")

	// Three days on, keeping a day of everything: the oldest rows kept
	// are the run's own day.
	t2 := t1.Add(72 * time.Hour)
	day := metric.Retention{Raw: metric.Day, Hourly: metric.Day, Daily: metric.Day}
	run(t, s, prefix, snap(t2), sample, day)
	since(t2.Truncate(metric.Day), "after retention deleted the first days")

	if _, err := s.DataSince(ctx, "Bad"); !errors.Is(err, ErrPrefix) {
		t.Errorf("DataSince(Bad) = %v, want ErrPrefix", err)
	}
}

func TestGroupsSeen(t *testing.T) {
	const prefix = "seen_t"
	s, t0 := seriesFixture(t, prefix)
	end := t0.Add(time.Hour)
	for _, tc := range []struct {
		name, db, table string
		from, to        time.Time
		want            string
	}{
		{"the whole client", "", "", t0, end, "activity database index table"},
		{"a database: its objects and the server groups' rows named after it", "app", "", t0, end, "activity database index table"},
		{"another database", "postgres", "", t0, end, "activity database"},
		{"a table: the objects of its name", "app", "public.orders", t0, end, "table"},
		{"a range before the first run", "", "", t0.Add(-2 * time.Hour), t0.Add(-time.Hour), ""},
		{"an unknown database", "nosuch", "", t0, end, ""},
		{"an unknown table", "app", "public.nosuch", t0, end, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.GroupsSeen(t.Context(), prefix, tc.db, tc.table, tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for n := range got {
				names = append(names, n)
			}
			slices.Sort(names)
			if strings.Join(names, " ") != tc.want {
				t.Errorf("GroupsSeen = %v, want %s", names, tc.want)
			}
		})
	}
	if got, err := s.GroupsSeen(t.Context(), "never_t", "", "", t0, end); err != nil || len(got) != 0 {
		t.Errorf("a client never collected: %v, %v", got, err)
	}
	if _, err := s.GroupsSeen(t.Context(), "Bad", "", "", t0, end); !errors.Is(err, ErrPrefix) {
		t.Errorf("GroupsSeen(Bad) = %v, want ErrPrefix", err)
	}
}
