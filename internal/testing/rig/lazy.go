package rig

import (
	"context"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds a Lazy rig's start, which may include installing the
// initdb template on a new machine.
const startTimeout = 2 * time.Minute

// Lazy is one rig shared by a package's tests, started on first use so
// that tests that do not need it do not pay for it. Declare one per test
// package and Close it from TestMain after m.Run. The zero value starts a
// rig with zero Options.
type Lazy struct {
	Options Options

	once sync.Once
	rig  *Rig
	err  error
}

// Get returns the rig, starting it on the first call. A rig that cannot
// start fails the test (it never skips).
func (l *Lazy) Get(tb testing.TB) *Rig {
	tb.Helper()
	l.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		l.rig, l.err = Start(ctx, l.Options)
	})
	if l.err != nil {
		tb.Fatalf("start rig (PostgreSQL + sshd): %v", l.err)
	}
	return l.rig
}

// Close stops the rig if it was started.
func (l *Lazy) Close() error {
	if l.rig == nil {
		return nil
	}
	return l.rig.Close()
}
