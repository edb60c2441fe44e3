// Package tunnel reaches a client's PostgreSQL server through SSH.
//
// A Tunnel is one SSH connection chain, opened once per collection run (or
// once per pggraph-forward session): no hop (connect directly), one hop
// (direct mode, and the legacy bastion whose port forward is held open on the
// bastion itself), or two hops (the twin tunnel: a bastion, then the database
// host's sshd reached through it). Every host key is checked against
// known_hosts; every step of opening the chain is bounded by one deadline;
// cancelling the context passed to Open tears the chain down.
//
// Connections to PostgreSQL go through DialContext, which pgx uses as its
// DialFunc (see ConnConfig), so no local TCP port is needed; Forward serves
// a local listener for manual tests with psql.
package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pggraph/pggraph/internal/config"
)

// DefaultTimeout bounds the opening of a chain, and each later channel open,
// when Config.Timeout is zero. It is the original's default "delay".
const DefaultTimeout = 7 * time.Second

// Sentinel errors, checked with errors.Is.
var (
	// ErrTimeout: a step did not finish before its deadline.
	ErrTimeout = errors.New("no answer in time")
	// ErrClosed: the tunnel was closed or its SSH connection was lost.
	ErrClosed = errors.New("tunnel closed")
	// ErrAuth: the SSH server accepted none of the credentials offered.
	ErrAuth = errors.New("ssh login refused")
	// ErrForwardRefused: an SSH server refused to open a forward
	// (for example OpenSSH's PermitOpen: "administratively prohibited").
	ErrForwardRefused = errors.New("forward refused by ssh server")
)

// Config describes one chain. The zero value of every field is usable except
// where it says otherwise.
type Config struct {
	// Hops are the SSH servers ("host:port") to go through, in order: none
	// for no tunnel, one for direct mode, the bastion then the database
	// host for a twin tunnel.
	Hops []string
	// Target is PostgreSQL's "host:port" as seen from the last hop (from
	// here when Hops is empty). Required.
	Target string
	// User is the SSH login on every hop. Required when Hops is not empty.
	User string
	// Keyfile is a private key file; "" offers no key file.
	Keyfile string
	// AgentSocket is the ssh-agent socket (SSH_AUTH_SOCK); "" uses no agent.
	AgentSocket string
	// Password is the deprecated SSH password; "" offers none.
	Password config.Secret
	// KnownHosts is the known_hosts file every hop's host key must be in.
	// Required when Hops is not empty: host keys are always verified.
	KnownHosts string
	// Timeout bounds the whole opening of the chain (TCP connect, every
	// handshake, every channel open) and each later Dial. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// Keepalive is the interval of SSH keepalive requests on every hop; a
	// hop that does not answer one within Timeout closes the tunnel. Zero
	// sends none (a collection run is short).
	Keepalive time.Duration
	// Logger receives progress at debug level and warnings (deprecated
	// password, skipped key). Nil discards.
	Logger *slog.Logger
}

// FromConfig returns the chain a client's config.ini describes. agentSocket
// is the value of SSH_AUTH_SOCK ("" for none).
func FromConfig(c *config.Config, agentSocket string) Config {
	tc := Config{
		Target:      c.SSH.Target(),
		User:        c.SSH.User,
		Keyfile:     c.SSH.Keyfile,
		AgentSocket: agentSocket,
		Password:    c.SSH.Password,
		KnownHosts:  c.SSH.KnownHosts,
		Timeout:     c.PGGraph.Delay,
	}
	switch c.TunnelMode() {
	case config.ModeDirect:
		tc.Hops = []string{c.SSH.ServerAddr()}
	case config.ModeTwin:
		tc.Hops = []string{c.SSH.ServerAddr(), c.SSH.SecondAddr()}
	}
	return tc
}

// Tunnel is an open SSH chain (or, with no hops, a plain dialer). It is safe
// for concurrent use. Close it when done.
type Tunnel struct {
	cfg     Config
	log     *slog.Logger
	clients []*ssh.Client // in hop order; empty with no hops
	stop    func() bool   // unregisters the context teardown; set before Open returns

	once sync.Once
	done chan struct{}
	err  error // why the tunnel ended; set before done is closed
}

// Open dials every hop in order, checking each host key and logging in, all
// within cfg.Timeout. The chain lives until Close, until ctx is cancelled,
// or until an SSH connection of the chain is lost (see Done).
func Open(ctx context.Context, cfg Config) (*Tunnel, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Target == "" {
		return nil, errors.New("tunnel: no target address")
	}
	t := &Tunnel{cfg: cfg, log: log, done: make(chan struct{})}
	if len(cfg.Hops) == 0 {
		t.stop = context.AfterFunc(ctx, func() { t.shut(ctx.Err()) })
		return t, nil
	}
	if cfg.User == "" {
		return nil, errors.New("tunnel: no ssh user")
	}

	hk, err := newHostKeys(cfg.KnownHosts, false)
	if err != nil {
		return nil, err
	}
	auth, err := newAuth(cfg, log)
	if err != nil {
		return nil, err
	}
	defer auth.close()

	octx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	for i, addr := range cfg.Hops {
		c, err := t.dialHop(octx, i, addr, hk, auth)
		if err != nil {
			t.closeClients()
			return nil, err
		}
		t.clients = append(t.clients, c)
	}
	for _, c := range t.clients {
		go func() { t.shut(c.Wait()) }()
	}
	if cfg.Keepalive > 0 {
		go t.keepalive()
	}
	t.stop = context.AfterFunc(ctx, func() { t.shut(ctx.Err()) })
	return t, nil
}

// hopName names hop i of n in errors and logs.
func hopName(i, n int) string {
	switch {
	case n == 1:
		return "ssh server"
	case i == 0:
		return "bastion"
	case i == n-1:
		return "db host"
	default:
		return fmt.Sprintf("hop %d", i+1)
	}
}

// stepError names the hop and the step that failed; a context deadline
// becomes ErrTimeout with the configured delay, except after a host-key
// verdict (fetching an unknown host's other keys may use up the time).
// The dialer's own deadline (an i/o timeout) can fire a moment before the
// context reports it, so both count.
func (t *Tunnel) stepError(ctx context.Context, hop, addr, step string, err error) error {
	var he *HostKeyError
	if !errors.As(err, &he) && (errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)) {
		err = fmt.Errorf("%w within %s (delay)", ErrTimeout, t.cfg.Timeout)
	}
	return fmt.Errorf("%s %s: %s: %w", hop, addr, step, err)
}

// dialHop reaches hop i (over TCP for the first, through the previous hop
// otherwise) and logs in.
func (t *Tunnel) dialHop(ctx context.Context, i int, addr string, hk *hostKeys, auth *auth) (*ssh.Client, error) {
	hop := hopName(i, len(t.cfg.Hops))
	start := time.Now()
	var d net.Dialer
	dial, step := DialFunc(d.DialContext), "tcp connect"
	if i > 0 {
		dial, step = t.clients[i-1].DialContext, "forward via "+hopName(i-1, len(t.cfg.Hops))
	}
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, t.stepError(ctx, hop, addr, step, forwardError(err))
	}
	client, err := handshake(ctx, conn, addr, hk.clientConfig(addr, t.cfg.User, auth.methods))
	if err != nil {
		return nil, t.stepError(ctx, hop, addr, "ssh handshake", verdict(ctx, auth.explain(err), addr, dial))
	}
	t.log.Debug("ssh hop open", "hop", hop, "addr", addr, "took", time.Since(start).Round(time.Millisecond))
	return client, nil
}

// handshake runs the SSH handshake over conn, closing conn if ctx ends first
// (an SSH channel supports no deadlines, so closing is the one bound that
// works for every hop).
func handshake(ctx context.Context, conn net.Conn, addr string, cc *ssh.ClientConfig) (*ssh.Client, error) {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cc)
	if !stop() {
		if c != nil {
			c.Close()
		}
		return nil, ctx.Err()
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// forwardError marks an SSH server's refusal to open a direct-tcpip channel.
func forwardError(err error) error {
	var oce *ssh.OpenChannelError
	if errors.As(err, &oce) {
		return fmt.Errorf("%w: %s (%s)", ErrForwardRefused, oce.Reason, oce.Message)
	}
	return err
}

// DialContext connects to addr from the far end of the chain: through the
// last hop's sshd, or directly when there are no hops. Its signature fits
// pgconn.Config.DialFunc. The channel open is bounded by the tunnel's
// timeout as well as by ctx.
func (t *Tunnel) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	select {
	case <-t.done:
		return nil, fmt.Errorf("dial %s: %w", addr, t.Err())
	default:
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	if len(t.clients) == 0 {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, t.stepError(ctx, "postgresql", addr, "tcp connect", err)
		}
		return c, nil
	}
	n := len(t.clients)
	c, err := t.clients[n-1].DialContext(ctx, network, addr)
	if err != nil {
		return nil, t.stepError(ctx, "postgresql", addr, "forward via "+hopName(n-1, n), forwardError(err))
	}
	return &deadlineConn{Conn: c}, nil
}

// Dial connects to the configured target (PostgreSQL) through the chain.
func (t *Tunnel) Dial(ctx context.Context) (net.Conn, error) {
	return t.DialContext(ctx, "tcp", t.cfg.Target)
}

// Target is PostgreSQL's "host:port" as seen from the end of the chain.
func (t *Tunnel) Target() string { return t.cfg.Target }

// Hops are the SSH servers of the chain, in order; empty with no tunnel.
func (t *Tunnel) Hops() []string { return append([]string(nil), t.cfg.Hops...) }

// Done is closed when the tunnel ends: Close, the context of Open ended, or
// an SSH connection of the chain was lost. Err then says why.
func (t *Tunnel) Done() <-chan struct{} { return t.done }

// Err is nil while the tunnel is open, then why it ended (wrapping
// ErrClosed).
func (t *Tunnel) Err() error {
	select {
	case <-t.done:
		return t.err
	default:
		return nil
	}
}

// Close tears the chain down, last hop first. It is safe to call more than
// once and concurrently with dials.
func (t *Tunnel) Close() error {
	if t.stop != nil {
		t.stop()
	}
	t.shut(nil)
	return nil
}

// shut ends the tunnel once, recording cause.
func (t *Tunnel) shut(cause error) {
	t.once.Do(func() {
		switch {
		case cause == nil:
			t.err = ErrClosed
		case errors.Is(cause, context.Canceled), errors.Is(cause, context.DeadlineExceeded):
			t.err = fmt.Errorf("%w: %w", ErrClosed, cause)
		default:
			t.err = fmt.Errorf("%w: ssh connection lost: %w", ErrClosed, cause)
		}
		t.closeClients()
		close(t.done)
	})
}

func (t *Tunnel) closeClients() {
	for i := len(t.clients) - 1; i >= 0; i-- {
		t.clients[i].Close()
	}
}

// keepalive sends a keepalive request to every hop each Keepalive interval
// and shuts the tunnel if one goes unanswered for Timeout.
func (t *Tunnel) keepalive() {
	tick := time.NewTicker(t.cfg.Keepalive)
	defer tick.Stop()
	for {
		select {
		case <-t.done:
			return
		case <-tick.C:
		}
		for i, c := range t.clients {
			answered := make(chan error, 1)
			go func() {
				_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
				answered <- err
			}()
			hop := hopName(i, len(t.clients))
			select {
			case err := <-answered:
				if err != nil {
					t.shut(fmt.Errorf("keepalive to %s: %w", hop, err))
					return
				}
			case <-time.After(t.cfg.Timeout):
				t.shut(fmt.Errorf("keepalive to %s: %w within %s", hop, ErrTimeout, t.cfg.Timeout))
				return
			case <-t.done:
				return
			}
		}
	}
}
