package rig

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/internal/config"
)

// TwinConfig returns the config.ini of a client whose install directory
// is dir and table prefix is prefix, with the central database of local
// ([local]; its Prefix is set to prefix), reaching the rig's PG as its
// monitor role through the twin tunnel: the Bastion, then the DBHost,
// with Keys.ED25519 and KnownHosts, and a delay of 5 s. Every database of
// PG is read. The caller may change it before writing it with
// config.Config.Write. The rig needs Central for local to point at it;
// any central server will do.
func (r *Rig) TwinConfig(dir, prefix string, local config.Local) *config.Config {
	c := config.Default()
	c.Install = config.Install{Directory: dir, WWWPath: "pggraph/" + filepath.Base(dir), Title: prefix + " Ltd"}
	local.Prefix = prefix
	c.Local = local
	c.Remote.User = r.PG.MonitorUser
	c.Remote.Password = config.Secret(r.PG.MonitorPassword)
	c.PGGraph.Delay = 5 * time.Second
	c.SSH = config.SSH{
		User: r.User, Keyfile: r.Keys.ED25519, KnownHosts: r.KnownHosts,
		Server: "127.0.0.1", Port: r.Bastion.Port, TwinTunnel: true, SecondServer: r.DBHost.Addr,
		BindAddress: "127.0.0.1", BindPort: r.PG.Port,
	}
	return c
}

// ExecFlushed runs stmts in database as the superuser, one at a time in
// one session (so CREATE DATABASE may be one of them), then makes that
// session report its statistics (pg_stat_force_next_flush) and waits
// until it has: the counters the statements moved are visible to the
// next reader of pg_stat_*, as a collector test needs.
func (p *Postgres) ExecFlushed(ctx context.Context, database string, stmts ...string) error {
	conn, err := pgx.Connect(ctx, p.ConnString(database))
	if err != nil {
		return fmt.Errorf("connect to postgres %s database %s: %w", p.name, database, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// Statistics are reported when a transaction ends and the session is
	// idle: the SELECT 1 after the flush request is that moment.
	for _, s := range append(stmts, "SELECT pg_stat_force_next_flush()", "SELECT 1") {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("exec on postgres %s database %s: %.200s: %w", p.name, database, s, err)
		}
	}
	return nil
}
