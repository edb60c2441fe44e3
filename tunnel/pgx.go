package tunnel

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/internal/config"
)

// ConnConfig returns a pgx configuration that reaches the tunnel's target
// through the chain (no local port is opened): host and port are the
// target's, DialFunc is the tunnel's DialContext and host names are resolved
// at the far end. An empty password leaves pgx to ~/.pgpass. Other libpq
// settings (sslmode, application_name, …) come from the PG* environment as
// with psql.
func (t *Tunnel) ConnConfig(user string, password config.Secret, database string) (*pgx.ConnConfig, error) {
	host, port, err := net.SplitHostPort(t.cfg.Target)
	if err != nil {
		return nil, fmt.Errorf("postgresql address %q: %w", t.cfg.Target, err)
	}
	dsn := strings.Join([]string{
		"host=" + dsnQuote(host),
		"port=" + dsnQuote(port),
		"user=" + dsnQuote(user),
		"dbname=" + dsnQuote(database),
	}, " ")
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgresql settings: %w", err)
	}
	if pw := password.Reveal(); pw != "" {
		cc.Password = pw
	}
	if cc.RuntimeParams["application_name"] == "" {
		cc.RuntimeParams["application_name"] = "pggraph"
	}
	cc.DialFunc = t.DialContext
	cc.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
	cc.ConnectTimeout = t.cfg.Timeout
	return cc, nil
}

// Connect opens one PostgreSQL connection through the tunnel, bounded by the
// tunnel's timeout. The error names the user and database, never the
// password.
func (t *Tunnel) Connect(ctx context.Context, user string, password config.Secret, database string) (*pgx.Conn, error) {
	cc, err := t.ConnConfig(user, password, database)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("postgresql %s database %q as %q: %w", t.cfg.Target, database, user, err)
	}
	return conn, nil
}

// dsnQuote quotes a value for a libpq keyword/value connection string.
func dsnQuote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
