package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Idle keeps the connections a Store, Users or Clients closes, for the
// next one opened on the same server and database: a process that serves
// many requests (pggraph.cgi under FastCGI) logs in to PostgreSQL once,
// not once per request. Set it as a Server's Idle. Only connections in a
// clean state are kept: open, outside any transaction, holding no run
// lock. It is safe for concurrent use.
type Idle struct {
	max    int           // connections kept per server and database
	maxAge time.Duration // an idle connection older than this is closed
	now    func() time.Time

	mu    sync.Mutex
	conns map[string][]idleConn
}

// idleConn is a kept connection and when it was put back.
type idleConn struct {
	conn  *pgx.Conn
	since time.Time
}

// NewIdle keeps up to max connections per server and database, each for
// up to maxAge unused.
func NewIdle(max int, maxAge time.Duration) *Idle {
	return &Idle{max: max, maxAge: maxAge, now: time.Now, conns: map[string][]idleConn{}}
}

// idleKey names the server and database a connection was opened for.
func idleKey(srv Server, database string) string {
	return srv.Params + "\x00" + srv.Password.Reveal() + "\x00" + database
}

// take returns a kept connection of key that still works, nil when there
// is none; it closes the expired ones it finds.
func (p *Idle) take(ctx context.Context, key string) *pgx.Conn {
	for {
		p.mu.Lock()
		list := p.conns[key]
		if len(list) == 0 {
			p.mu.Unlock()
			return nil
		}
		c := list[len(list)-1]
		p.conns[key] = list[:len(list)-1]
		p.mu.Unlock()
		if p.fresh(c) && quiet(c.conn) {
			return c.conn
		}
		closeQuietly(ctx, c.conn)
	}
}

// give keeps conn for key when it is clean and there is room, else closes
// it.
func (p *Idle) give(ctx context.Context, key string, conn *pgx.Conn) error {
	if !conn.IsClosed() && conn.PgConn().TxStatus() == 'I' {
		p.mu.Lock()
		if len(p.conns[key]) < p.max {
			p.conns[key] = append(p.conns[key], idleConn{conn, p.now()})
			p.mu.Unlock()
			return nil
		}
		p.mu.Unlock()
	}
	return conn.Close(ctx)
}

// Prune closes the kept connections unused for longer than the Idle's
// max age: a server with no requests for a while holds none.
func (p *Idle) Prune(ctx context.Context) error {
	return p.evict(ctx, func(c idleConn) bool { return !p.fresh(c) })
}

// Close closes every kept connection.
func (p *Idle) Close(ctx context.Context) error {
	return p.evict(ctx, func(idleConn) bool { return true })
}

// evict closes the kept connections gone says to.
func (p *Idle) evict(ctx context.Context, gone func(idleConn) bool) error {
	p.mu.Lock()
	var out []*pgx.Conn
	for key, list := range p.conns {
		keep := list[:0]
		for _, c := range list {
			if gone(c) {
				out = append(out, c.conn)
			} else {
				keep = append(keep, c)
			}
		}
		if len(keep) == 0 {
			delete(p.conns, key)
		} else {
			p.conns[key] = keep
		}
	}
	p.mu.Unlock()
	return closeAll(ctx, out)
}

// fresh tells whether c was put back less than the max age ago.
func (p *Idle) fresh(c idleConn) bool { return p.now().Sub(c.since) < p.maxAge }

// closeAll closes conns.
func closeAll(ctx context.Context, conns []*pgx.Conn) error {
	var errs []error
	for _, c := range conns {
		if err := c.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close idle connection to database %s: %w", c.Config().Database, err))
		}
	}
	return errors.Join(errs...)
}

// quiet tells, without waiting, whether conn's server has nothing to say:
// a connection the server closed (a restart, pg_terminate_backend, an
// idle timeout) has its end of file or its FATAL message waiting, and
// one it wrote anything else to is in no state to reuse either. It peeks
// at the socket; pgx's CheckConn would wait a millisecond for a message,
// and does so where the socket is not at hand (TLS). The peek goes
// through Control, not Read: pgx may have left a reader of its own
// blocked on the socket after a slow write, holding the read lock until
// the server speaks (its next message is then pgx's, and this sees
// nothing).
func quiet(conn *pgx.Conn) bool {
	sc, ok := conn.PgConn().Conn().(syscall.Conn)
	if !ok {
		return conn.PgConn().CheckConn() == nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	empty := false
	err = raw.Control(func(fd uintptr) {
		var b [1]byte
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		empty = errors.Is(rerr, syscall.EAGAIN)
	})
	return err == nil && empty
}

// closeQuietly closes a connection that is no longer wanted, whose
// errors no one acts on.
func closeQuietly(ctx context.Context, conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}

// hangUp ends the use of conn, which dial opened on srv for database:
// kept in srv.Idle when there is one, else closed.
func hangUp(ctx context.Context, srv Server, database string, conn *pgx.Conn) error {
	if srv.Idle == nil {
		return conn.Close(ctx)
	}
	return srv.Idle.give(ctx, idleKey(srv, database), conn)
}
