package store

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	schema "github.com/pggraph/pggraph/sql"
)

// TestIdle: a Users closed over a Server with an Idle leaves its
// connection for the next one (the same backend), unless it is in a
// transaction, the Idle is full, or the connection has been idle too
// long or was ended by the server; Idle.Close ends what it keeps.
func TestIdle(t *testing.T) {
	r := central(t)
	ctx := t.Context()
	super := superConn(t, "postgres")
	type step struct {
		name  string
		prep  func(t *testing.T, u *Users, idle *Idle) // before Close
		later func(idle *Idle)                         // between Close and the next open
		same  bool                                     // the next open gets the same backend
	}
	for _, tc := range []step{
		{name: "clean", same: true},
		{name: "in a transaction", prep: func(t *testing.T, u *Users, _ *Idle) {
			if _, err := u.conn.Exec(ctx, "BEGIN"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "idle too long", later: func(idle *Idle) {
			now := time.Now().Add(2 * time.Minute)
			idle.now = func() time.Time { return now }
		}},
		{name: "ended by the server", prep: func(t *testing.T, u *Users, _ *Idle) {
			pid := u.conn.PgConn().PID()
			if _, err := super.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
				t.Fatal(err)
			}
			// Gone from pg_stat_activity: its goodbye is on the socket.
			waitGone(t, super, pid)
		}},
		{name: "no room", prep: func(t *testing.T, _ *Users, idle *Idle) {
			idle.max = 0
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idle := NewIdle(2, time.Minute)
			defer idle.Close(context.Background())
			srv := superServer(r.Central)
			srv.Idle = idle
			u, err := OpenUsers(ctx, srv)
			if err != nil {
				t.Fatal(err)
			}
			pid := u.conn.PgConn().PID()
			if tc.prep != nil {
				tc.prep(t, u, idle)
			}
			if err := u.Close(ctx); err != nil && tc.name != "ended by the server" {
				t.Fatal(err)
			}
			if tc.later != nil {
				tc.later(idle)
			}
			again, err := OpenUsers(ctx, srv)
			if err != nil {
				t.Fatal(err)
			}
			defer again.Close(ctx)
			var backend uint32
			if err := again.conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
				t.Fatal(err)
			}
			if (backend == pid) != tc.same {
				t.Errorf("the next open's backend is %d, the first's %d: want same = %v", backend, pid, tc.same)
			}
		})
	}

	// Prune ends those idle too long, Close all the others.
	idle := NewIdle(2, time.Minute)
	srv := superServer(r.Central)
	srv.Idle = idle
	var pids []uint32
	var open []*Users
	for range 2 {
		u, err := OpenUsers(ctx, srv)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, u)
		pids = append(pids, u.conn.PgConn().PID())
	}
	if err := open[0].Close(ctx); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Minute)
	idle.now = func() time.Time { return later }
	if err := open[1].Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := idle.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	waitGone(t, super, pids[0])
	if n := len(idle.conns[idleKey(srv, schema.Users)]); n != 1 {
		t.Errorf("after Prune %d kept, want 1", n)
	}
	if err := idle.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitGone(t, super, pids[1])
}

// TestQuietNeverWaits: checking a kept connection returns at once even
// while a reader holds its socket, as pgx's background reader does after
// a slow write until the server speaks; a check that read would wait
// with it, as long as the connection stays idle.
func TestQuietNeverWaits(t *testing.T) {
	r := central(t)
	u, err := OpenUsers(t.Context(), superServer(r.Central))
	if err != nil {
		t.Fatal(err)
	}
	defer u.conn.Close(context.Background()) // ends the reader too
	reading := make(chan struct{})
	go func() {
		close(reading)
		var b [1]byte
		u.conn.PgConn().Conn().Read(b[:])
	}()
	<-reading
	time.Sleep(50 * time.Millisecond) // the reader is in its Read
	done := make(chan bool, 1)
	go func() { done <- quiet(u.conn) }()
	select {
	case ok := <-done:
		if !ok {
			t.Errorf("quiet = false for an idle connection")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("quiet waited for the other reader")
	}
}

// waitGone waits up to 5 s for backend pid to leave pg_stat_activity.
func waitGone(t *testing.T, super *pgx.Conn, pid uint32) {
	t.Helper()
	var alive int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err := super.QueryRow(t.Context(), "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid).Scan(&alive); err != nil {
			t.Fatal(err)
		}
		if alive == 0 {
			return
		}
	}
	t.Fatalf("backend %d still connected", pid)
}
