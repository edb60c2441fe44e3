package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	schema "github.com/pggraph/pggraph/sql"
)

// maintenanceDB is the database Setup connects to first, as createdb does.
const maintenanceDB = "postgres"

// Setup creates whatever is missing of pggraph's central databases on the
// server srv reaches, and applies pending schema versions; it is safe to
// run any time, and a second run changes nothing. In order:
//
//   - roles pggraph (owner of everything; the collector's and installer's
//     login) and pggraph_web (the CGI's and Apache's login), both LOGIN
//     without a password;
//   - when the connected user is not a superuser, membership in pggraph
//     for it (it needs that to create databases owned by pggraph and to
//     act as pggraph), granted through CREATEROLE;
//   - databases samplesDB ("" means "pggraph"), pggraph_clients and
//     pggraph_users, owned by pggraph;
//   - in each database, the pending migrations of package schema (sql/),
//     in one transaction per database, as role pggraph (SET ROLE), so
//     pggraph owns what they create.
//
// The connected user must be a superuser, or have CREATEROLE (to create
// the roles and grant itself pggraph) and CREATEDB. Once everything
// exists, pggraph itself may run Setup to apply new schema versions.
//
// report receives one short line per step (nil discards them), also
// before a failure. changed is false when there was nothing to do.
func Setup(ctx context.Context, srv Server, samplesDB string, report func(line string)) (changed bool, err error) {
	if samplesDB == "" {
		samplesDB = schema.Samples
	}
	if report == nil {
		report = func(string) {}
	}
	dbs := []struct{ name, kind string }{
		{samplesDB, schema.Samples}, {schema.Clients, schema.Clients}, {schema.Users, schema.Users},
	}
	switch samplesDB {
	case maintenanceDB, "template0", "template1", schema.Clients, schema.Users:
		return false, fmt.Errorf("samples database %s: pick a database of its own", samplesDB)
	}
	admin, err := dial(ctx, srv, maintenanceDB)
	if err != nil {
		return false, err
	}
	defer admin.Close(context.WithoutCancel(ctx))

	qctx, cancel := context.WithTimeout(ctx, ddlTimeout)
	defer cancel()
	var (
		user          string
		super         bool
		serverVersion int
	)
	if err := admin.QueryRow(qctx, `
SELECT current_user::text, rolsuper, current_setting('server_version_num')::int
FROM pg_roles WHERE rolname = current_user`).Scan(&user, &super, &serverVersion); err != nil {
		return false, fmt.Errorf("read role of %s: %w", admin.Config().User, err)
	}
	if serverVersion < minServerVersion {
		return false, fmt.Errorf("postgresql %s is version %d: pggraph needs %d or later", where(admin.Config()), serverVersion/10000, minServerVersion/10000)
	}

	var created []string
	for _, role := range []string{schema.Owner, schema.WebRole} {
		var exists bool
		if err := admin.QueryRow(qctx, `SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)`, role).Scan(&exists); err != nil {
			return changed, fmt.Errorf("look up role %s: %w", role, err)
		}
		if exists {
			report("role " + role + ": exists")
			continue
		}
		if _, err := admin.Exec(qctx, `CREATE ROLE `+ident(role)+` LOGIN`); err != nil {
			return changed, fmt.Errorf("create role %s as %s: %w%s", role, user, err, needs(super, "CREATEROLE"))
		}
		changed = true
		created = append(created, role)
		report("role " + role + ": created (LOGIN, no password)")
	}

	if !super {
		// PostgreSQL 16 split membership into INHERIT, SET and ADMIN; SET
		// ROLE and CREATE DATABASE … OWNER need SET.
		priv := "MEMBER"
		if serverVersion >= 160000 {
			priv = "SET"
		}
		var member bool
		if err := admin.QueryRow(qctx, `SELECT pg_has_role(current_user, $1, $2)`, schema.Owner, priv).Scan(&member); err != nil {
			return changed, fmt.Errorf("check membership of %s in %s: %w", user, schema.Owner, err)
		}
		if !member {
			if _, err := admin.Exec(qctx, `GRANT `+ident(schema.Owner)+` TO CURRENT_USER`); err != nil {
				return changed, fmt.Errorf("grant role %s to %s: %w%s", schema.Owner, user, err, needs(super, "CREATEROLE"))
			}
			changed = true
			report("role " + schema.Owner + ": granted to " + user + " (to create and own its databases)")
		}
	}

	for _, db := range dbs {
		var owner *string
		err := admin.QueryRow(qctx, `SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1`, db.name).Scan(&owner)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if _, err := admin.Exec(qctx, `CREATE DATABASE `+ident(db.name)+` OWNER `+ident(schema.Owner)); err != nil {
				return changed, fmt.Errorf("create database %s as %s: %w%s", db.name, user, err, needs(super, "CREATEDB"))
			}
			changed = true
			report("database " + db.name + ": created (owner " + schema.Owner + ")")
		case err != nil:
			return changed, fmt.Errorf("look up database %s: %w", db.name, err)
		case owner == nil || *owner != schema.Owner:
			o := "nobody"
			if owner != nil {
				o = *owner
			}
			return changed, fmt.Errorf("database %s is owned by %s, not %s: ALTER DATABASE %s OWNER TO %s",
				db.name, o, schema.Owner, ident(db.name), ident(schema.Owner))
		default:
			report("database " + db.name + ": exists")
		}
	}

	for _, db := range dbs {
		applied, err := migrateDatabase(ctx, srv, db.name, db.kind, report)
		changed = changed || applied
		if err != nil {
			return changed, err
		}
	}
	if len(created) > 0 {
		report("set passwords in psql: \\password " + strings.Join(created, ", \\password "))
		report("  (or ALTER ROLE … PASSWORD, or use peer authentication and ~/.pgpass)")
	}
	if !changed {
		report("nothing to do")
	}
	return changed, nil
}

// needs is a hint for a permission error: what the role lacked.
func needs(super bool, attr string) string {
	if super {
		return ""
	}
	return " (run setup as a superuser or a role with " + attr + ")"
}

// migrateDatabase connects to the database and applies its pending
// migrations; applied is true when it applied any.
func migrateDatabase(ctx context.Context, srv Server, name, kind string, report func(string)) (applied bool, err error) {
	conn, err := dial(ctx, srv, name)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	done, v, err := migrate(ctx, conn, kind)
	for _, m := range done {
		report(fmt.Sprintf("%s: applied %s (version %d)", name, m, m.Version))
	}
	if err != nil {
		return false, fmt.Errorf("migrate database %s: %w", name, err)
	}
	if len(done) == 0 {
		report(fmt.Sprintf("%s: up to date (version %d)", name, v))
	}
	return len(done) > 0, nil
}

// migrate applies the pending migrations of kind to the database on conn,
// in one transaction, as role schema.Owner, holding a transaction-level
// advisory lock so that two setups do not race. It returns the migrations
// applied (only once committed) and the version the database is at.
func migrate(ctx context.Context, conn *pgx.Conn, kind string) (done []schema.Migration, v int, err error) {
	ms, err := schema.Migrations(kind)
	if err != nil {
		return nil, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, ddlTimeout)
	defer cancel()
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL ROLE `+ident(schema.Owner)); err != nil {
			return fmt.Errorf("act as role %s: %w", schema.Owner, err)
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClass, migrateLockKey); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&exists); err != nil {
			return err
		}
		if exists {
			if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v); err != nil {
				return fmt.Errorf("read schema_version: %w", err)
			}
		} else if _, err := tx.Exec(ctx, `
CREATE TABLE schema_version (
	version int PRIMARY KEY,
	name    text NOT NULL,
	applied timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return fmt.Errorf("create schema_version: %w", err)
		}
		if v > len(ms) {
			return fmt.Errorf("version %d is newer than this pggraph's %d: upgrade pggraph", v, len(ms))
		}
		for _, m := range ms[v:] {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply %s: %w", m, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
				return fmt.Errorf("record %s: %w", m, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, v, err
	}
	return ms[v:], len(ms), nil
}
