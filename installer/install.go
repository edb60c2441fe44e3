package installer

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pggraph/pggraph/collector"
	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// DefaultMainCGI is where the original layout installs pggraph.cgi.
const DefaultMainCGI = "/var/www/pggraph/_main/pggraph.cgi"

// hostKeyTimeout bounds fetching a server's host key.
const hostKeyTimeout = 10 * time.Second

// undoTimeout bounds undoing a failed install.
const undoTimeout = 30 * time.Second

// Store is what the installer needs of the central database; *store.Store
// implements it.
type Store interface {
	ListClients(ctx context.Context) ([]store.Client, error)
	EnsureClient(ctx context.Context, prefix string) error
	RegisterClient(ctx context.Context, c store.Client) error
	RemoveClient(ctx context.Context, prefix string) (store.Removed, error)
	Close(ctx context.Context) error
}

var _ Store = (*store.Store)(nil)

// Options are Run's dependencies.
type Options struct {
	// Prompter asks the questions. Required.
	Prompter Prompter
	// MainCGI is the installed pggraph.cgi that index.cgi links to; ""
	// means DefaultMainCGI.
	MainCGI string
	// Stdout receives the section headings, host-key fingerprints and the
	// next steps; nil discards them.
	Stdout io.Writer
	// Defaults are the answers offered; nil means config.Default().
	Defaults *config.Config
	// Open connects to the central database; nil means store.Open with
	// every collector group.
	Open func(ctx context.Context, local config.Local) (Store, error)
	// TestTunnel tests the new client's tunnel when the operator accepts
	// TestPrompt; nil opens it with package tunnel and dials PostgreSQL.
	TestTunnel func(ctx context.Context, c *config.Config) error
	// AgentSocket is the ssh-agent socket for the default TestTunnel; ""
	// uses no agent.
	AgentSocket string
}

// StepError is a failed step of Run: "ask", "connect central database",
// "host key", "create directory", …
type StepError struct {
	Step string
	Err  error
}

// Error is "<step>: <cause>".
func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *StepError) Unwrap() error { return e.Err }

func stepErr(step string, err error) error { return &StepError{Step: step, Err: err} }

// Run asks every question, validating each answer, then installs the client:
// the directory (0755), config.ini (0600), the index.cgi symlink, the
// client's tables and its clients row. If a step fails, the earlier ones are
// undone. It returns the written config; errors are *StepError.
func Run(ctx context.Context, opt Options) (*config.Config, error) {
	if opt.Prompter == nil {
		return nil, errors.New("installer: no prompter")
	}
	if opt.MainCGI == "" {
		opt.MainCGI = DefaultMainCGI
	}
	if opt.Stdout == nil {
		opt.Stdout = io.Discard
	}
	if opt.Open == nil {
		opt.Open = func(ctx context.Context, l config.Local) (Store, error) {
			return store.Open(ctx, l, metric.Groups())
		}
	}
	c := opt.Defaults
	if c == nil {
		c = config.Default()
	} else {
		cp := *c
		c = &cp
	}

	var taken []string // prefixes already in the clients table
	checkFree := func(v string) error {
		if slices.Contains(taken, v) {
			return fmt.Errorf("prefix %s is already a client's: choose another", v)
		}
		return nil
	}
	qs := Questions()
	byKey := map[string]Question{}
	for _, q := range qs {
		byKey[q.Section+"."+q.Key] = q
	}
	for _, q := range qs {
		if q.Ask != nil && !q.Ask(c) {
			continue
		}
		if q.Intro != "" {
			fmt.Fprintln(opt.Stdout, q.Intro)
		}
		var extra func(string) error
		if q.Section == "local" && q.Key == "prefix" {
			extra = checkFree
		}
		if err := ask(opt.Prompter, c, q, extra); err != nil {
			return nil, stepErr("ask", err)
		}
		switch q.Section + "." + q.Key {
		case "local.password":
			// The central database is known now: the prefix must be new.
			var err error
			if taken, err = listPrefixes(ctx, opt.Open, c.Local); err != nil {
				return nil, stepErr("connect central database", err)
			}
			if err := checkFree(c.Local.Prefix); err != nil {
				fmt.Fprintf(opt.Stdout, "%s: %v\n", byKey["local.prefix"].Name(), err)
				if err := ask(opt.Prompter, c, byKey["local.prefix"], checkFree); err != nil {
					return nil, stepErr("ask", err)
				}
			}
		case "ssh.port":
			if c.SSH.Server != "" {
				var d net.Dialer
				if err := trustHost(ctx, opt, c, c.SSH.ServerAddr(), d.DialContext); err != nil {
					return nil, stepErr("host key", err)
				}
			}
		case "ssh.second_server":
			if c.SSH.TwinTunnel && c.SSH.Server != "" && c.SSH.SecondServer != "" {
				if err := trustSecondHost(ctx, opt, c); err != nil {
					return nil, stepErr("host key", err)
				}
			}
		}
	}
	if err := c.Validate(); err != nil {
		return nil, stepErr("check answers", err)
	}
	if err := install(ctx, opt, c); err != nil {
		return nil, err
	}
	fmt.Fprintf(opt.Stdout, "\nInstalled %s (%s) in %s.\n", c.Install.Title, c.Local.Prefix, c.Install.Directory)
	if c.SSH.Server != "" || c.SSH.BindAddress != "" {
		test, err := opt.Prompter.Confirm(TestPrompt, true, "Opens the tunnel now and connects to PostgreSQL's port through it, as pggraph-collect -t would, changing nothing.")
		if err != nil {
			return c, stepErr("ask", err)
		}
		if test {
			if err := testTunnel(ctx, opt, c); err != nil {
				fmt.Fprintf(opt.Stdout, "Tunnel test failed: %v\nFix the configuration in %s, then try pggraph-collect -t %s.\n", err, c.Path, c.Install.Directory)
			} else {
				fmt.Fprintln(opt.Stdout, "Tunnel test: ok.")
			}
		}
	}
	fmt.Fprint(opt.Stdout, NextSteps(c))
	return c, nil
}

// ask asks q until its checks (and extra, when set) pass, and stores the
// answer in c.
func ask(p Prompter, c *config.Config, q Question, extra func(string) error) error {
	def := ""
	if q.Default != nil {
		def = q.Default(c)
	}
	validate := func(v string) error {
		if q.Check != nil {
			if err := q.Check(v); err != nil {
				return err
			}
		}
		if extra != nil {
			return extra(v)
		}
		return nil
	}
	var v string
	var err error
	switch q.Kind {
	case KindPassword:
		v, err = p.Password(q.Prompt, q.Help, validate)
	case KindConfirm:
		var b bool
		d, _ := parseYesNo(def)
		b, err = p.Confirm(q.Prompt, d, q.Help)
		v = yesNo(b)
	default:
		v, err = p.Input(q.Prompt, def, q.Help, validate)
		v = strings.TrimSpace(v)
	}
	if err != nil {
		return err
	}
	if err := validate(v); err != nil {
		return fmt.Errorf("%s: %w", q.Name(), err)
	}
	return q.Set(c, v)
}

func listPrefixes(ctx context.Context, open func(context.Context, config.Local) (Store, error), l config.Local) ([]string, error) {
	s, err := open(ctx, l)
	if err != nil {
		return nil, err
	}
	defer s.Close(ctx)
	clients, err := s.ListClients(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(clients))
	for i, cl := range clients {
		out[i] = cl.Prefix
	}
	return out, nil
}

// install creates the directory, config.ini, the symlink, the tables and the
// clients row, undoing them all when one fails.
func install(ctx context.Context, opt Options, c *config.Config) (err error) {
	dir := c.Install.Directory
	if err := os.Mkdir(dir, 0o755); err != nil {
		return stepErr("create directory", err)
	}
	// Mkdir's mode is subject to the umask; the pages need 0755.
	if err := os.Chmod(dir, 0o755); err != nil {
		os.Remove(dir)
		return stepErr("create directory", err)
	}
	var s Store
	touched := false // the central database may hold something of ours
	defer func() {
		if err == nil {
			return
		}
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
		defer cancel()
		var undo []error
		if touched && s != nil {
			if _, rerr := s.RemoveClient(uctx, c.Local.Prefix); rerr != nil && !errors.Is(rerr, store.ErrNoClient) {
				undo = append(undo, fmt.Errorf("undo: %w", rerr))
			}
		}
		if s != nil {
			s.Close(uctx)
		}
		if rerr := os.RemoveAll(dir); rerr != nil {
			undo = append(undo, fmt.Errorf("undo: %w", rerr))
		}
		if len(undo) > 0 {
			err = errors.Join(append([]error{err}, undo...)...)
		}
	}()
	if err := c.Write(filepath.Join(dir, "config.ini")); err != nil {
		return stepErr("write config", err)
	}
	if err := os.Symlink(opt.MainCGI, filepath.Join(dir, "index.cgi")); err != nil {
		return stepErr("link index.cgi", err)
	}
	if s, err = opt.Open(ctx, c.Local); err != nil {
		s = nil
		return stepErr("connect central database", err)
	}
	clients, err := s.ListClients(ctx)
	if err != nil {
		return stepErr("list clients", err)
	}
	for _, cl := range clients {
		if cl.Prefix == c.Local.Prefix {
			return stepErr("register client", fmt.Errorf("prefix %s is already a client's", c.Local.Prefix))
		}
	}
	touched = true
	if err := s.EnsureClient(ctx, c.Local.Prefix); err != nil {
		return stepErr("create tables", err)
	}
	if err := s.RegisterClient(ctx, store.Client{Prefix: c.Local.Prefix, Title: c.Install.Title, Directory: dir, WWWPath: c.Install.WWWPath}); err != nil {
		return stepErr("register client", err)
	}
	if err := s.Close(ctx); err != nil {
		s = nil
		return stepErr("close central database", err)
	}
	s = nil
	return nil
}

func testTunnel(ctx context.Context, opt Options, c *config.Config) error {
	if opt.TestTunnel != nil {
		return opt.TestTunnel(ctx, c)
	}
	// What pggraph-collect -t does: the tunnel, a read of every metric on
	// the client's server, the central database; nothing is written.
	st, err := store.Open(ctx, c.Local, metric.Groups())
	if err != nil {
		return err
	}
	defer st.Close(context.WithoutCancel(ctx))
	_, err = collector.Test(ctx, collector.Job{Config: c, Store: st, AgentSocket: opt.AgentSocket}, st.Check)
	return err
}

// CronMinutes spreads clients over the interval: the first minute is a hash
// of the prefix modulo the interval, then every interval up to 59.
func CronMinutes(prefix string, interval time.Duration) string {
	n := int(interval / time.Minute)
	if n < 1 || n > 60 {
		n = 10
	}
	if n == 1 {
		return "*"
	}
	h := fnv.New32a()
	h.Write([]byte(prefix))
	var mins []string
	for m := int(h.Sum32() % uint32(n)); m < 60; m += n {
		mins = append(mins, strconv.Itoa(m))
	}
	return strings.Join(mins, ",")
}

// NextSteps is the text printed after a successful install.
func NextSteps(c *config.Config) string {
	var b strings.Builder
	dir := c.Install.Directory
	fmt.Fprintf(&b, "\nNext steps:\n\n")
	fmt.Fprintf(&b, "1. Test the tunnel: run\n     pggraph-forward %s\n   and in another terminal\n     psql -d template1 -U %s -h localhost -p %d\n\n", dir, c.Remote.User, c.Remote.LocalPort)
	every := fmt.Sprintf("%d minutes", int(c.PGGraph.Interval/time.Minute))
	if c.PGGraph.Interval == time.Minute {
		every = "minute"
	}
	fmt.Fprintf(&b, "2. Collect every %s: add this line to the crontab of the user that runs pggraph (crontab -e):\n     %s * * * * pggraph-collect %s\n\n", every, CronMinutes(c.Local.Prefix, c.PGGraph.Interval), dir)
	fmt.Fprintf(&b, "3. Let a web user see the pages:\n     pggraph-admin user add %s USER\n\n", c.Local.Prefix)
	fmt.Fprintf(&b, "4. Apache: nothing to add when deploy/apache/pggraph.conf is in use (one <LocationMatch> serves every client directory); otherwise serve %s at /%s with CGI and FollowSymLinks, and deny *.ini.\n", dir, c.Install.WWWPath)
	return b.String()
}
