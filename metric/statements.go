package metric

import (
	"context"
	"slices"
	"strings"
)

// This file is the vocabulary of statement statistics (pg_stat_statements):
// one table of measures gives the columns of the statement group (its
// central tables, deltas, page columns and CSV) and, per server version,
// the SQL expression that reads each of them.
//
// Statements are not a group of Groups(): the collector reads them apart
// (the view covers every database, and only the statements that cost the
// most in an interval are stored, the rest summed into one row per
// database), but they are stored like one, as StatementGroup.

// StatementGroupName is the name of the statement group: its central
// tables are <prefix>_statement, _statement_hour and _statement_day.
const StatementGroupName = "statement"

// StatementOther is the key and name of the row that sums, per database
// and run, every statement not stored on its own.
const StatementOther = "other"

// Names, in a Snapshot's Rows, of what the collector read of
// pg_stat_statements: the entries (StatementRows: Database is the dbid,
// Key StatementKey.String, Values the measures' cumulative values) and
// one row about the view (StatementInfo: Key the database holding the
// extension, Name its schema, StatsReset pg_stat_statements_info's,
// Values [dealloc], NaN before 14). They are kept in the saved state only.
const (
	StatementRows = "pg_stat_statements"
	StatementInfo = "pg_stat_statements_info"
)

// measure is one column of the statement group and the SQL expression,
// over pg_stat_statements' row s, that reads it from each server version
// on (ascending; NULL where the version has no such value).
type measure struct {
	col   Column
	exprs []versionExpr
}

type versionExpr struct {
	min  int
	expr string
}

// measures is the table of statement measures.
func measures() []measure {
	same := func(name string, unit Unit, help string) measure {
		return measure{Column{Name: name, Kind: Counter, Unit: unit, Help: help}, []versionExpr{{120000, "s." + name}}}
	}
	return []measure{
		same("calls", Count, "Executions"),
		{Column{Name: "exec_time", Kind: Counter, Unit: Milliseconds, Help: "Time executing"},
			[]versionExpr{{120000, "s.total_time"}, {130000, "s.total_exec_time"}}},
		{Column{Name: "plan_time", Kind: Counter, Unit: Milliseconds, Help: "Time planning (13+, with pg_stat_statements.track_planning)"},
			[]versionExpr{{120000, "NULL::float8"}, {130000, "s.total_plan_time"}}},
		same("rows", Count, "Rows returned or affected"),
		same("shared_blks_hit", Blocks, "Shared blocks found in the buffer cache"),
		same("shared_blks_read", Blocks, "Shared blocks read from disk (or the OS cache)"),
		same("shared_blks_dirtied", Blocks, "Shared blocks dirtied"),
		same("shared_blks_written", Blocks, "Shared blocks written"),
		same("temp_blks_read", Blocks, "Temporary blocks read"),
		same("temp_blks_written", Blocks, "Temporary blocks written"),
		{Column{Name: "blk_read_time", Kind: Counter, Unit: Milliseconds, Help: "Time reading blocks (track_io_timing; shared and local from 17)"},
			[]versionExpr{{120000, "s.blk_read_time"}, {170000, "s.shared_blk_read_time + s.local_blk_read_time"}}},
		{Column{Name: "blk_write_time", Kind: Counter, Unit: Milliseconds, Help: "Time writing blocks (track_io_timing; shared and local from 17)"},
			[]versionExpr{{120000, "s.blk_write_time"}, {170000, "s.shared_blk_write_time + s.local_blk_write_time"}}},
		{Column{Name: "wal_bytes", Kind: Counter, Unit: Bytes, Help: "WAL generated (13+)"},
			[]versionExpr{{120000, "NULL::numeric"}, {130000, "s.wal_bytes"}}},
	}
}

// toplevel is whether an entry is of a top-level statement (14+; before,
// only top-level statements are tracked by default, and the column is
// true).
var toplevel = []versionExpr{{120000, "true"}, {140000, "s.toplevel"}}

// StatementGroup is the group statements are stored as (scope Database:
// each object is in its database). Its objects are the statements kept
// on their own, keyed by StatementKey.String and named by their queryid
// in decimal (one queryid may have several objects: one per user and
// toplevel), and one object StatementOther per database. It has no
// Queries: StatementQueries reads it.
func StatementGroup() Group {
	g := Group{
		Name:  StatementGroupName,
		Help:  "Per statement (pg_stat_statements, in any one database): the statements that cost the most in each interval, the rest summed per database",
		Scope: Database,
	}
	for _, m := range measures() {
		g.Columns = append(g.Columns, m.col)
	}
	return g
}

// StoredGroups is every group the central store keeps: Groups, which the
// collector reads row by row, and StatementGroup.
func StoredGroups() []Group {
	return append(Groups(), StatementGroup())
}

// ExtensionSchema is the placeholder, in StatementQueries' SQL, for the
// quoted schema of the pg_stat_statements extension (as extension
// scripts write it).
const ExtensionSchema = "@extschema@"

// StatementNeeds finds pg_stat_statements on a connection: one row, the
// extension's schema, when it is created in the connection's database
// and loaded (shared_preload_libraries); no row otherwise.
const StatementNeeds = `SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pg_stat_statements'
AND current_setting('shared_preload_libraries') ~ '(^|[\s,"])pg_stat_statements([\s,"]|$)'`

// StatementQueries returns, per minimum server_version_num (ascending),
// the SQL reading every entry of pg_stat_statements without its text:
// columns dbid (oid), userid (oid), queryid (int8), toplevel (bool),
// then one per StatementGroup column, by name. Entries without a
// queryid (another user's, without pg_read_all_stats) are left out.
func StatementQueries() []Query {
	ms := measures()
	var versions []int
	for _, e := range toplevel {
		versions = append(versions, e.min)
	}
	for _, m := range ms {
		for _, e := range m.exprs {
			versions = append(versions, e.min)
		}
	}
	slices.Sort(versions)
	versions = slices.Compact(versions)
	var out []Query
	for _, v := range versions {
		sel := []string{"s.dbid", "s.userid", "s.queryid", at(toplevel, v) + " AS toplevel"}
		for _, m := range ms {
			sel = append(sel, "("+at(m.exprs, v)+")::float8 AS "+m.col.Name)
		}
		out = append(out, Query{MinVersion: v, SQL: "SELECT " + strings.Join(sel, ", ") +
			"\nFROM " + ExtensionSchema + ".pg_stat_statements(false) s\nWHERE s.queryid IS NOT NULL"})
	}
	return out
}

// at is the expression of exprs for version v: the one with the highest
// min <= v.
func at(exprs []versionExpr, v int) string {
	expr := "NULL"
	for _, e := range exprs {
		if e.min <= v {
			expr = e.expr
		}
	}
	return expr
}

// StatementSQL returns StatementQueries' SQL for a server version, and
// false below MinServerVersion.
func StatementSQL(version int) (string, bool) {
	return Group{Queries: StatementQueries()}.SQL(version)
}

// StatementInfoSQL reads pg_stat_statements_info (14+): dealloc, the
// entries evicted at pg_stat_statements.max since the last reset, and
// stats_reset, the time of the last full reset. Before 14 it returns
// NULLs.
func StatementInfoSQL(version int) string {
	if version < 140000 {
		return "SELECT NULL::float8 AS dealloc, NULL::timestamptz AS stats_reset"
	}
	return "SELECT dealloc::float8, stats_reset FROM " + ExtensionSchema + ".pg_stat_statements_info"
}

// StatementTextSQL reads the texts of the entries whose queryid is in
// $1 (int8[]): columns dbid, queryid, query.
const StatementTextSQL = "SELECT s.dbid, s.queryid, s.query FROM " + ExtensionSchema +
	".pg_stat_statements(true) s WHERE s.queryid = ANY($1::int8[])"

// StatementRank is one measure statements are ranked by to choose those
// stored on their own: the sum of some of StatementGroup's columns.
type StatementRank struct {
	Name    string   // total, calls, io, temp
	Columns []string // summed
}

// StatementRanks are the measures a run keeps each database's top
// statements by ([pggraph] top_queries each): total time (execution and
// planning), calls, blocks read and temporary blocks written.
func StatementRanks() []StatementRank {
	return []StatementRank{
		{Name: "total", Columns: []string{"exec_time", "plan_time"}},
		{Name: "calls", Columns: []string{"calls"}},
		{Name: "io", Columns: []string{"shared_blks_read"}},
		{Name: "temp", Columns: []string{"temp_blks_written"}},
	}
}

// StatementKey identifies one statement's text: its database and queryid.
type StatementKey struct {
	Database uint32
	QueryID  int64
}

// StatementText is a statement's text, as stored: trimmed to
// [pggraph] query_text_max characters.
type StatementText struct {
	StatementKey
	Text string
}

// StatementStatus is what a run did with statement statistics.
type StatementStatus string

// Statuses of a run's statements.
const (
	StatementsCollected StatementStatus = "collected" // samples written
	StatementsPrimed    StatementStatus = "primed"    // first read: nothing to compare with
	StatementsReset     StatementStatus = "reset"     // reset or restart in the interval: a gap
	StatementsAbsent    StatementStatus = "absent"    // the extension is not created or not loaded
	StatementsOff       StatementStatus = "off"       // [remote] queries = no
)

// StatementRun is what the store keeps of a run's statements.
type StatementRun struct {
	Status StatementStatus
	// Evicted is how many entries pg_stat_statements evicted at
	// pg_stat_statements.max in the interval (14+); NaN when unknown.
	Evicted float64
	// Database is where the extension was found ("" when absent).
	Database string
	// Stored are the statements the run stored on their own (their
	// texts' last use).
	Stored []StatementKey
	// Texts are the texts to add (statements whose text the store did
	// not have). With KeepTexts false, the store holds no text at all.
	Texts     []StatementText
	KeepTexts bool
}

// StatementTx is the part of a run's transaction that keeps statement
// texts and the run's statement status. internal/store's Tx implements
// it; the collector uses it when the Tx it got does.
type StatementTx interface {
	// MissingTexts returns those of keys whose text the store lacks.
	MissingTexts(ctx context.Context, keys []StatementKey) ([]StatementKey, error)
	// WriteStatements records run at the time of the snapshot Write
	// wrote (after Write).
	WriteStatements(ctx context.Context, run StatementRun) error
}
