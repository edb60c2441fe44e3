package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pggraph/pggraph/metric"
)

var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,30}$`)

// key describes one config.ini key: where it lives, which Config field
// holds it and what a valid value is. The field's type decides how the
// value is read and written.
type key struct {
	section, name string
	// field returns a pointer to the Config field: *string, *Secret, *int,
	// *bool, *[]string or *time.Duration.
	field func(*Config) any
	// unit is the unit of a *time.Duration in the file.
	unit time.Duration
	// min and max bound the number in the file of an *int or *time.Duration.
	min, max int
	// check returns what is wrong with v, the value as in the file, or "".
	// Nil accepts any value.
	check func(c *Config, v string) string
}

// keys returns every key in DESIGN order, the order Write uses.
func keys() []key {
	const maxPort = 65535
	return []key{
		{section: "install", name: "directory", field: func(c *Config) any { return &c.Install.Directory }, check: cleanAbsolute},
		{section: "install", name: "www_path", field: func(c *Config) any { return &c.Install.WWWPath }, check: relative},
		{section: "install", name: "title", field: func(c *Config) any { return &c.Install.Title }, check: notEmpty},

		{section: "local", name: "database", field: func(c *Config) any { return &c.Local.Database }, check: notEmpty},
		{section: "local", name: "prefix", field: func(c *Config) any { return &c.Local.Prefix }, check: prefix},
		{section: "local", name: "port", field: func(c *Config) any { return &c.Local.Port }, min: 1, max: maxPort},
		{section: "local", name: "host", field: func(c *Config) any { return &c.Local.Host }},
		{section: "local", name: "user", field: func(c *Config) any { return &c.Local.User }, check: notEmpty},
		{section: "local", name: "password", field: func(c *Config) any { return &c.Local.Password }},

		{section: "remote", name: "user", field: func(c *Config) any { return &c.Remote.User }, check: notEmpty},
		{section: "remote", name: "password", field: func(c *Config) any { return &c.Remote.Password }},
		{section: "remote", name: "host", field: func(c *Config) any { return &c.Remote.Host }},
		{section: "remote", name: "local_port", field: func(c *Config) any { return &c.Remote.LocalPort }, min: 1, max: maxPort},
		{section: "remote", name: "databases", field: func(c *Config) any { return &c.Remote.Databases }, check: databases},

		{section: "pggraph", name: "interval", field: func(c *Config) any { return &c.PGGraph.Interval }, unit: time.Minute, min: 1, max: 60},
		{section: "pggraph", name: "max_images", field: func(c *Config) any { return &c.PGGraph.MaxImages }, min: 1, max: 1000},
		{section: "pggraph", name: "delay", field: func(c *Config) any { return &c.PGGraph.Delay }, unit: time.Second, min: 1, max: 300},
		{section: "pggraph", name: "keep_raw_days", field: func(c *Config) any { return &c.PGGraph.Keep.Raw }, unit: metric.Day, min: 1, max: 36500},
		{section: "pggraph", name: "keep_hourly_days", field: func(c *Config) any { return &c.PGGraph.Keep.Hourly }, unit: metric.Day, min: 1, max: 36500},
		{section: "pggraph", name: "keep_daily_days", field: func(c *Config) any { return &c.PGGraph.Keep.Daily }, unit: metric.Day, min: 1, max: 36500},
		{section: "pggraph", name: "log_file", field: func(c *Config) any { return &c.PGGraph.LogFile }, check: absoluteIfSet},

		{section: "ssh", name: "user", field: func(c *Config) any { return &c.SSH.User }, check: func(c *Config, v string) string {
			if c.SSH.Server != "" {
				return notEmpty(c, v)
			}
			return ""
		}},
		{section: "ssh", name: "password", field: func(c *Config) any { return &c.SSH.Password }},
		{section: "ssh", name: "keyfile", field: func(c *Config) any { return &c.SSH.Keyfile }, check: absoluteIfSet},
		{section: "ssh", name: "server", field: func(c *Config) any { return &c.SSH.Server }, check: func(c *Config, v string) string {
			if c.SSH.TwinTunnel && v == "" {
				return "required when twin_tunnel = yes (it is the bastion)"
			}
			return ""
		}},
		{section: "ssh", name: "port", field: func(c *Config) any { return &c.SSH.Port }, min: 1, max: maxPort},
		{section: "ssh", name: "bind_port", field: func(c *Config) any { return &c.SSH.BindPort }, min: 1, max: maxPort},
		{section: "ssh", name: "bind_address", field: func(c *Config) any { return &c.SSH.BindAddress }},
		{section: "ssh", name: "twin_tunnel", field: func(c *Config) any { return &c.SSH.TwinTunnel }},
		{section: "ssh", name: "second_server", field: func(c *Config) any { return &c.SSH.SecondServer }, check: func(c *Config, v string) string {
			switch {
			case c.SSH.TwinTunnel && v == "":
				return "required when twin_tunnel = yes"
			case !c.SSH.TwinTunnel && v != "":
				return "second_server is set but twin_tunnel = no"
			}
			return ""
		}},
		{section: "ssh", name: "known_hosts", field: func(c *Config) any { return &c.SSH.KnownHosts }, check: func(c *Config, v string) string {
			if c.SSH.Server != "" && v == "" {
				return "required when server is set (host keys are always checked)"
			}
			return absoluteIfSet(c, v)
		}},
	}
}

// lookup finds a key of ks by section and name.
func lookup(ks []key, section, name string) (key, bool) {
	i := slices.IndexFunc(ks, func(k key) bool { return k.section == section && k.name == name })
	if i < 0 {
		return key{}, false
	}
	return ks[i], true
}

// get returns the key's value as written to the file.
func (k key) get(c *Config) string {
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
	}
	panic("config: key " + k.name + " has an unsupported field type")
}

// set stores v, a value from the file, in c. It returns what is wrong with
// v when it cannot be stored (a number that is none or out of range, a bad
// boolean), else "": the rest is Validate's job.
func (k key) set(c *Config, v string) string {
	switch p := k.field(c).(type) {
	case *string:
		*p = v
	case *Secret:
		*p = Secret(v)
	case *int, *time.Duration:
		n, err := strconv.Atoi(v)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return "not a number"
		}
		if err != nil || n < k.min || n > k.max {
			return k.outOfRange()
		}
		if d, ok := p.(*time.Duration); ok {
			*d = time.Duration(n) * k.unit
		} else {
			*p.(*int) = n
		}
	case *bool:
		switch strings.ToLower(v) {
		case "yes", "true", "1", "on":
			*p = true
		case "no", "false", "0", "off", "":
			*p = false
		default:
			return "must be yes or no"
		}
	case *[]string:
		*p = nil
		if v != "*" {
			for name := range strings.SplitSeq(v, ",") {
				*p = append(*p, strings.TrimSpace(name))
			}
		}
	}
	return ""
}

func (k key) outOfRange() string { return fmt.Sprintf("out of range %d-%d", k.min, k.max) }

// problem returns what is wrong with the key's value in c, or "".
func (k key) problem(c *Config) string {
	v := k.get(c)
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

// fieldError reports problem with value v of the key in file; it leaves
// out the value of a password.
func (k key) fieldError(c *Config, file, v, problem string) *FieldError {
	if _, ok := k.field(c).(*Secret); ok {
		v = ""
	}
	return &FieldError{File: file, Section: k.section, Key: k.name, Value: v, Problem: problem}
}

// Validate checks every rule of DESIGN.md on c and returns all problems
// joined with errors.Join, each a *FieldError of one line naming c.Path.
func (c *Config) Validate() error {
	var errs []error
	for _, k := range keys() {
		if p := k.problem(c); p != "" {
			errs = append(errs, k.fieldError(c, c.Path, k.get(c), p))
		}
	}
	return errors.Join(errs...)
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
	if !prefixRE.MatchString(v) {
		return "must match ^[a-z][a-z0-9_]{0,30}$ (lowercase letter first, then lowercase letters, digits, _; at most 31)"
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
		case strings.TrimSpace(name) != name || strings.Contains(name, ","):
			return fmt.Sprintf("bad database name %q: no comma, no surrounding spaces", name)
		}
	}
	return ""
}
