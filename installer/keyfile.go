package installer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
)

// checkKeyfile accepts a blank answer (agent or password only) or a private
// key file without a passphrase of a type the tunnel can use.
func checkKeyfile(v string) error {
	if v == "" {
		return nil
	}
	v = expandHome(v)
	if !filepath.IsAbs(v) {
		return errors.New("not an absolute path")
	}
	b, err := os.ReadFile(v)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: no such file", v)
		}
		return fmt.Errorf("read %s: %w", v, err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	var pm *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &pm):
		return fmt.Errorf("%s is protected by a passphrase: use the ssh agent (leave this blank) or a key without one", v)
	case err != nil:
		return fmt.Errorf("%s: not a usable private key: %v", v, err)
	}
	switch t := signer.PublicKey().Type(); t {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoRSA, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
		return nil
	default:
		return fmt.Errorf("%s: key type %s is not supported: use ed25519, ecdsa or rsa", v, t)
	}
}
