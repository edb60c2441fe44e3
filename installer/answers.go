package installer

import (
	"errors"
	"fmt"
	"os"

	"gopkg.in/ini.v1"
)

// TrustPrompt is the question asked before an unknown SSH host key is
// added to known_hosts.
const TrustPrompt = "Trust this host key and add it to known_hosts?"

// TestPrompt is the question offering to test the tunnel after installing.
const TestPrompt = "Test the tunnel now?"

// Answers is a Prompter that answers from an ini file with config.ini's
// sections and keys. A missing key gives the question's default; an answer
// the question refuses is an error naming the file, section and key.
type Answers struct {
	file   string
	byText map[string]answer // by prompt text
	// TrustHostKeys answers TrustPrompt; false (the zero value) refuses
	// unknown host keys.
	TrustHostKeys bool
}

// answer is one key of the file, or none.
type answer struct {
	section, key string
	value        string
	set          bool
}

var _ Prompter = (*Answers)(nil)

// LoadAnswers reads an answers file. A section or key that is not one of
// Questions is an error naming it.
func LoadAnswers(path string) (*Answers, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("answers: %w", err)
	}
	f, err := ini.LoadSources(ini.LoadOptions{IgnoreInlineComment: false, SpaceBeforeInlineComment: true}, b)
	if err != nil {
		return nil, fmt.Errorf("answers %s: %w", path, err)
	}
	a := &Answers{file: path, byText: map[string]answer{}}
	known := map[string]bool{}
	for _, q := range Questions() {
		known[q.Section+"\x00"+q.Key] = true
		an := answer{section: q.Section, key: q.Key}
		if s, err := f.GetSection(q.Section); err == nil && s.HasKey(q.Key) {
			an.value, an.set = s.Key(q.Key).String(), true
		}
		a.byText[q.Prompt] = an
	}
	var errs []error
	for _, s := range f.Sections() {
		for _, k := range s.Keys() {
			if s.Name() == ini.DefaultSection || !known[s.Name()+"\x00"+k.Name()] {
				errs = append(errs, fmt.Errorf("answers %s: [%s] %s: unknown key", path, s.Name(), k.Name()))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Answers) lookup(prompt string) (answer, error) {
	an, ok := a.byText[prompt]
	if !ok {
		return an, fmt.Errorf("answers %s: no key answers %q", a.file, prompt)
	}
	return an, nil
}

func (a *Answers) check(an answer, v string, validate func(string) error) error {
	if validate == nil {
		return nil
	}
	if err := validate(v); err != nil {
		return fmt.Errorf("answers %s: [%s] %s: %w", a.file, an.section, an.key, err)
	}
	return nil
}

// Input implements Prompter.
func (a *Answers) Input(prompt, def, _ string, validate func(string) error) (string, error) {
	an, err := a.lookup(prompt)
	if err != nil {
		return "", err
	}
	v := def
	if an.set {
		v = an.value
	}
	return v, a.check(an, v, validate)
}

// Password implements Prompter.
func (a *Answers) Password(prompt, _ string, validate func(string) error) (string, error) {
	an, err := a.lookup(prompt)
	if err != nil {
		return "", err
	}
	return an.value, a.check(an, an.value, validate)
}

// Confirm implements Prompter: TrustPrompt is answered by TrustHostKeys,
// TestPrompt by no, and a question of the file by its yes or no.
func (a *Answers) Confirm(prompt string, def bool, _ string) (bool, error) {
	switch prompt {
	case TrustPrompt:
		return a.TrustHostKeys, nil
	case TestPrompt:
		return false, nil
	}
	an, err := a.lookup(prompt)
	if err != nil {
		return false, err
	}
	if !an.set {
		return def, nil
	}
	b, err := parseYesNo(an.value)
	if err != nil {
		return false, fmt.Errorf("answers %s: [%s] %s: %w", a.file, an.section, an.key, err)
	}
	return b, nil
}
