package store

// This file is what the graphs read: series of one group's samples or
// rollups, downsampled in SQL, and the lists of databases, tables and
// indexes the pages show. Every statement only reads.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pggraph/pggraph/metric"
)

// ErrNoObject is wrapped by the errors of the read methods below for a
// database or table the client has no objects of.
var ErrNoObject = errors.New("no such object")

// Resolution names the table a read uses: raw samples, hourly or daily
// rollups.
type Resolution string

// Resolutions.
const (
	ResolutionRaw  Resolution = "raw"
	ResolutionHour Resolution = "hour"
	ResolutionDay  Resolution = "day"
)

// native is the width of a resolution's rows: 0 for raw samples.
func (r Resolution) native() (time.Duration, bool) {
	switch r {
	case ResolutionRaw:
		return 0, true
	case ResolutionHour:
		return time.Hour, true
	case ResolutionDay:
		return metric.Day, true
	}
	return 0, false
}

// table names a group's table of the resolution.
func (t tables) of(g string, r Resolution) string {
	switch r {
	case ResolutionHour:
		return t.hour(g)
	case ResolutionDay:
		return t.day(g)
	}
	return t.raw(g)
}

// readTimeout bounds one read of the graphs: one PostgreSQL statement or
// two.
const readTimeout = 30 * time.Second

// SeriesColumn is one column a series reads.
type SeriesColumn struct {
	Name string
	// Max combines the objects by max instead of sum: the worst of
	// several (ages, lags) rather than a total (sessions, sizes, counts).
	Max bool
}

// SeriesQuery asks for one group's columns over a time range, the
// selected objects combined into one value per sample time, downsampled
// to buckets of Bucket.
type SeriesQuery struct {
	Prefix     string
	Group      string
	Resolution Resolution
	// Database and Table select the objects. Both empty: every object of
	// the group. Database alone: for a server-wide group (database,
	// activity) the objects named Database, for a per-database group
	// (table, index) every object in that database. Table too: the
	// objects of the (per-database) group named Table in that database.
	// Objects are matched by name, so a dropped and re-created database
	// or table is one history. A database the client has no database
	// object of, or a table with no object, is ErrNoObject.
	Database, Table string
	// Object, for a server-wide group and without Database, selects its
	// objects named Object (an SLRU cache, say); none is no error, no
	// rows.
	Object   string
	Columns  []SeriesColumn
	From, To time.Time // samples (raw) or buckets (rollups) with From <= ts < To
	// Bucket is the width of a point: rows are grouped by
	// date_bin(Bucket, ts, 2000-01-01 UTC). Zero or less than a rollup's
	// width means one point per row time.
	Bucket time.Duration
}

// SeriesRow is one point of a series. Values, Seconds, Min and Max have
// one element per column of the query; NaN is no value (NULL).
type SeriesRow struct {
	// T is, for raw samples, the time of the point's last sample (the
	// end of its interval); for rollups, the start of the point's
	// bucket.
	T time.Time
	// Seconds is the length of the intervals the point covers. For a
	// counter it counts only the samples in which the column has a
	// value (a reset leaves its interval out); for a gauge, every
	// sample.
	Seconds []float64
	// Values: for a counter, the sum of its deltas (NaN when a selected
	// object's delta at a sample time is NULL, or the point has none);
	// for a gauge, the average over the point's sample times of the
	// objects' combined values.
	Values []float64
	// Min and Max: for a counter the lowest and highest rate per second
	// of one sample (of one rollup row's samples); for a gauge the
	// lowest and highest value. Objects are combined like Values.
	Min, Max []float64
}

// Series reads one group's series (see SeriesQuery): one statement, or
// two when Database is set (the database's OIDs first).
func (s *Store) Series(ctx context.Context, q SeriesQuery) ([]SeriesRow, error) {
	fail := func(err error) ([]SeriesRow, error) {
		return nil, fmt.Errorf("read series %s of client %s: %w", q.Group, q.Prefix, err)
	}
	if err := CheckPrefix(q.Prefix); err != nil {
		return fail(err)
	}
	g, ok := s.group(q.Group)
	if !ok {
		return fail(errors.New("unknown group"))
	}
	if !q.From.Before(q.To) {
		return fail(fmt.Errorf("empty range %s to %s", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339)))
	}
	query, err := seriesSQL(tables{q.Prefix}, *g, q)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	args := []any{q.Group, q.From, q.To, bucketSeconds(q)}
	if q.Object != "" {
		args = append(args, q.Object)
	}
	if q.Database != "" {
		oids, err := s.databaseOIDs(ctx, q.Prefix, q.Database)
		if err != nil {
			return fail(err)
		}
		switch {
		case q.Table != "":
			if err := s.tableExists(ctx, q.Prefix, oids, objectGroupOfTable(g.Name), q.Table); err != nil {
				return fail(err)
			}
			args = append(args, oids, q.Table)
		case g.Scope == metric.Server:
			args = append(args, q.Database)
		default:
			args = append(args, oids)
		}
	}
	rows, err := s.samples.Query(ctx, query, args...)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	n := len(q.Columns)
	var out []SeriesRow
	for rows.Next() {
		vals := make([]*float64, 4*n)
		dest := []any{new(time.Time)}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return fail(err)
		}
		r := SeriesRow{
			T:       dest[0].(*time.Time).UTC(),
			Seconds: make([]float64, n), Values: make([]float64, n),
			Min: make([]float64, n), Max: make([]float64, n),
		}
		for i := range n {
			r.Seconds[i], r.Values[i] = orNaN(vals[4*i]), orNaN(vals[4*i+1])
			r.Min[i], r.Max[i] = orNaN(vals[4*i+2]), orNaN(vals[4*i+3])
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	return out, nil
}

// orNaN is *p, or NaN for NULL.
func orNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// bucketSeconds is the query's bucket width in seconds: at least one
// second and at least the resolution's own width.
func bucketSeconds(q SeriesQuery) float64 {
	native, _ := q.Resolution.native()
	return max(q.Bucket, native, time.Second).Seconds()
}

// seriesSQL builds Series' statement. Parameters: $1 group, $2 from,
// $3 to, $4 bucket seconds, then with an Object $5 its name; with a
// Database: for a table $5 the database's OIDs and $6 the table's name;
// else for a server-wide group $5 the database's name, for a
// per-database group $5 its OIDs.
//
// Two levels: per sample time the objects are combined (counters and
// totals summed, a counter NULL when any object's is; Max columns by
// max), then per bucket the times are combined (counters summed,
// gauges averaged — weighted by n for rollups — min of the minima, max
// of the maxima).
func seriesSQL(t tables, g metric.Group, q SeriesQuery) (string, error) {
	native, ok := q.Resolution.native()
	if !ok {
		return "", fmt.Errorf("unknown resolution %q", q.Resolution)
	}
	if len(q.Columns) == 0 {
		return "", errors.New("no columns")
	}
	if q.Table != "" && q.Database == "" {
		return "", errors.New("a table needs its database")
	}
	if q.Object != "" && (q.Database != "" || g.Scope != metric.Server) {
		return "", errors.New("an object is of a server-wide group, without a database")
	}
	raw := native == 0
	filter := ""
	switch {
	case q.Object != "":
		filter = " AND name = $5"
	case q.Database == "":
	case q.Table != "":
		filter = " AND dbid = ANY($5) AND name = $6"
	case g.Scope == metric.Server:
		filter = " AND name = $5"
	default:
		filter = " AND dbid = ANY($5)"
	}
	var inner, outer []string
	for i, sc := range q.Columns {
		j := slices.IndexFunc(g.Columns, func(c metric.Column) bool { return c.Name == sc.Name })
		if j < 0 {
			return "", fmt.Errorf("group %s has no column %q", g.Name, sc.Name)
		}
		counter := g.Columns[j].Kind == metric.Counter
		c, lo, hi := ident(sc.Name), ident(sc.Name+"_min"), ident(sc.Name+"_max")
		v, vlo, vhi := fmt.Sprintf(`"v%d"`, i), fmt.Sprintf(`"lo%d"`, i), fmt.Sprintf(`"hi%d"`, i)
		combine := "sum"
		if sc.Max {
			combine = "max"
		}
		// Per sample time, over the objects.
		value := combine + "(s." + c + ")"
		if counter && !sc.Max {
			value = "CASE WHEN count(s." + c + ") = count(*) THEN sum(s." + c + ") END"
		}
		inner = append(inner, value+" AS "+v)
		if !raw {
			inner = append(inner, combine+"(s."+lo+") AS "+vlo, combine+"(s."+hi+") AS "+vhi)
		}
		// Per bucket, over the sample times.
		seconds := "sum(seconds)"
		if counter {
			seconds = "coalesce(sum(seconds) FILTER (WHERE " + v + " IS NOT NULL), sum(seconds))"
		}
		var val, least, most string
		switch {
		case counter && raw:
			rate := v + " / nullif(seconds, 0)"
			val, least, most = "sum("+v+")", "min("+rate+")", "max("+rate+")"
		case counter:
			val, least, most = "sum("+v+")", "min("+vlo+")", "max("+vhi+")"
		case raw:
			val, least, most = "avg("+v+")", "min("+v+")", "max("+v+")"
		default:
			val = "sum(" + v + " * n) / nullif(sum(n) FILTER (WHERE " + v + " IS NOT NULL), 0)"
			least, most = "min("+vlo+")", "max("+vhi+")"
		}
		if counter {
			// A bucket with a NULL delta is a gap: NULL, never a part.
			val = "CASE WHEN count(" + v + ") = count(*) THEN " + val + " END"
		}
		outer = append(outer, seconds, val, least, most)
	}
	perTime := "max(s.seconds) AS seconds"
	if !raw {
		perTime += ", max(s.n) AS n"
	}
	at := "max(ts)"
	if !raw {
		at = `"bucket"`
	}
	return "WITH o AS MATERIALIZED (\n" +
		"\tSELECT id FROM " + ident(t.object()) + " WHERE grp = $1" + filter + "\n" +
		"), per AS (\n" +
		"\tSELECT s.ts, " + perTime + ",\n\t\t" + strings.Join(inner, ",\n\t\t") + "\n" +
		"\tFROM " + ident(t.of(g.Name, q.Resolution)) + " s JOIN o ON o.id = s.object\n" +
		"\tWHERE s.ts >= $2 AND s.ts < $3\n" +
		"\tGROUP BY s.ts\n" +
		")\n" +
		"SELECT " + at + ",\n\t" + strings.Join(outer, ",\n\t") + "\n" +
		"FROM (SELECT date_bin($4 * interval '1 second', ts, " + bucketOrigin + `) AS "bucket", * FROM per) p` + "\n" +
		`GROUP BY "bucket"` + "\n" +
		`ORDER BY "bucket"`, nil
}

// databaseOIDs returns the OIDs of the client's databases named db (one,
// or more when it was dropped and re-created); ErrNoObject for none.
func (s *Store) databaseOIDs(ctx context.Context, prefix, db string) ([]uint32, error) {
	rows, err := s.samples.Query(ctx, `SELECT key::oid FROM `+ident(tables{prefix}.object())+
		` WHERE grp = 'database' AND name = $1 AND key ~ '^[0-9]+$'`, db)
	if err != nil {
		return nil, fmt.Errorf("look up database %q: %w", db, err)
	}
	oids, err := pgx.CollectRows(rows, pgx.RowTo[uint32])
	if err != nil {
		return nil, fmt.Errorf("look up database %q: %w", db, err)
	}
	if len(oids) == 0 {
		return nil, fmt.Errorf("database %q: %w", db, ErrNoObject)
	}
	return oids, nil
}

// objectGroupOfTable is the group whose objects a SeriesQuery's Table
// names for a group: a statement's queryid for the statement group, a
// table for every other.
func objectGroupOfTable(group string) string {
	if group == metric.StatementGroupName {
		return group
	}
	return "table"
}

// tableExists fails with ErrNoObject unless one of the databases has an
// object of group grp named table.
func (s *Store) tableExists(ctx context.Context, prefix string, oids []uint32, grp, table string) error {
	var ok bool
	err := s.samples.QueryRow(ctx, `SELECT EXISTS (SELECT FROM `+ident(tables{prefix}.object())+
		` WHERE grp = $3 AND dbid = ANY($1) AND name = $2)`, oids, table, grp).Scan(&ok)
	if err != nil {
		return fmt.Errorf("look up table %q: %w", table, err)
	}
	if !ok {
		return fmt.Errorf("table %q: %w", table, ErrNoObject)
	}
	return nil
}

// DatabaseNames returns the names of the client's databases that have
// samples (raw, hourly or daily) in the database group, sorted
// bytewise.
func (s *Store) DatabaseNames(ctx context.Context, prefix string) ([]string, error) {
	if err := CheckPrefix(prefix); err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	if _, ok := s.group("database"); !ok {
		return nil, fmt.Errorf("list databases of client %s: the store has no database group", prefix)
	}
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	t := tables{prefix}
	exists := func(table string) string {
		return "EXISTS (SELECT FROM " + ident(table) + " s WHERE s.object = o.id)"
	}
	rows, err := s.samples.Query(ctx, `SELECT DISTINCT o.name FROM `+ident(t.object())+` o
WHERE o.grp = 'database' AND o.name IS NOT NULL
  -- PostgreSQL's built-in templates: collected (their size and wraparound
  -- age count in the overview) but never browsed, having no tables.
  AND o.name NOT IN ('template0', 'template1')
  AND (`+exists(t.raw("database"))+` OR `+exists(t.hour("database"))+` OR `+exists(t.day("database"))+`)`)
	if err != nil {
		return nil, fmt.Errorf("list databases of client %s: %w", prefix, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list databases of client %s: %w", prefix, err)
	}
	slices.Sort(names)
	return names, nil
}

// DataSince returns since when the client has samples: the start of
// the interval its oldest kept sample covers, zero when it has none
// (never collected, or only primed). It reads the database group, of
// which every collection stores a row per database: for each database
// object, the run that primed it (first_seen, where its first sample's
// interval starts), or, once retention has deleted that far, its oldest
// row kept (raw, hourly or daily). One statement: the objects' database
// rows and three probes of primary keys (object, ts) per database; the
// pages call it, images never.
func (s *Store) DataSince(ctx context.Context, prefix string) (time.Time, error) {
	if err := CheckPrefix(prefix); err != nil {
		return time.Time{}, fmt.Errorf("data since: %w", err)
	}
	if _, ok := s.group("database"); !ok {
		return time.Time{}, fmt.Errorf("data since of client %s: the store has no database group", prefix)
	}
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	t := tables{prefix}
	oldest := func(table string) string {
		return "(SELECT min(s.ts) FROM " + ident(table) + " s WHERE s.object = o.id)"
	}
	var since *time.Time
	// MATERIALIZED: each probe once per database, not again for WHERE.
	err := s.samples.QueryRow(ctx, `WITH k AS MATERIALIZED (
	SELECT o.first_seen, least(`+oldest(t.raw("database"))+`, `+oldest(t.hour("database"))+`, `+oldest(t.day("database"))+`) AS oldest
	FROM `+ident(t.object())+` o WHERE o.grp = 'database'
)
SELECT min(greatest(first_seen, oldest)) FROM k WHERE oldest IS NOT NULL`).Scan(&since)
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == "42P01": // undefined_table: never collected
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, fmt.Errorf("data since of client %s: %w", prefix, err)
	case since == nil:
		return time.Time{}, nil
	}
	return since.UTC(), nil
}

// GroupsSeen returns the groups with objects seen in [from, to): of the
// whole client when db is "", else of database db (objects in it, and
// objects of server-wide groups named db), or of its table table
// (objects named table in db). Pages show their optional graphs by it.
// A client never collected has none; an unknown database or table has
// none either.
func (s *Store) GroupsSeen(ctx context.Context, prefix, db, table string, from, to time.Time) (map[string]bool, error) {
	fail := func(err error) (map[string]bool, error) {
		return nil, fmt.Errorf("groups seen of client %s: %w", prefix, err)
	}
	if err := CheckPrefix(prefix); err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	var oids []uint32
	if db != "" {
		var err error
		oids, err = s.databaseOIDs(ctx, prefix, db)
		switch {
		case errors.Is(err, ErrNoObject):
			return map[string]bool{}, nil
		case err != nil:
			return fail(err)
		}
	}
	where, args := "", []any{from, to}
	switch {
	case table != "":
		where, args = " AND dbid = ANY($3) AND name = $4", append(args, oids, table)
	case db != "":
		where, args = " AND (dbid = ANY($3) OR dbid = 0 AND name = $4)", append(args, oids, db)
	}
	rows, err := s.samples.Query(ctx, `SELECT DISTINCT grp FROM `+ident(tables{prefix}.object())+`
WHERE last_seen >= $1 AND first_seen < $2`+where, args...)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table: never collected
		return map[string]bool{}, nil
	}
	if err != nil {
		return fail(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fail(err)
	}
	out := make(map[string]bool, len(names))
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}

// Orders of TableStats.
const (
	OrderBusiest = "busiest" // Activity, highest first
	OrderSize    = "size"    // Size, largest first
	OrderDead    = "dead"    // DeadTuples, most first
)

// TableQuery asks for one page of a database's tables.
type TableQuery struct {
	Prefix, Database string
	Resolution       Resolution
	From, To         time.Time
	Order            string // OrderBusiest, OrderSize or OrderDead
	Offset, Limit    int    // Limit > 0
}

// TableStat is one table (all its objects of one name) over a range.
type TableStat struct {
	Name string // as stored: format('%I.%I', schema, table)
	// Size (total_size), DeadTuples (n_dead_tup) and Bloat (bloat_bytes)
	// are the latest values in the range, NaN for none.
	Size, DeadTuples, Bloat float64
	// Activity is the rows inserted, updated and deleted plus the
	// sequential and index scans in the range.
	Activity float64
}

// TableStats returns one page of the tables of a database that have
// samples in [From, To), in the order asked (ties by name), and how
// many such tables there are.
func (s *Store) TableStats(ctx context.Context, q TableQuery) ([]TableStat, int, error) {
	fail := func(err error) ([]TableStat, int, error) {
		return nil, 0, fmt.Errorf("list tables of database %q of client %s: %w", q.Database, q.Prefix, err)
	}
	if err := CheckPrefix(q.Prefix); err != nil {
		return fail(err)
	}
	if _, ok := s.group("table"); !ok {
		return fail(errors.New("the store has no table group"))
	}
	if _, ok := q.Resolution.native(); !ok {
		return fail(fmt.Errorf("unknown resolution %q", q.Resolution))
	}
	order := map[string]string{OrderBusiest: "activity", OrderSize: "size", OrderDead: "dead"}[q.Order]
	if order == "" {
		return fail(fmt.Errorf("unknown order %q", q.Order))
	}
	if q.Offset < 0 || q.Limit <= 0 {
		return fail(fmt.Errorf("bad page: offset %d, limit %d", q.Offset, q.Limit))
	}
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	oids, err := s.databaseOIDs(ctx, q.Prefix, q.Database)
	if err != nil {
		return fail(err)
	}
	t := tables{q.Prefix}
	activity := "coalesce(s.n_tup_ins, 0) + coalesce(s.n_tup_upd, 0) + coalesce(s.n_tup_del, 0) + coalesce(s.seq_scan, 0) + coalesce(s.idx_scan, 0)"
	rows, err := s.samples.Query(ctx, `WITH st AS MATERIALIZED (
	SELECT o.name,
	       sum(`+activity+`) AS activity,
	       (array_agg(s.total_size ORDER BY s.ts DESC) FILTER (WHERE s.total_size IS NOT NULL))[1] AS size,
	       (array_agg(s.n_dead_tup ORDER BY s.ts DESC) FILTER (WHERE s.n_dead_tup IS NOT NULL))[1] AS dead,
	       (array_agg(s.bloat_bytes ORDER BY s.ts DESC) FILTER (WHERE s.bloat_bytes IS NOT NULL))[1] AS bloat
	FROM `+ident(t.object())+` o JOIN `+ident(t.of("table", q.Resolution))+` s ON s.object = o.id
	WHERE o.grp = 'table' AND o.dbid = ANY($1) AND o.name IS NOT NULL AND s.ts >= $2 AND s.ts < $3
	GROUP BY o.name
)
SELECT name, activity, size, dead, bloat, (SELECT count(*) FROM st)
FROM st
ORDER BY `+order+` DESC NULLS LAST, name
OFFSET $4 LIMIT $5`, oids, q.From, q.To, q.Offset, q.Limit)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	var (
		out   []TableStat
		total int
	)
	for rows.Next() {
		var (
			ts                     TableStat
			act, size, dead, bloat *float64
		)
		if err := rows.Scan(&ts.Name, &act, &size, &dead, &bloat, &total); err != nil {
			return fail(err)
		}
		ts.Activity, ts.Size, ts.DeadTuples, ts.Bloat = orNaN(act), orNaN(size), orNaN(dead), orNaN(bloat)
		out = append(out, ts)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	if len(out) == 0 && q.Offset > 0 {
		// The page is past the end: count on its own.
		err := s.samples.QueryRow(ctx, `SELECT count(DISTINCT o.name)
FROM `+ident(t.object())+` o JOIN `+ident(t.of("table", q.Resolution))+` s ON s.object = o.id
WHERE o.grp = 'table' AND o.dbid = ANY($1) AND o.name IS NOT NULL AND s.ts >= $2 AND s.ts < $3`,
			oids, q.From, q.To).Scan(&total)
		if err != nil {
			return fail(err)
		}
	}
	return out, total, nil
}

// IndexStat is one index (all its objects of one name) over a range.
type IndexStat struct {
	Name  string  // as stored: format('%I.%I', schema, index)
	Scans float64 // idx_scan summed over the range (NULL deltas left out)
	Size  float64 // the latest size in the range, NaN for none
	Bloat float64 // the latest bloat_bytes in the range, NaN for none
}

// IndexStats returns the indexes of a table that have samples in
// [from, to), by name. An unknown database or table is ErrNoObject.
func (s *Store) IndexStats(ctx context.Context, prefix, db, table string, res Resolution, from, to time.Time) ([]IndexStat, error) {
	fail := func(err error) ([]IndexStat, error) {
		return nil, fmt.Errorf("list indexes of table %q of database %q of client %s: %w", table, db, prefix, err)
	}
	if err := CheckPrefix(prefix); err != nil {
		return fail(err)
	}
	if _, ok := s.group("index"); !ok {
		return fail(errors.New("the store has no index group"))
	}
	if _, ok := res.native(); !ok {
		return fail(fmt.Errorf("unknown resolution %q", res))
	}
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	oids, err := s.databaseOIDs(ctx, prefix, db)
	if err != nil {
		return fail(err)
	}
	if err := s.tableExists(ctx, prefix, oids, "table", table); err != nil {
		return fail(err)
	}
	t := tables{prefix}
	rows, err := s.samples.Query(ctx, `SELECT i.name, coalesce(sum(s.idx_scan), 0),
       (array_agg(s.size ORDER BY s.ts DESC) FILTER (WHERE s.size IS NOT NULL))[1],
       (array_agg(s.bloat_bytes ORDER BY s.ts DESC) FILTER (WHERE s.bloat_bytes IS NOT NULL))[1]
FROM `+ident(t.object())+` tb
JOIN `+ident(t.object())+` i ON i.grp = 'index' AND i.dbid = tb.dbid AND i.parent = tb.key
JOIN `+ident(t.of("index", res))+` s ON s.object = i.id
WHERE tb.grp = 'table' AND tb.dbid = ANY($1) AND tb.name = $2 AND i.name IS NOT NULL
  AND s.ts >= $3 AND s.ts < $4
GROUP BY i.name
ORDER BY i.name`, oids, table, from, to)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	var out []IndexStat
	for rows.Next() {
		var (
			is          IndexStat
			size, bloat *float64
		)
		if err := rows.Scan(&is.Name, &is.Scans, &size, &bloat); err != nil {
			return fail(err)
		}
		is.Size, is.Bloat = orNaN(size), orNaN(bloat)
		out = append(out, is)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	return out, nil
}
