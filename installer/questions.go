// Package installer asks pggraph-install's questions, validates each answer,
// and creates one client's install directory: config.ini (mode 0600), the
// index.cgi symlink to the installed pggraph.cgi, the client's tables and its
// clients row. Any failure undoes what was already done.
//
// The questions are config.ini's keys (config.Keys: prompt, help, default
// and check travel with each key), asked through a Prompter: a terminal
// (NewSurvey, survey/v2) or an answers file (LoadAnswers), which is read
// like config.ini itself.
package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pggraph/pggraph/internal/config"
)

// question is one config.ini key as the installer takes it: the key, with
// its prompt and its own checks, and what the installer adds to it.
type question struct {
	config.Key
	// check, when set, is the installer's own check of a value the key
	// accepts, given as Key.Get gives it: the directory must not exist
	// yet, the key file must be usable, the prefix must be free.
	check func(v string) error
	// after, when set, runs once the key has its value: it tests the
	// central database login or trusts a host key. Its errors are
	// *StepError.
	after func(ctx context.Context) error
}

// questions returns every config.ini key in file order, each with what
// session s adds to it.
func (s *session) questions() []question {
	hooks := s.hooks()
	var qs []question
	for _, k := range config.Keys() {
		q := hooks[k.Hook]
		q.Key = k
		qs = append(qs, q)
	}
	return qs
}

// hooks implements every config.Hook for session s (config.NoHook adds
// nothing).
func (s *session) hooks() map[config.Hook]question {
	return map[config.Hook]question{
		config.NewDirectory:      {check: checkNewDir},
		config.FreePrefix:        {check: s.prefixFree},
		config.CentralLogin:      {after: s.centralLogin},
		config.UsableKeyfile:     {check: checkKeyfile},
		config.TrustServer:       {after: s.trustServer},
		config.TrustSecondServer: {after: s.trustSecondServer},
	}
}

// question returns s's question for the key [section] name.
func (s *session) question(section, name string) question {
	i := slices.IndexFunc(s.qs, func(q question) bool { return q.Section == section && q.Name == name })
	return s.qs[i]
}

// asked tells whether the installer asks q, given the answers so far.
func (q question) asked(c *config.Config) bool {
	return q.Prompt != "" && (q.Ask == nil || q.Ask(c))
}

// tidy trims an answer, but not a password's: its spaces may count.
func (q question) tidy(v string) string {
	if q.Secret() {
		return v
	}
	return strings.TrimSpace(v)
}

// problem returns what is wrong with v as q's value in c, the answers so
// far considered: the key's reading and check (as config.ini's), then the
// installer's own. Its text names neither the key nor the value.
func (q question) problem(c *config.Config, v string) error {
	cp := *c
	err := q.Set(&cp, q.tidy(v))
	if err == nil {
		err = q.Check(&cp)
	}
	var fe *config.FieldError
	switch {
	case errors.As(err, &fe):
		return errors.New(fe.Problem)
	case err != nil:
		return err
	case q.check != nil:
		return q.check(q.Get(&cp))
	}
	return nil
}

// checkNewDir accepts an absolute, clean directory that does not exist yet
// and whose parent does.
func checkNewDir(v string) error {
	if _, err := os.Lstat(v); err == nil {
		return fmt.Errorf("%s already exists: choose a new directory", v)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	st, err := os.Stat(filepath.Dir(v))
	switch {
	case err != nil:
		return fmt.Errorf("parent directory %s: does not exist", filepath.Dir(v))
	case !st.IsDir():
		return fmt.Errorf("parent %s: not a directory", filepath.Dir(v))
	}
	return nil
}

// prefixFree refuses a prefix that is already a client's, once the central
// database told which are.
func (s *session) prefixFree(v string) error {
	if slices.Contains(s.taken, v) {
		return fmt.Errorf("prefix %s is already a client's: choose another", v)
	}
	return nil
}

// expandHome is config.ExpandHome, for checkKeyfile.
func expandHome(v string) string { return config.ExpandHome(v) }
