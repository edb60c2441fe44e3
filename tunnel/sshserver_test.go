package tunnel

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// testServer is an in-process SSH server that only serves direct-tcpip
// forwards, for unit tests without sshd.
type testServer struct {
	t        *testing.T
	ln       net.Listener
	Addr     string
	HostKeys []ssh.Signer
	// PermitOpen, when set, is the only targets ("host:port") allowed.
	PermitOpen []string

	mu       sync.Mutex
	forwards []string // targets requested, in order
	conns    []net.Conn
}

// serverOptions configure newTestServer.
type serverOptions struct {
	hostKeys   []crypto.Signer // default: one ed25519 key
	authorized []ssh.PublicKey
	password   string // accepted password, "" = none
	permitOpen []string
}

func newTestServer(t *testing.T, opt serverOptions) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, ln: ln, Addr: ln.Addr().String(), PermitOpen: opt.permitOpen}
	if len(opt.hostKeys) == 0 {
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		opt.hostKeys = []crypto.Signer{k}
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			for _, k := range opt.authorized {
				if bytes.Equal(k.Marshal(), key.Marshal()) {
					return nil, nil
				}
			}
			return nil, fmt.Errorf("key not authorized")
		},
	}
	if opt.password != "" {
		cfg.PasswordCallback = func(_ ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if string(pw) == opt.password {
				return nil, nil
			}
			return nil, fmt.Errorf("wrong password")
		}
	}
	for _, k := range opt.hostKeys {
		signer, err := ssh.NewSignerFromSigner(k)
		if err != nil {
			t.Fatal(err)
		}
		cfg.AddHostKey(signer)
		s.HostKeys = append(s.HostKeys, signer)
	}
	go s.serve(cfg)
	t.Cleanup(s.Close)
	return s
}

func (s *testServer) serve(cfg *ssh.ServerConfig) {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		go s.handle(c, cfg)
	}
}

func (s *testServer) handle(c net.Conn, cfg *ssh.ServerConfig) {
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		c.Close()
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "direct-tcpip" {
			nc.Reject(ssh.UnknownChannelType, "only direct-tcpip")
			continue
		}
		var p struct {
			Host       string
			Port       uint32
			OriginHost string
			OriginPort uint32
		}
		if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil {
			nc.Reject(ssh.ConnectionFailed, "bad payload")
			continue
		}
		target := net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port)))
		s.mu.Lock()
		s.forwards = append(s.forwards, target)
		s.mu.Unlock()
		if s.PermitOpen != nil && !slices.Contains(s.PermitOpen, target) {
			nc.Reject(ssh.Prohibited, "administratively prohibited: open failed")
			continue
		}
		go func() {
			out, err := net.Dial("tcp", target)
			if err != nil {
				nc.Reject(ssh.ConnectionFailed, err.Error())
				return
			}
			ch, creqs, err := nc.Accept()
			if err != nil {
				out.Close()
				return
			}
			go ssh.DiscardRequests(creqs)
			go func() { io.Copy(ch, out); ch.CloseWrite() }()
			io.Copy(out, ch)
			out.(*net.TCPConn).CloseWrite()
		}()
	}
}

// Forwards returns the targets requested so far.
func (s *testServer) Forwards() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.forwards)
}

// Close stops the server and drops every connection.
func (s *testServer) Close() {
	s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

// knownHostsFor writes a known_hosts file holding the given keys for the
// servers, and returns its path.
func knownHostsFor(t *testing.T, entries map[string][]ssh.PublicKey) string {
	t.Helper()
	var b bytes.Buffer
	for addr, keys := range entries {
		for _, k := range keys {
			fmt.Fprintln(&b, knownhosts.Line([]string{knownhosts.Normalize(addr)}, k))
		}
	}
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// clientKey is a generated client key written to a file.
type clientKey struct {
	Path   string
	Public ssh.PublicKey
}

// writeKey generates an ed25519 key (with a passphrase when given) into a
// file.
func writeKey(t *testing.T, passphrase string) clientKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "test")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return clientKey{Path: path, Public: sp}
}

func newECDSA(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newEd25519(t *testing.T) crypto.Signer {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// echoServer answers each connection by echoing what it reads.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}
