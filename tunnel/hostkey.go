package tunnel

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Host-key failures, checked with errors.Is; the error itself is a
// *HostKeyError.
var (
	// ErrUnknownHost: the host has no key in known_hosts.
	ErrUnknownHost = errors.New("host key unknown")
	// ErrHostKeyChanged: known_hosts holds other keys for the host.
	ErrHostKeyChanged = errors.New("host key changed")
)

// HostKeyError is a host key that known_hosts does not vouch for. Want empty
// means the host is unknown; otherwise its key changed (or was revoked), and
// the connection is refused.
type HostKeyError struct {
	Host       string                // "host:port" as dialled
	KnownHosts string                // the file consulted
	Key        ssh.PublicKey         // the key the server offered
	Want       []knownhosts.KnownKey // keys on file for the host; empty: unknown host
	Revoked    bool                  // the key is marked @revoked
}

// Error is one line: the fingerprint and what to do.
func (e *HostKeyError) Error() string {
	fp := e.Key.Type() + " " + ssh.FingerprintSHA256(e.Key)
	switch {
	case e.Revoked:
		return fmt.Sprintf("host key of %s (%s) is marked @revoked in %s: refused", e.Host, fp, e.KnownHosts)
	case len(e.Want) == 0:
		return fmt.Sprintf("host key of %s is unknown (%s): if that fingerprint is the server's, add this line to %s: %s",
			e.Host, fp, e.KnownHosts, knownhosts.Line([]string{knownhosts.Normalize(e.Host)}, e.Key))
	default:
		w := e.Want[0]
		return fmt.Sprintf("host key of %s changed: it offers %s but %s:%d holds %s %s: refused (the server was reinstalled, or someone is in between: check, then fix that line)",
			e.Host, fp, w.Filename, w.Line, w.Key.Type(), ssh.FingerprintSHA256(w.Key))
	}
}

// Is matches ErrUnknownHost or ErrHostKeyChanged.
func (e *HostKeyError) Is(target error) bool {
	if len(e.Want) == 0 && !e.Revoked {
		return target == ErrUnknownHost
	}
	return target == ErrHostKeyChanged
}

// hostKeys checks host keys against one known_hosts file.
type hostKeys struct {
	file  string
	check ssh.HostKeyCallback
	probe ssh.PublicKey // a key no file holds, to list a host's known keys
}

func newHostKeys(file string) (*hostKeys, error) {
	if file == "" {
		return nil, errors.New("ssh: no known_hosts file: set [ssh] known_hosts (host keys are always verified)")
	}
	check, err := knownhosts.New(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("known_hosts %s: not found: create it with each server's verified host key", file)
	case err != nil:
		return nil, fmt.Errorf("known_hosts %s: %w", file, err)
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: probe key: %w", err)
	}
	probe, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: probe key: %w", err)
	}
	return &hostKeys{file: file, check: check, probe: probe}, nil
}

// callback is the ssh.HostKeyCallback: knownhosts' check with errors that
// say what to do.
func (h *hostKeys) callback(host string, remote net.Addr, key ssh.PublicKey) error {
	err := h.check(host, remote, key)
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case errors.As(err, &ke):
		return &HostKeyError{Host: host, KnownHosts: h.file, Key: key, Want: ke.Want}
	case errors.As(err, &re):
		return &HostKeyError{Host: host, KnownHosts: h.file, Key: key, Revoked: true}
	}
	return err
}

// algorithms lists the host-key algorithms that match the key types
// known_hosts holds for addr, so that a server offering several host keys
// shows one we can check (x/crypto otherwise prefers ECDSA and reports a
// false mismatch when only the ed25519 key is on file). Nil, the library's
// default, for an unknown host.
func (h *hostKeys) algorithms(addr string) []string {
	var ke *knownhosts.KeyError
	if !errors.As(h.check(addr, &net.TCPAddr{}, h.probe), &ke) {
		return nil
	}
	var algos []string
	for _, k := range ke.Want {
		for _, a := range algorithmsFor(k.Key.Type()) {
			if !slices.Contains(algos, a) {
				algos = append(algos, a)
			}
		}
	}
	return algos
}

// algorithmsFor maps a public key type to the signature algorithms that
// prove it.
func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// KnownHostAlgorithms lists the host-key algorithms that prove the key
// types file holds for addr ("host:port"), for an ssh.ClientConfig's
// HostKeyAlgorithms: nil when addr is unknown or the file does not exist
// (then any key the server prefers is shown, to be trusted or not).
func KnownHostAlgorithms(file, addr string) ([]string, error) {
	if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	h, err := newHostKeys(file)
	if err != nil {
		return nil, err
	}
	return h.algorithms(addr), nil
}
