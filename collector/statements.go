package collector

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/metric"
)

// statementsTimeout bounds each statement of pg_stat_statements a run
// sends: the entries' numbers, and the texts of the statements to store.
const statementsTimeout = 20 * time.Second

// statementRead is the reading of pg_stat_statements in one snapshot:
// the first database connection that finds the extension reads it.
type statementRead struct {
	mu   sync.Mutex
	done bool
	rows []metric.Row
	info metric.Row
	err  error
}

// try reads pg_stat_statements on conn, a connection to database name,
// unless it was read already or the extension is not there.
func (s *statementRead) try(ctx context.Context, conn *pgx.Conn, name string, version int) {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, statementsTimeout)
	defer cancel()
	var schema string
	err := conn.QueryRow(ctx, metric.StatementNeeds).Scan(&schema)
	if errors.Is(err, pgx.ErrNoRows) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	s.done = true
	if err != nil {
		s.err = fmt.Errorf("look for pg_stat_statements in database %q: %w", name, err)
		return
	}
	s.rows, s.info, s.err = readStatements(ctx, conn, version, name, schema)
}

// withSchema puts the extension's schema into one of metric's
// statement queries.
func withSchema(sql, schema string) string {
	return strings.ReplaceAll(sql, metric.ExtensionSchema, pgx.Identifier{schema}.Sanitize())
}

// readStatements reads every entry's numbers (no text) and the view's
// info.
func readStatements(ctx context.Context, conn *pgx.Conn, version int, db, schema string) ([]metric.Row, metric.Row, error) {
	info := metric.Row{Key: db, Name: schema, Values: []float64{math.NaN()}}
	var (
		dealloc *float64
		reset   *time.Time
	)
	if err := conn.QueryRow(ctx, withSchema(metric.StatementInfoSQL(version), schema)).Scan(&dealloc, &reset); err != nil {
		return nil, info, fmt.Errorf("read pg_stat_statements_info: %w", err)
	}
	if dealloc != nil {
		info.Values[0] = *dealloc
	}
	if reset != nil {
		info.StatsReset = *reset
	}
	sql, ok := metric.StatementSQL(version)
	if !ok {
		return nil, info, fmt.Errorf("read pg_stat_statements: server version %d is not supported", version)
	}
	rows, err := conn.Query(ctx, withSchema(sql, schema))
	if err != nil {
		return nil, info, fmt.Errorf("read pg_stat_statements: %w", err)
	}
	defer rows.Close()
	n := len(metric.StatementGroup().Columns)
	var out []metric.Row
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, info, fmt.Errorf("read pg_stat_statements: %w", err)
		}
		if len(vals) != 4+n {
			return nil, info, fmt.Errorf("read pg_stat_statements: %d columns, want %d", len(vals), 4+n)
		}
		dbid, _ := vals[0].(uint32)
		userid, _ := vals[1].(uint32)
		queryid, _ := vals[2].(int64)
		top, _ := vals[3].(bool)
		r := metric.Row{Database: dbid, Key: statementKey(queryid, userid, top), Values: make([]float64, n)}
		for i := range n {
			if r.Values[i], err = number(vals[4+i]); err != nil {
				return nil, info, fmt.Errorf("read pg_stat_statements: column %d: %w", 4+i, err)
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, info, fmt.Errorf("read pg_stat_statements: %w", err)
	}
	return out, info, nil
}

// statementKey is an entry's key: queryid/userid/t (toplevel) or f.
func statementKey(queryid int64, userid uint32, toplevel bool) string {
	t := "f"
	if toplevel {
		t = "t"
	}
	return strconv.FormatInt(queryid, 10) + "/" + strconv.FormatUint(uint64(userid), 10) + "/" + t
}

// queryIDOf is the queryid of an entry's key.
func queryIDOf(key string) (int64, bool) {
	q, _, _ := strings.Cut(key, "/")
	id, err := strconv.ParseInt(q, 10, 64)
	return id, err == nil
}

// statementsOf is the statement result of one interval.
type statementsOf struct {
	Samples []metric.Sample
	Run     metric.StatementRun
}

// StatementDeltas derives the statement samples of the interval from prev
// to cur, keeping per database the top statements by each of
// metric.StatementRanks (top each) and summing the rest into one
// metric.StatementOther sample, so that a database's samples add up to
// every entry's growth. It is pure.
//
// An entry's growth is its values in cur minus those in prev; an entry
// not in prev, or with a value lower than in prev, was created in the
// interval (new, or evicted and created again, or reset alone), so its
// growth is its values in cur. None is ever negative. Entries that did
// nothing are left out. The whole interval is a gap (no sample,
// StatementsReset) when the server restarted, pg_stat_statements_info's
// stats_reset changed (14+), or, before 14 where there is none, no
// entry of prev is still there and unchanged or grown. The run's
// Evicted is the growth of pg_stat_statements_info.dealloc (14+).
func StatementDeltas(prev, cur *metric.Snapshot, top int) statementsOf {
	run := metric.StatementRun{Status: metric.StatementsAbsent, Evicted: math.NaN()}
	cinfo, ok := statementInfo(cur)
	if !ok {
		return statementsOf{Run: run}
	}
	run.Database = cinfo.Key
	pinfo, ok := statementInfo(prev)
	if !ok {
		run.Status = metric.StatementsPrimed
		return statementsOf{Run: run}
	}
	seconds := cur.Taken.Sub(prev.Taken).Seconds()
	if !prev.ServerStart.Equal(cur.ServerStart) || !pinfo.StatsReset.Equal(cinfo.StatsReset) || !(seconds > 0) {
		run.Status = metric.StatementsReset
		return statementsOf{Run: run}
	}
	if d := cinfo.Values[0] - pinfo.Values[0]; d >= 0 {
		run.Evicted = d
	}
	cols := metric.StatementGroup().Columns
	where := columnIndex(metric.Group{Columns: cols}, prev.Columns[metric.StatementRows])
	old := make(map[objectID]metric.Row, len(prev.Rows[metric.StatementRows]))
	for _, r := range prev.Rows[metric.StatementRows] {
		old[objectID{r.Database, r.Key}] = r
	}
	kept := 0 // entries of prev still there, unchanged or grown
	byDB := map[uint32][]metric.Sample{}
	for _, r := range cur.Rows[metric.StatementRows] {
		p, had := old[objectID{r.Database, r.Key}]
		vals, created := statementGrowth(cols, where, p, had, r)
		if had && !created {
			kept++
		}
		if !active(vals) {
			continue
		}
		id, _ := queryIDOf(r.Key)
		byDB[r.Database] = append(byDB[r.Database], metric.Sample{
			Group: metric.StatementGroupName, Database: r.Database, Key: r.Key,
			Name: strconv.FormatInt(id, 10), Seconds: seconds, Values: vals,
		})
	}
	if cur.Version < 140000 && len(old) > 0 && kept == 0 {
		run.Status = metric.StatementsReset
		return statementsOf{Run: run}
	}
	run.Status = metric.StatementsCollected
	var out []metric.Sample
	for _, db := range slices.Sorted(maps.Keys(byDB)) {
		stored, other := topStatements(cols, byDB[db], top)
		out = append(out, stored...)
		for _, s := range stored {
			id, _ := queryIDOf(s.Key)
			k := metric.StatementKey{Database: db, QueryID: id}
			if !slices.Contains(run.Stored, k) {
				run.Stored = append(run.Stored, k)
			}
		}
		if other != nil {
			out = append(out, *other)
		}
	}
	return statementsOf{Samples: out, Run: run}
}

// statementInfo returns a snapshot's pg_stat_statements info row.
func statementInfo(s *metric.Snapshot) (metric.Row, bool) {
	if s == nil || len(s.Rows[metric.StatementInfo]) != 1 {
		return metric.Row{}, false
	}
	r := s.Rows[metric.StatementInfo][0]
	if len(r.Values) != 1 {
		r.Values = []float64{math.NaN()}
	}
	return r, true
}

// statementGrowth is an entry's growth over the interval; created says
// the entry was created in it (values of cur taken whole).
func statementGrowth(cols []metric.Column, where []int, prev metric.Row, had bool, cur metric.Row) ([]float64, bool) {
	vals := make([]float64, len(cols))
	created := !had
	for i := range cols {
		v := math.NaN()
		if i < len(cur.Values) {
			v = cur.Values[i]
		}
		vals[i] = v
		if created {
			continue
		}
		before := math.NaN()
		if j := where[i]; j >= 0 && j < len(prev.Values) {
			before = prev.Values[j]
		}
		if v < before {
			created = true
			continue
		}
		vals[i] = v - before // NaN when either is NaN
	}
	if created {
		for i := range cols {
			vals[i] = math.NaN()
			if i < len(cur.Values) {
				vals[i] = cur.Values[i]
			}
		}
	}
	return vals, created
}

// active tells whether an entry did anything: a value other than 0.
func active(vals []float64) bool {
	for _, v := range vals {
		if v != 0 && !math.IsNaN(v) {
			return true
		}
	}
	return false
}

// topStatements keeps, of one database's samples, the top by each rank
// (those with a positive value in it), and sums the rest into one
// StatementOther sample (nil when there is no rest).
func topStatements(cols []metric.Column, samples []metric.Sample, top int) ([]metric.Sample, *metric.Sample) {
	keep := make([]bool, len(samples))
	order := make([]int, len(samples))
	for _, rank := range metric.StatementRanks() {
		var idx []int
		for _, name := range rank.Columns {
			idx = append(idx, slices.IndexFunc(cols, func(c metric.Column) bool { return c.Name == name }))
		}
		score := func(s metric.Sample) float64 {
			t := 0.0
			for _, i := range idx {
				if i >= 0 && !math.IsNaN(s.Values[i]) {
					t += s.Values[i]
				}
			}
			return t
		}
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			if c := cmp.Compare(score(samples[b]), score(samples[a])); c != 0 {
				return c
			}
			return strings.Compare(samples[a].Key, samples[b].Key)
		})
		for _, i := range order[:min(top, len(order))] {
			if score(samples[i]) > 0 {
				keep[i] = true
			}
		}
	}
	var stored []metric.Sample
	var other *metric.Sample
	for i, s := range samples {
		if keep[i] {
			stored = append(stored, s)
			continue
		}
		if other == nil {
			other = &metric.Sample{Group: s.Group, Database: s.Database, Key: metric.StatementOther,
				Name: metric.StatementOther, Seconds: s.Seconds, Values: make([]float64, len(s.Values))}
		}
		for j, v := range s.Values {
			other.Values[j] += v
		}
	}
	slices.SortFunc(stored, func(a, b metric.Sample) int { return strings.Compare(a.Key, b.Key) })
	return stored, other
}

// trimText is a statement's text as stored: without surrounding white
// space, at most max characters, valid UTF-8.
func trimText(s string, max int) string {
	s = strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max {
			return s[:i]
		}
		n++
	}
	return s
}

// statementTexts reads the texts of keys from pg_stat_statements on
// conn, trimmed to max characters. A statement evicted since the
// numbers were read has none.
func statementTexts(ctx context.Context, conn *pgx.Conn, schema string, keys []metric.StatementKey, max int) ([]metric.StatementText, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, statementsTimeout)
	defer cancel()
	want := make(map[metric.StatementKey]bool, len(keys))
	var ids []int64
	for _, k := range keys {
		want[k] = true
		ids = append(ids, k.QueryID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	rows, err := conn.Query(ctx, withSchema(metric.StatementTextSQL, schema), ids)
	if err != nil {
		return nil, fmt.Errorf("read statement texts: %w", err)
	}
	defer rows.Close()
	var out []metric.StatementText
	for rows.Next() {
		var (
			t    metric.StatementText
			text *string
		)
		if err := rows.Scan(&t.Database, &t.QueryID, &text); err != nil {
			return nil, fmt.Errorf("read statement texts: %w", err)
		}
		if !want[t.StatementKey] || text == nil {
			continue
		}
		delete(want, t.StatementKey) // one text per statement
		t.Text = trimText(*text, max)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read statement texts: %w", err)
	}
	return out, nil
}

// statementStep derives the run's statement samples and, with [remote]
// query_text, reads from the client the texts the store lacks of the
// statements it will store. Errors carry their step.
func statementStep(ctx context.Context, job Job, stx metric.StatementTx, rem Remote, prev, snap *metric.Snapshot) (statementsOf, error) {
	cfg := job.Config
	if !cfg.Remote.Queries {
		return statementsOf{Run: metric.StatementRun{Status: metric.StatementsOff, Evicted: math.NaN(), KeepTexts: cfg.Remote.QueryText}}, nil
	}
	st := StatementDeltas(prev, snap, cfg.PGGraph.TopQueries)
	st.Run.KeepTexts = cfg.Remote.QueryText
	if !cfg.Remote.QueryText || len(st.Run.Stored) == 0 {
		return st, nil
	}
	missing, err := stx.MissingTexts(ctx, st.Run.Stored)
	if err != nil {
		return st, &stepError{StepStore, err}
	}
	if len(missing) == 0 {
		return st, nil
	}
	info, _ := statementInfo(snap)
	conn, err := rem.Connect(ctx, info.Key)
	if err != nil {
		return st, &stepError{StepRemote, fmt.Errorf("connect to database %q: %w", info.Key, err)}
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if st.Run.Texts, err = statementTexts(ctx, conn, info.Name, missing, cfg.PGGraph.QueryTextMax); err != nil {
		return st, &stepError{StepRemote, err}
	}
	return st, nil
}
