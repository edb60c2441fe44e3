package installer

import (
	"errors"
	"path/filepath"

	"github.com/pggraph/pggraph/tunnel"
)

// checkKeyfile accepts a blank answer (agent or password only) or an
// absolute path to a key file the tunnel can use, by the tunnel's own rules
// and with its messages.
func checkKeyfile(v string) error {
	if v == "" {
		return nil
	}
	v = expandHome(v)
	if !filepath.IsAbs(v) {
		return errors.New("not an absolute path")
	}
	_, err := tunnel.LoadKey(v)
	return err
}
