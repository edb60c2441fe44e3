package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pggraph/pggraph/metric"
)

// ErrNoClient is wrapped by RemoveClient's error for a prefix with neither
// a clients row nor tables.
var ErrNoClient = errors.New("no such client")

// Client is one row of pggraph_clients.clients.
type Client struct {
	Prefix    string
	Title     string
	Directory string    // install directory; "" when unknown (never installed)
	WWWPath   string    // relative URL path of the pages; "" when unknown
	Created   time.Time // set by the database
	// The last run, as RecordRun wrote it; LastRun is zero before the
	// first run.
	LastRun      time.Time
	LastDuration time.Duration
	LastOutcome  metric.Outcome
	LastError    string
	LastSamples  int
	// LastOK is the start of the last successful run (ok or primed);
	// zero before the first.
	LastOK time.Time
}

// RegisterClient inserts or updates the client's row: title, directory
// and www_path (the installer's answers). The last_* columns and created
// are kept. An empty Directory or WWWPath is stored as NULL.
func (s *Store) RegisterClient(ctx context.Context, c Client) error {
	if err := CheckPrefix(c.Prefix); err != nil {
		return fmt.Errorf("register client: %w", err)
	}
	if c.Title == "" {
		return fmt.Errorf("register client %s: empty title", c.Prefix)
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	conn, err := s.clients(ctx)
	if err != nil {
		return fmt.Errorf("register client %s: %w", c.Prefix, err)
	}
	_, err = conn.Exec(ctx, `
INSERT INTO clients (prefix, title, directory, www_path) VALUES ($1, $2, nullif($3, ''), nullif($4, ''))
ON CONFLICT (prefix) DO UPDATE SET title = EXCLUDED.title, directory = EXCLUDED.directory, www_path = EXCLUDED.www_path`,
		c.Prefix, c.Title, c.Directory, c.WWWPath)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName != "clients_pkey" {
		return fmt.Errorf("register client %s: directory %s is another client's", c.Prefix, c.Directory)
	}
	if err != nil {
		return fmt.Errorf("register client %s: %w", c.Prefix, err)
	}
	return nil
}

// ListClients returns every row of the clients table, by prefix.
func (s *Store) ListClients(ctx context.Context) ([]Client, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	conn, err := s.clients(ctx)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	rows, err := conn.Query(ctx, `
SELECT prefix, title, coalesce(directory, ''), coalesce(www_path, ''), created,
       last_run, coalesce(last_duration_ms, 0), coalesce(last_outcome, ''), coalesce(last_error, ''), coalesce(last_samples, 0),
       last_ok
FROM clients ORDER BY prefix`)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	var out []Client
	for rows.Next() {
		var (
			c       Client
			lastRun *time.Time
			lastOK  *time.Time
			ms      int64
			outcome string
		)
		if err := rows.Scan(&c.Prefix, &c.Title, &c.Directory, &c.WWWPath, &c.Created,
			&lastRun, &ms, &outcome, &c.LastError, &c.LastSamples, &lastOK); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list clients: %w", err)
		}
		if lastRun != nil {
			c.LastRun = *lastRun
		}
		if lastOK != nil {
			c.LastOK = *lastOK
		}
		c.LastDuration = time.Duration(ms) * time.Millisecond
		c.LastOutcome = metric.Outcome(outcome)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return out, nil
}

// Removed is what RemoveClient removed.
type Removed struct {
	Row    bool     // the clients row existed and was deleted
	Tables []string // the client's tables dropped, by name
}

// RemoveClient drops the client's tables in the samples database (every
// table marked as the client's, including those of groups this pggraph no
// longer has) and deletes its clients row. It first takes the client's run
// lock, so it fails with metric.ErrLocked while a collection runs. The
// two databases commit one after the other: tables first, so a failure
// between leaves a row without tables, which the next run recreates.
// Web users of the client in pggraph_users are not touched.
func (s *Store) RemoveClient(ctx context.Context, prefix string) (Removed, error) {
	var r Removed
	if err := CheckPrefix(prefix); err != nil {
		return r, fmt.Errorf("remove client: %w", err)
	}
	unlock, err := s.Lock(ctx, prefix)
	if err != nil {
		return r, fmt.Errorf("remove client %s: %w", prefix, err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(ctx, ddlTimeout)
	defer cancel()

	stx, err := s.samples.Begin(ctx)
	if err != nil {
		return r, fmt.Errorf("remove client %s: %w", prefix, err)
	}
	defer stx.Rollback(context.WithoutCancel(ctx))
	rows, err := stx.Query(ctx, `
SELECT c.relname::text FROM pg_class c
WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
  AND c.relkind IN ('r', 'p')
  AND starts_with(coalesce(obj_description(c.oid, 'pg_class'), ''), $1)
ORDER BY 1`, commentMark(prefix))
	if err != nil {
		return r, fmt.Errorf("remove client %s: find tables: %w", prefix, err)
	}
	r.Tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return r, fmt.Errorf("remove client %s: find tables: %w", prefix, err)
	}
	if len(r.Tables) > 0 {
		if _, err := stx.Exec(ctx, `DROP TABLE `+strings.Join(idents(r.Tables...), ", ")); err != nil {
			return Removed{}, fmt.Errorf("remove client %s: drop tables: %w", prefix, err)
		}
	}
	conn, err := s.clients(ctx)
	if err != nil {
		return Removed{}, fmt.Errorf("remove client %s: %w", prefix, err)
	}
	rowTx, err := conn.Begin(ctx)
	if err != nil {
		return Removed{}, fmt.Errorf("remove client %s: %w", prefix, err)
	}
	defer rowTx.Rollback(context.WithoutCancel(ctx))
	tag, err := rowTx.Exec(ctx, `DELETE FROM clients WHERE prefix = $1`, prefix)
	if err != nil {
		return Removed{}, fmt.Errorf("remove client %s: delete clients row: %w", prefix, err)
	}
	r.Row = tag.RowsAffected() > 0
	if !r.Row && len(r.Tables) == 0 {
		return Removed{}, fmt.Errorf("remove client %s: %w", prefix, ErrNoClient)
	}
	if err := stx.Commit(ctx); err != nil {
		return Removed{}, fmt.Errorf("remove client %s: commit drop tables: %w", prefix, err)
	}
	s.mu.Lock()
	delete(s.ensured, prefix)
	s.mu.Unlock()
	if err := rowTx.Commit(ctx); err != nil {
		return Removed{Tables: r.Tables}, fmt.Errorf("remove client %s: tables dropped, but commit delete clients row: %w", prefix, err)
	}
	return r, nil
}
