package config

import (
	"errors"
	"fmt"
	"slices"
)

// The all-clients page is pggraph.cgi run from the root of the install
// directories (/var/www/pggraph/index.cgi, served at /pggraph/). Its
// config.ini, beside it, says where the central database is and
// nothing else: it has no client, no tunnel and no password (the CGI
// connects as pggraph_web, whose password is in a pgpass file).

// rootKeys are the only keys a root config.ini may set, as
// "[section] name". Title defaults to RootTitle, www_path to
// RootWWWPath, the [local] keys to their defaults.
var rootKeys = []string{"[install] title", "[install] www_path", "[local] host", "[local] port", "[local] database"}

// Defaults of a root config.ini: the title its page shows, and the URL
// path pggraph.conf serves the root at.
const (
	RootTitle   = "All clients"
	RootWWWPath = "pggraph"
)

// ErrClientConfig is wrapped by LoadRoot's error for a config.ini that
// sets [local] prefix: a client's, not the root's.
var ErrClientConfig = errors.New("a client's config.ini (it sets [local] prefix)")

// LoadRoot reads the config.ini at the root of the install directories
// (path, or the directory holding it): [install] title and www_path and
// [local] host, port and database, each checked as in a client's
// config.ini. A file that sets [local] prefix is a client's
// (ErrClientConfig); any other key is refused, naming it.
func LoadRoot(path string) (*Config, error) {
	f, abs, _, err := readPath(path)
	if err != nil {
		return nil, err
	}
	if f.sets("local", "prefix") {
		return nil, fmt.Errorf("%s: %w", where(abs), ErrClientConfig)
	}
	return f.root(abs)
}

// sets reports whether the file sets [section] name.
func (f *File) sets(section, name string) bool {
	return slices.ContainsFunc(f.entries, func(e entry) bool { return e.key.Section == section && e.key.Name == name })
}

// root applies f, which sets no [local] prefix, as the root's
// config.ini named abs, and checks it (LoadRoot).
func (f *File) root(abs string) (*Config, error) {
	var errs []error
	for _, e := range f.entries {
		if !slices.Contains(rootKeys, e.key.String()) {
			errs = append(errs, &FieldError{File: abs, Section: e.key.Section, Key: e.key.Name,
				Problem: "not read at the root of the install directories (only " + joinKeys(rootKeys) + ")"})
		}
	}
	c := Default()
	c.Path = abs
	c.Install.Title, c.Install.WWWPath = RootTitle, RootWWWPath
	errs = append(errs, f.Apply(c))
	for _, k := range keyTable() {
		if slices.Contains(rootKeys, k.String()) {
			errs = append(errs, k.Check(c))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// joinKeys lists keys for a message: "a, b and c".
func joinKeys(ks []string) string {
	out := ""
	for i, k := range ks {
		switch {
		case i == 0:
		case i == len(ks)-1:
			out += " and "
		default:
			out += ", "
		}
		out += k
	}
	return out
}
