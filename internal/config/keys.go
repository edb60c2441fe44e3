package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/pggraph/pggraph/metric"
)

// Key is one config.ini key: where it lives, which Config field holds it,
// what a valid value is, and how pggraph-install asks for it. Keys returns
// them all; the field's type decides how the value is read and written.
type Key struct {
	// Section and Name name the key in the file: [Section] Name = value.
	Section, Name string
	// Intro, when set, is printed before the installer asks the key (the
	// original installer's section headings).
	Intro string
	// Prompt is the installer's question, as the original asked it; empty
	// for a key the installer does not ask (it keeps its default, or an
	// answers file's value).
	Prompt string
	// Help says what the answer is for (the installer shows it on ?).
	Help string
	// Ask, when set, tells from the answers so far whether the installer
	// asks the key at all; nil means always.
	Ask func(c *Config) bool
	// Hook is what pggraph-install does with the key beyond its checks
	// here (NoHook: nothing); the installer implements every Hook.
	Hook Hook

	// field returns a pointer to the Config field: *string, *Secret, *int,
	// *bool, *[]string or *time.Duration, or a *levelsField.
	field func(*Config) any
	// unit is the unit of a *time.Duration in the file.
	unit time.Duration
	// min and max bound the number in the file of an *int or *time.Duration.
	min, max int
	// tidy, when set, turns a value as written into the one kept (a clean
	// path, ~/ expanded) before it is checked.
	tidy func(v string) string
	// check returns what is wrong with v, the value as in the file, given
	// the rest of c, or "". Nil accepts any value.
	check func(c *Config, v string) string
	// optional keys are written only when their value is not the default
	// (the per-check keys of [alerts]: hundreds of them).
	optional bool
}

// Hook names a step of pggraph-install tied to one key: a check that
// needs the host or the central database, or an action once the key has
// its value. Config only names them; package installer implements each.
type Hook int

// Hooks.
const (
	NoHook            Hook = iota
	NewDirectory           // [install] directory must not exist yet
	FreePrefix             // [local] prefix must not be another client's
	CentralLogin           // after [local] password: log in to the central database
	UsableKeyfile          // [ssh] keyfile must load as the collector loads it
	TrustServer            // after [ssh] port: known_hosts must vouch for the server
	TrustSecondServer      // after [ssh] second_server: known_hosts must vouch for the db host
)

// Keys returns every key in file order: the order Write uses and the
// installer asks in. Each call returns a new slice, which the caller may
// modify.
func Keys() []Key { return slices.Clone(keyTable()) }

// keyTable is the key table, built once per process: a CGI process reads
// config.ini once but walks the table several times (parse, validate,
// the root's check), and the table holds a key per alert check, hundreds
// of them. Nothing changes it once built; callers in this package only
// read it.
var keyTable = sync.OnceValue(buildKeys)

// buildKeys builds the key table (see Keys).
func buildKeys() []Key {
	const maxPort = 65535
	path := func(k Key) Key { k.tidy, k.check = ExpandHome, absoluteIfSet; return k }
	return append([]Key{
		{Section: "install", Name: "directory", Hook: NewDirectory, field: func(c *Config) any { return &c.Install.Directory }, tidy: cleanPath, check: cleanAbsolute,
			Prompt: "Installation directory?",
			Help:   "The new directory for this client's pages, e.g. /var/www/pggraph/acme. It must not exist yet; its parent must."},
		{Section: "install", Name: "www_path", field: func(c *Config) any { return &c.Install.WWWPath }, tidy: func(v string) string { return strings.Trim(v, "/") }, check: relative,
			Prompt: "Relative WWW path?",
			Help:   "The URL path under which the web server shows this directory, without a leading slash, e.g. pggraph/acme. Links in the pages are built from it."},
		{Section: "install", Name: "title", field: func(c *Config) any { return &c.Install.Title }, check: notEmpty,
			Prompt: "Full text title?",
			Help:   "The client's name as the pages show it, e.g. ACME Corporation."},

		{Section: "local", Name: "database", field: func(c *Config) any { return &c.Local.Database }, check: notEmpty,
			Intro: "Now for some database configuration..", Prompt: "Local pggraph database name?",
			Help: "The central database the samples are stored in."},
		{Section: "local", Name: "prefix", Hook: FreePrefix, field: func(c *Config) any { return &c.Local.Prefix }, check: prefix,
			Prompt: "Table prefix?",
			Help:   "Names this client's tables <prefix>_… and its row in pggraph_clients: a lower-case letter, then up to 30 lower-case letters, digits or _. It must not be another client's."},
		{Section: "local", Name: "port", field: func(c *Config) any { return &c.Local.Port }, min: 1, max: maxPort,
			Prompt: "Local database port?",
			Help:   "The port of the central PostgreSQL server."},
		{Section: "local", Name: "host", field: func(c *Config) any { return &c.Local.Host },
			Prompt: "Local pggraph host?",
			Help:   "The host of the central PostgreSQL server."},
		{Section: "local", Name: "user", field: func(c *Config) any { return &c.Local.User }, check: notEmpty,
			Prompt: "Local username?",
			Help:   "The role pggraph connects to the central database as; it should be pggraph, which owns the tables the web role may read."},
		{Section: "local", Name: "password", Hook: CentralLogin, field: func(c *Config) any { return &c.Local.Password },
			Prompt: "Password?",
			Help:   "The central role's password. Leave it blank to use ~/.pgpass or peer authentication."},

		{Section: "remote", Name: "user", field: func(c *Config) any { return &c.Remote.User }, check: notEmpty,
			Prompt: "Remote DB username?",
			Help:   "The role pggraph reads the client's statistics as; it needs only the pg_monitor role."},
		{Section: "remote", Name: "password", field: func(c *Config) any { return &c.Remote.Password },
			Prompt: "Remote DB password?",
			Help:   "The monitoring role's password on the client's server; may be blank."},
		{Section: "remote", Name: "host", field: func(c *Config) any { return &c.Remote.Host },
			Prompt: "Remote DB host?",
			Help:   "The near end of the tunnel, as the original had it; normally localhost."},
		{Section: "remote", Name: "local_port", field: func(c *Config) any { return &c.Remote.LocalPort }, min: 1, max: maxPort,
			Prompt: "Local port to bind to remote PG port?",
			Help:   "The local port pggraph-forward listens on, to test the tunnel with psql."},
		{Section: "remote", Name: "databases", field: func(c *Config) any { return &c.Remote.Databases }, check: databases,
			Prompt: "Which remote databases to graph?",
			Help:   "The databases to read per-table statistics from, separated by commas or spaces; * means every database that allows connections."},
		{Section: "remote", Name: "queries", field: func(c *Config) any { return &c.Remote.Queries }},
		{Section: "remote", Name: "query_text", field: func(c *Config) any { return &c.Remote.QueryText }},

		{Section: "pggraph", Name: "interval", field: func(c *Config) any { return &c.PGGraph.Interval }, unit: time.Minute, min: 1, max: 60,
			Intro: "Some pggraph settings..", Prompt: "Shortest display interval, in minutes?",
			Help: "How often the collector runs, and so the finest step of the graphs: 1 to 60 minutes. Keep it equal to the crontab's."},
		{Section: "pggraph", Name: "max_images", field: func(c *Config) any { return &c.PGGraph.MaxImages }, min: 1, max: 1000,
			Prompt: "Maximum number of images per page?",
			Help:   "How many graphs a page of tables shows, exactly (at least 1)."},
		{Section: "pggraph", Name: "delay", field: func(c *Config) any { return &c.PGGraph.Delay }, unit: time.Second, min: 1, max: 300,
			Prompt: "Delay before continuing PGGraph startup",
			Help:   "Seconds to wait for the tunnel to come up before giving up: 1 to 300."},
		{Section: "pggraph", Name: "keep_raw_days", field: func(c *Config) any { return &c.PGGraph.Keep.Raw }, unit: metric.Day, min: 1, max: 36500},
		{Section: "pggraph", Name: "keep_hourly_days", field: func(c *Config) any { return &c.PGGraph.Keep.Hourly }, unit: metric.Day, min: 1, max: 36500},
		{Section: "pggraph", Name: "keep_daily_days", field: func(c *Config) any { return &c.PGGraph.Keep.Daily }, unit: metric.Day, min: 1, max: 36500},
		{Section: "pggraph", Name: "top_queries", field: func(c *Config) any { return &c.PGGraph.TopQueries }, min: 1, max: 1000},
		{Section: "pggraph", Name: "query_text_max", field: func(c *Config) any { return &c.PGGraph.QueryTextMax }, min: 100, max: 100000},
		path(Key{Section: "pggraph", Name: "log_file", field: func(c *Config) any { return &c.PGGraph.LogFile }}),

		{Section: "ssh", Name: "user", field: func(c *Config) any { return &c.SSH.User }, check: func(c *Config, v string) string {
			if c.SSH.Server != "" {
				return notEmpty(c, v)
			}
			return ""
		}, Intro: "Now for the SSH configuration for the PG tunnel.", Prompt: "SSH User?",
			Help: "The login on the SSH server(s)."},
		{Section: "ssh", Name: "password", field: func(c *Config) any { return &c.SSH.Password },
			Prompt: "SSH Password?",
			Help:   "Deprecated: leave it blank and use a key file or the ssh agent."},
		path(Key{Section: "ssh", Name: "keyfile", Hook: UsableKeyfile, field: func(c *Config) any { return &c.SSH.Keyfile },
			Prompt: "Authentication keyfile?",
			Help:   "The private key to log in with (ed25519, ecdsa or rsa, without a passphrase). Blank: the ssh agent or the password only."}),
		{Section: "ssh", Name: "server", field: func(c *Config) any { return &c.SSH.Server }, check: func(c *Config, v string) string {
			if c.SSH.TwinTunnel && v == "" {
				return "required when twin_tunnel = yes (it is the bastion)"
			}
			return ""
		}, Prompt: "Remote server?",
			Help: "The SSH server to tunnel through (the bastion with a twin tunnel). Blank: no tunnel, connect to the bind address and port directly."},
		{Section: "ssh", Name: "port", Hook: TrustServer, field: func(c *Config) any { return &c.SSH.Port }, min: 1, max: maxPort,
			Prompt: "Port to SSH to?",
			Help:   "The SSH server's port."},
		{Section: "ssh", Name: "bind_port", field: func(c *Config) any { return &c.SSH.BindPort }, min: 1, max: maxPort,
			Prompt: "Bind to what port?",
			Help:   "PostgreSQL's port as seen from the (last) SSH server."},
		{Section: "ssh", Name: "bind_address", field: func(c *Config) any { return &c.SSH.BindAddress },
			Prompt: "Bind to which remote address?",
			Help:   "PostgreSQL's address as seen from the (last) SSH server; normally localhost."},
		{Section: "ssh", Name: "twin_tunnel", field: func(c *Config) any { return &c.SSH.TwinTunnel },
			Prompt: "Use a twin tunnel mechanism?",
			Help:   "Yes when the remote server is a bastion and PostgreSQL runs on a second host reached through it by SSH.",
			Ask:    func(c *Config) bool { return c.SSH.Server != "" }},
		{Section: "ssh", Name: "second_server", Hook: TrustSecondServer, field: func(c *Config) any { return &c.SSH.SecondServer }, check: func(c *Config, v string) string {
			switch {
			case c.SSH.TwinTunnel && v == "":
				return "required when twin_tunnel = yes"
			case !c.SSH.TwinTunnel && v != "":
				return "second_server is set but twin_tunnel = no"
			}
			return ""
		}, Prompt: "Address for 2nd server?",
			Help: "The database host's SSH server as seen from the bastion, host or host:port.",
			Ask:  func(c *Config) bool { return c.SSH.TwinTunnel }},
		{Section: "ssh", Name: "known_hosts", field: func(c *Config) any { return &c.SSH.KnownHosts }, tidy: ExpandHome, check: func(c *Config, v string) string {
			if c.SSH.Server != "" && v == "" {
				return "required when server is set (host keys are always checked)"
			}
			return absoluteIfSet(c, v)
		}},
	}, alertKeys()...)
}

// lookup finds a key of ks by section and name.
func lookup(ks []Key, section, name string) (Key, bool) {
	i := slices.IndexFunc(ks, func(k Key) bool { return k.Section == section && k.Name == name })
	if i < 0 {
		return Key{}, false
	}
	return ks[i], true
}

// String is "[section] name", as errors name the key.
func (k Key) String() string { return "[" + k.Section + "] " + k.Name }

// Secret tells whether the key is a password: never shown, never offered
// as a default, left out of errors.
func (k Key) Secret() bool {
	_, ok := k.field(&Config{}).(*Secret)
	return ok
}

// YesNo tells whether the key is a boolean: yes or no.
func (k Key) YesNo() bool {
	_, ok := k.field(&Config{}).(*bool)
	return ok
}

// Get returns the key's value in c as Write puts it in the file.
func (k Key) Get(c *Config) string {
	switch p := k.field(c).(type) {
	case *string:
		return *p
	case *Secret:
		return p.Reveal()
	case *int:
		return strconv.Itoa(*p)
	case *time.Duration:
		return strconv.FormatInt(int64(*p/k.unit), 10)
	case *bool:
		if *p {
			return "yes"
		}
		return "no"
	case *[]string:
		if len(*p) == 0 {
			return "*"
		}
		return strings.Join(*p, ",")
	case *levelsField:
		return p.get()
	}
	panic("config: key " + k.Name + " has an unsupported field type")
}

// Set stores v, the key's value as written in a file or typed to the
// installer, in c. It fails with a *FieldError naming c.Path when v cannot
// be stored (a number that is none or out of range, a bad boolean), and
// then leaves c unchanged; the rest is Check's job. A boolean is yes, y,
// true, on or 1, or no, n, false, off, 0 or blank, in any case; a list of
// databases is separated by commas, spaces or both.
func (k Key) Set(c *Config, v string) error {
	if k.tidy != nil {
		v = k.tidy(v)
	}
	switch p := k.field(c).(type) {
	case *string:
		*p = v
	case *Secret:
		*p = Secret(v)
	case *int, *time.Duration:
		n, err := strconv.Atoi(v)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return k.FieldError(c.Path, v, "not a number")
		}
		if err != nil || n < k.min || n > k.max {
			return k.FieldError(c.Path, v, k.outOfRange())
		}
		if d, ok := p.(*time.Duration); ok {
			*d = time.Duration(n) * k.unit
		} else {
			*p.(*int) = n
		}
	case *bool:
		switch strings.ToLower(v) {
		case "yes", "y", "true", "on", "1":
			*p = true
		case "no", "n", "false", "off", "0", "":
			*p = false
		default:
			return k.FieldError(c.Path, v, "must be yes or no")
		}
	case *[]string:
		*p = splitDatabases(v)
	case *levelsField:
		if err := p.set(v); err != nil {
			return k.FieldError(c.Path, v, err.Error())
		}
	}
	return nil
}

// splitDatabases splits a list of databases at commas and spaces. An empty
// name between two commas is kept, for Check to refuse; "*" alone is nil.
func splitDatabases(v string) []string {
	if v == "*" {
		return nil
	}
	var names []string
	for part := range strings.SplitSeq(v, ",") {
		f := strings.Fields(part)
		if len(f) == 0 {
			f = []string{""}
		}
		names = append(names, f...)
	}
	return names
}

func (k Key) outOfRange() string { return fmt.Sprintf("must be %d to %d", k.min, k.max) }

// Check returns what is wrong with the key's value in c, the other keys
// considered, as a *FieldError naming c.Path; nil when nothing is.
func (k Key) Check(c *Config) error {
	v := k.Get(c)
	if p := k.problem(c, v); p != "" {
		return k.FieldError(c.Path, v, p)
	}
	return nil
}

// problem returns what is wrong with v, the key's value in c, or "".
func (k Key) problem(c *Config, v string) string {
	if strings.ContainsAny(v, "\r\n") {
		return "contains a line break"
	}
	switch p := k.field(c).(type) {
	case *int:
		if *p < k.min || *p > k.max {
			return k.outOfRange()
		}
	case *time.Duration:
		if *p%k.unit != 0 {
			return fmt.Sprintf("%v is not a whole number of %v", *p, k.unit)
		}
		if n := *p / k.unit; n < time.Duration(k.min) || n > time.Duration(k.max) {
			return k.outOfRange()
		}
	}
	if k.check != nil {
		return k.check(c, v)
	}
	return ""
}

// FieldError reports problem with value v of the key in file; it leaves
// out the value of a password.
func (k Key) FieldError(file, v, problem string) *FieldError {
	if k.Secret() {
		v = ""
	}
	return &FieldError{File: file, Section: k.Section, Key: k.Name, Value: v, Problem: problem}
}

// Validate checks every key of c (Key.Check) and returns all problems
// joined with errors.Join, each a *FieldError of one line naming c.Path.
func (c *Config) Validate() error {
	var errs []error
	for _, k := range keyTable() {
		if err := k.Check(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ExpandHome turns a leading ~/ (or a lone ~) into the running user's home
// directory; v is returned unchanged otherwise, or when the home directory
// is unknown.
func ExpandHome(v string) string {
	if v == "~" || strings.HasPrefix(v, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, v[1:])
		}
	}
	return v
}

// cleanPath cleans a path that is set ("" stays "").
func cleanPath(v string) string {
	if v == "" {
		return v
	}
	return filepath.Clean(v)
}

func notEmpty(_ *Config, v string) string {
	if strings.TrimSpace(v) == "" {
		return "must not be empty"
	}
	return ""
}

func cleanAbsolute(_ *Config, v string) string {
	switch {
	case !filepath.IsAbs(v):
		return "must be an absolute path"
	case filepath.Clean(v) != v:
		return "must be a clean path: " + filepath.Clean(v)
	}
	return ""
}

// absoluteIfSet is for files the cron job reads: it runs elsewhere.
func absoluteIfSet(_ *Config, v string) string {
	if v != "" && !filepath.IsAbs(v) {
		return "must be an absolute path (cron runs from another directory)"
	}
	return ""
}

func relative(_ *Config, v string) string {
	switch {
	case v == "":
		return "must not be empty"
	case strings.HasPrefix(v, "/"):
		return "must be relative (no leading /)"
	case slices.Contains(strings.Split(v, "/"), ".."):
		return "must not contain a .. element"
	}
	return ""
}

func prefix(_ *Config, v string) string {
	if !metric.ValidPrefix(v) {
		return "must be a lower-case letter, then up to 30 lower-case letters, digits or _ (" + metric.PrefixRule + ")"
	}
	return ""
}

// databases checks the list itself: its joined form hides a comma in a name.
func databases(c *Config, _ string) string {
	for _, name := range c.Remote.Databases {
		switch {
		case name == "":
			return "has an empty name (write * for every database)"
		case name == "*":
			return "* must stand alone (it means every database)"
		case strings.ContainsFunc(name, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }):
			return fmt.Sprintf("bad database name %q: no comma, no space", name)
		}
	}
	return ""
}
