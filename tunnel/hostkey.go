package tunnel

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Host-key failures, checked with errors.Is; the error itself is a
// *HostKeyError.
var (
	// ErrUnknownHost: the host has no key in known_hosts.
	ErrUnknownHost = errors.New("host key unknown")
	// ErrHostKeyChanged: known_hosts holds other keys for the host, or
	// marks its key @revoked.
	ErrHostKeyChanged = errors.New("host key changed")
)

// keyTypes are the key types pggraph uses, for host keys and key files
// alike, in order of preference: messages list a server's host keys in
// this order and suggest the known_hosts line of the first one offered.
func keyTypes() []string {
	return []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoRSA}
}

// HostKeyError is a host key that known_hosts does not vouch for. Want
// empty means the host is unknown; otherwise its key changed (Want holds
// the keys on file) or is marked @revoked (Want holds that entry), and the
// connection is refused.
type HostKeyError struct {
	// Host is "host:port" as dialled.
	Host string
	// KnownHosts is the file consulted.
	KnownHosts string
	// Keys are the host keys the server offers, at least one: for an
	// unknown host every type it has, in keyTypes order (ed25519 first)
	// when they could be fetched; otherwise the key it showed.
	Keys []ssh.PublicKey
	// Want are the entries on file for the host; empty: unknown host.
	Want []knownhosts.KnownKey
	// Revoked: Want[0] marks the key @revoked.
	Revoked bool
}

// Error is the verdict in one line: the fingerprints offered and what to
// do.
func (e *HostKeyError) Error() string { return e.text(false) }

// Text is the same verdict over several lines, for a terminal: each
// fingerprint, and the line to add, on a line of its own.
func (e *HostKeyError) Text() string { return e.text(true) }

func (e *HostKeyError) text(lines bool) string {
	fps := make([]string, len(e.Keys))
	for i, k := range e.Keys {
		fps[i] = Fingerprint(k)
	}
	// offers lists the fingerprints; sep ends a sentence; quote leads to
	// a fingerprint or line quoted on its own.
	offers, sep, quote := " "+strings.Join(fps, ", "), "; ", " "
	if lines {
		offers, sep, quote = "\n  "+strings.Join(fps, "\n  "), "\n", "\n  "
	}
	switch {
	case e.Revoked:
		w := e.Want[0]
		return fmt.Sprintf("host key of %s is marked @revoked at %s:%d: refused%sit offers%s", e.Host, w.Filename, w.Line, sep, offers)
	case len(e.Want) == 0:
		first := e.Keys[0]
		return fmt.Sprintf("host key of %s is unknown: it offers%s%sif the %s one is the server's (%s on it), add this line to %s:%s%s",
			e.Host, offers, sep, first.Type(), keygenCommand(first), e.KnownHosts, quote, e.Line())
	default:
		held, brk := ", ", " "
		if lines {
			held, brk = "\n", "\n"
		}
		entries := make([]string, len(e.Want))
		for i, w := range e.Want {
			entries[i] = fmt.Sprintf("%s:%d holds%s%s", w.Filename, w.Line, quote, Fingerprint(w.Key))
		}
		return fmt.Sprintf("host key of %s changed: it offers%s%sbut %s: refused (the server was reinstalled, or someone is in between: check, then fix that line)",
			e.Host, offers, brk, strings.Join(entries, held))
	}
}

// Is matches ErrUnknownHost or ErrHostKeyChanged.
func (e *HostKeyError) Is(target error) bool {
	if len(e.Want) == 0 {
		return target == ErrUnknownHost
	}
	return target == ErrHostKeyChanged
}

// Line is the known_hosts line that trusts the first of Keys for Host:
// the line an unknown host's message asks to add. It is not hashed.
func (e *HostKeyError) Line() string {
	return knownhosts.Line([]string{knownhosts.Normalize(e.Host)}, e.Keys[0])
}

// Fingerprint is a key as messages show it: its type and SHA256
// fingerprint, as ssh-keygen -l prints them.
func Fingerprint(k ssh.PublicKey) string { return k.Type() + " " + ssh.FingerprintSHA256(k) }

// keygenCommand shows a host key's fingerprint on the server itself, at
// OpenSSH's default path for that key type.
func keygenCommand(k ssh.PublicKey) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(k.Type(), "ssh-"), "-")
	return "ssh-keygen -lf /etc/ssh/ssh_host_" + name + "_key.pub"
}

// hostKeys checks host keys against one known_hosts file.
type hostKeys struct {
	file  string
	check ssh.HostKeyCallback
	probe ssh.PublicKey // a key no file holds, to list a host's known keys
}

// newHostKeys reads file; a missing file is an error unless missingOK,
// when it counts as empty.
func newHostKeys(file string, missingOK bool) (*hostKeys, error) {
	if file == "" {
		return nil, errors.New("ssh: no known_hosts file: set [ssh] known_hosts (host keys are always verified)")
	}
	files := []string{file}
	if _, err := os.Stat(file); missingOK && errors.Is(err, fs.ErrNotExist) {
		files = nil
	}
	check, err := knownhosts.New(files...)
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
		return &HostKeyError{Host: host, KnownHosts: h.file, Keys: []ssh.PublicKey{key}, Want: ke.Want}
	case errors.As(err, &re):
		return &HostKeyError{Host: host, KnownHosts: h.file, Keys: []ssh.PublicKey{key}, Want: []knownhosts.KnownKey{re.Revoked}, Revoked: true}
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

// clientConfig is the handshake of one hop: the key types on file for
// addr asked for, the key checked against the file.
func (h *hostKeys) clientConfig(addr, user string, auth []ssh.AuthMethod) *ssh.ClientConfig {
	return &ssh.ClientConfig{User: user, Auth: auth, HostKeyCallback: h.callback, HostKeyAlgorithms: h.algorithms(addr)}
}

// verdict returns the *HostKeyError in err itself, not x/crypto's
// wrapping of it (whose text is fixed already), after giving an unknown
// host's error every host key the server offers, fetched over connections
// from dial, so that its message lists them all (if that fetch fails, the
// key shown is listed). Any other err is returned as it is.
func verdict(ctx context.Context, err error, addr string, dial DialFunc) error {
	var he *HostKeyError
	if !errors.As(err, &he) {
		return err
	}
	if errors.Is(he, ErrUnknownHost) {
		if keys, ferr := HostKeys(ctx, addr, dial); ferr == nil {
			he.Keys = keys
		}
	}
	return he
}

// DialFunc opens a connection to addr: a net.Dialer's DialContext, or a
// Tunnel's (to reach a server through the chain).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// errKeyShown ends a handshake once the server has shown its host key.
var errKeyShown = errors.New("host key shown")

// keyUser is the login named in handshakes that stop at the host key.
const keyUser = "pggraph"

// CheckHostKey checks the host key of the SSH server at addr, reached with
// dial, against the knownHosts file as Open checks each hop: the same key
// types asked for, the same verdict. It stops before logging in. Nil
// means known_hosts vouches for the key; an unknown host gives a
// *HostKeyError (ErrUnknownHost) listing every host key the server offers;
// a changed or revoked key one matching ErrHostKeyChanged; other errors
// name addr. A missing knownHosts file counts as empty. ctx bounds it all.
func CheckHostKey(ctx context.Context, knownHosts, addr string, dial DialFunc) error {
	hk, err := newHostKeys(knownHosts, true)
	if err != nil {
		return err
	}
	cc := hk.clientConfig(addr, keyUser, nil)
	cc.HostKeyCallback = func(host string, remote net.Addr, key ssh.PublicKey) error {
		if err := hk.callback(host, remote, key); err != nil {
			return err
		}
		return errKeyShown
	}
	switch err := showKey(ctx, addr, dial, cc); {
	case errors.Is(err, errKeyShown):
		return nil
	case errors.As(err, new(*HostKeyError)):
		return verdict(ctx, err, addr, dial)
	default:
		return fmt.Errorf("check host key of %s: %w", addr, err)
	}
}

// HostKeys returns every host key the SSH server at addr offers, of the
// types pggraph uses, ed25519 first: one handshake per type over a
// connection from dial, each stopped once the key is shown (what
// ssh-keyscan does). The keys are not checked. ctx bounds it all.
func HostKeys(ctx context.Context, addr string, dial DialFunc) ([]ssh.PublicKey, error) {
	var keys []ssh.PublicKey
	var offered []string // the server's host-key algorithms, once a refusal told them
	for _, kt := range keyTypes() {
		algos := algorithmsFor(kt)
		if offered != nil && !slices.ContainsFunc(algos, func(a string) bool { return slices.Contains(offered, a) }) {
			continue
		}
		var key ssh.PublicKey
		err := showKey(ctx, addr, dial, &ssh.ClientConfig{
			User:              keyUser,
			HostKeyAlgorithms: algos,
			HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
				key = k
				return errKeyShown
			},
		})
		var ne *ssh.AlgorithmNegotiationError
		switch {
		case key != nil:
			keys = append(keys, key)
		case errors.As(err, &ne) && ne.What == "host key":
			offered = ne.RequestedAlgorithms
		default:
			return nil, fmt.Errorf("fetch host keys of %s: %w", addr, err)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("fetch host keys of %s: it offers none of %s (it offers %s)",
			addr, strings.Join(keyTypes(), ", "), strings.Join(offered, ", "))
	}
	return keys, nil
}

// showKey runs a handshake with addr over a connection from dial until
// cc's host-key callback ends it, and returns the handshake's error.
func showKey(ctx context.Context, addr string, dial DialFunc, cc *ssh.ClientConfig) error {
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	c, err := handshake(ctx, conn, addr, cc)
	if err == nil {
		c.Close()
		return errors.New("handshake went on past the host key")
	}
	return err
}
