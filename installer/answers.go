package installer

import (
	"errors"
	"fmt"
	"os"

	"github.com/pggraph/pggraph/internal/config"
)

// Answers is a Prompter that answers from a file read like config.ini
// (config.ReadFile and File.Apply), so that any valid config.ini is a
// valid answers file. A key the file sets is taken, even one the
// installer does not ask (known_hosts, log_file, keep_*_days); a question
// it does not set takes its default. An answer the installer refuses is a
// *config.FieldError naming the file, section and key.
type Answers struct {
	file *config.File
	// TrustHostKeys answers TrustHostKey; false (the zero value) refuses
	// unknown host keys. OfferTunnelTest is answered yes.
	TrustHostKeys bool
}

var _ Prompter = (*Answers)(nil)

// LoadAnswers reads an answers file and checks every value it sets as
// config.ini's reader would: a syntax error, an unknown section or key, a
// key set twice or a value that is not one (a port that is no number, …)
// is an error naming it. Rules between keys are checked once every
// question is answered (Run's "check answers").
func LoadAnswers(path string) (*Answers, error) {
	r, err := os.Open(path)
	if errors.Is(err, os.ErrPermission) {
		return nil, fmt.Errorf("answers %s: %w (pggraph-install reads it as the user it runs as: chown that user, www-data, and chmod 600 it)", path, errors.Unwrap(err))
	}
	if err != nil {
		return nil, fmt.Errorf("answers %s: %w", path, errors.Unwrap(err))
	}
	defer r.Close()
	f, err := config.ReadFile(r, path)
	if err != nil {
		return nil, err
	}
	if err := f.Apply(config.Default()); err != nil {
		return nil, err
	}
	return &Answers{file: f}, nil
}

// Sets implements Prompter.
func (a *Answers) Sets(k config.Key) bool {
	_, ok := a.file.Value(k)
	return ok
}

// Ask implements Prompter: the file's value, else def.
func (a *Answers) Ask(k config.Key, def string, check func(string) error) (string, error) {
	v, ok := a.file.Value(k)
	if !ok {
		v = def
	}
	if err := check(v); err != nil {
		return "", k.FieldError(a.file.Name(), v, err.Error())
	}
	return v, nil
}

// Confirm implements Prompter: TrustHostKey is answered by TrustHostKeys,
// OfferTunnelTest by yes (an unattended install tests its tunnel and
// says how it went).
func (a *Answers) Confirm(act Action) (bool, error) {
	if act == OfferTunnelTest {
		return true, nil
	}
	return a.TrustHostKeys, nil
}
