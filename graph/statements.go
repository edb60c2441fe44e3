package graph

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// statementGraphs are the graphs of one statement (scope Statement).
func statementGraphs() []spec {
	const g = metric.StatementGroupName
	return []spec{
		{name: "query_calls", title: "Calls", scope: Statement, unit: UnitPerSecond, group: g, lines: []line{
			total("calls", "calls"),
		}},
		{name: "query_mean", title: "Mean time per call", scope: Statement, unit: UnitMilliseconds, group: g, lines: []line{
			perCall("executing", "exec_time", "calls"),
			perCall("planning", "plan_time", "calls"),
		}},
		{name: "query_time", title: "Total time", scope: Statement, unit: UnitMsPerSec, group: g, stacked: true, lines: []line{
			total("executing", "exec_time"),
			total("planning", "plan_time"),
		}},
		{name: "query_blocks", title: "Blocks", scope: Statement, unit: UnitBlocksPerSec, group: g, lines: []line{
			total("shared hit", "shared_blks_hit"),
			total("shared read", "shared_blks_read"),
			total("shared dirtied", "shared_blks_dirtied"),
			total("shared written", "shared_blks_written"),
			total("temp read", "temp_blks_read"),
			total("temp written", "temp_blks_written"),
		}},
	}
}

// StatementSource is the central database as the queries pages read it;
// internal/store's *Store implements it.
type StatementSource interface {
	// Statements sums a database's statements over a range.
	Statements(ctx context.Context, q store.StatementQuery) ([]store.StatementStat, error)
	// StatementEvents says what the runs of a range did with
	// pg_stat_statements.
	StatementEvents(ctx context.Context, prefix string, from, to time.Time) (store.StatementEvents, error)
}

var _ StatementSource = (*store.Store)(nil)

// Statements returns the statements of database db with samples in r
// (all of them, the other statements' row last), or only statement id
// when id is not nil. An unknown database is ErrNotFound.
func Statements(ctx context.Context, src StatementSource, prefix, db string, id *int64, r Range) ([]store.StatementStat, error) {
	if !r.From.Before(r.To) {
		return nil, fmt.Errorf("list statements: %w: empty range", ErrBadRange)
	}
	if err := store.CheckPrefix(prefix); err != nil {
		return nil, fmt.Errorf("list statements: %w", err)
	}
	stats, err := src.Statements(ctx, store.StatementQuery{Prefix: prefix, Database: db, Resolution: resolution(r), From: r.From, To: r.To, QueryID: id})
	if errors.Is(err, store.ErrNoObject) {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return stats, err
}
