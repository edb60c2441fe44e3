package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// column is one column of a client table: its name and its definition
// (type and constraints) as in CREATE TABLE and ADD COLUMN.
type column struct{ name, def string }

// tableDef is one table of a client as this pggraph wants it.
type tableDef struct {
	name    string
	what    string // the comment after the client mark
	columns []column
	tail    []string // table constraints
	with    string   // storage parameters, "" for none
	brin    bool     // a BRIN index on ts, for retention deletes
	after   []string // statements after CREATE TABLE; %s is the table
}

const (
	float8 = "double precision"
	// objectFill leaves room on each page of the objects table so the
	// per-run update of last_seen stays a HOT update.
	objectFill = "fillfactor = 70"
)

// tableDefs returns every table of a client: the objects, the state, the
// events, and per group the samples, hourly and daily tables. lz4 says whether the
// server can compress with lz4.
func (s *Store) tableDefs(t tables, lz4 bool) []tableDef {
	// The snapshot (megabytes for a large client, rewritten every run) is
	// compressed with lz4 where the server has it, else stored as is:
	// pglz, the default, costs more time than the write it saves.
	snapshot := tableDef{
		name: t.state(), what: "the last snapshot, where the next run starts",
		columns: []column{
			{"id", "integer PRIMARY KEY CHECK (id = 1)"},
			{"taken", "timestamptz NOT NULL"},
			{"snapshot", "bytea COMPRESSION lz4 NOT NULL"},
		},
	}
	if !lz4 {
		snapshot.columns[2].def = "bytea NOT NULL"
		snapshot.after = []string{"ALTER TABLE %s ALTER COLUMN snapshot SET STORAGE EXTERNAL"}
	}
	defs := []tableDef{
		{
			name: t.object(), what: "objects of every group (a rename keeps the id)", with: objectFill,
			columns: []column{
				{"id", "serial PRIMARY KEY"},
				{"grp", "text NOT NULL"},
				{"dbid", "oid NOT NULL"},
				{"key", "text NOT NULL"},
				{"name", "text"},
				{"parent", "text"},
				{"first_seen", "timestamptz NOT NULL"},
				{"last_seen", "timestamptz NOT NULL"},
			},
			tail: []string{"UNIQUE (grp, dbid, key)"},
		},
		snapshot,
		eventTable(t),
	}
	for _, g := range s.groups {
		raw := []column{{"ts", "timestamptz NOT NULL"}, {"object", "integer NOT NULL"}, {"seconds", float8}}
		roll := append(slices.Clone(raw), column{"n", "integer NOT NULL DEFAULT 0"})
		for _, c := range g.Columns {
			raw = append(raw, column{c.Name, float8})
			roll = append(roll, column{c.Name, float8}, column{c.Name + "_min", float8}, column{c.Name + "_max", float8})
		}
		pk := []string{"PRIMARY KEY (object, ts)"}
		defs = append(defs,
			tableDef{name: t.raw(g.Name), what: "samples of group " + g.Name, columns: raw, tail: pk, brin: true},
			tableDef{name: t.hour(g.Name), what: "hourly rollups of group " + g.Name, columns: roll, tail: pk, brin: true},
			tableDef{name: t.day(g.Name), what: "daily rollups of group " + g.Name, columns: roll, tail: pk, brin: true},
		)
	}
	if s.statements() {
		defs = append(defs, statementTableDefs(t)...)
	}
	return defs
}

// create returns the DDL that creates d for prefix.
func (d tableDef) create(prefix string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (\n", ident(d.name))
	var lines []string
	for _, c := range d.columns {
		lines = append(lines, "\t"+ident(c.name)+" "+c.def)
	}
	for _, t := range d.tail {
		lines = append(lines, "\t"+t)
	}
	b.WriteString(strings.Join(lines, ",\n") + "\n)")
	if d.with != "" {
		b.WriteString(" WITH (" + d.with + ")")
	}
	b.WriteString(";\n")
	if d.brin {
		// Unnamed: PostgreSQL picks a unique name within 63 bytes.
		fmt.Fprintf(&b, "CREATE INDEX ON %s USING brin (ts);\n", ident(d.name))
	}
	for _, a := range d.after {
		fmt.Fprintf(&b, a+";\n", ident(d.name))
	}
	fmt.Fprintf(&b, "COMMENT ON TABLE %s IS %s;\n", ident(d.name), quoteLiteral(comment(prefix, d.what)))
	return b.String()
}

// quoteLiteral quotes s as an SQL string literal (standard_conforming_strings).
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// plan is what EnsureClient would do for a client.
type plan struct {
	prefix    string
	schema    string
	lz4       bool       // the server compresses with lz4
	canCreate bool       // CREATE on the schema
	create    []tableDef // missing tables
	add       []addition // missing columns of existing tables
	notMine   []string   // existing tables to alter that this user does not own
}

// addition is the missing columns of one table.
type addition struct {
	table   string
	columns []column
}

func (p *plan) empty() bool { return len(p.create) == 0 && len(p.add) == 0 }

// ddl returns the statements that carry the plan out.
func (p *plan) ddl() string {
	var b strings.Builder
	for _, d := range p.create {
		b.WriteString(d.create(p.prefix))
	}
	for _, a := range p.add {
		var cols []string
		for _, c := range a.columns {
			cols = append(cols, "ADD COLUMN IF NOT EXISTS "+ident(c.name)+" "+c.def)
		}
		fmt.Fprintf(&b, "ALTER TABLE %s %s;\n", ident(a.table), strings.Join(cols, ", "))
	}
	return b.String()
}

// permitted fails when the plan needs privileges the user lacks.
func (p *plan) permitted(cc *pgx.ConnConfig) error {
	if len(p.create) > 0 && !p.canCreate {
		return fmt.Errorf("client %s: %d tables to create, but user %s may not create tables in schema %s of database %s",
			p.prefix, len(p.create), cc.User, p.schema, cc.Database)
	}
	if len(p.notMine) > 0 {
		return fmt.Errorf("client %s: columns to add to %s, but user %s does not own it", p.prefix, strings.Join(p.notMine, ", "), cc.User)
	}
	return nil
}

// plan compares the client's tables in the current schema with tableDefs:
// one catalog query. It fails when a table of the client's names exists
// without the client's comment: another client's, or not pggraph's.
func (s *Store) plan(ctx context.Context, q queryer, prefix string) (*plan, error) {
	defs := s.tableDefs(tables{prefix}, false) // the names and columns are the same with lz4
	names := make([]string, len(defs))
	for i, d := range defs {
		names[i] = d.name
	}
	rows, err := q.Query(ctx, `
SELECT s.name, s.can_create, s.lz4, s.version, t.relname, t.relkind, t.comment, t.mine, t.cols
FROM (SELECT current_schema() AS name,
             coalesce(has_schema_privilege(current_schema(), 'CREATE'), false) AS can_create,
             EXISTS (SELECT FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) AS lz4,
             current_setting('server_version_num')::int AS version) s
LEFT JOIN LATERAL (
	SELECT c.relname::text, c.relkind::text,
	       coalesce(obj_description(c.oid, 'pg_class'), '') AS comment,
	       pg_has_role(c.relowner, 'USAGE') AS mine,
	       coalesce(array_agg(a.attname::text) FILTER (WHERE a.attnum > 0 AND NOT a.attisdropped), '{}') AS cols
	FROM pg_class c
	JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = s.name
	LEFT JOIN pg_attribute a ON a.attrelid = c.oid
	WHERE c.relname = ANY($1)
	GROUP BY c.oid
) t ON true`, names)
	if err != nil {
		return nil, fmt.Errorf("read tables of client %s: %w", prefix, err)
	}
	type found struct {
		kind, comment string
		mine          bool
		cols          []string
	}
	have := map[string]found{}
	p := &plan{prefix: prefix}
	var (
		schemaName *string
		version    int
	)
	for rows.Next() {
		var (
			rel, kind, cmt *string
			mine           *bool
			cols           []string
		)
		if err := rows.Scan(&schemaName, &p.canCreate, &p.lz4, &version, &rel, &kind, &cmt, &mine, &cols); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read tables of client %s: %w", prefix, err)
		}
		if rel != nil {
			have[*rel] = found{*kind, *cmt, *mine, cols}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tables of client %s: %w", prefix, err)
	}
	if schemaName == nil {
		return nil, fmt.Errorf("client %s: no schema of search_path exists to hold its tables", prefix)
	}
	p.schema = *schemaName
	if version < minServerVersion {
		return nil, fmt.Errorf("client %s: the central PostgreSQL is version %d; pggraph needs %d or later", prefix, version/10000, minServerVersion/10000)
	}
	mark := commentMark(prefix)
	for _, d := range s.tableDefs(tables{prefix}, p.lz4) {
		f, ok := have[d.name]
		if !ok {
			p.create = append(p.create, d)
			continue
		}
		if (f.kind != "r" && f.kind != "p") || !strings.HasPrefix(f.comment, mark) {
			return nil, fmt.Errorf("client %s: %s.%s exists but is not this client's pggraph table (comment %q): another client's prefix may cover it; drop or rename it, or pick another prefix",
				prefix, p.schema, d.name, f.comment)
		}
		var missing []column
		for _, c := range d.columns {
			if !slices.Contains(f.cols, c.name) {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			p.add = append(p.add, addition{d.name, missing})
			if !f.mine {
				p.notMine = append(p.notMine, d.name)
			}
		}
	}
	return p, nil
}

// EnsureClient creates the client's tables in the samples database, or
// adds the columns a later pggraph brought, and does nothing when they
// are complete: one catalog query (none at all the second time in a
// Store). The DDL runs in a transaction of its own, serialised with
// every other EnsureClient of the database by an advisory lock, and waits
// at most 10 s for table locks (lock_timeout) behind readers.
//
// It refuses a table of the client's names that exists without the
// client's mark (its comment): prefixes may contain "_", so another
// client's tables, or the original pggraph's, can have the same names.
//
// The collector calls it through Begin; the installer calls it directly.
// Tables are owned by the connected user, which should be pggraph: the
// web role reads what pggraph creates (default privileges), not what
// other users create.
func (s *Store) EnsureClient(ctx context.Context, prefix string) error {
	if err := CheckPrefix(prefix); err != nil {
		return fmt.Errorf("ensure tables: %w", err)
	}
	s.mu.Lock()
	done := s.ensured[prefix]
	s.mu.Unlock()
	if done {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, ddlTimeout)
	defer cancel()
	p, err := s.plan(ctx, s.samples, prefix)
	if err != nil {
		return err
	}
	if !p.empty() {
		if err := s.apply(ctx, prefix); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.ensured[prefix] = true
	s.mu.Unlock()
	return nil
}

// apply plans again under the DDL lock and carries the plan out.
func (s *Store) apply(ctx context.Context, prefix string) error {
	return pgx.BeginFunc(ctx, s.samples, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '`+ddlLockWait+`'`); err != nil {
			return fmt.Errorf("create tables of client %s: %w", prefix, err)
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClass, ddlLockKey); err != nil {
			return fmt.Errorf("create tables of client %s: lock: %w", prefix, err)
		}
		p, err := s.plan(ctx, tx, prefix)
		if err != nil {
			return err
		}
		if p.empty() {
			return nil
		}
		if err := p.permitted(s.samples.Config()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, p.ddl()); err != nil {
			return fmt.Errorf("create tables of client %s: %w", prefix, err)
		}
		return nil
	})
}
