package installer

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

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
	// TestTunnel tests the new client's tunnel as pggraph-collect -t does,
	// when the operator accepts OfferTunnelTest (cmd/pggraph-install wires
	// it to package collector). Nil: the test is not offered.
	TestTunnel func(ctx context.Context, c *config.Config) error
	// AgentSocket is the ssh-agent socket the tunnel to a twin tunnel's
	// database host uses to fetch its host key; "" uses no agent.
	AgentSocket string
	// CronFile is the host's cron.d file for pggraph, read to tell the
	// operator whether the new client needs a cron line; "" means
	// DefaultCronFile.
	CronFile string
	// LogDir is where a client's log file goes by default
	// (<LogDir>/<prefix>.log) when the answers leave [pggraph] log_file
	// blank and the directory exists; "" means DefaultLogDir.
	LogDir string
}

// DefaultLogDir is the log directory "Setting up the pggraph host" makes
// (README.md), with a logrotate rule for *.log.
const DefaultLogDir = "/var/log/pggraph"

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

// session is one run of the installer: its options, the config being
// answered and what it learned on the way.
type session struct {
	opt Options
	c   *config.Config
	qs  []question
	// taken are the prefixes already in the clients table, once the
	// central database was reached.
	taken []string
}

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
			return store.Open(ctx, l, metric.StoredGroups())
		}
	}
	if opt.CronFile == "" {
		opt.CronFile = DefaultCronFile
	}
	if opt.LogDir == "" {
		opt.LogDir = DefaultLogDir
	}
	s := newSession(opt)
	if err := s.answer(ctx); err != nil {
		return nil, err
	}
	c := s.c
	logNote := defaultLogFile(c, opt.LogDir)
	if err := install(ctx, opt, c); err != nil {
		return nil, err
	}
	fmt.Fprintf(opt.Stdout, "\nInstalled %s (%s) in %s.\n", c.Install.Title, c.Local.Prefix, c.Install.Directory)
	if logNote != "" {
		fmt.Fprintln(opt.Stdout, logNote)
	}
	if err := testTunnel(ctx, opt, c); err != nil {
		return c, err
	}
	sched, err := ReadSchedule(opt.CronFile, c.Install.Directory)
	if err != nil {
		fmt.Fprintf(opt.Stdout, "(%v: the cron advice below assumes there is none)\n", err)
	}
	fmt.Fprint(opt.Stdout, NextSteps(c, sched))
	return c, nil
}

// testTunnel offers to test the new client's tunnel (an answers file
// accepts) and says how it went, or how to test it later. A failed test
// does not undo the install: the message says what to fix.
func testTunnel(ctx context.Context, opt Options, c *config.Config) error {
	if opt.TestTunnel == nil || c.SSH.Server == "" && c.SSH.BindAddress == "" {
		return nil
	}
	test, err := opt.Prompter.Confirm(OfferTunnelTest)
	if err != nil {
		return stepErr("ask", err)
	}
	if !test {
		fmt.Fprintf(opt.Stdout, "Tunnel not tested: pggraph-collect -t %s tests it without writing anything.\n", c.Install.Directory)
		return nil
	}
	if err := opt.TestTunnel(ctx, c); err != nil {
		fmt.Fprintf(opt.Stdout, "Tunnel test failed: %v\nFix the configuration in %s, then try pggraph-collect -t %s.\n", err, c.Path, c.Install.Directory)
		return nil
	}
	fmt.Fprintln(opt.Stdout, "Tunnel test: ok.")
	return nil
}

// defaultLogFile sets [pggraph] log_file to <dir>/<prefix>.log when the
// answers left it blank and that file can be created in dir (which
// README.md's host setup makes, with a logrotate rule). It returns a line
// for the operator saying what was chosen, or "" when log_file was given
// or dir does not exist.
func defaultLogFile(c *config.Config, dir string) string {
	if c.PGGraph.LogFile != "" {
		return ""
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return ""
	}
	path := filepath.Join(dir, c.Local.Prefix+".log")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Sprintf("Log file: none ([pggraph] log_file is blank): %v; pggraph-collect logs to stderr, which cron mails.", err)
	}
	f.Close()
	c.PGGraph.LogFile = path
	return fmt.Sprintf("Log file: %s ([pggraph] log_file; logrotate's rule for %s covers it).", path, dir)
}

// newSession starts from opt.Defaults (a copy) or config.Default().
func newSession(opt Options) *session {
	c := config.Default()
	if opt.Defaults != nil {
		cp := *opt.Defaults
		c = &cp
	}
	s := &session{opt: opt, c: c}
	s.qs = s.questions()
	return s
}

// answer gives every key its value, then validates the whole (step "check
// answers"). First come the keys the installer does not ask that the
// prompter sets (known_hosts, which a host-key check needs, …), then every
// question in order: asked, or taken as the prompter sets it even when it
// would not be asked, so that an answers file means what it would mean as
// config.ini.
func (s *session) answer(ctx context.Context) error {
	p := s.opt.Prompter
	for _, q := range s.qs {
		if q.Prompt == "" && p.Sets(q.Key) {
			if err := s.take(ctx, q); err != nil {
				return err
			}
		}
	}
	for _, q := range s.qs {
		asked := q.asked(s.c)
		if q.Prompt == "" || !asked && !p.Sets(q.Key) {
			continue
		}
		if asked && q.Intro != "" {
			fmt.Fprintln(s.opt.Stdout, q.Intro)
		}
		if err := s.take(ctx, q); err != nil {
			return err
		}
	}
	if err := s.c.Validate(); err != nil {
		return stepErr("check answers", err)
	}
	return nil
}

// take gets q's value from the prompter, checked, stores it in s.c, then
// runs q's after hook.
func (s *session) take(ctx context.Context, q question) error {
	def := ""
	if !q.Secret() {
		def = q.Get(s.c)
	}
	check := func(v string) error { return q.problem(s.c, v) }
	v, err := s.opt.Prompter.Ask(q.Key, def, check)
	if err != nil {
		return stepErr("ask", err)
	}
	// A prompter may not check every kind of answer (a terminal's yes or
	// no): check again, naming the key.
	if err := check(v); err != nil {
		return stepErr("ask", q.FieldError("", v, err.Error()))
	}
	if err := q.Set(s.c, q.tidy(v)); err != nil {
		return stepErr("ask", err)
	}
	if q.after != nil {
		return q.after(ctx)
	}
	return nil
}

// centralLogin, after [local] password, connects to the central database
// and learns the prefixes taken; a prefix already answered must be free.
func (s *session) centralLogin(ctx context.Context) error {
	var err error
	if s.taken, err = listPrefixes(ctx, s.opt.Open, s.c.Local); err != nil {
		return stepErr("connect central database", err)
	}
	if err := s.prefixFree(s.c.Local.Prefix); err != nil {
		q := s.question("local", "prefix")
		fmt.Fprintf(s.opt.Stdout, "%s: %v\n", q.Key, err)
		return s.take(ctx, q)
	}
	return nil
}

// trustServer, after [ssh] port, makes sure known_hosts vouches for the
// SSH server, when there is one.
func (s *session) trustServer(ctx context.Context) error {
	if s.c.SSH.Server == "" {
		return nil
	}
	var d net.Dialer
	if err := trustHost(ctx, s.opt, s.c, s.c.SSH.ServerAddr(), d.DialContext); err != nil {
		return stepErr("host key", err)
	}
	return nil
}

// trustSecondServer, after [ssh] second_server, makes sure known_hosts
// vouches for a twin tunnel's database host.
func (s *session) trustSecondServer(ctx context.Context) error {
	if !s.c.SSH.TwinTunnel || s.c.SSH.Server == "" || s.c.SSH.SecondServer == "" {
		return nil
	}
	if err := trustSecondHost(ctx, s.opt, s.c); err != nil {
		return stepErr("host key", err)
	}
	return nil
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

// NextSteps is the text printed after a successful install; sched is
// what the host's cron.d file already does about the client.
func NextSteps(c *config.Config, sched Schedule) string {
	var b strings.Builder
	dir := c.Install.Directory
	fmt.Fprintf(&b, "\nNext steps:\n\n")
	fmt.Fprintf(&b, "1. Test the tunnel: run\n     pggraph-forward %s\n   and in another terminal\n     psql -d template1 -U %s -h localhost -p %d\n\n", dir, c.Remote.User, c.Remote.LocalPort)
	b.WriteString(cronStep(c, sched))
	fmt.Fprintf(&b, "3. Let a web user see the pages:\n     sudo -u postgres pggraph-admin user add %s USER\n\n", c.Local.Prefix)
	fmt.Fprintf(&b, "4. Apache: nothing to add when deploy/apache/pggraph.conf is in use (one <LocationMatch> serves every client directory); otherwise serve %s at /%s with CGI and FollowSymLinks, and deny *.ini.\n", dir, c.Install.WWWPath)
	return b.String()
}

// cronStep is the next step about collecting: nothing to add when the
// host's cron.d file already collects the client (a warning when it does
// so twice), else the one line to add, in the file's format when there is
// a file and as a crontab line when there is none.
func cronStep(c *config.Config, sched Schedule) string {
	dir := c.Install.Directory
	every := fmt.Sprintf("%d minutes", int(c.PGGraph.Interval/time.Minute))
	if c.PGGraph.Interval == time.Minute {
		every = "minute"
	}
	line := fmt.Sprintf("%s * * * * pggraph-collect %s", CronMinutes(c.Local.Prefix, c.PGGraph.Interval), dir)
	switch {
	case sched.All > 0 && len(sched.Own) > 0:
		return fmt.Sprintf("2. Collection: line %d of %s collects every client under %s (pggraph-collect -all), and line %s collects this one again: it would be collected twice per run of cron. Remove the client's own line.\n\n",
			sched.All, sched.File, filepath.Dir(dir), joinInts(sched.Own))
	case sched.All > 0:
		return fmt.Sprintf("2. Collection: nothing to add. Line %d of %s collects every client under %s (pggraph-collect -all); a crontab line for this client too would collect it twice.\n\n",
			sched.All, sched.File, filepath.Dir(dir))
	case len(sched.Own) > 0:
		return fmt.Sprintf("2. Collection: nothing to add. Line %s of %s collects this client.\n\n", joinInts(sched.Own), sched.File)
	case sched.File != "":
		return fmt.Sprintf("2. Collect every %s: add this line to %s (cron.d lines name the user pggraph runs as):\n     %s\n\n",
			every, sched.File, strings.Replace(line, " pggraph-collect ", " "+runningUser()+" pggraph-collect ", 1))
	}
	return fmt.Sprintf("2. Collect every %s: add this line to the crontab of the user that runs pggraph (crontab -e):\n     %s\n   or collect every client with one line: install deploy/cron/pggraph as %s (then add nothing per client).\n\n",
		every, line, DefaultCronFile)
}

// runningUser is the login name pggraph-install runs as, for a cron.d
// line; www-data when it cannot be told.
func runningUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "www-data"
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
