package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Parse reads a config.ini from r over Default and validates it: ReadFile,
// then Apply, then Validate. Name (the file's path) is used in errors and
// stored in Path. The syntax is ReadFile's: values may carry inline
// comments after a space (`port = 5432 ; comment`); a ; or # with no space
// before it is part of the value (`pa;ss#word`), and a value may be quoted
// in backticks or """ to keep anything else. Errors name the file and,
// when they are about one, the section and key: every problem is reported,
// joined with errors.Join. Passwords never appear in errors.
func Parse(r io.Reader, name string) (*Config, error) {
	f, err := ReadFile(r, name)
	if err != nil {
		return nil, err
	}
	return f.client(name)
}

// client applies f over Default as a client's config.ini named name and
// validates it (Parse).
func (f *File) client(name string) (*Config, error) {
	c := Default()
	c.Path = name
	errs := f.Apply(c)
	if c.SSH.Password != "" {
		c.Warnings = append(c.Warnings, "[ssh] password is deprecated: use a key or ssh-agent")
	}
	if err := errors.Join(errs, c.Validate()); err != nil {
		return nil, err
	}
	return c, nil
}

// Load reads path, a config.ini or an install directory holding one, with
// Parse. It sets Path to the absolute file name and warns (Warnings) when
// the file holds a password and others than its owner may access it.
func Load(path string) (*Config, error) {
	f, abs, mode, err := readPath(path)
	if err != nil {
		return nil, err
	}
	c, err := f.client(abs)
	if err != nil {
		return nil, err
	}
	warnReadable(c, mode)
	return c, nil
}

// readPath reads path, a config.ini or a directory holding one, with
// ReadFile: the file, its absolute name and its mode.
func readPath(path string) (*File, string, os.FileMode, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "config.ini")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", 0, fmt.Errorf("%s: %w", where(path), err)
	}
	r, err := os.Open(abs)
	if err != nil {
		return nil, "", 0, fmt.Errorf("%s: %w", where(abs), err)
	}
	defer r.Close()
	fi, err := r.Stat()
	if err != nil {
		return nil, "", 0, fmt.Errorf("%s: %w", where(abs), err)
	}
	f, err := ReadFile(r, abs)
	if err != nil {
		return nil, "", 0, err
	}
	return f, abs, fi.Mode(), nil
}

// warnReadable warns (Warnings) when c's file, of mode, holds a password
// and others than its owner may access it.
func warnReadable(c *Config, mode os.FileMode) {
	if mode.Perm()&0o077 != 0 && c.Local.Password+c.Remote.Password+c.SSH.Password != "" {
		c.Warnings = append(c.Warnings, fmt.Sprintf("config %s is readable by group/others and holds passwords; chmod 600 it", c.Path))
	}
}

// LoadSite reads path once for pggraph.cgi, which serves either kind of
// config.ini: a client's (root false, as Load reads it) when it sets
// [local] prefix, else the root's (root true, as LoadRoot reads it).
func LoadSite(path string) (c *Config, root bool, err error) {
	f, abs, mode, err := readPath(path)
	if err != nil {
		return nil, false, err
	}
	if !f.sets("local", "prefix") {
		c, err = f.root(abs)
		return c, true, err
	}
	if c, err = f.client(abs); err != nil {
		return nil, false, err
	}
	warnReadable(c, mode)
	return c, false, nil
}

// Write validates c and writes it to path with every section and key in
// file order, mode 0600 from the start (a temporary file in the same
// directory, renamed over path). Every value Validate accepts reads back
// unchanged through Load (a value with a line break, the one kind a line
// cannot hold, is refused by Validate); Write also parses what it is about
// to write and refuses, naming the key, if anything would read back
// different. On success it sets c.Path to the absolute path.
func (c *Config) Write(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("%s: %w", where(path), err)
	}
	data, err := c.encode(abs)
	if err != nil {
		return err
	}
	if err := writeFile(abs, data); err != nil {
		return fmt.Errorf("%s: %w", where(abs), err)
	}
	c.Path = abs
	return nil
}

// encode validates c and returns it as config.ini text, once it is sure
// the text reads back as c. File names c in errors.
func (c *Config) encode(file string) ([]byte, error) {
	w := *c
	w.Path = file
	if err := w.Validate(); err != nil {
		return nil, err
	}
	data := format(c)
	back, err := Parse(bytes.NewReader(data), file)
	if err != nil {
		return nil, fmt.Errorf("%s: would not read back: %w", where(file), err)
	}
	for _, k := range keyTable() {
		if k.Get(back) != k.Get(c) {
			return nil, k.FieldError(file, k.Get(c), "cannot be written so that it reads back unchanged")
		}
	}
	return data, nil
}

// writeFile replaces path with data, never letting others read it.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config.ini.*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
