// Package config loads, validates and writes a client's config.ini: one per
// install directory, written by pggraph-install (mode 0600) and read by every
// other program. Keys lists its sections and keys, each with its default
// (Default), its check and the question pggraph-install asks for it.
//
// The flow is Default → Parse (or Load) → Validate; Write is the inverse of
// Load. Parse is ReadFile (the text), then File.Apply (each value), then
// Validate (each key, the others considered); pggraph-install reads its
// answers file with the same ReadFile and Apply. Passwords are Secrets:
// they never print and never appear in errors.
package config

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pggraph/pggraph/metric"
)

// Config is one client's config.ini. The zero Config is not valid: start
// from Default, or Parse or Load a file.
type Config struct {
	// Path is the file the config was loaded from or last written to; Load
	// and Write make it absolute, Parse sets it to its name argument. Empty
	// for a config built in memory. Errors name it.
	Path    string
	Install Install
	Local   Local
	Remote  Remote
	PGGraph PGGraph
	SSH     SSH
	Alerts  Alerts
	// Warnings are non-fatal findings of Parse and Load, one line each,
	// such as a deprecated [ssh] password or a config.ini that others can
	// read. Nil when there are none; Write ignores them.
	Warnings []string
}

// Install is [install]: where the client's pages live. It has no defaults.
type Install struct {
	// Directory is the install directory: absolute and clean.
	Directory string
	// WWWPath is the relative URL path of the pages (www_path), e.g.
	// "pggraph/acme": not empty, no leading "/", no ".." element.
	WWWPath string
	// Title is the client's full name shown on the pages; not empty.
	Title string
}

// Local is [local]: the central pggraph database.
type Local struct {
	// Database is the samples database (default "pggraph").
	Database string
	// Prefix names the client's tables <prefix>_…; Validate tells a valid
	// one. It has no default.
	Prefix string
	// Port is the server's port (default 5432).
	Port int
	// Host is the server's host (default "localhost"); empty leaves the
	// choice to the PostgreSQL driver's default.
	Host string
	// User is the database user (default "pggraph").
	User string
	// Password may be empty: then ~/.pgpass or peer authentication is used.
	Password Secret
}

// Remote is [remote]: the client's PostgreSQL, reached through the tunnel.
type Remote struct {
	// User is the monitoring role (it needs only pg_monitor); not empty.
	User string
	// Password may be empty.
	Password Secret
	// Host is the tunnel's near end, as in the original (default
	// "localhost"); empty leaves the choice to the PostgreSQL driver.
	Host string
	// LocalPort is where pggraph-forward listens (default 7555).
	LocalPort int
	// Databases are the databases to read per-table statistics from, none
	// holding a comma or a space. Nil or empty means every database that
	// allows connections, "*" in the file.
	Databases []string
	// Queries says whether statement statistics are read from
	// pg_stat_statements when the client has it (default true).
	Queries bool
	// QueryText says whether the statements' texts are stored (default
	// true); false keeps only their queryid.
	QueryText bool
}

// PGGraph is [pggraph]: collection and display.
type PGGraph struct {
	// Interval is the shortest display interval: whole minutes, 1–60
	// (default 10m). The file holds minutes.
	Interval time.Duration
	// MaxImages is the number of graphs per page, 1–1000 (default 10).
	MaxImages int
	// Delay is how long to wait for the tunnel before giving up: whole
	// seconds, 1–300 (default 7s). The file holds seconds.
	Delay time.Duration
	// Keep is how long the central database keeps raw samples, hourly
	// rollups and daily rollups (defaults: metric.DefaultRetention). The
	// file holds whole days: keep_raw_days, keep_hourly_days,
	// keep_daily_days.
	Keep metric.Retention
	// LogFile, when set, is an absolute path that pggraph-collect appends
	// its log lines to (info level, or debug with -v); "" logs to stderr
	// only.
	LogFile string
	// TopQueries is how many statements of each database a run stores
	// by each measure (total time, calls, blocks read, temp blocks
	// written), 1–1000 (default 100); the rest are summed into one row.
	TopQueries int
	// QueryTextMax is how many characters of a statement's text are
	// kept, 100–100000 (default 4000).
	QueryTextMax int
}

// SSH is [ssh]: the tunnel to the client's database host.
type SSH struct {
	// User is the SSH login (default "cmd"); required when Server is set.
	User string
	// Password is deprecated (a warning says so); empty: key or agent only.
	Password Secret
	// Keyfile is an absolute path to a private key; empty: no key file,
	// the ssh agent or the password must do.
	Keyfile string
	// Server is the first SSH server (the bastion with TwinTunnel); empty
	// means no tunnel: connect to BindAddress:BindPort directly.
	Server string
	// Port is Server's SSH port (default 22).
	Port int
	// BindPort is PostgreSQL's port as seen from the last SSH server, or
	// from here with no tunnel (default 5432).
	BindPort int
	// BindAddress is PostgreSQL's address as seen from the last SSH server,
	// or from here with no tunnel (default "localhost"); empty means the
	// local system, as with net.Dial.
	BindAddress string
	// TwinTunnel makes Server a bastion and SecondServer the database host.
	TwinTunnel bool
	// SecondServer is the database host's sshd as host or host:port, reached
	// through the bastion; set exactly when TwinTunnel is.
	SecondServer string
	// KnownHosts is an absolute path to a known_hosts file; host keys are
	// always checked, so it is required when Server is set.
	KnownHosts string
}

// Default returns the installer's defaults. It is not valid by itself:
// [install], local.prefix and remote.user have no default. Keyfile and
// KnownHosts are ~/.ssh/id_ed25519 and ~/.ssh/known_hosts of the running
// user, or empty when its home directory is unknown.
func Default() *Config {
	c := &Config{
		Local:  Local{Database: "pggraph", Port: 5432, Host: "localhost", User: "pggraph"},
		Remote: Remote{Host: "localhost", LocalPort: 7555, Queries: true, QueryText: true},
		PGGraph: PGGraph{
			Interval: 10 * time.Minute, MaxImages: 10, Delay: 7 * time.Second,
			Keep: metric.DefaultRetention(), TopQueries: 100, QueryTextMax: 4000,
		},
		SSH:    SSH{User: "cmd", Port: 22, BindPort: 5432, BindAddress: "localhost"},
		Alerts: Alerts{After: 2},
	}
	if home, err := os.UserHomeDir(); err == nil {
		c.SSH.Keyfile = filepath.Join(home, ".ssh", "id_ed25519")
		c.SSH.KnownHosts = filepath.Join(home, ".ssh", "known_hosts")
	}
	return c
}

// Mode is how the database host is reached.
type Mode int

const (
	// ModeNone: no tunnel ([ssh] server is empty).
	ModeNone Mode = iota
	// ModeDirect: one SSH hop to [ssh] server.
	ModeDirect
	// ModeTwin: [ssh] server is a bastion, second_server the database host.
	ModeTwin
)

// String returns "no tunnel", "direct" or "twin tunnel".
func (m Mode) String() string {
	switch m {
	case ModeNone:
		return "no tunnel"
	case ModeDirect:
		return "direct"
	case ModeTwin:
		return "twin tunnel"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// TunnelMode tells how [ssh] reaches the database host.
func (c *Config) TunnelMode() Mode {
	switch {
	case c.SSH.TwinTunnel:
		return ModeTwin
	case c.SSH.Server == "":
		return ModeNone
	}
	return ModeDirect
}

// ServerAddr is Server:Port, ready to dial.
func (s SSH) ServerAddr() string { return net.JoinHostPort(s.Server, strconv.Itoa(s.Port)) }

// SecondAddr is SecondServer ready to dial: ":22" is added when it has no
// port ("db" → "db:22", "::1" → "[::1]:22"). Empty when SecondServer is.
func (s SSH) SecondAddr() string {
	if s.SecondServer == "" {
		return ""
	}
	if _, _, err := net.SplitHostPort(s.SecondServer); err == nil {
		return s.SecondServer
	}
	return net.JoinHostPort(strings.Trim(s.SecondServer, "[]"), "22")
}

// Target is BindAddress:BindPort: PostgreSQL as seen from the last SSH
// server, or from here with no tunnel.
func (s SSH) Target() string { return net.JoinHostPort(s.BindAddress, strconv.Itoa(s.BindPort)) }

// FieldError is one bad section, key or value of a config.ini.
type FieldError struct {
	// File is the config's path; empty for a config built in memory.
	File string
	// Section is the section without brackets; empty for a key that stands
	// before the first section.
	Section string
	// Key is the key; empty when the whole section is the problem.
	Key string
	// Value is the offending value as in the file; always empty for
	// passwords, and left out of Error when empty.
	Value string
	// Problem says what is wrong, e.g. "not a number".
	Problem string
}

// Error returns one line such as
// `config /var/www/pggraph/acme/config.ini: [ssh] port = "abc": not a number`.
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(where(e.File) + ": ")
	if e.Section != "" {
		b.WriteString("[" + e.Section + "]")
		if e.Key != "" {
			b.WriteString(" ")
		}
	}
	b.WriteString(e.Key)
	if e.Value != "" {
		b.WriteString(" = " + strconv.Quote(e.Value))
	}
	b.WriteString(": " + e.Problem)
	return b.String()
}

// where starts every error of the package: "config FILE".
func where(file string) string {
	if file == "" {
		return "config"
	}
	return "config " + file
}
