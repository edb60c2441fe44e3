package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/tunnel"
)

// trustHost makes sure known_hosts vouches for addr, reached with dial, as
// the collector will check it, asking the operator to trust an unknown
// host. The verdicts and their messages are package tunnel's.
func trustHost(ctx context.Context, opt Options, c *config.Config, addr string, dial tunnel.DialFunc) error {
	if c.SSH.KnownHosts == "" {
		return errors.New("no known_hosts file: the running user's home directory is unknown")
	}
	ctx, cancel := context.WithTimeout(ctx, hostKeyTimeout)
	defer cancel()
	err := tunnel.CheckHostKey(ctx, c.SSH.KnownHosts, addr, dial)
	var he *tunnel.HostKeyError
	if !errors.As(err, &he) || !errors.Is(err, tunnel.ErrUnknownHost) {
		return err
	}
	fmt.Fprintln(opt.Stdout, he.Text())
	yes, err := opt.Prompter.Confirm(TrustHostKey)
	if err != nil {
		return err
	}
	if !yes {
		return fmt.Errorf("%w; or let pggraph-install add it: answer yes (with -answers: -yes)", he)
	}
	return addKnownHost(c.SSH.KnownHosts, he.Line())
}

// trustSecondHost makes sure known_hosts vouches for a twin tunnel's
// database host, whose sshd is reached through the bastion (already
// trusted) as the collector will reach it.
func trustSecondHost(ctx context.Context, opt Options, c *config.Config) error {
	tc := tunnel.FromConfig(c, opt.AgentSocket)
	tc.Hops = tc.Hops[:1]
	if tc.Timeout <= 0 || tc.Timeout > hostKeyTimeout {
		tc.Timeout = hostKeyTimeout
	}
	bastion, err := tunnel.Open(ctx, tc)
	if err != nil {
		return fmt.Errorf("reach %s through the bastion: %w", c.SSH.SecondAddr(), err)
	}
	defer bastion.Close()
	return trustHost(ctx, opt, c, c.SSH.SecondAddr(), bastion.DialContext)
}

// addKnownHost appends line to knownFile, creating the file (0600) and its
// directory (0700) when missing.
func addKnownHost(knownFile, line string) error {
	if err := os.MkdirAll(filepath.Dir(knownFile), 0o700); err != nil {
		return fmt.Errorf("add host key to %s: %w", knownFile, err)
	}
	f, err := os.OpenFile(knownFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("add host key to %s: %w", knownFile, err)
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("add host key to %s: %w", knownFile, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("add host key to %s: %w", knownFile, err)
	}
	return nil
}
