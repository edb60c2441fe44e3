// Package centraltest sets the test rig's central PostgreSQL up the way
// pggraph-admin setup does, for the tests of programs that use it. (The
// store's own tests cannot use it: store imports nothing of the rig.)
package centraltest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/internal/testing/rig"
)

// setupTimeout bounds the setup of the central databases.
const setupTimeout = time.Minute

// Setup creates the central databases and roles on r's central cluster as
// its superuser (store.Setup), and gives role pggraph the password
// ownerPassword.
func Setup(ctx context.Context, r *rig.Rig, ownerPassword string) error {
	srv := store.Server{
		Params:   fmt.Sprintf("host=127.0.0.1 port=%d user=%s", r.Central.Port, r.Central.Superuser),
		Password: config.Secret(r.Central.SuperPassword),
	}
	if _, err := store.Setup(ctx, srv, "pggraph", nil); err != nil {
		return fmt.Errorf("set up central databases: %w", err)
	}
	lit := "'" + ownerPassword + "'"
	if err := r.Central.Exec(ctx, "postgres", "ALTER ROLE pggraph PASSWORD "+lit); err != nil {
		return fmt.Errorf("set pggraph's password: %w", err)
	}
	return nil
}

// Once runs Setup once per test binary; its zero value is ready. A failed
// setup fails every test that asks, not only the first.
type Once struct {
	once sync.Once
	err  error
}

// Do sets r's central cluster up on the first call and returns r; it fails
// the test (never skips it) when the setup failed.
func (o *Once) Do(tb testing.TB, r *rig.Rig, ownerPassword string) *rig.Rig {
	tb.Helper()
	o.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		o.err = Setup(ctx, r, ownerPassword)
	})
	if o.err != nil {
		tb.Fatal(o.err)
	}
	return r
}
