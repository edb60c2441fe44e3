package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// The text of a config.ini, read and written here only.
//
// A line is blank, a comment (its first non-blank character is ; or #), a
// [section] header (a comment may follow the ]) or key = value; = is the
// only delimiter. A value is one line, trimmed. It ends at an inline
// comment: a ; or # after a space or tab (a value that is only a comment
// is blank). A value wrapped in "…" or '…' loses the quotes. A value that
// starts with ` or """ is everything up to the last ` or """ on its line,
// whatever it holds (; # = quotes and spaces included), and must close
// there. A UTF-8 byte order mark and CRLF line ends are accepted.
//
// This reader replaces gopkg.in/ini.v1, which pggraph used behind a line
// pre-pass. Reading with ini.v1 alone was tried and measured: it needs
// more code than this reader (274 lines against 218) and still cannot
// keep config.ini's rules: its syntax errors quote the line (a password
// among them), a key set twice is lost when the later value is blank, text
// after a section's ] (`[ssh] port = 2222`) is dropped silently, and its
// inline comments start at ` #` before an earlier ` ;`.

// header is the comment Write puts first.
const header = "pggraph client configuration — written by pggraph; keep it mode 0600"

// File is a config.ini as read: the keys it sets, each with its value as
// text, in file order. ReadFile returns one; Apply stores it in a Config.
// An installer's answers file is a File too.
type File struct {
	name    string
	entries []entry
}

// entry is one key = value line of a File.
type entry struct {
	key   Key
	value string
}

// ReadFile reads config.ini text from r in one pass. Name (the file's
// path) is used in errors. It reports every problem with the file's shape,
// joined with errors.Join: syntax errors by line number (never with the
// line's text, which may hold a password) and, when there are none, as
// *FieldError unknown sections and keys, keys outside any section and keys
// set twice. Values are not checked: Apply does that.
func ReadFile(r io.Reader, name string) (*File, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where(name), err)
	}
	src = bytes.TrimPrefix(src, []byte("\uFEFF"))
	f := &File{name: name}
	ks := keyTable()
	var errs, syntax []error
	bad := func(line int, problem string) {
		syntax = append(syntax, fmt.Errorf("%s: line %d: %s", where(name), line, problem))
	}
	section, known := "", false
	seen := map[string]int{} // line of each "[section] key" and "[section]"
	for i, text := range strings.Split(string(src), "\n") {
		n, t := i+1, strings.TrimSpace(text)
		if t == "" || t[0] == ';' || t[0] == '#' {
			continue
		}
		if t[0] == '[' {
			end := strings.IndexByte(t, ']')
			switch rest := strings.TrimSpace(t[max(end, 0)+1:]); {
			case end < 0:
				bad(n, "no ] after [")
				section, known = "", false
				continue
			case end == 1:
				bad(n, "empty section name")
			case rest != "" && rest[0] != ';' && rest[0] != '#':
				bad(n, "text after ] (only a ; or # comment may follow)")
			}
			section = t[1:end]
			known = slices.ContainsFunc(ks, func(k Key) bool { return k.Section == section })
			if !known && seen["["+section+"]"] == 0 && section != "" {
				errs = append(errs, &FieldError{File: name, Section: section, Problem: "unknown section"})
			}
			seen["["+section+"]"] = n
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok || k == "":
			bad(n, "want key = value, [section] or ; comment")
			continue
		case k[0] == '"' || k[0] == '`':
			bad(n, "quoted key")
			continue
		}
		value, ok := readValue(v)
		if !ok {
			bad(n, "unclosed quote (a value must fit on its line)")
			continue
		}
		id := "[" + section + "] " + k
		switch first := seen[id]; {
		case section == "":
			errs = append(errs, &FieldError{File: name, Key: k, Problem: "outside any [section]"})
		case !known:
			// the section is reported once
		case first > 0:
			errs = append(errs, &FieldError{File: name, Section: section, Key: k,
				Problem: fmt.Sprintf("set twice (lines %d and %d)", first, n)})
		default:
			key, ok := lookup(ks, section, k)
			if !ok {
				errs = append(errs, &FieldError{File: name, Section: section, Key: k, Problem: "unknown key"})
				break
			}
			f.entries = append(f.entries, entry{key: key, value: value})
		}
		seen[id] = n
	}
	if len(syntax) > 0 { // what follows a syntax error may be read wrong
		errs = syntax
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return f, nil
}

// readValue returns the value that v, the text after a key's =, holds;
// false when a ` or """ quote does not close on the line.
func readValue(v string) (string, bool) {
	v = strings.TrimSpace(v)
	for _, q := range []string{`"""`, "`"} {
		if strings.HasPrefix(v, q) {
			end := strings.LastIndex(v[len(q):], q)
			if end < 0 {
				return "", false
			}
			return v[len(q) : len(q)+end], true
		}
	}
	for i, r := range v {
		if (r == ';' || r == '#') && (i == 0 || v[i-1] == ' ' || v[i-1] == '\t') {
			v = strings.TrimSpace(v[:i])
			break
		}
	}
	if n := len(v); n >= 2 && (v[0] == '"' || v[0] == '\'') && strings.IndexByte(v[1:], v[0]) == n-2 {
		v = v[1 : n-1]
	}
	return v, true
}

// writeValue returns v as Write puts it after "key = ", so that readValue
// gives back v: as it is when it reads back unchanged, else in backticks,
// or in """ when it holds a backtick. v holds no line break (Validate
// refuses one).
func writeValue(v string) string {
	if back, ok := readValue(v); ok && back == v {
		return v
	}
	if !strings.Contains(v, "`") {
		return "`" + v + "`"
	}
	return `"""` + v + `"""`
}

// format returns c as config.ini text: the header comment, then every
// section and key in file order, the = of a section's keys aligned.
func format(c *Config) []byte {
	var b bytes.Buffer
	b.WriteString("; " + header + "\n")
	ks := keyTable()
	def := Default()
	for i := 0; i < len(ks); {
		j, width := i, 0
		for ; j < len(ks) && ks[j].Section == ks[i].Section; j++ {
			if !ks[j].optional || ks[j].Get(c) != ks[j].Get(def) {
				width = max(width, len(ks[j].Name))
			}
		}
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("[" + ks[i].Section + "]\n")
		for _, k := range ks[i:j] {
			if k.optional && k.Get(c) == k.Get(def) {
				continue
			}
			fmt.Fprintf(&b, "%-*s = %s\n", width, k.Name, writeValue(k.Get(c)))
		}
		i = j
	}
	return b.Bytes()
}

// Value returns the text f gives k, and whether f sets k.
func (f *File) Value(k Key) (string, bool) {
	for _, e := range f.entries {
		if e.key.Section == k.Section && e.key.Name == k.Name {
			return e.value, true
		}
	}
	return "", false
}

// Name is the name ReadFile was given.
func (f *File) Name() string { return f.name }

// Apply stores every value of f in c with Key.Set and returns every value
// that cannot be stored, joined, each a *FieldError naming f. It does not
// Validate c.
func (f *File) Apply(c *Config) error {
	var errs []error
	for _, e := range f.entries {
		if err := e.key.Set(c, e.value); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				fe.File = f.name
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
