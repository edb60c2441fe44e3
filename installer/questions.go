// Package installer asks pggraph-install's questions, validates each answer,
// and creates one client's install directory: config.ini (mode 0600), the
// index.cgi symlink to the installed pggraph.cgi, the client's tables and its
// clients row. Any failure undoes what was already done.
//
// The questions are data (Questions), asked through a Prompter: a terminal
// (NewSurvey, survey/v2) or an answers file (LoadAnswers).
package installer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pggraph/pggraph/internal/config"
)

// Kind is how a question is asked.
type Kind int

const (
	// KindInput is a line of text.
	KindInput Kind = iota
	// KindPassword is a line of text that is not echoed and has no default.
	KindPassword
	// KindConfirm is yes or no.
	KindConfirm
)

// Question is one of the installer's questions: one config.ini key.
type Question struct {
	// Section and Key name the config.ini key the answer is for; the
	// answers file uses the same names.
	Section, Key string
	// Intro, when set, is printed before the question (the original's
	// section headings).
	Intro string
	// Prompt is the question as the original asked it.
	Prompt string
	// Kind is how it is asked.
	Kind Kind
	// Help says what the answer is for.
	Help string
	// Default returns the default answer from the defaults config; nil
	// means none.
	Default func(c *config.Config) string
	// Ask, when set, tells whether to ask at all, from the answers so far.
	Ask func(c *config.Config) bool
	// Check validates the answer on its own; nil accepts anything.
	Check func(v string) error
	// Set stores a checked answer in c.
	Set func(c *config.Config, v string) error
}

// Name is "[section] key", as errors name a question.
func (q Question) Name() string { return "[" + q.Section + "] " + q.Key }

// prefixRE is the rule of a table prefix (DESIGN.md).
var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,30}$`)

// Questions returns the installer's questions in the original order. Each
// call builds a new slice.
func Questions() []Question {
	return []Question{
		{Section: "install", Key: "directory", Prompt: "Installation directory?",
			Help:  "The new directory for this client's pages, e.g. /var/www/pggraph/acme. It must not exist yet; its parent must.",
			Check: checkNewDir,
			Set:   func(c *config.Config, v string) error { c.Install.Directory = filepath.Clean(v); return nil }},
		{Section: "install", Key: "www_path", Prompt: "Relative WWW path?",
			Help:  "The URL path under which the web server shows this directory, without a leading slash, e.g. pggraph/acme. Links in the pages are built from it.",
			Check: checkWWWPath,
			Set:   func(c *config.Config, v string) error { c.Install.WWWPath = strings.Trim(v, "/"); return nil }},
		{Section: "install", Key: "title", Prompt: "Full text title?",
			Help:  "The client's name as the pages show it, e.g. ACME Corporation.",
			Check: nonEmpty,
			Set:   func(c *config.Config, v string) error { c.Install.Title = v; return nil }},

		{Section: "local", Key: "database", Intro: "Now for some database configuration..", Prompt: "Local pggraph database name?",
			Help:    "The central database the samples are stored in.",
			Default: func(c *config.Config) string { return c.Local.Database },
			Check:   nonEmpty,
			Set:     func(c *config.Config, v string) error { c.Local.Database = v; return nil }},
		{Section: "local", Key: "prefix", Prompt: "Table prefix?",
			Help:  "Names this client's tables <prefix>_… and its row in pggraph_clients: a lower-case letter, then up to 30 lower-case letters, digits or _. It must not be another client's.",
			Check: checkPrefix,
			Set:   func(c *config.Config, v string) error { c.Local.Prefix = v; return nil }},
		{Section: "local", Key: "port", Prompt: "Local database port?",
			Help:    "The port of the central PostgreSQL server.",
			Default: func(c *config.Config) string { return strconv.Itoa(c.Local.Port) },
			Check:   checkPort,
			Set:     func(c *config.Config, v string) error { c.Local.Port, _ = strconv.Atoi(v); return nil }},
		{Section: "local", Key: "host", Prompt: "Local pggraph host?",
			Help:    "The host of the central PostgreSQL server.",
			Default: func(c *config.Config) string { return c.Local.Host },
			Set:     func(c *config.Config, v string) error { c.Local.Host = v; return nil }},
		{Section: "local", Key: "user", Prompt: "Local username?",
			Help:    "The role pggraph connects to the central database as; it should be pggraph, which owns the tables the web role may read.",
			Default: func(c *config.Config) string { return c.Local.User },
			Check:   nonEmpty,
			Set:     func(c *config.Config, v string) error { c.Local.User = v; return nil }},
		{Section: "local", Key: "password", Prompt: "Password?", Kind: KindPassword,
			Help: "The central role's password. Leave it blank to use ~/.pgpass or peer authentication.",
			Set:  func(c *config.Config, v string) error { c.Local.Password = config.Secret(v); return nil }},
		{Section: "remote", Key: "user", Prompt: "Remote DB username?",
			Help:  "The role pggraph reads the client's statistics as; it needs only the pg_monitor role.",
			Check: nonEmpty,
			Set:   func(c *config.Config, v string) error { c.Remote.User = v; return nil }},
		{Section: "remote", Key: "password", Prompt: "Remote DB password?", Kind: KindPassword,
			Help: "The monitoring role's password on the client's server; may be blank.",
			Set:  func(c *config.Config, v string) error { c.Remote.Password = config.Secret(v); return nil }},
		{Section: "remote", Key: "host", Prompt: "Remote DB host?",
			Help:    "The near end of the tunnel, as the original had it; normally localhost.",
			Default: func(c *config.Config) string { return c.Remote.Host },
			Set:     func(c *config.Config, v string) error { c.Remote.Host = v; return nil }},
		{Section: "remote", Key: "local_port", Prompt: "Local port to bind to remote PG port?",
			Help:    "The local port pggraph-forward listens on, to test the tunnel with psql.",
			Default: func(c *config.Config) string { return strconv.Itoa(c.Remote.LocalPort) },
			Check:   checkPort,
			Set:     func(c *config.Config, v string) error { c.Remote.LocalPort, _ = strconv.Atoi(v); return nil }},
		{Section: "remote", Key: "databases", Prompt: "Which remote databases to graph?",
			Help:    "The databases to read per-table statistics from, separated by commas or spaces; * means every database that allows connections.",
			Default: func(*config.Config) string { return "*" },
			Check:   checkDatabases,
			Set:     func(c *config.Config, v string) error { c.Remote.Databases = splitDatabases(v); return nil }},

		{Section: "pggraph", Key: "interval", Intro: "Some pggraph settings..", Prompt: "Shortest display interval, in minutes?",
			Help:    "How often the collector runs, and so the finest step of the graphs: 1 to 60 minutes. Keep it equal to the crontab's.",
			Default: func(c *config.Config) string { return strconv.Itoa(int(c.PGGraph.Interval / time.Minute)) },
			Check:   rangeCheck(1, 60),
			Set: func(c *config.Config, v string) error {
				n, _ := strconv.Atoi(v)
				c.PGGraph.Interval = time.Duration(n) * time.Minute
				return nil
			}},
		{Section: "pggraph", Key: "max_images", Prompt: "Maximum number of images per page?",
			Help:    "How many graphs a page of tables shows, exactly (at least 1).",
			Default: func(c *config.Config) string { return strconv.Itoa(c.PGGraph.MaxImages) },
			Check:   rangeCheck(1, 1000),
			Set:     func(c *config.Config, v string) error { c.PGGraph.MaxImages, _ = strconv.Atoi(v); return nil }},
		{Section: "pggraph", Key: "delay", Prompt: "Delay before continuing PGGraph startup",
			Help:    "Seconds to wait for the tunnel to come up before giving up: 1 to 300.",
			Default: func(c *config.Config) string { return strconv.Itoa(int(c.PGGraph.Delay / time.Second)) },
			Check:   rangeCheck(1, 300),
			Set: func(c *config.Config, v string) error {
				n, _ := strconv.Atoi(v)
				c.PGGraph.Delay = time.Duration(n) * time.Second
				return nil
			}},

		{Section: "ssh", Key: "user", Intro: "Now for the SSH configuration for the PG tunnel.", Prompt: "SSH User?",
			Help:    "The login on the SSH server(s).",
			Default: func(c *config.Config) string { return c.SSH.User },
			Set:     func(c *config.Config, v string) error { c.SSH.User = v; return nil }},
		{Section: "ssh", Key: "password", Prompt: "SSH Password?", Kind: KindPassword,
			Help: "Deprecated: leave it blank and use a key file or the ssh agent.",
			Set:  func(c *config.Config, v string) error { c.SSH.Password = config.Secret(v); return nil }},
		{Section: "ssh", Key: "keyfile", Prompt: "Authentication keyfile?",
			Help:    "The private key to log in with (ed25519, ecdsa or rsa, without a passphrase). Blank: the ssh agent or the password only.",
			Default: func(c *config.Config) string { return c.SSH.Keyfile },
			Check:   checkKeyfile,
			Set:     func(c *config.Config, v string) error { c.SSH.Keyfile = expandHome(v); return nil }},
		{Section: "ssh", Key: "server", Prompt: "Remote server?",
			Help: "The SSH server to tunnel through (the bastion with a twin tunnel). Blank: no tunnel, connect to the bind address and port directly.",
			Set:  func(c *config.Config, v string) error { c.SSH.Server = v; return nil }},
		{Section: "ssh", Key: "port", Prompt: "Port to SSH to?",
			Help:    "The SSH server's port.",
			Default: func(c *config.Config) string { return strconv.Itoa(c.SSH.Port) },
			Check:   checkPort,
			Set:     func(c *config.Config, v string) error { c.SSH.Port, _ = strconv.Atoi(v); return nil }},
		{Section: "ssh", Key: "bind_port", Prompt: "Bind to what port?",
			Help:    "PostgreSQL's port as seen from the (last) SSH server.",
			Default: func(c *config.Config) string { return strconv.Itoa(c.SSH.BindPort) },
			Check:   checkPort,
			Set:     func(c *config.Config, v string) error { c.SSH.BindPort, _ = strconv.Atoi(v); return nil }},
		{Section: "ssh", Key: "bind_address", Prompt: "Bind to which remote address?",
			Help:    "PostgreSQL's address as seen from the (last) SSH server; normally localhost.",
			Default: func(c *config.Config) string { return c.SSH.BindAddress },
			Set:     func(c *config.Config, v string) error { c.SSH.BindAddress = v; return nil }},
		{Section: "ssh", Key: "twin_tunnel", Prompt: "Use a twin tunnel mechanism?", Kind: KindConfirm,
			Help:    "Yes when the remote server is a bastion and PostgreSQL runs on a second host reached through it by SSH.",
			Default: func(c *config.Config) string { return yesNo(c.SSH.TwinTunnel) },
			Ask:     func(c *config.Config) bool { return c.SSH.Server != "" },
			Check:   checkYesNo,
			Set:     func(c *config.Config, v string) error { c.SSH.TwinTunnel, _ = parseYesNo(v); return nil }},
		{Section: "ssh", Key: "second_server", Prompt: "Address for 2nd server?",
			Help:  "The database host's SSH server as seen from the bastion, host or host:port.",
			Ask:   func(c *config.Config) bool { return c.SSH.TwinTunnel },
			Check: nonEmpty,
			Set:   func(c *config.Config, v string) error { c.SSH.SecondServer = v; return nil }},
	}
}

func nonEmpty(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("an answer is required")
	}
	return nil
}

func checkNewDir(v string) error {
	if v == "" {
		return errors.New("an answer is required")
	}
	if !filepath.IsAbs(v) {
		return errors.New("not an absolute path")
	}
	v = filepath.Clean(v)
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

func checkWWWPath(v string) error {
	v = strings.Trim(v, "/")
	if v == "" {
		return errors.New("an answer is required")
	}
	for _, e := range strings.Split(v, "/") {
		if e == ".." {
			return errors.New(`no ".." allowed`)
		}
	}
	return nil
}

func checkPrefix(v string) error {
	if !prefixRE.MatchString(v) {
		return errors.New("must be a lower-case letter, then up to 30 lower-case letters, digits or _")
	}
	return nil
}

func checkPort(v string) error { return rangeCheck(1, 65535)(v) }

func rangeCheck(lo, hi int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return errors.New("not a whole number")
		}
		if n < lo || n > hi {
			return fmt.Errorf("must be %d to %d", lo, hi)
		}
		return nil
	}
}

func splitDatabases(v string) []string {
	f := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if len(f) == 1 && f[0] == "*" {
		return nil
	}
	return f
}

func checkDatabases(v string) error {
	f := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if len(f) == 0 {
		return errors.New("an answer is required: * for every database")
	}
	if len(f) > 1 {
		for _, d := range f {
			if d == "*" {
				return errors.New("* stands alone")
			}
		}
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func parseYesNo(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "y", "yes", "true", "1", "on":
		return true, nil
	case "n", "no", "false", "0", "off":
		return false, nil
	}
	return false, errors.New("not yes or no")
}

func checkYesNo(v string) error { _, err := parseYesNo(v); return err }

// expandHome turns a leading ~/ into the running user's home directory.
func expandHome(v string) string {
	if v == "~" || strings.HasPrefix(v, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, v[1:])
		}
	}
	return v
}
