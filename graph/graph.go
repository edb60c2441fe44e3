// Package graph turns the samples stored in the central database into
// graphs: a catalog of named graphs (Defs, Lookup; README.md lists them),
// their data over a time range (ParseRange, Load), that data as a PNG
// image or as CSV (Data.PNG, Data.CSV), and the lists the pages show
// (Databases, Tables, Indexes).
//
// Load reads raw samples for ranges up to about two days, hourly rollups
// up to 100 days (week, month) and daily rollups beyond (year), and has
// the database downsample them to about one point per pixel column, so
// the work per image is bounded whatever the range. Counters are drawn
// per second; a NULL delta (a reset) or missing samples are gaps, drawn
// as breaks in the line, never as zero.
//
// The package reads the central database only through the narrow Source
// interface (implemented by internal/store's *Store, where the SQL is)
// and draws only through Render, the one seam around go-chart/v2. The
// parts between — range parsing, resolution and bucket choice, tick
// placement, unit formatting, splitting lines at gaps — are pure
// functions.
package graph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// Scope says which objects a graph is about and which query parameters it
// needs.
type Scope int

const (
	// Server graphs are the overview: the whole server.
	Server Scope = iota + 1
	// Database graphs are about one database (they need db=).
	Database
	// Table graphs are about one table (they need db= and table=).
	Table
	// Statement graphs are about one statement of a database: every
	// user and nesting level of one queryid (they need db= and table=,
	// the queryid in decimal).
	Statement
)

// Def is one named graph.
type Def struct {
	Name  string   // URL name, [a-z][a-z0-9_]*
	Title string   // human title, drawn above the plot
	Scope Scope    // which objects the graph is about
	Unit  string   // what the y axis shows, e.g. "bytes", "per second", "%", "seconds", "count"
	Lines []string // line labels, in CSV column order
	Group string   // the metric group the lines read
	// Stacked draws each line on top of the ones before it, the band
	// between them filled: the top line is their total. The CSV holds
	// each line's own values.
	Stacked bool
	// Absent, when not "", makes the graph optional: a page shows it
	// only when its group has objects in the range (and, on a database
	// or table page, of that database or table), and otherwise shows
	// this text, which says why there may be none.
	Absent string
	// Replaces names a graph of the same scope that a page leaves out
	// when it shows this one.
	Replaces string
	// Top, when set, is the list a page shows under the graph: the
	// group's objects that weigh most in one column over the range (the
	// most frequent wait events, say). Server-wide groups only.
	Top *Ranking
}

// Ranking is a Def's list of its heaviest objects (see Top).
type Ranking struct {
	Title  string // heading of the list, e.g. "Most frequent wait events"
	Column string // the column of Def.Group that weighs the objects
	N      int    // how many objects are listed
}

// ErrBadRange is wrapped by every ParseRange error.
var ErrBadRange = errors.New("bad range")

// ErrNotFound means an unknown database or table (the CGI answers 404).
var ErrNotFound = errors.New("not found")

// ErrBadQuery is wrapped by the errors about a Query or a listing's
// parameters that no data can answer: an unknown graph name, a missing
// db= or table=, a size out of bounds, an unknown order or a bad page
// (the CGI answers 400).
var ErrBadQuery = errors.New("bad query")

// Range is a graph's time window.
type Range struct {
	Name     string // day, week, month, year, or custom
	From, To time.Time
	// Now is when the range was asked for (ParseRange's now): the
	// retention left at that time decides which table covers From. Zero
	// means To.
	Now time.Time
	// Keep is how long the client's central tables keep raw samples and
	// each rollup ([pggraph] keep_*_days); zero fields are the defaults.
	// A range that starts before a resolution's retention is read from
	// the next coarser one.
	Keep metric.Retention
}

// Query names one image.
type Query struct {
	Graph string // a Def's Name
	// DB and Table name the database (scopes Database and Table) and the
	// table (scope Table, as stored: format('%I.%I')); a Server graph
	// ignores them.
	DB, Table     string
	Range         Range
	Width, Height int // pixels; 0: 800×300; at most 4000×2000, at least 200×120
	// Levels are the client's alert levels by check name (config.ini's
	// [alerts] over metric.Check.Default): the image draws those of the
	// checks its lines show. Nil draws none.
	Levels map[string]metric.Levels
}

// Point is one point of one line. NaN means no value.
type Point struct {
	// T is the point's time: for raw samples the time of its (last)
	// sample, the end of the interval; for rollups the start of the
	// point's bucket. Always UTC.
	T time.Time
	// Seconds is the length of the intervals the point covers: for a
	// counter those of the samples that have its value.
	Seconds float64
	// V is the value: a counter's amount in the point's interval (the
	// delta, or the sum of the deltas the point covers), a gauge's value
	// (averaged over the point), or a ratio in percent.
	V float64
	// Min and Max are the lowest and highest rate per second of one
	// sample (counters) or value (gauges) the point covers; NaN for a
	// ratio.
	Min, Max float64
}

// Series is one line of a graph.
type Series struct {
	Label  string
	Points []Point
}

// Data is one graph's data, ready to be drawn or written as CSV. Every
// series has the same times, one point each.
type Data struct {
	Def        Def
	Query      Query
	Resolution string // "raw", "hour", "day": the table read
	Series     []Series
	// Events are drawn as markers (LoadEvents); nil draws none.
	Events []metric.Event
	// Previous, when not nil, is the same graph over PreviousRange, its
	// points moved to the times of this one's (LoadPrevious), drawn
	// dashed.
	Previous      []Series
	PreviousRange Range
}

// TableInfo summarises one table over a range.
type TableInfo struct {
	Name string // as stored: format('%I.%I', schema, table)
	// Size (with indexes and TOAST) and DeadTuples are the latest values
	// in the range; NaN when unknown.
	Size float64
	// Activity is the rows inserted, updated and deleted plus the
	// sequential and index scans in the range.
	Activity   float64
	DeadTuples float64
	Bloat      float64 // estimated bloat, bytes: the latest in the range; NaN when unknown
}

// IndexInfo summarises one index over a range.
type IndexInfo struct {
	Name   string  // as stored: format('%I.%I', schema, index)
	Scans  float64 // index scans in the range
	Size   float64 // the latest size in the range, bytes; NaN when unknown
	Bloat  float64 // estimated bloat, bytes: the latest in the range; NaN when unknown
	Unused bool    // no scan in the range
}

// Source is the central database as graph reads it: internal/store's
// *Store implements it (the SQL is there).
type Source interface {
	// Series reads one group's columns over a range, objects combined
	// and downsampled (store.SeriesQuery).
	Series(ctx context.Context, q store.SeriesQuery) ([]store.SeriesRow, error)
	// DatabaseNames lists the client's databases with samples, sorted.
	DatabaseNames(ctx context.Context, prefix string) ([]string, error)
	// TableStats returns one page of a database's tables and how many
	// there are.
	TableStats(ctx context.Context, q store.TableQuery) ([]store.TableStat, int, error)
	// IndexStats returns a table's indexes over a range.
	IndexStats(ctx context.Context, prefix, db, table string, res store.Resolution, from, to time.Time) ([]store.IndexStat, error)
	// ObjectTotals ranks the objects of a server-wide group by one
	// column over a range.
	ObjectTotals(ctx context.Context, q store.TotalsQuery) ([]store.ObjectTotal, error)
}

var _ Source = (*store.Store)(nil)

// Load reads one graph's data over its range from the central database:
// from raw samples, hourly or daily rollups as the range's span and age
// require, downsampled to about one point per pixel column (see Point).
// An unknown graph, a missing db= or table= or a bad size is an error
// wrapping ErrBadQuery, a bad range ErrBadRange, an unknown database or
// table ErrNotFound. A graph without samples is no error: its Data has
// no points, and PNG draws "no data yet".
func Load(ctx context.Context, src Source, prefix string, q Query) (*Data, error) {
	sp, err := q.check()
	if err != nil {
		return nil, err
	}
	if err := store.CheckPrefix(prefix); err != nil {
		return nil, fmt.Errorf("load graph %s: %w", q.Graph, err)
	}
	res := resolution(q.Range)
	w, _ := q.size()
	sq := store.SeriesQuery{
		Prefix: prefix, Group: sp.group, Resolution: res,
		From: q.Range.From, To: q.Range.To,
		Bucket: bucketWidth(q.Range, w, res),
	}
	if sp.scope != Server {
		sq.Database = q.DB
	}
	if sp.scope == Table || sp.scope == Statement {
		sq.Table = q.Table
	}
	// One read per object the lines name ("" for all of them), in the
	// order the lines first name it.
	var objects []string
	for _, l := range sp.lines {
		if !slices.Contains(objects, l.object) {
			objects = append(objects, l.object)
		}
	}
	d := &Data{Def: sp.def(), Query: q, Resolution: string(res)}
	points := make([]map[time.Time]Point, len(sp.lines))
	var times []time.Time
	for _, obj := range objects {
		oq := sq
		oq.Object = obj
		index := map[string]int{} // column → its index in oq.Columns
		column := func(name string, worst bool) {
			if _, ok := index[name]; !ok {
				index[name] = len(oq.Columns)
				oq.Columns = append(oq.Columns, store.SeriesColumn{Name: name, Max: worst})
			}
		}
		for _, l := range sp.lines {
			if l.object != obj {
				continue
			}
			column(l.column, l.over == overMax)
			if l.other != "" {
				column(l.other, l.over == overMax)
			}
			if l.per != "" {
				column(l.per, l.over == overMax)
			}
		}
		rows, err := src.Series(ctx, oq)
		if errors.Is(err, store.ErrNoObject) {
			return nil, fmt.Errorf("load graph %s: %w: %w", q.Graph, ErrNotFound, err)
		}
		if err != nil {
			return nil, fmt.Errorf("load graph %s: %w", q.Graph, err)
		}
		for _, r := range rows {
			times = append(times, r.T)
		}
		for li, l := range sp.lines {
			if l.object != obj {
				continue
			}
			points[li] = make(map[time.Time]Point, len(rows))
			j := index[l.column]
			for _, r := range rows {
				p := Point{T: r.T, Seconds: r.Seconds[j], V: r.Values[j], Min: r.Min[j], Max: r.Max[j]}
				switch {
				case l.other != "":
					p.V, p.Min, p.Max = percentOf(r.Values[j], r.Values[index[l.other]]), math.NaN(), math.NaN()
				case l.per != "":
					p.V, p.Min, p.Max = perOne(r.Values[j], r.Values[index[l.per]]), math.NaN(), math.NaN()
				case l.percent:
					p.V, p.Min, p.Max = 100*p.V, 100*p.Min, 100*p.Max
				}
				points[li][r.T] = p
			}
		}
	}
	// Every series at every time any read has: a line whose object had
	// no sample then has no value there.
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	times = slices.CompactFunc(times, func(a, b time.Time) bool { return a.Equal(b) })
	for li, l := range sp.lines {
		s := Series{Label: l.label, Points: make([]Point, len(times))}
		for i, t := range times {
			p, ok := points[li][t]
			if !ok {
				p = Point{T: t, Seconds: math.NaN(), V: math.NaN(), Min: math.NaN(), Max: math.NaN()}
			}
			s.Points[i] = p
		}
		d.Series = append(d.Series, s)
	}
	return d, nil
}

// percentOf is 100 × hit / (hit + miss), NaN when the sum is not
// positive or a part is unknown.
func percentOf(hit, miss float64) float64 {
	total := hit + miss
	if !(total > 0) {
		return math.NaN()
	}
	return 100 * hit / total
}

// perOne is v / n, NaN when n is not positive.
func perOne(v, n float64) float64 {
	if !(n > 0) {
		return math.NaN()
	}
	return v / n
}

// check validates a Query and returns its graph's spec.
func (q Query) check() (spec, error) {
	bad := func(format string, args ...any) (spec, error) {
		return spec{}, fmt.Errorf("graph %q: %w: "+format, append([]any{q.Graph, ErrBadQuery}, args...)...)
	}
	sp, ok := lookup(q.Graph)
	if !ok {
		return bad("unknown graph")
	}
	if sp.scope != Server && q.DB == "" {
		return bad("needs a database (db=)")
	}
	if sp.scope == Table && q.Table == "" {
		return bad("needs a table (table=)")
	}
	if sp.scope == Statement {
		if id, err := strconv.ParseInt(q.Table, 10, 64); err != nil || strconv.FormatInt(id, 10) != q.Table {
			return bad("needs a statement's queryid (table=)")
		}
	}
	w, h := q.size()
	if w < minWidth || w > maxWidth || h < minHeight || h > maxHeight {
		return bad("size %d×%d outside %d×%d to %d×%d", w, h, minWidth, minHeight, maxWidth, maxHeight)
	}
	if !q.Range.From.Before(q.Range.To) {
		return spec{}, fmt.Errorf("graph %q: %w: from %s is not before to %s", q.Graph, ErrBadRange,
			q.Range.From.Format(time.RFC3339), q.Range.To.Format(time.RFC3339))
	}
	return sp, nil
}

// PNG draws the graph as a PNG image (Render): lines of counters per
// second, gaps as breaks, "no data yet" when there is no value at all.
// It renders into a buffer first: when it fails, nothing is written.
func (d *Data) PNG(w io.Writer) error {
	return Render(w, d.chart())
}

// Databases returns the names of the client's databases that have
// samples, sorted.
func Databases(ctx context.Context, src Source, prefix string) ([]string, error) {
	if err := store.CheckPrefix(prefix); err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	return src.DatabaseNames(ctx, prefix)
}

// Tables returns one page of the tables of database db that have samples
// in r — offset tables skipped, at most limit (> 0) — and how many there
// are. order is "busiest" (most Activity first, the default for ""),
// "size" or "dead" (most dead tuples first); ties go by name. An unknown
// database is ErrNotFound; a bad order or page ErrBadQuery.
func Tables(ctx context.Context, src Source, prefix, db, order string, r Range, offset, limit int) (page []TableInfo, total int, err error) {
	if order == "" {
		order = store.OrderBusiest
	}
	switch {
	case order != store.OrderBusiest && order != store.OrderSize && order != store.OrderDead:
		return nil, 0, fmt.Errorf("list tables: %w: unknown order %q (busiest, size or dead)", ErrBadQuery, order)
	case offset < 0 || limit <= 0:
		return nil, 0, fmt.Errorf("list tables: %w: offset %d, limit %d", ErrBadQuery, offset, limit)
	case !r.From.Before(r.To):
		return nil, 0, fmt.Errorf("list tables: %w: empty range", ErrBadRange)
	}
	if err := store.CheckPrefix(prefix); err != nil {
		return nil, 0, fmt.Errorf("list tables: %w", err)
	}
	stats, total, err := src.TableStats(ctx, store.TableQuery{
		Prefix: prefix, Database: db, Resolution: resolution(r),
		From: r.From, To: r.To, Order: order, Offset: offset, Limit: limit,
	})
	if errors.Is(err, store.ErrNoObject) {
		return nil, 0, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if err != nil {
		return nil, 0, err
	}
	for _, s := range stats {
		page = append(page, TableInfo{Name: s.Name, Size: s.Size, Activity: s.Activity, DeadTuples: s.DeadTuples, Bloat: s.Bloat})
	}
	return page, total, nil
}

// Indexes returns the indexes of a table that have samples in r, by
// name. An unknown database or table is ErrNotFound.
func Indexes(ctx context.Context, src Source, prefix, db, table string, r Range) ([]IndexInfo, error) {
	if !r.From.Before(r.To) {
		return nil, fmt.Errorf("list indexes: %w: empty range", ErrBadRange)
	}
	if err := store.CheckPrefix(prefix); err != nil {
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	stats, err := src.IndexStats(ctx, prefix, db, table, resolution(r), r.From, r.To)
	if errors.Is(err, store.ErrNoObject) {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	out := make([]IndexInfo, len(stats))
	for i, s := range stats {
		out[i] = IndexInfo{Name: s.Name, Scans: s.Scans, Size: s.Size, Bloat: s.Bloat, Unused: s.Scans == 0}
	}
	return out, nil
}

// Share is one object of a Ranking: its name, its weight in the
// ranking's column over the range (a counter's growth, a gauge's values
// summed over the runs) and its share of every object's weight (0 to 1).
type Share struct {
	Name         string
	Total, Share float64
}

// Top returns d's ranking over r (see Def.Top): its heaviest objects,
// most first; none when d has no ranking or no data in r.
func Top(ctx context.Context, src Source, prefix string, d Def, r Range) ([]Share, error) {
	if d.Top == nil {
		return nil, nil
	}
	if !r.From.Before(r.To) {
		return nil, fmt.Errorf("rank %s: %w: empty range", d.Name, ErrBadRange)
	}
	totals, err := src.ObjectTotals(ctx, store.TotalsQuery{
		Prefix: prefix, Group: d.Group, Column: d.Top.Column, Resolution: resolution(r),
		From: r.From, To: r.To, Limit: d.Top.N,
	})
	if err != nil {
		return nil, err
	}
	out := make([]Share, len(totals))
	for i, t := range totals {
		out[i] = Share(t)
	}
	return out, nil
}
