package collector

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/internal/testing/rig"
	"github.com/pggraph/pggraph/metric"
)

// TestReadNeeds reads a real server with groups whose queries need
// something: a group whose Needs is false or NULL is left out of the
// snapshot, as one too new for the server is; the others are read, in
// every database.
func TestReadNeeds(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	r := rig.StartTest(ctx, t, rig.Options{})
	if err := r.PG.Exec(ctx, "postgres", "CREATE DATABASE other"); err != nil {
		t.Fatal(err)
	}
	one := func(name string, scope metric.Scope, q metric.Query) metric.Group {
		q.SQL = `SELECT 'k'::text AS key, 'n'::text AS name, NULL::text AS parent, NULL::timestamptz AS stats_reset, 1 AS v`
		return metric.Group{Name: name, Scope: scope, Columns: []metric.Column{{Name: "v", Kind: metric.Gauge, Unit: metric.Count}}, Queries: []metric.Query{q}}
	}
	groups := []metric.Group{
		one("plain", metric.Server, metric.Query{MinVersion: 120000}),
		one("needs_true", metric.Server, metric.Query{MinVersion: 120000, Needs: "to_regclass('pg_class') IS NOT NULL"}),
		one("needs_false", metric.Server, metric.Query{MinVersion: 120000, Needs: "to_regclass('no_such_view') IS NOT NULL"}),
		one("needs_null", metric.Server, metric.Query{MinVersion: 120000, Needs: "NULL::boolean"}),
		one("too_new", metric.Server, metric.Query{MinVersion: 990000}),
		one("db_true", metric.Database, metric.Query{MinVersion: 120000, Needs: "current_setting('server_version_num')::int >= 120000"}),
		one("db_false", metric.Database, metric.Query{MinVersion: 120000, Needs: "false"}),
	}
	reader := Reader{
		Groups:    groups,
		Databases: []string{"postgres", "other"},
		Remote: RemoteFunc(func(ctx context.Context, db string) (*pgx.Conn, error) {
			cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d sslmode=disable", r.PG.Host, r.PG.Port))
			if err != nil {
				return nil, err
			}
			cfg.User, cfg.Password, cfg.Database = r.PG.MonitorUser, r.PG.MonitorPassword, db
			return pgx.ConnectConfig(ctx, cfg)
		}),
	}
	snap, err := reader.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for name, rows := range snap.Rows {
		got = append(got, fmt.Sprintf("%s:%d", name, len(rows)))
	}
	slices.Sort(got)
	if want := []string{"db_true:2", "needs_true:1", "plain:1"}; !slices.Equal(got, want) {
		t.Errorf("groups read (name:rows) %v, want %v", got, want)
	}
	if len(snap.Columns) != len(groups) {
		t.Errorf("snapshot names the columns of %d groups, want all %d", len(snap.Columns), len(groups))
	}

	t.Run("a failing Needs names the groups", func(t *testing.T) {
		reader.Groups = []metric.Group{one("broken", metric.Server, metric.Query{MinVersion: 120000, Needs: "no_such_function()"})}
		_, err := reader.Read(ctx)
		if err == nil || !containsAll(err.Error(), "check what broken need", "no_such_function") {
			t.Errorf("err = %v", err)
		}
	})
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
