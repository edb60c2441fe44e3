package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pggraph/pggraph/metric"
)

// eventTable is the client's events: one row per event, its texts as the
// client's server gave them (hostile: the pages escape them).
func eventTable(t tables) tableDef {
	return tableDef{
		name: t.event(), what: "events: restarts, resets, settings, versions, failovers, databases, extensions, gaps, alerts",
		columns: []column{
			{"ts", "timestamptz NOT NULL"},
			{"until", "timestamptz"},
			{"kind", "text NOT NULL"},
			{"dbname", "text"},
			{"object", "text NOT NULL"},
			{"detail", "text NOT NULL"},
		},
		after: []string{"CREATE INDEX ON %s (ts)"},
	}
}

// EventQuery selects a client's events.
type EventQuery struct {
	Prefix   string
	From, To time.Time // events that start before To and end (or are) at or after From
	// Database, when not "", keeps the events about the whole server and
	// those about this database.
	Database string
	// Kind, when not "", keeps only events of this kind.
	Kind metric.EventKind
	// Limit, when > 0, keeps the newest Limit events.
	Limit int
}

// Events returns the client's events that q selects, oldest first; none
// for a client never collected.
func (s *Store) Events(ctx context.Context, q EventQuery) ([]metric.Event, error) {
	if err := CheckPrefix(q.Prefix); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	limit := "ALL"
	if q.Limit > 0 {
		limit = fmt.Sprint(q.Limit)
	}
	rows, err := s.samples.Query(ctx, `SELECT * FROM (
	SELECT ts, until, kind, coalesce(dbname, ''), object, detail FROM `+ident(tables{q.Prefix}.event())+`
	WHERE ts < $2 AND coalesce(until, ts) >= $1
	  AND ($3 = '' OR dbname IS NULL OR dbname = $3) AND ($4 = '' OR kind = $4)
	ORDER BY ts DESC, kind, object LIMIT `+limit+`
) e ORDER BY ts, kind, object`, q.From, q.To, q.Database, string(q.Kind))
	events, err := scanEvents(rows, err)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table: never collected
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read events of client %s: %w", q.Prefix, err)
	}
	return events, nil
}

// scanEvents reads rows of (ts, until, kind, dbname, object, detail).
func scanEvents(rows pgx.Rows, err error) ([]metric.Event, error) {
	if err != nil {
		return nil, err
	}
	var (
		out   []metric.Event
		e     metric.Event
		until *time.Time
		kind  string
	)
	_, err = pgx.ForEachRow(rows, []any{&e.Time, &until, &kind, &e.Database, &e.Object, &e.Detail}, func() error {
		e.Kind, e.End, e.Time = metric.EventKind(kind), time.Time{}, e.Time.UTC()
		if until != nil {
			e.End = until.UTC()
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// AddEvents stores events of the client outside any run, creating its
// tables first when missing (metric.EventWriter): a failed run's, an
// alert's.
func (s *Store) AddEvents(ctx context.Context, prefix string, events []metric.Event) error {
	if err := s.EnsureClient(ctx, prefix); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	return pgx.BeginFunc(ctx, s.samples, func(tx pgx.Tx) error {
		return writeEvents(ctx, tx, tables{prefix}, events)
	})
}

// Events returns the client's events that start in [from, to), by time
// (metric.EventTx).
func (x *Tx) Events(ctx context.Context, from, to time.Time) ([]metric.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	rows, err := x.tx.Query(ctx, `SELECT ts, until, kind, coalesce(dbname, ''), object, detail FROM `+ident(x.t.event())+`
WHERE ts >= $1 AND ts < $2 ORDER BY ts, kind, object`, from, to)
	events, err := scanEvents(rows, err)
	if err != nil {
		return nil, fmt.Errorf("read events of client %s: %w", x.t.prefix, err)
	}
	return events, nil
}

// WriteEvents stores events in the run's transaction (metric.EventTx).
func (x *Tx) WriteEvents(ctx context.Context, events []metric.Event) error {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return writeEvents(ctx, x.tx, x.t, events)
}

// writeEvents inserts events; a gap with an End first deletes the gap
// points it covers (metric.EventTx.WriteEvents).
func writeEvents(ctx context.Context, tx pgx.Tx, t tables, events []metric.Event) error {
	if len(events) == 0 {
		return nil
	}
	table := ident(t.event())
	b := &pgx.Batch{}
	var steps []string
	n := len(events)
	ts, until := make([]time.Time, n), make([]*time.Time, n)
	kinds, dbs, objects, details := make([]string, n), make([]*string, n), make([]string, n), make([]string, n)
	for i, e := range events {
		if _, ok := metric.EventKindOf(e.Kind); !ok || e.Time.IsZero() {
			return fmt.Errorf("write events of client %s: event %q at %s: unknown kind or no time", t.prefix, e.Kind, e.Time)
		}
		ts[i], kinds[i], objects[i], details[i] = e.Time, string(e.Kind), validUTF8(e.Object), validUTF8(e.Detail)
		if !e.End.IsZero() {
			end := e.End
			until[i] = &end
		}
		if e.Database != "" {
			db := validUTF8(e.Database)
			dbs[i] = &db
		}
		if e.Kind == metric.EventGap && !e.End.IsZero() {
			b.Queue(`DELETE FROM `+table+` WHERE kind = $1 AND until IS NULL AND ts BETWEEN $2 AND $3`, string(metric.EventGap), e.Time, e.End)
			steps = append(steps, "delete the failed runs a gap covers from "+t.event())
		}
	}
	b.Queue(`INSERT INTO `+table+` (ts, until, kind, dbname, object, detail)
SELECT * FROM unnest($1::timestamptz[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[])`,
		ts, until, kinds, dbs, objects, details)
	steps = append(steps, "insert events into "+t.event())
	if err := runBatch(ctx, tx, b, steps); err != nil {
		return fmt.Errorf("write events of client %s: %w", t.prefix, err)
	}
	return nil
}
