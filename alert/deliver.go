package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/store"
)

// DefaultSendmail is the program mail goes through: the interface every
// Debian MTA provides.
const DefaultSendmail = "/usr/sbin/sendmail"

// DefaultDeadline bounds the delivery of one run's notifications: a
// missing MTA or a hanging command never holds a collection longer.
const DefaultDeadline = 5 * time.Second

// maxOutput bounds what a failed program's output adds to its error.
const maxOutput = 200

// Sender delivers notifications through a client's contacts.
type Sender struct {
	// Sendmail is the sendmail program, run as Sendmail -t -i; "" means
	// DefaultSendmail.
	Sendmail string
}

// Send delivers n through cfg's contacts: mail through sendmail, a
// command with n's body on its stdin and n.Env in its environment. Each
// program is killed, with every process it started, when ctx ends.
func (s Sender) Send(ctx context.Context, cfg *config.Config, n store.Notification) error {
	switch n.Channel {
	case store.ChannelMail:
		to := cfg.Alerts.MailTo()
		if len(to) == 0 {
			return errors.New("no [alerts] mail address")
		}
		sendmail := s.Sendmail
		if sendmail == "" {
			sendmail = DefaultSendmail
		}
		return run(ctx, []string{sendmail, "-t", "-i"}, MailMessage(to, n.Subject, n.Body), nil)
	case store.ChannelCommand:
		argv := strings.Fields(cfg.Alerts.Command)
		if len(argv) == 0 {
			return errors.New("no [alerts] command")
		}
		return run(ctx, argv, []byte(n.Body), n.Env)
	}
	return fmt.Errorf("unknown channel %q", n.Channel)
}

// run runs argv (no shell) with stdin and env added to the environment,
// in a process group of its own that is killed when ctx ends.
func run(ctx context.Context, argv []string, stdin []byte, env map[string]string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 500 * time.Millisecond
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("run %s: killed at the deadline: %w", argv[0], ctx.Err())
	}
	if err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > maxOutput {
			msg = msg[:maxOutput] + "…"
		}
		if msg != "" {
			return fmt.Errorf("run %s: %w: %s", argv[0], err, oneLine(msg))
		}
		return fmt.Errorf("run %s: %w", argv[0], err)
	}
	return nil
}
