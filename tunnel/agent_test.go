package tunnel

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// serveAgent runs an in-process ssh-agent holding keys and returns its
// socket path.
func serveAgent(t *testing.T, keys ...ed25519.PrivateKey) string {
	t.Helper()
	ring := agent.NewKeyring()
	for _, k := range keys {
		if err := ring.Add(agent.AddedKey{PrivateKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
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
			go func() { defer c.Close(); agent.ServeAgent(ring, c) }()
		}
	}()
	return sock
}

func TestAgent(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	agentPub, _ := ssh.NewPublicKey(pub)
	protected := writeKey(t, "phrase")
	srv := newTestServer(t, serverOptions{authorized: []ssh.PublicKey{agentPub}})
	kh := knownHostsFor(t, map[string][]ssh.PublicKey{srv.Addr: pubs(srv.HostKeys)})
	withKey := serveAgent(t, priv)
	empty := serveAgent(t)

	tests := []struct {
		name     string
		socket   string
		keyfile  string
		wantErr  error
		wantWarn string // part of a logged warning, "" for none
	}{
		{name: "key only in the agent", socket: withKey},
		{name: "passphrase keyfile, agent holds a usable key", socket: withKey, keyfile: protected.Path, wantWarn: "keyfile not usable"},
		{name: "missing keyfile, agent holds a usable key", socket: withKey, keyfile: filepath.Join(t.TempDir(), "nope"), wantWarn: "keyfile not usable"},
		{name: "agent without the key", socket: empty, wantErr: ErrAuth},
		// No agent: the passphrase key is the only credential, so its own
		// error stands, and the unreachable agent is logged.
		{name: "agent socket gone", socket: filepath.Join(t.TempDir(), "gone.sock"), keyfile: protected.Path,
			wantErr: ErrPassphrase, wantWarn: "ssh-agent not reachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			tun, err := Open(t.Context(), Config{
				Hops: []string{srv.Addr}, Target: "127.0.0.1:1", User: "cmd",
				Keyfile: tt.keyfile, AgentSocket: tt.socket, KnownHosts: kh, Timeout: 5 * time.Second,
				Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			})
			if tt.wantErr != nil {
				if err == nil {
					tun.Close()
				}
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("Open: %v", err)
			} else {
				tun.Close()
			}
			if tt.wantWarn != "" && !strings.Contains(logs.String(), tt.wantWarn) {
				t.Errorf("logs %q lack %q", logs.String(), tt.wantWarn)
			}
		})
	}
}
