package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/ini.v1"
)

// header is the comment Write puts first.
const header = "pggraph client configuration — written by pggraph; keep it mode 0600"

// Parse reads a config.ini from r over Default and validates it. Name (the
// file's path) is used in errors and stored in Path. Values may carry
// inline comments after a space (`port = 5432 ; comment`); a ; or # with no
// space before it is part of the value (`pa;ss#word`), and a value may be
// quoted in backticks or """ to keep anything else. Errors name the file
// and, when they are about one, the section and key: every problem is
// reported, joined with errors.Join. Passwords never appear in errors.
func Parse(r io.Reader, name string) (*Config, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where(name), err)
	}
	if src, err = prepare(src, name); err != nil {
		return nil, err
	}
	f, err := ini.LoadSources(ini.LoadOptions{
		IgnoreContinuation:       true, // a value may end in a backslash
		SpaceBeforeInlineComment: true,
		KeyValueDelimiters:       "=",
	}, src)
	if err != nil { // prepare catches what ini.v1 would report
		return nil, fmt.Errorf("%s: %w", where(name), err)
	}
	c := Default()
	c.Path = name
	var errs []error
	ks := keys()
	for _, sec := range f.Sections() {
		section := sec.Name()
		if section == ini.DefaultSection {
			for _, k := range sec.Keys() {
				errs = append(errs, &FieldError{File: name, Key: k.Name(), Problem: "outside any [section]"})
			}
			continue
		}
		if !slices.ContainsFunc(ks, func(k key) bool { return k.section == section }) {
			errs = append(errs, &FieldError{File: name, Section: section, Problem: "unknown section"})
			continue
		}
		for _, k := range sec.Keys() {
			def, ok := lookup(ks, section, k.Name())
			if !ok {
				errs = append(errs, &FieldError{File: name, Section: section, Key: k.Name(), Problem: "unknown key"})
			} else if p := def.set(c, k.Value()); p != "" {
				errs = append(errs, def.fieldError(c, name, k.Value(), p))
			}
		}
	}
	if c.SSH.Password != "" {
		c.Warnings = append(c.Warnings, "[ssh] password is deprecated: use a key or ssh-agent")
	}
	if err := errors.Join(append(errs, c.Validate())...); err != nil {
		return nil, err
	}
	return c, nil
}

// prepare does what ini.v1 does not do right for config.ini, line by line:
// it reports the syntax errors ini.v1 would report with the line's text
// (which may hold a password) by line number instead, refuses values that
// span lines (an unclosed ` or """) and keys set twice, and blanks a value
// that is only a comment (`password =   ; may be blank`), which ini.v1 would
// take for the value.
func prepare(src []byte, name string) ([]byte, error) {
	src = bytes.TrimPrefix(src, []byte("\uFEFF"))
	lines := strings.SplitAfter(string(src), "\n")
	var errs []error
	section, seen := "", map[[2]string]int{}
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if t == "" || t[0] == ';' || t[0] == '#' {
			continue
		}
		if t[0] == '[' {
			end := strings.LastIndexByte(t, ']')
			if end < 0 {
				errs = append(errs, fmt.Errorf("%s: line %d: no ] after [", where(name), i+1))
			}
			section = t[1:max(end, 1)]
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		id := [2]string{section, k}
		var problem string
		switch {
		case !ok || k == "":
			problem = "want key = value, [section] or ; comment"
		case k[0] == '"' || k[0] == '`':
			problem = "quoted key"
		case strings.HasPrefix(v, `"""`) && !strings.Contains(v[3:], `"""`),
			strings.HasPrefix(v, "`") && !strings.Contains(v[1:], "`"):
			problem = "unclosed quote (a value must fit on its line)"
		case seen[id] > 0:
			errs = append(errs, &FieldError{File: name, Section: section, Key: k,
				Problem: fmt.Sprintf("set twice (lines %d and %d)", seen[id], i+1)})
		case strings.HasPrefix(v, ";") || strings.HasPrefix(v, "#"):
			lines[i] = k + " =\n"
		}
		if problem != "" {
			errs = append(errs, fmt.Errorf("%s: line %d: %s", where(name), i+1, problem))
		}
		seen[id] = i + 1
	}
	return []byte(strings.Join(lines, "")), errors.Join(errs...)
}

// Load reads path, a config.ini or an install directory holding one, with
// Parse. It sets Path to the absolute file name and warns (Warnings) when
// the file holds a password and others than its owner may access it.
func Load(path string) (*Config, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "config.ini")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where(path), err)
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where(abs), err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where(abs), err)
	}
	c, err := Parse(f, abs)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 && c.Local.Password+c.Remote.Password+c.SSH.Password != "" {
		c.Warnings = append(c.Warnings, fmt.Sprintf("config %s is readable by group/others and holds passwords; chmod 600 it", abs))
	}
	return c, nil
}

// Write validates c and writes it to path with every section and key in
// DESIGN order, mode 0600 from the start (a temporary file in the same
// directory, renamed over path). Every value Validate accepts reads back
// unchanged through Load: the one kind ini.v1 cannot hold, a value with a
// line break (\n or \r), is refused by Validate. Write also parses what it
// is about to write and refuses, naming the key, if anything would read
// back different. On success it sets c.Path to the absolute path.
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
	f := ini.Empty()
	f.Section("install").Comment = header
	for _, k := range keys() {
		if _, err := f.Section(k.section).NewKey(k.name, quote(k.get(c))); err != nil {
			return nil, fmt.Errorf("%s: [%s] %s: %w", where(file), k.section, k.name, err)
		}
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("%s: %w", where(file), err)
	}
	back, err := Parse(bytes.NewReader(buf.Bytes()), file)
	if err != nil {
		return nil, fmt.Errorf("%s: would not read back: %w", where(file), err)
	}
	for _, k := range keys() {
		if k.get(back) != k.get(c) {
			return nil, k.fieldError(c, file, k.get(c), "cannot be written so that it reads back unchanged")
		}
	}
	return buf.Bytes(), nil
}

// quote returns v as ini.v1's writer must get it to write it so that Parse
// reads back v. The writer itself wraps a value holding a line break or a
// backtick in """…""", one holding ; or # in backticks and one with
// surrounding spaces in "…": those read back unchanged (Validate refuses
// line breaks). What is left are values that Parse would unquote ("x",
// 'x', and " x"y" that the writer makes of ` x"y`) or take for an opening
// """: wrapped in """…""" here, they pass the writer untouched and read
// back whole, since the reader takes all up to the last """ on the line.
func quote(v string) string {
	if strings.ContainsAny(v, "`;#\n") {
		return v
	}
	if strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "'") ||
		strings.TrimSpace(v) != v && strings.Contains(v, `"`) {
		return `"""` + v + `"""`
	}
	return v
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
