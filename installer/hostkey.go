package installer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/pggraph/pggraph/tunnel"
)

// errGotKey ends a handshake once the host key is known.
var errGotKey = errors.New("host key received")

// knownKey tells whether knownFile vouches for addr's key: (true, nil)
// known, (false, nil) unknown, an error for a changed or revoked key.
func knownKey(knownFile, addr string, key ssh.PublicKey) (bool, error) {
	cb, err := knownhosts.New(knownFile)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("known_hosts %s: %w", knownFile, err)
	}
	tcp, _ := net.ResolveTCPAddr("tcp", addr)
	var remote net.Addr = tcp
	if tcp == nil {
		remote = &net.TCPAddr{}
	}
	err = cb(addr, remote, key)
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &re):
		return false, fmt.Errorf("host key of %s is marked @revoked in %s: refused", addr, knownFile)
	case errors.As(err, &ke) && len(ke.Want) == 0:
		return false, nil
	case errors.As(err, &ke):
		w := ke.Want[0]
		return false, fmt.Errorf("host key of %s changed: it offers %s but %s:%d holds %s: refused (check, then fix that line)",
			addr, ssh.FingerprintSHA256(key), w.Filename, w.Line, ssh.FingerprintSHA256(w.Key))
	}
	return false, fmt.Errorf("check host key of %s: %w", addr, err)
}

// dialFunc opens a connection: a net.Dialer's DialContext, or a tunnel's.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// fetchHostKey opens an SSH handshake to addr, over a connection from dial,
// only far enough to learn its host key.
func fetchHostKey(ctx context.Context, addr, knownFile string, timeout time.Duration, dial dialFunc) (ssh.PublicKey, error) {
	// Ask for a key type known_hosts holds for addr, if any: a server
	// prefers ECDSA, which would look like a changed key when only its
	// ed25519 key is on file.
	algos, err := tunnel.KnownHostAlgorithms(knownFile, addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fetch host key of %s: %w", addr, err)
	}
	defer conn.Close()
	// An SSH channel has no deadlines: closing the connection when ctx
	// ends bounds the handshake on every kind of connection.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var key ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User:              "pggraph-install",
		HostKeyAlgorithms: algos,
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			key = k
			return errGotKey
		},
	}
	_, _, _, err = ssh.NewClientConn(conn, addr, cfg)
	if key == nil {
		return nil, fmt.Errorf("fetch host key of %s: %w", addr, err)
	}
	return key, nil
}

// addKnownHost appends addr's key to knownFile, creating the file (0600)
// and its directory (0700) when missing.
func addKnownHost(knownFile, addr string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(knownFile), 0o700); err != nil {
		return fmt.Errorf("add host key to %s: %w", knownFile, err)
	}
	f, err := os.OpenFile(knownFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("add host key to %s: %w", knownFile, err)
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n"
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("add host key to %s: %w", knownFile, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("add host key to %s: %w", knownFile, err)
	}
	return nil
}

func sshFingerprint(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) }
