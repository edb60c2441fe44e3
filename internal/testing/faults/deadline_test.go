//go:build hard

package faults

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/testing/rig"
)

// deadlineDelay is [pggraph] delay in TestBoundedTime.
const deadlineDelay = 3 * time.Second

// deadlineSlack is how much longer than the delay a failure may take.
const deadlineSlack = 10 * time.Second

// TestBoundedTime points the collector at hosts that never answer — a
// bastion or a db host whose SYNs are dropped (rig.Blackhole), or that
// accepts and never speaks (rig.Silent), the db host behind a working
// bastion — and at a PostgreSQL that never answers behind a working
// chain: each run fails within delay + 10 s, with one line naming the
// client, the step and the hop, whose cause says "no answer in time".
func TestBoundedTime(t *testing.T) {
	w := env(t)
	r := w.rig
	root := t.TempDir()

	// A bastion that forwards anywhere: the rig's own only forwards to
	// its db host.
	open, err := r.StartSSHD(t.Context(), "hard-openbastion")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := open.Stop(); err != nil {
			t.Error(err)
		}
	})
	line, err := open.KnownHostsLine()
	if err != nil {
		t.Fatal(err)
	}
	rigHosts, err := os.ReadFile(r.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	knownHosts := filepath.Join(root, "known_hosts")
	if err := os.WriteFile(knownHosts, append(rigHosts, line...), 0o644); err != nil {
		t.Fatal(err)
	}

	// Each case edits the twin config of the client; addr gets a
	// blackholed or silent address.
	tests := []struct {
		name, prefix string
		dead         func(testing.TB) string // the address that never answers
		edit         func(c *config.Config, addr string)
		want         string // the hop and step in the failure line
	}{
		{"bastion blackholed", "dlbastionhole", rig.Blackhole, func(c *config.Config, addr string) { setServer(c, addr) }, "tunnel: bastion %s: tcp connect: "},
		{"bastion silent", "dlbastionsilent", rig.Silent, func(c *config.Config, addr string) { setServer(c, addr) }, "tunnel: bastion %s: ssh handshake: "},
		{"db host blackholed behind a working bastion", "dldbhole", rig.Blackhole, func(c *config.Config, addr string) {
			setServer(c, open.Addr)
			c.SSH.SecondServer, c.SSH.KnownHosts = addr, knownHosts
		}, "tunnel: db host %s: forward via bastion: "},
		{"db host silent behind a working bastion", "dldbsilent", rig.Silent, func(c *config.Config, addr string) {
			setServer(c, open.Addr)
			c.SSH.SecondServer, c.SSH.KnownHosts = addr, knownHosts
		}, "tunnel: db host %s: ssh handshake: "},
		{"direct ssh server silent", "dldirectsilent", rig.Silent, func(c *config.Config, addr string) {
			setServer(c, addr)
			c.SSH.TwinTunnel, c.SSH.SecondServer = false, ""
		}, "tunnel: ssh server %s: ssh handshake: "},
		{"PostgreSQL silent behind the db host", "dlpgsilent", rig.Silent, func(c *config.Config, addr string) {
			host, port, _ := net.SplitHostPort(addr)
			c.SSH.BindAddress = host
			c.SSH.BindPort, _ = strconv.Atoi(port)
		}, "remote: "},
	}
	t.Run("group", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				addr := tc.dead(t)
				path := w.clientConfig(t, root, tc.prefix, []string{"postgres"}, func(c *config.Config) {
					c.PGGraph.Delay = deadlineDelay
					tc.edit(c, addr)
				})
				// Killed a little after the bound, so that a hang costs
				// the suite seconds, not the run's interval.
				res := w.start(t, "pggraph-collect", path).wait(t, deadlineDelay+deadlineSlack+5*time.Second)
				lines := res.failures()
				want := "pggraph-collect: " + tc.prefix + ": " + strings.ReplaceAll(tc.want, "%s", addr)
				ok := true
				switch {
				case res.code != 1 || len(lines) != 1:
					t.Errorf("exit %d, %d failure lines; want 1 and one line: %s", res.code, len(lines), res)
					ok = false
				case !strings.HasPrefix(lines[0], want) || !strings.Contains(lines[0], "no answer in time"):
					t.Errorf("failure line %q; want it to start %q and say \"no answer in time\"", lines[0], want)
					ok = false
				}
				if res.took > deadlineDelay+deadlineSlack {
					t.Errorf("failed after %v; want at most delay %v + %v", res.took, deadlineDelay, deadlineSlack)
					ok = false
				}
				t.Logf("failed after %v: %s", res.took.Round(time.Millisecond), strings.Join(lines, " "))
				note := fmt.Sprintf("failed in %.1f s (delay %v): %s", res.took.Seconds(), deadlineDelay, cause(lines, tc.prefix))
				if res.code == -1 {
					note = fmt.Sprintf("still running after %.0f s (delay %v): killed", res.took.Seconds(), deadlineDelay)
				}
				f := figure{Area: "deadline", What: tc.name, Tries: 1, Survived: 1, Note: note}
				if !ok {
					f.Survived, f.Failures = 0, 1
				}
				figures.add(f)
			})
		}
	})
}

// setServer makes addr the config's [ssh] server and port.
func setServer(c *config.Config, addr string) {
	host, port, _ := net.SplitHostPort(addr)
	c.SSH.Server = host
	c.SSH.Port, _ = strconv.Atoi(port)
}

// cause is the failure line without the program and client, for the
// table.
func cause(lines []string, prefix string) string {
	if len(lines) == 0 {
		return "no failure line"
	}
	return strings.TrimPrefix(lines[0], "pggraph-collect: "+prefix+": ")
}
