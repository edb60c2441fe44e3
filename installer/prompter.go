package installer

import (
	"errors"
	"fmt"
	"io"

	"github.com/AlecAivazis/survey/v2"
	"github.com/AlecAivazis/survey/v2/terminal"
)

// Prompter asks one question at a time. It is the installer's only view of
// the terminal, so that answers can come from a file or a test.
type Prompter interface {
	// Input asks for a line of text; def is offered as the default ("" for
	// none). validate, when not nil, must accept the answer: a terminal
	// asks again with the reason, a file fails.
	Input(prompt, def, help string, validate func(string) error) (string, error)
	// Confirm asks yes or no.
	Confirm(prompt string, def bool, help string) (bool, error)
	// Password asks for a secret without echo and without a default.
	Password(prompt, help string, validate func(string) error) (string, error)
}

// ErrInterrupted is returned when the operator interrupts a question (^C).
var ErrInterrupted = errors.New("interrupted")

// Survey is a Prompter on a terminal, with survey/v2.
type Survey struct {
	opts []survey.AskOpt
}

var _ Prompter = (*Survey)(nil)

// NewSurvey returns a Prompter on the terminal in, out and errOut (normally
// os.Stdin, os.Stdout and os.Stderr). Typing ? shows a question's help.
func NewSurvey(in terminal.FileReader, out terminal.FileWriter, errOut io.Writer) *Survey {
	return &Survey{opts: []survey.AskOpt{survey.WithStdio(in, out, errOut)}}
}

func wrapValidate(validate func(string) error) survey.Validator {
	return func(ans any) error {
		if validate == nil {
			return nil
		}
		s, ok := ans.(string)
		if !ok {
			return fmt.Errorf("unexpected answer type %T", ans)
		}
		return validate(s)
	}
}

func surveyErr(err error) error {
	if errors.Is(err, terminal.InterruptErr) {
		return ErrInterrupted
	}
	return err
}

// Input implements Prompter.
func (s *Survey) Input(prompt, def, help string, validate func(string) error) (string, error) {
	var ans string
	q := &survey.Input{Message: prompt, Default: def, Help: help}
	err := survey.AskOne(q, &ans, append(s.opts, survey.WithValidator(wrapValidate(validate)))...)
	return ans, surveyErr(err)
}

// Confirm implements Prompter.
func (s *Survey) Confirm(prompt string, def bool, help string) (bool, error) {
	var ans bool
	err := survey.AskOne(&survey.Confirm{Message: prompt, Default: def, Help: help}, &ans, s.opts...)
	return ans, surveyErr(err)
}

// Password implements Prompter.
func (s *Survey) Password(prompt, help string, validate func(string) error) (string, error) {
	var ans string
	q := &survey.Password{Message: prompt, Help: help}
	err := survey.AskOne(q, &ans, append(s.opts, survey.WithValidator(wrapValidate(validate)))...)
	return ans, surveyErr(err)
}
