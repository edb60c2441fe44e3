package store

// This file keeps what statement statistics need beyond the statement
// group's sample and rollup tables (which are a group's like any other):
// the statements' texts, stored once per database and queryid, and one
// row per run saying what the run did with pg_stat_statements (collected,
// reset, evicted…); and it reads them back, with the group's samples,
// for the queries pages.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pggraph/pggraph/metric"
)

// Suffixes of the statement tables beyond the group's own.
const (
	statementTextSuffix = "statement_text"
	statementRunSuffix  = "statement_run"
)

func (t tables) statementText() string { return t.name(statementTextSuffix) }
func (t tables) statementRun() string  { return t.name(statementRunSuffix) }

// statements tells whether the Store keeps statement statistics: its
// groups include metric.StatementGroup.
func (s *Store) statements() bool {
	_, ok := s.group(metric.StatementGroupName)
	return ok
}

// statementTableDefs are the tables of statement texts and runs.
func statementTableDefs(t tables) []tableDef {
	return []tableDef{
		{
			name: t.statementText(), what: "statement texts, one per database and queryid",
			columns: []column{
				{"dbid", "oid NOT NULL"},
				{"queryid", "bigint NOT NULL"},
				{"query", "text NOT NULL"},
				{"first_seen", "timestamptz NOT NULL"},
				{"last_seen", "timestamptz NOT NULL"},
			},
			tail: []string{"PRIMARY KEY (dbid, queryid)"},
		},
		{
			name: t.statementRun(), what: "what each run did with pg_stat_statements",
			columns: []column{
				{"ts", "timestamptz PRIMARY KEY"},
				{"status", "text NOT NULL"},
				{"evicted", float8},
				{"database", "text"},
			},
		},
	}
}

// statementTx is the run transaction of a Store that keeps statements.
type statementTx struct{ *Tx }

var _ metric.StatementTx = statementTx{}

// MissingTexts returns those of keys whose text the client's table lacks.
func (x statementTx) MissingTexts(ctx context.Context, keys []metric.StatementKey) ([]metric.StatementKey, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	dbs, ids := splitKeys(keys)
	rows, err := x.tx.Query(ctx, `SELECT u.d, u.q FROM unnest($1::oid[], $2::int8[]) AS u(d, q)
WHERE NOT EXISTS (SELECT FROM `+ident(x.t.statementText())+` t WHERE t.dbid = u.d AND t.queryid = u.q)`, dbs, ids)
	if err != nil {
		return nil, fmt.Errorf("look up statement texts in %s: %w", x.t.statementText(), err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (metric.StatementKey, error) {
		var k metric.StatementKey
		err := r.Scan(&k.Database, &k.QueryID)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("look up statement texts in %s: %w", x.t.statementText(), err)
	}
	return out, nil
}

func splitKeys(keys []metric.StatementKey) ([]uint32, []int64) {
	dbs, ids := make([]uint32, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		dbs[i], ids[i] = k.Database, k.QueryID
	}
	return dbs, ids
}

// WriteStatements records the run's statement status at the time of the
// snapshot Write wrote, adds its texts, and marks the texts of its
// stored statements used. Without KeepTexts it deletes every text of the
// client instead.
func (x statementTx) WriteStatements(ctx context.Context, run metric.StatementRun) error {
	if x.cur.IsZero() {
		return errors.New("write statements: no snapshot written in this run")
	}
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	text := ident(x.t.statementText())
	b := &pgx.Batch{}
	var steps []string
	queue := func(step, sql string, args ...any) {
		b.Queue(sql, args...)
		steps = append(steps, step)
	}
	queue("record statements of the run in "+x.t.statementRun(), `INSERT INTO `+ident(x.t.statementRun())+
		` (ts, status, evicted, database) VALUES ($1, $2, $3, nullif($4, ''))
ON CONFLICT (ts) DO UPDATE SET status = EXCLUDED.status, evicted = EXCLUDED.evicted, database = EXCLUDED.database`,
		x.cur, string(run.Status), nullFloat(run.Evicted), validUTF8(run.Database))
	if !run.KeepTexts {
		queue("delete statement texts from "+x.t.statementText(), `DELETE FROM `+text)
		return runBatch(ctx, x.tx, b, steps)
	}
	if len(run.Texts) > 0 {
		dbs, ids, qs := make([]uint32, len(run.Texts)), make([]int64, len(run.Texts)), make([]string, len(run.Texts))
		for i, t := range run.Texts {
			dbs[i], ids[i], qs[i] = t.Database, t.QueryID, validUTF8(t.Text)
		}
		queue("add statement texts to "+x.t.statementText(), `INSERT INTO `+text+` (dbid, queryid, query, first_seen, last_seen)
SELECT d, q, t, $4, $4 FROM unnest($1::oid[], $2::int8[], $3::text[]) AS u(d, q, t)
ON CONFLICT (dbid, queryid) DO NOTHING`, dbs, ids, qs, x.cur)
	}
	if len(run.Stored) > 0 {
		dbs, ids := splitKeys(run.Stored)
		queue("mark statement texts used in "+x.t.statementText(), `UPDATE `+text+` t SET last_seen = $3
FROM unnest($1::oid[], $2::int8[]) AS u(d, q) WHERE t.dbid = u.d AND t.queryid = u.q AND t.last_seen < $3`, dbs, ids, x.cur)
	}
	return runBatch(ctx, x.tx, b, steps)
}

// maintainStatements queues the retention of statement texts and runs:
// as long as the longest-kept resolution.
func (x *Tx) maintainStatements(queue func(step, sql string, args ...any), now time.Time, keep metric.Retention) {
	if !x.s.statements() {
		return
	}
	oldest := now.Add(-max(keep.Raw, keep.Hourly, keep.Daily)).Truncate(metric.Day)
	queue("delete old rows of "+x.t.statementText(), `DELETE FROM `+ident(x.t.statementText())+` WHERE last_seen < $1`, oldest)
	queue("delete old rows of "+x.t.statementRun(), `DELETE FROM `+ident(x.t.statementRun())+` WHERE ts < $1`, oldest)
}

// StatementQuery asks for the statements of one database over a range.
type StatementQuery struct {
	Prefix     string
	Database   string
	Resolution Resolution
	From, To   time.Time
	// QueryID, when set, selects the one statement.
	QueryID *int64
}

// StatementStat is one statement (every user and nesting level of one
// queryid) of a database, or StatementOther, over a range.
type StatementStat struct {
	QueryID int64 // 0 for the other statements
	Other   bool  // the sum of the statements not stored on their own
	// Values are the sums of metric.StatementGroup's columns, NaN where
	// none was stored.
	Values []float64
	// Text is the statement's text, "" when none is stored.
	Text string
}

// Statements returns every statement of a database with samples in the
// range (and the other statements' row last, when there is one), with
// its text. An unknown database is ErrNoObject.
func (s *Store) Statements(ctx context.Context, q StatementQuery) ([]StatementStat, error) {
	fail := func(err error) ([]StatementStat, error) {
		return nil, fmt.Errorf("list statements of database %q of client %s: %w", q.Database, q.Prefix, err)
	}
	if err := CheckPrefix(q.Prefix); err != nil {
		return fail(err)
	}
	g, ok := s.group(metric.StatementGroupName)
	if !ok {
		return fail(errors.New("the store keeps no statements"))
	}
	if _, ok := q.Resolution.native(); !ok {
		return fail(fmt.Errorf("unknown resolution %q", q.Resolution))
	}
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	oids, err := s.databaseOIDs(ctx, q.Prefix, q.Database)
	if err != nil {
		return fail(err)
	}
	t := tables{q.Prefix}
	var cols, sums []string
	for _, c := range g.Columns {
		cols = append(cols, "s."+ident(c.Name))
		sums = append(sums, "sum(s."+ident(c.Name)+")")
	}
	sp := statementSpan(q.Resolution, q.From, q.To)
	name := ""
	args := []any{oids, q.From, q.To, sp.from, sp.to}
	if q.QueryID != nil {
		name = " AND o.name = $6"
		args = append(args, strconv.FormatInt(*q.QueryID, 10))
	}
	// The range's rows, read statement object by statement object
	// (a few entries of each one's (object, ts) key, rather than every
	// database's rows of the range): those of the resolution at its
	// edges, the coarser one's between (complete buckets only: those a
	// later run has closed). Objects last seen before the range have no
	// rows in it (a bucket starts at or before the runs it sums), so
	// statements long gone cost nothing.
	fine := ident(t.of(g.Name, q.Resolution))
	part := func(table, when string) string {
		return `SELECT ` + strings.Join(cols, ", ") + ` FROM ` + table + ` s WHERE s.object = o.id AND ` + when
	}
	from := part(fine, `s.ts >= $2 AND s.ts < $3`)
	if sp.coarse != "" {
		from = part(fine, `s.ts >= $2 AND s.ts < least($3, $4)`) + `
		UNION ALL
		` + part(fine, `s.ts >= cut.upto AND s.ts < $3`) + `
		UNION ALL
		` + part(ident(t.of(g.Name, sp.coarse)), `s.ts >= $4 AND s.ts < cut.upto`)
	}
	rows, err := s.samples.Query(ctx, `WITH cut AS MATERIALIZED (
	SELECT greatest($4::timestamptz, least($5::timestamptz,
		coalesce(date_bin('`+sp.width+`', (SELECT max(ts) FROM `+ident(t.statementRun())+`), `+bucketOrigin+`), $4))) AS upto
), st AS (
	SELECT o.name, `+strings.Join(sums, ", ")+`
	FROM `+ident(t.object())+` o, cut CROSS JOIN LATERAL (
		`+from+`
	) s
	WHERE o.grp = '`+metric.StatementGroupName+`' AND o.dbid = ANY($1) AND o.last_seen >= $2`+name+`
	GROUP BY o.name
)
SELECT st.*, x.query
FROM st LEFT JOIN LATERAL (
	SELECT t.query FROM `+ident(t.statementText())+` t
	WHERE st.name ~ '^-?[0-9]+$' AND t.dbid = ANY($1) AND t.queryid = st.name::int8
	ORDER BY t.last_seen DESC LIMIT 1
) x ON true`, args...)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	var out []StatementStat
	// Every row is scanned into the same values (no allocation per
	// column of each row).
	var (
		nm   string
		vals = make([]pgtype.Float8, len(g.Columns))
		text pgtype.Text
	)
	dest := []any{&nm}
	for i := range vals {
		dest = append(dest, &vals[i])
	}
	dest = append(dest, &text)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fail(err)
		}
		st := StatementStat{Values: make([]float64, len(vals)), Text: text.String}
		for i, v := range vals {
			st.Values[i] = math.NaN()
			if v.Valid {
				st.Values[i] = v.Float64
			}
		}
		if nm == metric.StatementOther {
			st.Other = true
		} else if st.QueryID, err = strconv.ParseInt(nm, 10, 64); err != nil {
			return fail(fmt.Errorf("statement object named %q: not a queryid", nm))
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	slices.SortFunc(out, func(a, b StatementStat) int {
		if a.Other != b.Other {
			if a.Other {
				return 1
			}
			return -1
		}
		switch {
		case a.QueryID < b.QueryID:
			return -1
		case a.QueryID > b.QueryID:
			return 1
		}
		return 0
	})
	return out, nil
}

// statementSpan is where Statements reads a range [from, to) at
// resolution res from the next coarser resolution instead: its whole
// buckets [span.from, span.to) in the range (of the buckets of res
// starting in it), which hold the same sums in a 6th or a 24th of the
// rows. Statements narrows span.to to the buckets a later run has
// closed (a day row is brought up to date when the next hour begins).
// A span with coarse "" reads res alone.
type span struct {
	coarse   Resolution
	width    string // the coarse buckets' width, as date_bin takes it
	from, to time.Time
}

func statementSpan(res Resolution, from, to time.Time) span {
	var sp span
	var fine, width time.Duration
	switch res {
	case ResolutionRaw:
		sp.coarse, sp.width, width = ResolutionHour, "1 hour", time.Hour
	case ResolutionHour:
		sp.coarse, sp.width, width, fine = ResolutionDay, "1 day", metric.Day, time.Hour
	default:
		return span{width: "1 day", from: from, to: from}
	}
	// The first bucket starting at or after from, and the end of the
	// last whose every fine bucket starts before to.
	sp.from = from.Truncate(width)
	if sp.from.Before(from) {
		sp.from = sp.from.Add(width)
	}
	end := to
	if fine > 0 {
		if end = to.Truncate(fine); end.Before(to) {
			end = end.Add(fine)
		}
	}
	sp.to = end.Truncate(width)
	if sp.to.Before(sp.from) {
		sp.to = sp.from
	}
	return sp
}

// StatementEvents is what the runs of a range did with
// pg_stat_statements.
type StatementEvents struct {
	// Last is the status of the client's latest run ("" when none
	// recorded one), and LastDatabase where it found the extension.
	Last         metric.StatementStatus
	LastDatabase string
	// Resets are the times of the runs in the range whose interval held
	// a reset or a restart (at most 20, the latest).
	Resets []time.Time
	// ResetCount counts them all.
	ResetCount int
	// Evicted is how many entries were evicted in the range, and
	// EvictedRuns in how many runs.
	Evicted     float64
	EvictedRuns int
}

// StatementEvents returns what the client's runs in [from, to) did with
// pg_stat_statements, and its latest run's status. A client never
// collected has none.
func (s *Store) StatementEvents(ctx context.Context, prefix string, from, to time.Time) (StatementEvents, error) {
	var ev StatementEvents
	fail := func(err error) (StatementEvents, error) {
		return ev, fmt.Errorf("read statement runs of client %s: %w", prefix, err)
	}
	if err := CheckPrefix(prefix); err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	run := ident(tables{prefix}.statementRun())
	var (
		last, lastDB *string
		resets       []time.Time
		evicted      *float64
	)
	err := s.samples.QueryRow(ctx, `SELECT
	(SELECT status FROM `+run+` ORDER BY ts DESC LIMIT 1),
	(SELECT database FROM `+run+` ORDER BY ts DESC LIMIT 1),
	coalesce((SELECT array_agg(ts ORDER BY ts DESC) FROM (SELECT ts FROM `+run+`
		WHERE ts >= $1 AND ts < $2 AND status = $3 ORDER BY ts DESC LIMIT 20) r), '{}'),
	(SELECT count(*) FROM `+run+` WHERE ts >= $1 AND ts < $2 AND status = $3),
	(SELECT sum(evicted) FROM `+run+` WHERE ts >= $1 AND ts < $2 AND evicted > 0),
	(SELECT count(*) FROM `+run+` WHERE ts >= $1 AND ts < $2 AND evicted > 0)`,
		from, to, string(metric.StatementsReset)).Scan(&last, &lastDB, &resets, &ev.ResetCount, &evicted, &ev.EvictedRuns)
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == "42P01": // undefined_table: never collected
		return ev, nil
	case err != nil:
		return fail(err)
	}
	if last != nil {
		ev.Last = metric.StatementStatus(*last)
	}
	if lastDB != nil {
		ev.LastDatabase = *lastDB
	}
	for _, t := range resets {
		ev.Resets = append(ev.Resets, t.UTC())
	}
	ev.Evicted = math.NaN()
	if evicted != nil {
		ev.Evicted = *evicted
	}
	return ev, nil
}
