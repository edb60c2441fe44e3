package tunnel

import (
	"context"
	"crypto"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/testing/rig"
)

// echoThrough dials the tunnel's target and checks that a message comes
// back unchanged.
func echoThrough(t *testing.T, tun *Tunnel) {
	t.Helper()
	c, err := tun.Dial(t.Context())
	if err != nil {
		t.Fatalf("dial through tunnel: %v", err)
	}
	defer c.Close()
	roundTrip(t, c, "hello through the tunnel")
}

func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	buf := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(buf) != msg {
		t.Fatalf("echo = %q, want %q", buf, msg)
	}
}

func pubs(signers []ssh.Signer) []ssh.PublicKey {
	var out []ssh.PublicKey
	for _, s := range signers {
		out = append(out, s.PublicKey())
	}
	return out
}

func TestOpenModes(t *testing.T) {
	key := writeKey(t, "")
	target := echoServer(t)
	dbhost := newTestServer(t, serverOptions{authorized: []ssh.PublicKey{key.Public}})
	bastion := newTestServer(t, serverOptions{authorized: []ssh.PublicKey{key.Public}, permitOpen: []string{dbhost.Addr}})
	kh := knownHostsFor(t, map[string][]ssh.PublicKey{
		dbhost.Addr:  pubs(dbhost.HostKeys),
		bastion.Addr: pubs(bastion.HostKeys),
	})

	tests := []struct {
		name         string
		hops         []string
		wantBastion  []string // forwards the bastion must have seen
		wantDBHostFw bool     // the db host forwarded to the target
	}{
		{name: "no tunnel"},
		{name: "direct", hops: []string{dbhost.Addr}, wantDBHostFw: true},
		{name: "twin tunnel", hops: []string{bastion.Addr, dbhost.Addr}, wantBastion: []string{dbhost.Addr}, wantDBHostFw: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			beforeB, beforeD := len(bastion.Forwards()), len(dbhost.Forwards())
			tun, err := Open(t.Context(), Config{
				Hops: tt.hops, Target: target, User: "cmd",
				Keyfile: key.Path, KnownHosts: kh, Timeout: 5 * time.Second,
			})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer tun.Close()
			echoThrough(t, tun)
			echoThrough(t, tun) // a second channel on the same chain

			gotB := bastion.Forwards()[beforeB:]
			if !slices.Equal(gotB, tt.wantBastion) {
				t.Errorf("bastion forwards = %v, want %v", gotB, tt.wantBastion)
			}
			gotD := dbhost.Forwards()[beforeD:]
			if tt.wantDBHostFw != slices.Equal(gotD, []string{target, target}) {
				t.Errorf("db host forwards = %v (want forwards to %s: %v)", gotD, target, tt.wantDBHostFw)
			}
		})
	}
}

func TestHostKeys(t *testing.T) {
	key := writeKey(t, "")
	ed, ec := newEd25519(t), newECDSA(t)
	srv := newTestServer(t, serverOptions{hostKeys: []crypto.Signer{ec, ed}, authorized: []ssh.PublicKey{key.Public}})
	other := newTestServer(t, serverOptions{authorized: []ssh.PublicKey{key.Public}})
	edPub := srv.HostKeys[1].PublicKey()

	tests := []struct {
		name    string
		known   map[string][]ssh.PublicKey
		wantErr error
		wantMsg []string
	}{
		{name: "ed25519 only on file, server prefers ecdsa", known: map[string][]ssh.PublicKey{srv.Addr: {edPub}}},
		{name: "both on file", known: map[string][]ssh.PublicKey{srv.Addr: pubs(srv.HostKeys)}},
		{
			name:    "unknown host",
			known:   map[string][]ssh.PublicKey{other.Addr: pubs(other.HostKeys)},
			wantErr: ErrUnknownHost,
			wantMsg: []string{"unknown", "SHA256:", "add this line", "[127.0.0.1]:"},
		},
		{
			name:    "key changed",
			known:   map[string][]ssh.PublicKey{srv.Addr: pubs(other.HostKeys)},
			wantErr: ErrHostKeyChanged,
			wantMsg: []string{"changed", "refused", "SHA256:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kh := knownHostsFor(t, tt.known)
			tun, err := Open(t.Context(), Config{
				Hops: []string{srv.Addr}, Target: "127.0.0.1:1", User: "cmd",
				Keyfile: key.Path, KnownHosts: kh, Timeout: 5 * time.Second,
			})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				tun.Close()
				return
			}
			if err == nil {
				tun.Close()
				t.Fatal("Open succeeded, want a host-key error")
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q lacks %q", err, m)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	good := writeKey(t, "")
	stranger := writeKey(t, "")
	protected := writeKey(t, "s3cret-phrase")
	const password = "tunnel-pw-Zq81"
	srv := newTestServer(t, serverOptions{
		authorized: []ssh.PublicKey{good.Public, protected.Public},
		password:   password,
	})
	kh := knownHostsFor(t, map[string][]ssh.PublicKey{srv.Addr: pubs(srv.HostKeys)})
	dir := t.TempDir()
	dsaPEM := filepath.Join(dir, "id_dsa")
	os.WriteFile(dsaPEM, []byte("-----BEGIN DSA PRIVATE KEY-----\nMIIBuwIBAAKBgQD=\n-----END DSA PRIVATE KEY-----\n"), 0o600)
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("not a key"), 0o600)

	tests := []struct {
		name     string
		keyfile  string
		password string
		wantErr  error  // nil: login works
		wantMsg  string // part of the message
	}{
		{name: "authorized key", keyfile: good.Path},
		{name: "deprecated password", password: password},
		{name: "key refused", keyfile: stranger.Path, wantErr: ErrAuth, wantMsg: "authorized_keys"},
		{name: "wrong password", password: "not-" + password, wantErr: ErrAuth, wantMsg: "offered password"},
		{name: "passphrase", keyfile: protected.Path, wantErr: ErrPassphrase, wantMsg: "ssh-agent"},
		{name: "dsa", keyfile: dsaPEM, wantErr: ErrDSAKey, wantMsg: "ssh-keygen -t ed25519"},
		{name: "missing", keyfile: filepath.Join(dir, "nope"), wantErr: os.ErrNotExist, wantMsg: "not found"},
		{name: "garbage", keyfile: garbage, wantMsg: "not a usable private key"},
		{name: "nothing offered", wantMsg: "no credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tun, err := Open(t.Context(), Config{
				Hops: []string{srv.Addr}, Target: "127.0.0.1:1", User: "cmd",
				Keyfile: tt.keyfile, Password: config.Secret(tt.password), KnownHosts: kh, Timeout: 5 * time.Second,
			})
			if tt.wantErr == nil && tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				tun.Close()
				return
			}
			if err == nil {
				tun.Close()
				t.Fatal("Open succeeded, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) && !strings.Contains(err.Error(), "not found") {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q lacks %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error shows the password: %q", err)
			}
		})
	}
}

func TestBastionRefusesForward(t *testing.T) {
	key := writeKey(t, "")
	dbhost := newTestServer(t, serverOptions{authorized: []ssh.PublicKey{key.Public}})
	bastion := newTestServer(t, serverOptions{authorized: []ssh.PublicKey{key.Public}, permitOpen: []string{"127.0.0.1:1"}})
	kh := knownHostsFor(t, map[string][]ssh.PublicKey{
		dbhost.Addr: pubs(dbhost.HostKeys), bastion.Addr: pubs(bastion.HostKeys),
	})
	_, err := Open(t.Context(), Config{
		Hops: []string{bastion.Addr, dbhost.Addr}, Target: "127.0.0.1:1", User: "cmd",
		Keyfile: key.Path, KnownHosts: kh, Timeout: 5 * time.Second,
	})
	if !errors.Is(err, ErrForwardRefused) {
		t.Fatalf("error %v, want ErrForwardRefused", err)
	}
	for _, m := range []string{"db host " + dbhost.Addr, "forward via bastion", "administratively prohibited"} {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q lacks %q", err, m)
		}
	}
}

// TestDeadlines proves that a server that accepts and never speaks, at
// either hop, fails within the timeout and names the hop and step.
func TestDeadlines(t *testing.T) {
	key := writeKey(t, "")
	silent := rig.Silent(t)
	blackhole := rig.Blackhole(t)
	bastion := newTestServer(t, serverOptions{authorized: []ssh.PublicKey{key.Public}})
	kh := knownHostsFor(t, map[string][]ssh.PublicKey{bastion.Addr: pubs(bastion.HostKeys)})
	const timeout = 700 * time.Millisecond

	tests := []struct {
		name    string
		hops    []string
		wantMsg string
	}{
		{name: "silent server", hops: []string{silent}, wantMsg: "ssh server " + silent + ": ssh handshake"},
		{name: "silent db host behind bastion", hops: []string{bastion.Addr, silent}, wantMsg: "db host " + silent + ": ssh handshake"},
		{name: "blackholed server", hops: []string{blackhole}, wantMsg: "ssh server " + blackhole + ": tcp connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := Open(t.Context(), Config{
				Hops: tt.hops, Target: "127.0.0.1:1", User: "cmd",
				Keyfile: key.Path, KnownHosts: kh, Timeout: timeout,
			})
			took := time.Since(start)
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("error %v, want ErrTimeout", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q lacks %q", err, tt.wantMsg)
			}
			if took > timeout+2*time.Second {
				t.Errorf("took %s, want about %s", took, timeout)
			}
		})
	}
}

func TestCancelTearsDown(t *testing.T) {
	key := writeKey(t, "")
	target := echoServer(t)
	srv := newTestServer(t, serverOptions{authorized: []ssh.PublicKey{key.Public}})
	kh := knownHostsFor(t, map[string][]ssh.PublicKey{srv.Addr: pubs(srv.HostKeys)})
	ctx, cancel := context.WithCancel(t.Context())
	tun, err := Open(ctx, Config{Hops: []string{srv.Addr}, Target: target, User: "cmd", Keyfile: key.Path, KnownHosts: kh})
	if err != nil {
		t.Fatal(err)
	}
	c, err := tun.Dial(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-tun.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("tunnel still open 5s after cancel")
	}
	if !errors.Is(tun.Err(), ErrClosed) || !errors.Is(tun.Err(), context.Canceled) {
		t.Errorf("Err = %v, want ErrClosed and context.Canceled", tun.Err())
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("open channel still readable after cancel")
	}
	if _, err := tun.Dial(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Dial after cancel: %v, want ErrClosed", err)
	}
}

func TestServerLostEndsTunnel(t *testing.T) {
	key := writeKey(t, "")
	srv := newTestServer(t, serverOptions{authorized: []ssh.PublicKey{key.Public}})
	kh := knownHostsFor(t, map[string][]ssh.PublicKey{srv.Addr: pubs(srv.HostKeys)})
	tun, err := Open(t.Context(), Config{Hops: []string{srv.Addr}, Target: "127.0.0.1:1", User: "cmd", Keyfile: key.Path, KnownHosts: kh})
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	srv.Close()
	select {
	case <-tun.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("tunnel not done 5s after the server went away")
	}
	if !strings.Contains(tun.Err().Error(), "ssh connection lost") {
		t.Errorf("Err = %v, want 'ssh connection lost'", tun.Err())
	}
}

func TestForward(t *testing.T) {
	key := writeKey(t, "")
	target := echoServer(t)
	srv := newTestServer(t, serverOptions{authorized: []ssh.PublicKey{key.Public}})
	kh := knownHostsFor(t, map[string][]ssh.PublicKey{srv.Addr: pubs(srv.HostKeys)})
	tun, err := Open(t.Context(), Config{Hops: []string{srv.Addr}, Target: target, User: "cmd", Keyfile: key.Path, KnownHosts: kh})
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- tun.Forward(ctx, ln) }()

	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			roundTrip(t, c, strings.Repeat("x", 1000*(i+1)))
		})
	}
	wg.Wait()
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Forward = %v, want nil after cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Forward did not return after cancel")
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("listener still accepts after Forward returned")
	}
}
