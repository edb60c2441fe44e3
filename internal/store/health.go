package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/metric"
	schema "github.com/pggraph/pggraph/sql"
)

// Clients is the pggraph_clients database as the all-clients page reads
// it. It holds one connection; like Store it is for one goroutine at a
// time. pggraph_web may read it.
type Clients struct {
	conn *pgx.Conn
	srv  Server
}

// OpenClients connects to pggraph_clients on the server srv reaches.
func OpenClients(ctx context.Context, srv Server) (*Clients, error) {
	conn, err := dial(ctx, srv, schema.Clients)
	if err != nil {
		return nil, err
	}
	return &Clients{conn: conn, srv: srv}, nil
}

// Close closes the connection, or keeps it for reuse (Server.Idle).
func (c *Clients) Close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	if err := hangUp(ctx, c.srv, c.conn.Config().Database, c.conn); err != nil {
		return fmt.Errorf("close %s connection: %w", schema.Clients, err)
	}
	return nil
}

// Health is one client's row of the all-clients page: its clients row
// (Created and LastSamples not read) and how many of its alerts are in
// each state that is not OK.
type Health struct {
	Client
	Critical, Warning, Unknown int
}

// State is the client's: its worst alert, or UNKNOWN when it has none
// but was never collected.
func (h Health) State() metric.State {
	switch {
	case h.Critical > 0:
		return metric.StateCritical
	case h.Warning > 0:
		return metric.StateWarning
	case h.Unknown > 0 || h.LastRun.IsZero():
		return metric.StateUnknown
	}
	return metric.StateOK
}

// Health returns every client of the clients table with its active
// alerts counted, worst first (WorstFirst), in one query.
func (c *Clients) Health(ctx context.Context) ([]Health, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	rows, err := c.conn.Query(ctx, `
SELECT c.prefix, c.title, coalesce(c.www_path, ''), c.last_run, coalesce(c.last_duration_ms, 0),
       coalesce(c.last_outcome, ''), coalesce(c.last_error, ''), c.last_ok,
       count(*) FILTER (WHERE a.state = 'CRITICAL'), count(*) FILTER (WHERE a.state = 'WARNING'),
       count(*) FILTER (WHERE a.state = 'UNKNOWN')
FROM clients c LEFT JOIN alert_state a ON a.prefix = c.prefix AND a.state <> 'OK'
GROUP BY c.prefix`)
	if err != nil {
		return nil, fmt.Errorf("read clients' health: %w", err)
	}
	defer rows.Close()
	var out []Health
	for rows.Next() {
		var (
			h               Health
			lastRun, lastOK *time.Time
			ms              int64
			outcome         string
		)
		if err := rows.Scan(&h.Prefix, &h.Title, &h.WWWPath, &lastRun, &ms, &outcome, &h.LastError, &lastOK,
			&h.Critical, &h.Warning, &h.Unknown); err != nil {
			return nil, fmt.Errorf("read clients' health: %w", err)
		}
		if lastRun != nil {
			h.LastRun = *lastRun
		}
		if lastOK != nil {
			h.LastOK = *lastOK
		}
		h.LastDuration = time.Duration(ms) * time.Millisecond
		h.LastOutcome = metric.Outcome(outcome)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read clients' health: %w", err)
	}
	WorstFirst(out)
	return out, nil
}

// WorstFirst sorts clients by state, worst first; within a state by
// more critical, then warning, then unknown alerts, then the oldest last
// successful collection, then prefix.
func WorstFirst(hs []Health) {
	slices.SortFunc(hs, func(a, b Health) int {
		return cmp.Or(
			cmp.Compare(b.State(), a.State()),
			cmp.Compare(b.Critical, a.Critical),
			cmp.Compare(b.Warning, a.Warning),
			cmp.Compare(b.Unknown, a.Unknown),
			a.LastOK.Compare(b.LastOK),
			cmp.Compare(a.Prefix, b.Prefix),
		)
	})
}
