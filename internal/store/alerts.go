package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/metric"
	schema "github.com/pggraph/pggraph/sql"
)

// AlertState is one row of pggraph_clients.alert_state: a (client, check,
// object) that is not OK, or whose samples are on their way past a
// threshold. A (client, check, object) without a row is OK.
type AlertState struct {
	Prefix, Check string
	// Object is the object's identity: group/database OID/key, "" for
	// the client itself (collection, stale).
	Object string
	// Group, DB and Name describe the object for links: its metric group,
	// its database's name ("" for a server-wide object) and its name.
	Group, DB, Name string
	Display         string // e.g. `slot s1`, names escaped; "" for the client
	State           metric.State
	Value           float64 // NaN when unknown
	Text            string  // the line notifications and pages show
	Since, Updated  time.Time
	Notified        time.Time // last notification or reminder; zero: none
	// WarnCount and CritCount count the consecutive samples beyond the
	// warning and the critical range.
	WarnCount, CritCount int
}

// AlertEvent is one row of alert_event: a change of state, or a reminder.
type AlertEvent struct {
	Prefix, Check, Object, Display string
	At                             time.Time
	State, Previous                metric.State
	Value                          float64 // NaN when unknown
	Text                           string
	Reminder                       bool
}

// Notification is one row of alert_outbox: a message to deliver.
type Notification struct {
	ID       int64
	Prefix   string
	Channel  string // ChannelMail or ChannelCommand
	Subject  string
	Body     string
	Env      map[string]string // PGGRAPH_* for a command
	Attempts int
}

// Channels of a Notification.
const (
	ChannelMail    = "mail"
	ChannelCommand = "command"
)

// AlertChanges is what one evaluation writes, in one transaction.
type AlertChanges struct {
	Put    []AlertState // inserted or replaced
	Delete []AlertState // by Check and Object: back to OK
	Events []AlertEvent
	Outbox []Notification
}

// AlertStates returns the client's alert_state rows, by check and object.
func (s *Store) AlertStates(ctx context.Context, prefix string) ([]AlertState, error) {
	return s.alertStates(ctx, "list alert states of client "+prefix, `WHERE prefix = $1`, prefix)
}

// ActiveAlerts returns the rows that are not OK, of one client or of all
// ("" prefix), worst first, then oldest first: those PrefetchAlerts read,
// when it was started for prefix.
func (s *Store) ActiveAlerts(ctx context.Context, prefix string) ([]AlertState, error) {
	p, err := s.settle(ctx)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: %w", activeOp, err)
	case p != nil && p.prefix == prefix && p.dialErr != nil:
		return nil, fmt.Errorf("%s: %w", activeOp, p.dialErr)
	case p != nil && p.prefix == prefix:
		return p.alerts, p.err
	}
	return s.alertStates(ctx, activeOp, activeWhere, prefix)
}

// The active alerts' query, as ActiveAlerts and PrefetchAlerts run it.
const (
	activeOp    = "list active alerts"
	activeWhere = `WHERE state <> 'OK' AND ($1 = '' OR prefix = $1)`
)

// PrefetchAlerts starts connecting to pggraph_clients and reading the
// client's active alerts in the background, for a page that shows them
// (its banner): the login and the query then overlap the samples
// database's queries. The next ActiveAlerts of prefix returns what it
// read; any other use of the connection waits for it. It does nothing
// when the connection is made already.
func (s *Store) PrefetchAlerts(ctx context.Context, prefix string) {
	if s.conns != nil || s.pending != nil {
		return
	}
	p, srv := &prefetch{done: make(chan struct{}), prefix: prefix}, s.srv
	s.pending = p
	go func() {
		defer close(p.done)
		if p.conn, p.dialErr = dial(ctx, srv, schema.Clients); p.dialErr == nil {
			p.alerts, p.err = queryAlertStates(ctx, p.conn, activeOp, activeWhere, prefix)
		}
	}()
}

func (s *Store) alertStates(ctx context.Context, op, where string, prefix string) ([]AlertState, error) {
	conn, err := s.clients(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return queryAlertStates(ctx, conn, op, where, prefix)
}

// queryAlertStates reads the alert_state rows where says on conn.
func queryAlertStates(ctx context.Context, conn *pgx.Conn, op, where string, prefix string) ([]AlertState, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	rows, err := conn.Query(ctx, `
SELECT prefix, check_name, object, grp, db, name, display, state, value, text, since, updated, notified, warn_count, crit_count
FROM alert_state `+where+`
ORDER BY CASE state WHEN 'CRITICAL' THEN 0 WHEN 'WARNING' THEN 1 WHEN 'UNKNOWN' THEN 2 ELSE 3 END, prefix, since, check_name, object`, prefix)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	var out []AlertState
	for rows.Next() {
		var (
			a        AlertState
			state    string
			value    *float64
			notified *time.Time
		)
		if err := rows.Scan(&a.Prefix, &a.Check, &a.Object, &a.Group, &a.DB, &a.Name, &a.Display, &state, &value, &a.Text,
			&a.Since, &a.Updated, &notified, &a.WarnCount, &a.CritCount); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		if a.State, err = metric.ParseState(state); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		a.Value = orNaN(value)
		if notified != nil {
			a.Notified = *notified
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// SaveAlerts writes an evaluation's states, events and notifications in
// one transaction of pggraph_clients.
func (s *Store) SaveAlerts(ctx context.Context, prefix string, ch AlertChanges) error {
	if err := CheckPrefix(prefix); err != nil {
		return fmt.Errorf("save alerts: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	conn, err := s.clients(ctx)
	if err != nil {
		return fmt.Errorf("save alerts of client %s: %w", prefix, err)
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, d := range ch.Delete {
			b.Queue(`DELETE FROM alert_state WHERE prefix = $1 AND check_name = $2 AND object = $3`, prefix, d.Check, d.Object)
		}
		for _, a := range ch.Put {
			b.Queue(`
INSERT INTO alert_state (prefix, check_name, object, grp, db, name, display, state, value, text, since, updated, notified, warn_count, crit_count)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
ON CONFLICT (prefix, check_name, object) DO UPDATE SET
	grp = EXCLUDED.grp, db = EXCLUDED.db, name = EXCLUDED.name, display = EXCLUDED.display,
	state = EXCLUDED.state, value = EXCLUDED.value, text = EXCLUDED.text, since = EXCLUDED.since,
	updated = EXCLUDED.updated, notified = EXCLUDED.notified,
	warn_count = EXCLUDED.warn_count, crit_count = EXCLUDED.crit_count`,
				prefix, a.Check, a.Object, validUTF8(a.Group), validUTF8(a.DB), validUTF8(a.Name), validUTF8(a.Display),
				a.State.String(), nullFloat(a.Value), validUTF8(a.Text), a.Since, a.Updated, nullTime(a.Notified), a.WarnCount, a.CritCount)
		}
		for _, e := range ch.Events {
			b.Queue(`
INSERT INTO alert_event (prefix, at, check_name, object, display, state, previous, value, text, reminder)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
				prefix, e.At, e.Check, validUTF8(e.Object), validUTF8(e.Display), e.State.String(), e.Previous.String(), nullFloat(e.Value), validUTF8(e.Text), e.Reminder)
		}
		for _, n := range ch.Outbox {
			env, err := json.Marshal(n.Env)
			if err != nil {
				return err
			}
			b.Queue(`INSERT INTO alert_outbox (prefix, channel, subject, body, env) VALUES ($1, $2, $3, $4, $5)`,
				prefix, n.Channel, validUTF8(n.Subject), validUTF8(n.Body), env)
		}
		if b.Len() == 0 {
			return nil
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("save alerts of client %s: %w", prefix, err)
	}
	return nil
}

// ErrNotDelivered is wrapped by Deliver's error when a notification could
// not be delivered: it stays pending.
var ErrNotDelivered = errors.New("not delivered")

// Deliver hands the client's pending notifications, oldest first, to
// send, one at a time, each in a transaction that holds its row locked
// (FOR UPDATE SKIP LOCKED): two processes never deliver the same one, and
// one that is delivered is marked sent before the next. A failed send
// records its error and attempt and leaves the row pending for the next
// run. Deliver stops at the first failure of a channel's notifications
// (later ones of that channel wait behind it, in order) and when ctx ends.
// It returns how many were sent and the failures, joined.
func (s *Store) Deliver(ctx context.Context, prefix string, send func(ctx context.Context, n Notification) error) (int, error) {
	conn, err := s.clients(ctx)
	if err != nil {
		return 0, fmt.Errorf("deliver notifications of client %s: %w", prefix, err)
	}
	var (
		sent    int
		errs    []error
		last    int64
		blocked = map[string]bool{}
	)
	for ctx.Err() == nil {
		more, err := s.deliverOne(ctx, conn, prefix, &last, blocked, func(ctx context.Context, n Notification) error {
			if serr := send(ctx, n); serr != nil {
				blocked[n.Channel] = true
				errs = append(errs, fmt.Errorf("%s notification %d: %w: %w", n.Channel, n.ID, ErrNotDelivered, serr))
				return serr
			}
			sent++
			return nil
		})
		if err != nil {
			return sent, errors.Join(append(errs, fmt.Errorf("deliver notifications of client %s: %w", prefix, err))...)
		}
		if !more {
			break
		}
	}
	return sent, errors.Join(errs...)
}

// deliverOne sends the next pending notification after *last of a
// channel not blocked, holding its row locked in a transaction of its own
// that ctx's end does not cut short: a notification sent is always marked
// sent. more is false when none was left.
func (s *Store) deliverOne(ctx context.Context, conn *pgx.Conn, prefix string, last *int64, blocked map[string]bool,
	send func(ctx context.Context, n Notification) error) (more bool, err error) {
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), queryTimeout)
	defer cancel()
	err = pgx.BeginFunc(tctx, conn, func(tx pgx.Tx) error {
		var (
			n   = Notification{Prefix: prefix}
			env []byte
		)
		err := tx.QueryRow(tctx, `
SELECT id, channel, subject, body, env, attempts FROM alert_outbox
WHERE prefix = $1 AND sent IS NULL AND id > $2 AND NOT (channel = ANY ($3))
ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`, prefix, *last, keys(blocked)).Scan(&n.ID, &n.Channel, &n.Subject, &n.Body, &env, &n.Attempts)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		more, *last = true, n.ID
		if err := json.Unmarshal(env, &n.Env); err != nil {
			return err
		}
		if serr := send(ctx, n); serr != nil {
			_, err := tx.Exec(tctx, `UPDATE alert_outbox SET attempts = attempts + 1, error = $2 WHERE id = $1`, n.ID, oneLine(serr.Error()))
			return err
		}
		_, err = tx.Exec(tctx, `UPDATE alert_outbox SET attempts = attempts + 1, error = NULL, sent = now() WHERE id = $1`, n.ID)
		return err
	})
	return more, err
}

func keys(m map[string]bool) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Pending counts the client's notifications not yet delivered.
func (s *Store) Pending(ctx context.Context, prefix string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	conn, err := s.clients(ctx)
	if err != nil {
		return 0, fmt.Errorf("count pending notifications of client %s: %w", prefix, err)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM alert_outbox WHERE prefix = $1 AND sent IS NULL`, prefix).Scan(&n); err != nil {
		return 0, fmt.Errorf("count pending notifications of client %s: %w", prefix, err)
	}
	return n, nil
}

// AlertHistory returns the client's events, newest first, at most limit.
func (s *Store) AlertHistory(ctx context.Context, prefix string, limit int) ([]AlertEvent, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	conn, err := s.clients(ctx)
	if err != nil {
		return nil, fmt.Errorf("alert history of client %s: %w", prefix, err)
	}
	rows, err := conn.Query(ctx, `
SELECT prefix, at, check_name, object, display, state, previous, value, text, reminder
FROM alert_event WHERE prefix = $1 ORDER BY at DESC, id DESC LIMIT $2`, prefix, limit)
	if err != nil {
		return nil, fmt.Errorf("alert history of client %s: %w", prefix, err)
	}
	defer rows.Close()
	var out []AlertEvent
	for rows.Next() {
		var (
			e               AlertEvent
			state, previous string
			value           *float64
		)
		if err := rows.Scan(&e.Prefix, &e.At, &e.Check, &e.Object, &e.Display, &state, &previous, &value, &e.Text, &e.Reminder); err != nil {
			return nil, fmt.Errorf("alert history of client %s: %w", prefix, err)
		}
		e.State, _ = metric.ParseState(state)
		e.Previous, _ = metric.ParseState(previous)
		e.Value = orNaN(value)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("alert history of client %s: %w", prefix, err)
	}
	return out, nil
}
