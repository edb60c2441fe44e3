package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/metric"
)

// Tx is one collection run's transaction in the samples database; it
// implements metric.Tx. Begin returns it; Commit or Rollback ends it.
type Tx struct {
	s  *Store
	tx pgx.Tx
	t  tables

	prev, cur time.Time // Taken of the saved and of the written snapshot; zero if unknown
	prevRead  bool      // prev has been read (it may be zero: never collected)
}

// Previous returns the snapshot the last run saved, nil when the client
// has never been collected.
func (x *Tx) Previous(ctx context.Context) (*metric.Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	var data []byte
	err := x.tx.QueryRow(ctx, `SELECT taken, snapshot FROM `+ident(x.t.state())+` WHERE id = 1`).Scan(&x.prev, &data)
	x.prevRead = true
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read snapshot from %s: %w", x.t.state(), err)
	}
	snap, err := decodeSnapshot(data)
	if err != nil {
		return nil, fmt.Errorf("decode snapshot from %s: %w", x.t.state(), err)
	}
	return snap, nil
}

// objectKey identifies an object: its group, database and key.
type objectKey struct {
	grp string
	db  uint32
	key string
}

// Write records, at cur.Taken: every object of cur's rows and of samples
// in the objects table (inserted, or name, parent and last_seen updated),
// the samples in their groups' tables (COPY; a NaN value or Seconds is
// stored as NULL), and cur as the client's state. Each sample's group
// must be one of the Store's, with one value per column, and no object may
// have two samples. Snapshot rows of other groups are kept in the state
// only.
func (x *Tx) Write(ctx context.Context, cur *metric.Snapshot, samples []metric.Sample) error {
	if cur == nil {
		return errors.New("write: no snapshot")
	}
	if cur.Taken.IsZero() {
		return errors.New("write: snapshot has no time (Taken)")
	}
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if err := x.checkSamples(samples); err != nil {
		return err
	}
	if !x.prevRead {
		err := x.tx.QueryRow(ctx, `SELECT taken FROM `+ident(x.t.state())+` WHERE id = 1`).Scan(&x.prev)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("read snapshot time from %s: %w", x.t.state(), err)
		}
		x.prevRead = true
	}
	ids, err := x.upsertObjects(ctx, cur, samples)
	if err != nil {
		return err
	}
	if err := x.copySamples(ctx, cur.Taken, samples, ids); err != nil {
		return err
	}
	data, err := encodeSnapshot(cur)
	if err != nil {
		return fmt.Errorf("save snapshot into %s: %w", x.t.state(), err)
	}
	_, err = x.tx.Exec(ctx, `
INSERT INTO `+ident(x.t.state())+` (id, taken, snapshot) VALUES (1, $1, $2)
ON CONFLICT (id) DO UPDATE SET taken = EXCLUDED.taken, snapshot = EXCLUDED.snapshot`, cur.Taken, data)
	if err != nil {
		return fmt.Errorf("save snapshot into %s: %w", x.t.state(), err)
	}
	x.cur = cur.Taken
	return nil
}

// checkSamples validates samples against the Store's groups.
func (x *Tx) checkSamples(samples []metric.Sample) error {
	seen := make(map[objectKey]bool, len(samples))
	for _, sm := range samples {
		g, ok := x.s.group(sm.Group)
		if !ok {
			return fmt.Errorf("write sample of group %q: not a group of this store", sm.Group)
		}
		if len(sm.Values) != len(g.Columns) {
			return fmt.Errorf("write sample of group %s database %d key %q: %d values for %d columns",
				sm.Group, sm.Database, sm.Key, len(sm.Values), len(g.Columns))
		}
		k := objectKey{sm.Group, sm.Database, validUTF8(sm.Key)}
		if seen[k] {
			return fmt.Errorf("write sample of group %s database %d key %q: two samples of one object", sm.Group, sm.Database, sm.Key)
		}
		seen[k] = true
	}
	return nil
}

// upsertObjects records the objects of cur's rows (of the Store's groups)
// and of samples and returns their ids. A run mostly sees the objects of
// the last run, so rather than an INSERT … ON CONFLICT of every object
// (which probes and rewrites each), it reads the known ones, inserts the
// new, renames the renamed, and sets last_seen of the rest in one UPDATE.
func (x *Tx) upsertObjects(ctx context.Context, cur *metric.Snapshot, samples []metric.Sample) (map[objectKey]int32, error) {
	type object struct{ name, parent string }
	n := len(samples)
	for _, rows := range cur.Rows {
		n += len(rows)
	}
	want := make(map[objectKey]object, n)
	var order []objectKey // first-seen order, for stable ids
	add := func(grp string, db uint32, key, name, parent string) {
		k := objectKey{grp, db, validUTF8(key)}
		if _, ok := want[k]; !ok {
			order = append(order, k)
		}
		want[k] = object{validUTF8(name), validUTF8(parent)} // the last name wins
	}
	for _, g := range x.s.groups {
		for _, r := range cur.Rows[g.Name] {
			add(g.Name, r.Database, r.Key, r.Name, r.Parent)
		}
	}
	for _, sm := range samples {
		add(sm.Group, sm.Database, sm.Key, sm.Name, sm.Parent)
	}
	ids := make(map[objectKey]int32, len(order))
	if len(order) == 0 {
		return ids, nil
	}
	table := ident(x.t.object())
	fail := func(err error) (map[objectKey]int32, error) {
		return nil, fmt.Errorf("upsert objects into %s: %w", x.t.object(), err)
	}
	grps, dbs, keys := make([]string, len(order)), make([]uint32, len(order)), make([]string, len(order))
	for i, k := range order {
		grps[i], dbs[i], keys[i] = k.grp, k.db, k.key
	}
	rows, err := x.tx.Query(ctx, `
SELECT o.id, o.grp, o.dbid, o.key, coalesce(o.name, ''), coalesce(o.parent, '')
FROM `+table+` o JOIN unnest($1::text[], $2::oid[], $3::text[]) AS u(g, d, k)
  ON o.grp = u.g AND o.dbid = u.d AND o.key = u.k`, grps, dbs, keys)
	if err != nil {
		return fail(err)
	}
	var seen, renamed []int32
	var names, parents []string
	for rows.Next() {
		var (
			id           int32
			k            objectKey
			name, parent string
		)
		if err := rows.Scan(&id, &k.grp, &k.db, &k.key, &name, &parent); err != nil {
			rows.Close()
			return fail(err)
		}
		ids[k] = id
		seen = append(seen, id)
		if w := want[k]; w.name != name || w.parent != parent {
			renamed, names, parents = append(renamed, id), append(names, w.name), append(parents, w.parent)
		}
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}

	var ngrps, nkeys, nnames, nparents []string
	var ndbs []uint32
	for _, k := range order {
		if _, ok := ids[k]; !ok {
			w := want[k]
			ngrps, ndbs, nkeys = append(ngrps, k.grp), append(ndbs, k.db), append(nkeys, k.key)
			nnames, nparents = append(nnames, w.name), append(nparents, w.parent)
		}
	}
	if len(ngrps) > 0 {
		rows, err := x.tx.Query(ctx, `
INSERT INTO `+table+` AS o (grp, dbid, key, name, parent, first_seen, last_seen)
SELECT g, d, k, nullif(n, ''), nullif(p, ''), $6, $6
FROM unnest($1::text[], $2::oid[], $3::text[], $4::text[], $5::text[]) AS u(g, d, k, n, p)
ON CONFLICT (grp, dbid, key) DO UPDATE
SET name = EXCLUDED.name, parent = EXCLUDED.parent, last_seen = greatest(o.last_seen, EXCLUDED.last_seen)
RETURNING id, grp, dbid, key`, ngrps, ndbs, nkeys, nnames, nparents, cur.Taken)
		if err != nil {
			return fail(err)
		}
		for rows.Next() {
			var (
				id int32
				k  objectKey
			)
			if err := rows.Scan(&id, &k.grp, &k.db, &k.key); err != nil {
				rows.Close()
				return fail(err)
			}
			ids[k] = id
		}
		if err := rows.Err(); err != nil {
			return fail(err)
		}
	}
	if len(renamed) > 0 {
		if _, err := x.tx.Exec(ctx, `
UPDATE `+table+` o SET name = nullif(u.n, ''), parent = nullif(u.p, '')
FROM unnest($1::int[], $2::text[], $3::text[]) AS u(id, n, p) WHERE o.id = u.id`, renamed, names, parents); err != nil {
			return fail(err)
		}
	}
	if len(seen) > 0 {
		if _, err := x.tx.Exec(ctx, `UPDATE `+table+` SET last_seen = $1 WHERE id = ANY($2::int[]) AND last_seen < $1`, cur.Taken, seen); err != nil {
			return fail(err)
		}
	}
	return ids, nil
}

// copySamples COPYs the samples of each group into its table at ts.
func (x *Tx) copySamples(ctx context.Context, ts time.Time, samples []metric.Sample, ids map[objectKey]int32) error {
	byGroup := map[string][]int{}
	for i, sm := range samples {
		byGroup[sm.Group] = append(byGroup[sm.Group], i)
	}
	for _, g := range x.s.groups {
		idx := byGroup[g.Name]
		if len(idx) == 0 {
			continue
		}
		cols := []string{"ts", "object", "seconds"}
		for _, c := range g.Columns {
			cols = append(cols, c.Name)
		}
		row := make([]any, len(cols))
		src := pgx.CopyFromSlice(len(idx), func(i int) ([]any, error) {
			sm := &samples[idx[i]]
			id, ok := ids[objectKey{sm.Group, sm.Database, validUTF8(sm.Key)}]
			if !ok {
				return nil, fmt.Errorf("no object id for database %d key %q", sm.Database, sm.Key)
			}
			row[0], row[1], row[2] = ts, id, nullFloat(sm.Seconds)
			for j, v := range sm.Values {
				row[3+j] = nullFloat(v)
			}
			return row, nil
		})
		table := x.t.raw(g.Name)
		if _, err := x.tx.CopyFrom(ctx, pgx.Identifier{table}, cols, src); err != nil {
			return fmt.Errorf("copy samples into %s: %w", table, err)
		}
	}
	return nil
}

// nullFloat is v, or nil (NULL) for NaN.
func nullFloat(v float64) any {
	if math.IsNaN(v) {
		return nil
	}
	return v
}

// validUTF8 replaces invalid UTF-8 by U+FFFD: PostgreSQL's text holds
// only valid UTF-8 (in a UTF8 database).
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// Maintain brings the rollups up to date with the samples written so far
// and applies retention; see the package documentation, "Rollups" and
// "Retention". Zero fields of keep take DefaultRetention's. Retention is
// measured back from the written snapshot's time (from the transaction's
// start when nothing was written).
func (x *Tx) Maintain(ctx context.Context, keep metric.Retention) error {
	ctx, cancel := context.WithTimeout(ctx, rollupTimeout)
	defer cancel()
	keep = keep.WithDefaults()
	now := x.cur
	if now.IsZero() {
		if err := x.tx.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
			return fmt.Errorf("maintain client %s: %w", x.t.prefix, err)
		}
	}
	b := &pgx.Batch{}
	b.Queue(rollupSettings)
	steps := []string{"set rollup settings"}
	queue := func(step, sql string, args ...any) {
		b.Queue(sql, args...)
		steps = append(steps, step)
	}
	if !x.cur.IsZero() {
		from := x.cur.Truncate(time.Hour)
		if !x.prev.IsZero() && x.prev.Before(from) && !x.prev.Before(from.Add(-time.Hour)) {
			from = from.Add(-time.Hour) // the last run was in the previous hour
		}
		to := x.cur.Truncate(time.Hour).Add(time.Hour)
		// Days are derived from their hours when a run enters a new hour
		// (an hour closed), not on every run: a day row lags by an hour at
		// most, and costs a sixth of the work and of the dead rows.
		newHour := x.prev.IsZero() || !x.prev.Truncate(time.Hour).Equal(x.cur.Truncate(time.Hour))
		dfrom, dto := from.Truncate(metric.Day), x.cur.Truncate(metric.Day).Add(metric.Day)
		if !x.prev.IsZero() && x.prev.Before(dfrom) {
			dfrom = x.prev.Truncate(metric.Day)
		}
		for _, g := range x.s.groups {
			queue("roll up "+x.t.hour(g.Name), hourSQL(x.t, g), from, to)
			if newHour {
				queue("roll up "+x.t.day(g.Name), daySQL(x.t, g), dfrom, dto)
			}
		}
	}
	for _, g := range x.s.groups {
		queue("delete old rows of "+x.t.raw(g.Name), `DELETE FROM `+ident(x.t.raw(g.Name))+` WHERE ts < $1`,
			now.Add(-keep.Raw).Truncate(time.Hour))
		queue("delete old rows of "+x.t.hour(g.Name), `DELETE FROM `+ident(x.t.hour(g.Name))+` WHERE ts < $1`,
			now.Add(-keep.Hourly).Truncate(metric.Day))
		queue("delete old rows of "+x.t.day(g.Name), `DELETE FROM `+ident(x.t.day(g.Name))+` WHERE ts < $1`,
			now.Add(-keep.Daily).Truncate(metric.Day))
	}
	x.maintainStatements(queue, now, keep)
	queue("delete old events of "+x.t.event(), `DELETE FROM `+ident(x.t.event())+` WHERE ts < $1`,
		now.Add(-max(keep.Raw, keep.Hourly, keep.Daily)).Truncate(metric.Day))
	queue("delete old objects of "+x.t.object(), `DELETE FROM `+ident(x.t.object())+` WHERE last_seen < $1`,
		now.Add(-max(keep.Raw, keep.Hourly, keep.Daily)).Truncate(metric.Day))
	return runBatch(ctx, x.tx, b, steps)
}

// runBatch sends b in one round trip; an error names the failing step.
func runBatch(ctx context.Context, tx pgx.Tx, b *pgx.Batch, steps []string) error {
	br := tx.SendBatch(ctx, b)
	for _, step := range steps {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("%s: %w", step, err)
		}
	}
	return br.Close()
}

// Commit commits the run's transaction.
func (x *Tx) Commit(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	if err := x.tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit run of client %s: %w", x.t.prefix, err)
	}
	return nil
}

// Rollback ends the run's transaction without keeping anything. After
// Commit it does nothing, so it may be deferred.
func (x *Tx) Rollback(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), queryTimeout)
	defer cancel()
	if err := x.tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("roll back run of client %s: %w", x.t.prefix, err)
	}
	return nil
}
