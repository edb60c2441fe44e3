package installer

import (
	"errors"
	"fmt"
	"io"

	"github.com/AlecAivazis/survey/v2"
	"github.com/AlecAivazis/survey/v2/terminal"

	"github.com/pggraph/pggraph/internal/config"
)

// Prompter is where the installer's answers come from: a terminal
// (Survey) or an answers file (Answers). Answers are found by config.ini
// section and key.
type Prompter interface {
	// Sets tells whether k's value is given beforehand, as an answers
	// file gives it. Such a key is taken even when the installer would
	// not ask it. A terminal sets none.
	Sets(k config.Key) bool
	// Ask returns k's value as text that k reads (config.Key.Set): the
	// answer to k.Prompt, or the value given beforehand. def is the
	// default answer ("" for none). check returns what is wrong with an
	// answer: a terminal asks again with the reason, a file fails with a
	// *config.FieldError.
	Ask(k config.Key, def string, check func(string) error) (string, error)
	// Confirm asks yes or no about a step of the install: TrustHostKey
	// or OfferTunnelTest.
	Confirm(a Action) (bool, error)
}

// Action is a yes-or-no question about a step of the install, not a
// config.ini key.
type Action int

const (
	// TrustHostKey asks whether to add an unknown SSH host key to
	// known_hosts, once its fingerprint is shown. The default is no.
	TrustHostKey Action = iota
	// OfferTunnelTest offers to test the tunnel once installed. The
	// default is yes.
	OfferTunnelTest
)

// TrustPrompt is the question asked before an unknown SSH host key is
// added to known_hosts.
const TrustPrompt = "Trust this host key and add it to known_hosts?"

// TestPrompt is the question offering to test the tunnel after installing.
const TestPrompt = "Test the tunnel now?"

// Prompt is the question as the terminal asks it.
func (a Action) Prompt() string {
	if a == TrustHostKey {
		return TrustPrompt
	}
	return TestPrompt
}

// Help says what the answer does.
func (a Action) Help() string {
	if a == TrustHostKey {
		return "Compare a fingerprint shown with the server's own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on it). Only yes appends the line shown to known_hosts; with -answers, -yes answers yes."
	}
	return "Opens the tunnel now and connects to PostgreSQL's port through it, as pggraph-collect -t would, changing nothing."
}

// Default is the answer offered: no to trusting a key, yes to the test.
func (a Action) Default() bool { return a == OfferTunnelTest }

// ErrInterrupted is returned when the operator interrupts a question (^C).
var ErrInterrupted = errors.New("interrupted")

// Survey is a Prompter on a terminal, with survey/v2: the only code that
// knows survey.
type Survey struct {
	opts []survey.AskOpt
}

var _ Prompter = (*Survey)(nil)

// NewSurvey returns a Prompter on the terminal in, out and errOut (normally
// os.Stdin, os.Stdout and os.Stderr). Typing ? shows a question's help.
func NewSurvey(in terminal.FileReader, out terminal.FileWriter, errOut io.Writer) *Survey {
	return &Survey{opts: []survey.AskOpt{survey.WithStdio(in, out, errOut)}}
}

func surveyErr(err error) error {
	if errors.Is(err, terminal.InterruptErr) {
		return ErrInterrupted
	}
	return err
}

// Sets implements Prompter: a terminal gives nothing beforehand.
func (s *Survey) Sets(config.Key) bool { return false }

// Ask implements Prompter: a password is asked without echo and without
// a default, a boolean as yes or no, anything else as a line of text.
func (s *Survey) Ask(k config.Key, def string, check func(string) error) (string, error) {
	validate := survey.WithValidator(func(ans any) error {
		v, ok := ans.(string)
		if !ok {
			return fmt.Errorf("unexpected answer type %T", ans)
		}
		return check(v)
	})
	var ans string
	var err error
	switch {
	case k.Secret():
		err = survey.AskOne(&survey.Password{Message: k.Prompt, Help: k.Help}, &ans, append(s.opts, validate)...)
	case k.YesNo():
		var yes bool
		err = survey.AskOne(&survey.Confirm{Message: k.Prompt, Default: def == "yes", Help: k.Help}, &yes, s.opts...)
		ans = "no"
		if yes {
			ans = "yes"
		}
	default:
		err = survey.AskOne(&survey.Input{Message: k.Prompt, Default: def, Help: k.Help}, &ans, append(s.opts, validate)...)
	}
	return ans, surveyErr(err)
}

// Confirm implements Prompter.
func (s *Survey) Confirm(a Action) (bool, error) {
	var ans bool
	err := survey.AskOne(&survey.Confirm{Message: a.Prompt(), Default: a.Default(), Help: a.Help()}, &ans, s.opts...)
	return ans, surveyErr(err)
}
