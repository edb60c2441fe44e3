package tunnel

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Errors about the configured key file, checked with errors.Is.
var (
	// ErrPassphrase: the key file is protected by a passphrase, which an
	// unattended run cannot type.
	ErrPassphrase = errors.New("key is protected by a passphrase")
	// ErrDSAKey: the key file holds a DSA key (the original's id_dsa
	// default), which OpenSSH servers refuse since 7.0.
	ErrDSAKey = errors.New("DSA keys are refused by OpenSSH since 7.0")
)

// auth is the set of credentials offered on every hop.
type auth struct {
	methods []ssh.AuthMethod
	offered []string // what is offered, for error messages (never a secret)
	agent   net.Conn // open agent socket, or nil
}

// newAuth gathers the key file, the agent's keys and the deprecated
// password. A key file that cannot be used is an error unless an agent
// offers keys, in which case it is logged and skipped.
func newAuth(cfg Config, log *slog.Logger) (*auth, error) {
	a := &auth{}
	var signers []ssh.Signer
	var agentClient agent.ExtendedAgent
	if cfg.AgentSocket != "" {
		conn, err := net.DialTimeout("unix", cfg.AgentSocket, time.Second)
		if err != nil {
			log.Warn("ssh-agent not reachable, not using it", "socket", cfg.AgentSocket, "error", err)
		} else {
			a.agent = conn
			agentClient = agent.NewClient(conn)
			a.offered = append(a.offered, "ssh-agent keys")
		}
	}
	if cfg.Keyfile != "" {
		s, err := LoadKey(cfg.Keyfile)
		switch {
		case err == nil:
			signers = append(signers, s)
			a.offered = append(a.offered, fmt.Sprintf("key %s (%s)", cfg.Keyfile, ssh.FingerprintSHA256(s.PublicKey())))
		case agentClient != nil:
			log.Warn("ssh keyfile not usable, trying ssh-agent keys only", "error", err)
		default:
			a.close()
			return nil, err
		}
	}
	if len(signers) > 0 || agentClient != nil {
		a.methods = append(a.methods, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			all := append([]ssh.Signer(nil), signers...)
			if agentClient != nil {
				as, err := agentClient.Signers()
				if err != nil {
					log.Warn("ssh-agent keys not readable", "error", err)
				}
				all = append(all, as...)
			}
			return all, nil
		}))
	}
	if pw := cfg.Password.Reveal(); pw != "" {
		log.Warn("[ssh] password is deprecated: use a key file or ssh-agent")
		a.offered = append(a.offered, "password")
		a.methods = append(a.methods,
			ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, echos []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range questions {
					if !echos[i] {
						answers[i] = pw
					}
				}
				return answers, nil
			}))
	}
	if len(a.methods) == 0 {
		return nil, errors.New("ssh: no credentials: set [ssh] keyfile, or run an ssh-agent (SSH_AUTH_SOCK)")
	}
	return a, nil
}

func (a *auth) close() {
	if a.agent != nil {
		a.agent.Close()
	}
}

// explain turns x/crypto's generic authentication failure into ErrAuth with
// what was offered.
func (a *auth) explain(err error) error {
	if err != nil && strings.Contains(err.Error(), "unable to authenticate") {
		return fmt.Errorf("%w (offered %s): is the public key in that user's authorized_keys?",
			ErrAuth, strings.Join(a.offered, ", "))
	}
	return err
}

// newKeyAdvice ends the message of a key file that cannot be used.
const newKeyAdvice = "create an ed25519 key (ssh-keygen -t ed25519) and authorize it on the server"

// LoadKey reads a private key file as Open does for Config.Keyfile, with
// an actionable error for each way it can be unusable: missing, DSA
// (ErrDSAKey), protected by a passphrase (ErrPassphrase), unreadable, or
// of a type pggraph does not use (ed25519, ECDSA and RSA are used).
func LoadKey(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("ssh keyfile %s: not found: create a key (ssh-keygen -t ed25519 -f %s) or fix [ssh] keyfile", path, path)
	case err != nil:
		return nil, fmt.Errorf("ssh keyfile: %w", err)
	}
	if isDSA(data) {
		return nil, fmt.Errorf("ssh keyfile %s: %w: %s", path, ErrDSAKey, newKeyAdvice)
	}
	s, err := ssh.ParsePrivateKey(data)
	var pe *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &pe):
		return nil, fmt.Errorf("ssh keyfile %s: %w: load it into ssh-agent (ssh-add) and set SSH_AUTH_SOCK, or use a key without one", path, ErrPassphrase)
	case err != nil:
		return nil, fmt.Errorf("ssh keyfile %s: not a usable private key: %w", path, err)
	}
	if err := usedKeyType(s.PublicKey()); err != nil {
		return nil, fmt.Errorf("ssh keyfile %s: %w", path, err)
	}
	return s, nil
}

// usedKeyType refuses a key of a type pggraph does not use (see keyTypes).
func usedKeyType(k ssh.PublicKey) error {
	if slices.Contains(keyTypes(), k.Type()) {
		return nil
	}
	return fmt.Errorf("key type %s is not used: %s", k.Type(), newKeyAdvice)
}

// isDSA reports whether a key file holds a DSA key, in PEM or in OpenSSH's
// own format (which x/crypto cannot parse at all).
func isDSA(data []byte) bool {
	block, _ := pem.Decode(data)
	if block == nil {
		return false
	}
	switch block.Type {
	case "DSA PRIVATE KEY":
		return true
	case "OPENSSH PRIVATE KEY":
		return bytes.Contains(block.Bytes, []byte("ssh-dss"))
	}
	return false
}
