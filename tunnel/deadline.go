package tunnel

import (
	"net"
	"os"
	"sync"
	"time"
)

// deadlineConn gives an SSH channel the deadlines a net.Conn promises. The
// channel itself supports none (its SetDeadline fails), yet pgx stops a
// connect or a query whose context ends by setting a deadline: without
// this a PostgreSQL that accepts and never answers would hold a collection
// forever. A deadline that passes closes the channel, which ends a blocked
// Read or Write; the connection is not usable afterwards, as pgx expects of
// a connection it had to interrupt. A zero time clears the deadline.
type deadlineConn struct {
	net.Conn

	mu      sync.Mutex
	timer   *time.Timer
	expired bool
}

// SetDeadline sets one deadline for reads and writes.
func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if t.IsZero() || c.expired {
		return nil
	}
	if d := time.Until(t); d > 0 {
		c.timer = time.AfterFunc(d, c.expire)
		return nil
	}
	c.expired = true
	c.Conn.Close()
	return nil
}

// SetReadDeadline is SetDeadline: a channel can only be closed as a whole.
func (c *deadlineConn) SetReadDeadline(t time.Time) error { return c.SetDeadline(t) }

// SetWriteDeadline is SetDeadline: a channel can only be closed as a whole.
func (c *deadlineConn) SetWriteDeadline(t time.Time) error { return c.SetDeadline(t) }

func (c *deadlineConn) expire() {
	c.mu.Lock()
	c.expired = true
	c.mu.Unlock()
	c.Conn.Close()
}

// timedOut reports os.ErrDeadlineExceeded (a net.Error whose Timeout is
// true) for an error caused by a passed deadline.
func (c *deadlineConn) timedOut(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil && c.expired {
		return os.ErrDeadlineExceeded
	}
	return err
}

// Read reads from the channel; after a deadline it fails with
// os.ErrDeadlineExceeded.
func (c *deadlineConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	return n, c.timedOut(err)
}

// Write writes to the channel; after a deadline it fails with
// os.ErrDeadlineExceeded.
func (c *deadlineConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	return n, c.timedOut(err)
}
