package tunnel

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pggraph/pggraph/internal/testing/rig"
)

// TestChannelDeadlines: a connection through the chain honours deadlines,
// so pgx can stop a login to a PostgreSQL that accepts and never answers.
func TestChannelDeadlines(t *testing.T) {
	key := writeKey(t, "")
	silent := rig.Silent(t)
	echo := echoServer(t)
	dbhost := newTestServer(t, serverOptions{authorized: []ssh.PublicKey{key.Public}})
	kh := knownHostsFor(t, map[string][]ssh.PublicKey{dbhost.Addr: pubs(dbhost.HostKeys)})
	const timeout = 700 * time.Millisecond
	open := func(t *testing.T, target string) *Tunnel {
		t.Helper()
		tun, err := Open(t.Context(), Config{Hops: []string{dbhost.Addr}, Target: target, User: "cmd",
			Keyfile: key.Path, KnownHosts: kh, Timeout: timeout})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { tun.Close() })
		return tun
	}

	t.Run("read deadline", func(t *testing.T) {
		tun := open(t, silent)
		c, err := tun.DialContext(t.Context(), "tcp", silent)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.SetDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
			t.Fatalf("SetDeadline: %v", err)
		}
		start := time.Now()
		_, err = c.Read(make([]byte, 1))
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Read returned after %s", took)
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Read error %v, want os.ErrDeadlineExceeded", err)
		}
	})
	t.Run("cleared deadline", func(t *testing.T) {
		tun := open(t, echo)
		c, err := tun.DialContext(t.Context(), "tcp", echo)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(100 * time.Millisecond))
		c.SetDeadline(time.Time{})
		time.Sleep(300 * time.Millisecond)
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatalf("Write after a cleared deadline: %v", err)
		}
		buf := make([]byte, 4)
		if _, err := c.Read(buf); err != nil || string(buf) != "ping" {
			t.Errorf("Read after a cleared deadline: %q, %v", buf, err)
		}
	})
	t.Run("postgresql login to a silent server", func(t *testing.T) {
		tun := open(t, silent)
		start := time.Now()
		_, err := tun.Connect(t.Context(), "mon", "", "postgres")
		took := time.Since(start)
		if err == nil {
			t.Fatal("Connect to a silent server succeeded")
		}
		if took > timeout+2*time.Second {
			t.Errorf("Connect gave up after %s, want about %s (%v)", took, timeout, err)
		}
		if !strings.Contains(err.Error(), "postgresql "+silent) {
			t.Errorf("error %q does not name the server", err)
		}
	})
}
