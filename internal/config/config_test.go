package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pggraph/pggraph/metric"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// file is the name the tests parse under; errors must name it.
const file = "/var/www/pggraph/acme/config.ini"

// design returns testdata/design.ini, the README's example.
func design(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "design.ini"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// setKey sets key in [section] of an ini text to value, replacing the
// key's line or adding one at the end of the section.
func setKey(t *testing.T, src, section, key, value string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(src, "\n"), "\n")
	in, end := false, -1
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "[") {
			if in {
				break
			}
			in = strings.HasPrefix(l, "["+section+"]")
		}
		if !in {
			continue
		}
		end = i + 1
		if k, _, ok := strings.Cut(l, "="); ok && strings.TrimSpace(k) == key {
			lines[i] = key + " = " + value
			return strings.Join(lines, "\n") + "\n"
		}
	}
	if end < 0 {
		t.Fatalf("no [%s] in the text", section)
	}
	lines = append(lines[:end], append([]string{key + " = " + value}, lines[end:]...)...)
	return strings.Join(lines, "\n") + "\n"
}

// set returns an edit that sets section, key, value triplets.
func set(skv ...string) func(*testing.T, string) string {
	return func(t *testing.T, src string) string {
		for i := 0; i+2 < len(skv); i += 3 {
			src = setKey(t, src, skv[i], skv[i+1], skv[i+2])
		}
		return src
	}
}

// fieldErrors returns every *FieldError in err's tree.
func fieldErrors(err error) []*FieldError {
	var out []*FieldError
	if fe, ok := err.(*FieldError); ok {
		out = append(out, fe)
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, fieldErrors(e)...)
		}
	}
	if u := errors.Unwrap(err); u != nil {
		out = append(out, fieldErrors(u)...)
	}
	return out
}

// same reports whether two configs hold the same values, Path and Warnings
// aside.
func same(a, b *Config) bool {
	x, y := *a, *b
	x.Path, y.Path, x.Warnings, y.Warnings = "", "", nil, nil
	return reflect.DeepEqual(x, y)
}

func TestParseDesign(t *testing.T) {
	got, err := Load(filepath.Join("testdata", "design.ini"))
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(filepath.Join("testdata", "design.ini"))
	want := &Config{
		Path:    abs,
		Install: Install{Directory: "/var/www/pggraph/acme", WWWPath: "pggraph/acme", Title: "ACME Corporation"},
		Local:   Local{Database: "pggraph", Prefix: "acme", Port: 5432, Host: "localhost", User: "pggraph"},
		Remote:  Remote{User: "pggraph_mon", Host: "localhost", LocalPort: 7555, Queries: true, QueryText: true},
		PGGraph: PGGraph{Interval: 10 * time.Minute, MaxImages: 10, Delay: 7 * time.Second, Keep: metric.Retention{Raw: 35 * metric.Day, Hourly: 100 * metric.Day, Daily: 1825 * metric.Day},
			TopQueries: 100, QueryTextMax: 4000},
		SSH: SSH{User: "cmd", Keyfile: "/home/pggraph/.ssh/id_ed25519", Server: "203.0.113.5", Port: 22,
			BindPort: 5432, BindAddress: "localhost", KnownHosts: "/home/pggraph/.ssh/known_hosts"},
		Alerts: Alerts{After: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(design.ini) =\n%+v\nwant\n%+v", got, want)
	}
	if got.TunnelMode() != ModeDirect {
		t.Errorf("TunnelMode = %v, want direct", got.TunnelMode())
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		name, line, want string
	}{
		{name: "comment symbols inside", line: "pa;ss#word", want: "pa;ss#word"},
		{name: "inline comment", line: "pa;ss#word ; the password", want: "pa;ss#word"},
		{name: "hash comment", line: "secret # the password", want: "secret"},
		{name: "comment after a tab", line: "secret\t; the password", want: "secret"},
		{name: "first comment sign wins", line: "a ; b # c", want: "a"},
		{name: "only a comment", line: "                   ; may be blank", want: ""},
		{name: "only a hash comment", line: "#x", want: ""},
		{name: "empty", line: "", want: ""},
		{name: "backticks", line: "` pa ;ss ` ; comment", want: " pa ;ss "},
		{name: "triple quotes", line: `"""it's "x" ; y"""`, want: `it's "x" ; y`},
		{name: "double quotes", line: `" spaced "`, want: " spaced "},
		{name: "single quotes", line: `'x'`, want: "x"},
		{name: "trailing backslash", line: `abc\`, want: `abc\`},
		{name: "equals signs", line: "a=b==", want: "a=b=="},
		{name: "unicode", line: "pässwörd☃", want: "pässwörd☃"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := setKey(t, design(t), "local", "password", tt.line)
			c, err := Parse(strings.NewReader(src), file)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Local.Password.Reveal(); got != tt.want {
				t.Errorf("password = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestParseSettles pins how a value as written becomes the one kept:
// paths are cleaned and ~/ expanded, www_path loses its slashes, lists of
// databases split at commas and spaces, booleans take every usual word.
func TestParseSettles(t *testing.T) {
	t.Setenv("HOME", "/home/op")
	tests := []struct {
		name                string
		section, key, value string
		want                string // the key's value after Parse (Key.Get)
	}{
		{name: "directory trailing slash", section: "install", key: "directory", value: "/var/www/acme/", want: "/var/www/acme"},
		{name: "directory with ..", section: "install", key: "directory", value: "/var/www/../acme", want: "/var/acme"},
		{name: "directory with //", section: "install", key: "directory", value: "/var//www", want: "/var/www"},
		{name: "www_path slashes", section: "install", key: "www_path", value: "/pggraph/acme/", want: "pggraph/acme"},
		{name: "keyfile ~", section: "ssh", key: "keyfile", value: "~/.ssh/id_rsa", want: "/home/op/.ssh/id_rsa"},
		{name: "known_hosts ~", section: "ssh", key: "known_hosts", value: "~/.ssh/kh", want: "/home/op/.ssh/kh"},
		{name: "log_file ~", section: "pggraph", key: "log_file", value: "~/acme.log", want: "/home/op/acme.log"},
		{name: "databases commas", section: "remote", key: "databases", value: "db1,db2", want: "db1,db2"},
		{name: "databases comma space", section: "remote", key: "databases", value: "db1, db2", want: "db1,db2"},
		{name: "databases spaces", section: "remote", key: "databases", value: "db1 db2\tdb3", want: "db1,db2,db3"},
		{name: "databases star", section: "remote", key: "databases", value: "*", want: "*"},
		{name: "twin y", section: "ssh", key: "twin_tunnel", value: "y", want: "yes"},
		{name: "twin YES", section: "ssh", key: "twin_tunnel", value: "YES", want: "yes"},
		{name: "twin on", section: "ssh", key: "twin_tunnel", value: "on", want: "yes"},
		{name: "twin true", section: "ssh", key: "twin_tunnel", value: "True", want: "yes"},
		{name: "twin 1", section: "ssh", key: "twin_tunnel", value: "1", want: "yes"},
		{name: "twin n", section: "ssh", key: "twin_tunnel", value: "n", want: "no"},
		{name: "twin off", section: "ssh", key: "twin_tunnel", value: "off", want: "no"},
		{name: "twin false", section: "ssh", key: "twin_tunnel", value: "false", want: "no"},
		{name: "twin 0", section: "ssh", key: "twin_tunnel", value: "0", want: "no"},
		{name: "twin blank", section: "ssh", key: "twin_tunnel", value: "", want: "no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := setKey(t, design(t), tt.section, tt.key, tt.value)
			if tt.key == "twin_tunnel" && tt.want == "yes" {
				src = setKey(t, src, "ssh", "second_server", "db")
			}
			c, err := Parse(strings.NewReader(src), file)
			if err != nil {
				t.Fatal(err)
			}
			k, _ := lookup(Keys(), tt.section, tt.key)
			if got := k.Get(c); got != tt.want {
				t.Errorf("%s = %q, want %q", k, got, tt.want)
			}
		})
	}
}

func TestParseFieldErrors(t *testing.T) {
	const secret = "hunter2-secret"
	base := set("local", "password", secret, "remote", "password", secret, "ssh", "password", secret)
	tests := []struct {
		name         string
		edit         func(*testing.T, string) string
		section, key string
		problem      string
	}{
		{name: "unknown key", edit: set("ssh", "colour", "red"), section: "ssh", key: "colour", problem: "unknown key"},
		{name: "misspelt password", edit: set("local", "pasword", secret), section: "local", key: "pasword", problem: "unknown key"},
		{name: "unknown section", edit: func(_ *testing.T, s string) string { return s + "[foo]\nbar = 1\n" }, section: "foo", problem: "unknown section"},
		{name: "empty unknown section", edit: func(_ *testing.T, s string) string { return s + "[Install]\n" }, section: "Install", problem: "unknown section"},
		{name: "key before any section", edit: func(_ *testing.T, s string) string { return "stray = 1\n" + s }, key: "stray", problem: "outside any [section]"},
		{name: "key set twice", edit: func(_ *testing.T, s string) string { return s + "port = 23\n" }, section: "ssh", key: "port", problem: "set twice"},
		{name: "password set twice", edit: func(_ *testing.T, s string) string { return s + "password = " + secret + "x\n" }, section: "ssh", key: "password", problem: "set twice"},

		{name: "local port not a number", edit: set("local", "port", "abc"), section: "local", key: "port", problem: "not a number"},
		{name: "local port empty", edit: set("local", "port", ""), section: "local", key: "port", problem: "not a number"},
		{name: "local port zero", edit: set("local", "port", "0"), section: "local", key: "port", problem: "must be 1 to 65535"},
		{name: "local port too big", edit: set("local", "port", "65536"), section: "local", key: "port", problem: "must be 1 to 65535"},
		{name: "local port huge", edit: set("local", "port", "99999999999999999999"), section: "local", key: "port", problem: "must be 1 to 65535"},
		{name: "local port float", edit: set("local", "port", "5432.0"), section: "local", key: "port", problem: "not a number"},
		{name: "remote local_port", edit: set("remote", "local_port", "7555x"), section: "remote", key: "local_port", problem: "not a number"},
		{name: "ssh port negative", edit: set("ssh", "port", "-1"), section: "ssh", key: "port", problem: "must be 1 to"},
		{name: "ssh port abc", edit: set("ssh", "port", "abc"), section: "ssh", key: "port", problem: "not a number"},
		{name: "bind_port", edit: set("ssh", "bind_port", "70000"), section: "ssh", key: "bind_port", problem: "must be 1 to"},

		{name: "relative directory", edit: set("install", "directory", "var/www/acme"), section: "install", key: "directory", problem: "absolute"},
		{name: "empty directory", edit: set("install", "directory", ""), section: "install", key: "directory", problem: "absolute"},
		{name: "www_path ..", edit: set("install", "www_path", "../acme"), section: "install", key: "www_path", problem: ".."},
		{name: "www_path inner ..", edit: set("install", "www_path", "pggraph/../../etc"), section: "install", key: "www_path", problem: ".."},
		{name: "www_path empty", edit: set("install", "www_path", ""), section: "install", key: "www_path", problem: "empty"},
		{name: "title empty", edit: set("install", "title", ""), section: "install", key: "title", problem: "empty"},
		{name: "title blank", edit: set("install", "title", `"   "`), section: "install", key: "title", problem: "empty"},

		{name: "prefix capital", edit: set("local", "prefix", "Acme"), section: "local", key: "prefix", problem: "^[a-z][a-z0-9_]{0,30}$"},
		{name: "prefix dash", edit: set("local", "prefix", "acme-corp"), section: "local", key: "prefix", problem: "must be a lower-case letter"},
		{name: "prefix digit first", edit: set("local", "prefix", "1acme"), section: "local", key: "prefix", problem: "then up to 30 lower-case letters, digits or _"},
		{name: "prefix underscore first", edit: set("local", "prefix", "_acme"), section: "local", key: "prefix", problem: "then up to 30 lower-case letters, digits or _"},
		{name: "prefix 32 long", edit: set("local", "prefix", strings.Repeat("a", 32)), section: "local", key: "prefix", problem: "up to 30"},
		{name: "prefix empty", edit: set("local", "prefix", ""), section: "local", key: "prefix", problem: "then up to 30 lower-case letters, digits or _"},
		{name: "local database empty", edit: set("local", "database", ""), section: "local", key: "database", problem: "empty"},
		{name: "local user empty", edit: set("local", "user", ""), section: "local", key: "user", problem: "empty"},
		{name: "remote user empty", edit: set("remote", "user", ""), section: "remote", key: "user", problem: "empty"},

		{name: "interval zero", edit: set("pggraph", "interval", "0"), section: "pggraph", key: "interval", problem: "must be 1 to 60"},
		{name: "interval 61", edit: set("pggraph", "interval", "61"), section: "pggraph", key: "interval", problem: "must be 1 to 60"},
		{name: "interval words", edit: set("pggraph", "interval", "ten"), section: "pggraph", key: "interval", problem: "not a number"},
		{name: "interval fraction", edit: set("pggraph", "interval", "1.5"), section: "pggraph", key: "interval", problem: "not a number"},
		{name: "interval huge", edit: set("pggraph", "interval", "9223372036854775807"), section: "pggraph", key: "interval", problem: "must be 1 to"},
		{name: "max_images zero", edit: set("pggraph", "max_images", "0"), section: "pggraph", key: "max_images", problem: "must be 1 to 1000"},
		{name: "max_images 1001", edit: set("pggraph", "max_images", "1001"), section: "pggraph", key: "max_images", problem: "must be 1 to 1000"},
		{name: "delay zero", edit: set("pggraph", "delay", "0"), section: "pggraph", key: "delay", problem: "must be 1 to 300"},
		{name: "delay 301", edit: set("pggraph", "delay", "301"), section: "pggraph", key: "delay", problem: "must be 1 to 300"},
		{name: "delay with unit", edit: set("pggraph", "delay", "7s"), section: "pggraph", key: "delay", problem: "not a number"},

		{name: "twin_tunnel maybe", edit: set("ssh", "twin_tunnel", "maybe"), section: "ssh", key: "twin_tunnel", problem: "yes or no"},
		{name: "twin without second_server", edit: set("ssh", "twin_tunnel", "yes"), section: "ssh", key: "second_server", problem: "required"},
		{name: "twin without server", edit: set("ssh", "twin_tunnel", "Yes", "ssh", "second_server", "db:22", "ssh", "server", ""), section: "ssh", key: "server", problem: "required"},
		{name: "second_server without twin", edit: set("ssh", "second_server", "db"), section: "ssh", key: "second_server", problem: "second_server is set but twin_tunnel = no"},
		{name: "second_server with twin off", edit: set("ssh", "second_server", "db", "ssh", "twin_tunnel", "OFF"), section: "ssh", key: "second_server", problem: "twin_tunnel = no"},
		{name: "ssh user empty", edit: set("ssh", "user", ""), section: "ssh", key: "user", problem: "empty"},
		{name: "keyfile relative", edit: set("ssh", "keyfile", "id_ed25519"), section: "ssh", key: "keyfile", problem: "absolute"},
		{name: "known_hosts relative", edit: set("ssh", "known_hosts", ".ssh/known_hosts"), section: "ssh", key: "known_hosts", problem: "absolute"},
		{name: "known_hosts empty", edit: set("ssh", "known_hosts", ""), section: "ssh", key: "known_hosts", problem: "required"},

		{name: "databases empty element", edit: set("remote", "databases", "a,,b"), section: "remote", key: "databases", problem: "empty name"},
		{name: "databases comma", edit: set("remote", "databases", ","), section: "remote", key: "databases", problem: "empty name"},
		{name: "databases trailing comma", edit: set("remote", "databases", "a, b,"), section: "remote", key: "databases", problem: "empty name"},
		{name: "databases empty", edit: set("remote", "databases", ""), section: "remote", key: "databases", problem: "empty name"},
		{name: "databases star in list", edit: set("remote", "databases", "a, *"), section: "remote", key: "databases", problem: "stand alone"},
		{name: "databases star among spaces", edit: set("remote", "databases", "a *"), section: "remote", key: "databases", problem: "stand alone"},
		{name: "databases empty between spaces", edit: set("remote", "databases", "a , , b"), section: "remote", key: "databases", problem: "empty name"},
		{name: "twin_tunnel yes please", edit: set("ssh", "twin_tunnel", "yes please"), section: "ssh", key: "twin_tunnel", problem: "yes or no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.edit(t, base(t, design(t)))
			c, err := Parse(strings.NewReader(src), file)
			if err == nil {
				t.Fatalf("Parse = %+v, want an error\n%s", c, src)
			}
			msg := err.Error()
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %q holds no *FieldError", msg)
			}
			var found *FieldError
			for _, fe := range fieldErrors(err) {
				if fe.Section == tt.section && fe.Key == tt.key {
					found = fe
				}
			}
			if found == nil {
				t.Fatalf("error %q names no [%s] %s", msg, tt.section, tt.key)
			}
			if found.File != file || !strings.Contains(found.Problem, tt.problem) {
				t.Errorf("FieldError = %+v, want File %q and a problem with %q", found, file, tt.problem)
			}
			wants := []string{"config " + file + ": ", tt.key}
			if tt.section != "" {
				wants = append(wants, "["+tt.section+"]")
			}
			for _, want := range wants {
				if !strings.Contains(found.Error(), want) {
					t.Errorf("error %q does not contain %q", found.Error(), want)
				}
			}
			for line := range strings.SplitSeq(msg, "\n") {
				if !strings.HasPrefix(line, "config "+file+": ") {
					t.Errorf("error line %q does not start with the file", line)
				}
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error shows a password: %q", msg)
			}
		})
	}
}

func TestFieldErrorText(t *testing.T) {
	tests := []struct {
		name string
		e    FieldError
		want string
	}{
		{name: "value", e: FieldError{File: "/x/config.ini", Section: "ssh", Key: "port", Value: "abc", Problem: "not a number"},
			want: `config /x/config.ini: [ssh] port = "abc": not a number`},
		{name: "unknown key", e: FieldError{File: "X", Section: "ssh", Key: "colour", Problem: "unknown key"},
			want: "config X: [ssh] colour: unknown key"},
		{name: "unknown section", e: FieldError{File: "X", Section: "foo", Problem: "unknown section"},
			want: "config X: [foo]: unknown section"},
		{name: "no section", e: FieldError{File: "X", Key: "stray", Problem: "outside any [section]"},
			want: "config X: stray: outside any [section]"},
		{name: "in memory", e: FieldError{Section: "local", Key: "port", Value: "0", Problem: "out of range 1-65535"},
			want: `config: [local] port = "0": out of range 1-65535`},
		{name: "line break in value", e: FieldError{File: "X", Section: "install", Key: "title", Value: "a\nb", Problem: "contains a line break"},
			want: `config X: [install] title = "a\nb": contains a line break`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseSyntaxErrors(t *testing.T) {
	const secret = "hunter2-secret"
	tests := []struct {
		name, line string
		want       string
	}{
		{name: "no equals sign", line: secret, want: "want key = value"},
		{name: "colon delimiter", line: "password: " + secret, want: "want key = value"},
		{name: "empty key", line: "= " + secret, want: "want key = value"},
		{name: "unclosed section", line: "[ssh " + secret, want: "no ]"},
		{name: "unclosed backtick", line: "password = `" + secret, want: "unclosed quote"},
		{name: "unclosed triple quote", line: `password = """` + secret, want: "unclosed quote"},
		{name: "multi-line triple quote", line: `password = """` + secret + "\n" + secret + `"""`, want: "unclosed quote"},
		{name: "quoted key", line: "`password` = " + secret, want: "quoted key"},
		{name: "text after section", line: "[ssh] " + secret, want: "text after ]"},
		{name: "empty section name", line: "[] ; " + secret, want: "empty section name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := design(t) + tt.line + "\n"
			_, err := Parse(strings.NewReader(src), file)
			if err == nil {
				t.Fatal("Parse succeeded, want a syntax error")
			}
			msg := err.Error()
			if !strings.Contains(msg, "config "+file+": line 37: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q, want line 37 and %q", msg, tt.want)
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error shows the line's text: %q", msg)
			}
		})
	}
}

// nasty returns values that must survive Write → Load.
func nasty() []string {
	return []string{
		"", " ", "pa;ss#word", "a ; b # c", ";starts", "#starts", "ends;", " leading", "trailing ",
		"  both  ", "\ttab", "tab\t", `"double"`, `'single'`, `"`, `'`, `""`, `''`, `"""`, `"""x`,
		`x"""`, `"""x"""`, `a"b`, ` a"b `, ` "x" `, `'x' `, "`", "```", "`back`tick`", "`x`",
		"`", "= x =", "a=b", `\`, `ends\`, `\"`, "ünïcødé ☃ 日本語", "%s%v%!", "[section]",
		"\x00nul", "\u00a0nbsp\u00a0", "\v", "\xff\xfe invalid utf-8", "x ;", "\\;\\#",
		`"a" ; "b"`, "`a` ; `b`", `""" ; """`,
	}
}

func TestWriteRoundTrip(t *testing.T) {
	base, err := Parse(strings.NewReader(design(t)), file)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range nasty() {
		t.Run(fmt.Sprintf("%d %q", i, v), func(t *testing.T) {
			c := *base
			c.Local.Password, c.Remote.Password, c.SSH.Password = Secret(v), Secret(v+"2"), Secret("3"+v)
			c.Local.Host, c.SSH.BindAddress = v, v
			if strings.TrimSpace(v) != "" {
				c.Install.Title, c.Remote.User = v, v
			}
			roundTrip(t, &c)
		})
	}
	t.Run("every key changed", func(t *testing.T) {
		c := &Config{
			Install: Install{Directory: "/srv/ö ü/acme", WWWPath: "a b/ç", Title: "Ünïcødé & Co ; \"Ltd\""},
			Local:   Local{Database: "db;x", Prefix: "a_1", Port: 1, Host: "", User: "u#1", Password: ""},
			Remote:  Remote{User: "mon", Password: "p", Host: "::1", LocalPort: 65535, Databases: []string{"db1", "my-db", "ü;#", `"q"`}, Queries: false, QueryText: true},
			PGGraph: PGGraph{Interval: 60 * time.Minute, MaxImages: 1000, Delay: 300 * time.Second, Keep: metric.Retention{Raw: 7 * metric.Day, Hourly: 90 * metric.Day, Daily: 3650 * metric.Day}, LogFile: "/var/log/pggraph/acme.log",
				TopQueries: 1000, QueryTextMax: 100},
			SSH: SSH{User: "root", Password: "", Keyfile: "", Server: "bastion.example", Port: 2222, BindPort: 6432,
				BindAddress: "10.0.0.5", TwinTunnel: true, SecondServer: "[::1]:2222", KnownHosts: "/k h"},
			Alerts: Alerts{Mail: "ops@example.com,b@x.org", Command: "/usr/local/bin/page me", After: 100, Repeat: 10080 * time.Minute,
				Levels: map[string]metric.Levels{
					"connections_used":     {Warning: metric.Range{Max: 70, HasMax: true}, Critical: metric.Range{Min: 1.5, Max: 99, HasMin: true, HasMax: true}},
					"database.numbackends": {Warning: metric.Range{Max: 100, HasMax: true}},
				}},
		}
		roundTrip(t, c)
	})
	t.Run("no tunnel", func(t *testing.T) {
		c := *base
		c.SSH = SSH{BindAddress: "db", Port: 22, BindPort: 5432}
		roundTrip(t, &c)
	})
}

// roundTrip writes c, loads it back and compares.
func roundTrip(t testing.TB, c *Config) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.ini")
	if err := c.Write(path); err != nil {
		t.Fatal(err)
	}
	if c.Path != path {
		t.Errorf("Path = %q after Write, want %q", c.Path, path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	back, err := Load(path)
	if err != nil {
		b, _ := os.ReadFile(path)
		t.Fatalf("Load: %v\n%s", err, b)
	}
	if !same(c, back) {
		b, _ := os.ReadFile(path)
		t.Errorf("read back\n%#v\nwant\n%#v\nfile:\n%s", back, c, b)
	}
	for _, k := range Keys() {
		if got, want := k.Get(back), k.Get(c); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d files after Write, want only config.ini", len(entries))
	}
}

func TestWriteGolden(t *testing.T) {
	c, err := Parse(strings.NewReader(design(t)), file)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.ini")
	if err := c.Write(path); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "design.golden.ini")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Write wrote\n%s\nwant (%s)\n%s", got, golden, want)
	}
}

func TestWriteReplacesWithMode0600(t *testing.T) {
	c, err := Parse(strings.NewReader(design(t)), file)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.ini")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("after Write: %v, %v; want mode 0600", fi.Mode(), err)
	}
}

func TestWriteRefusesInvalid(t *testing.T) {
	const secret = "hunter2-secret"
	base, err := Parse(strings.NewReader(design(t)), file)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		edit         func(c *Config)
		section, key string
	}{
		{name: "defaults only", edit: func(c *Config) { *c = *Default() }, section: "install", key: "directory"},
		{name: "password with newline", edit: func(c *Config) { c.Local.Password = secret + "\n" + secret }, section: "local", key: "password"},
		{name: "password with carriage return", edit: func(c *Config) { c.SSH.Password = secret + "\r" }, section: "ssh", key: "password"},
		{name: "title with newline", edit: func(c *Config) { c.Install.Title = "a\nb" }, section: "install", key: "title"},
		{name: "port zero", edit: func(c *Config) { c.SSH.Port = 0 }, section: "ssh", key: "port"},
		{name: "interval in seconds", edit: func(c *Config) { c.PGGraph.Interval = 90 * time.Second }, section: "pggraph", key: "interval"},
		{name: "interval zero", edit: func(c *Config) { c.PGGraph.Interval = 0 }, section: "pggraph", key: "interval"},
		{name: "delay in milliseconds", edit: func(c *Config) { c.PGGraph.Delay = 1500 * time.Millisecond }, section: "pggraph", key: "delay"},
		{name: "database with comma", edit: func(c *Config) { c.Remote.Databases = []string{"a,b"} }, section: "remote", key: "databases"},
		{name: "database with spaces", edit: func(c *Config) { c.Remote.Databases = []string{" a"} }, section: "remote", key: "databases"},
		{name: "database with a space inside", edit: func(c *Config) { c.Remote.Databases = []string{"my db"} }, section: "remote", key: "databases"},
		{name: "database star", edit: func(c *Config) { c.Remote.Databases = []string{"*"} }, section: "remote", key: "databases"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *base
			tt.edit(&c)
			path := filepath.Join(t.TempDir(), "config.ini")
			err := c.Write(path)
			if err == nil {
				t.Fatal("Write succeeded, want an error")
			}
			found := false
			for _, fe := range fieldErrors(err) {
				found = found || fe.Section == tt.section && fe.Key == tt.key && fe.File == path
			}
			if !found {
				t.Errorf("error %q names no [%s] %s of %s", err, tt.section, tt.key, path)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows a password: %q", err)
			}
			if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Write left a file behind: %v", err)
			}
			if err := c.Validate(); err == nil {
				t.Error("Validate accepts what Write refuses")
			}
		})
	}
}

func TestLoadPermissions(t *testing.T) {
	tests := []struct {
		name     string
		mode     fs.FileMode
		password string
		warn     bool
	}{
		{name: "0644 with a password", mode: 0o644, password: "secret", warn: true},
		{name: "0640 with a password", mode: 0o640, password: "secret", warn: true},
		{name: "0604 with a password", mode: 0o604, password: "secret", warn: true},
		{name: "0600 with a password", mode: 0o600, password: "secret"},
		{name: "0644 without a password", mode: 0o644},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.ini")
			src := setKey(t, design(t), "remote", "password", tt.password)
			if err := os.WriteFile(path, []byte(src), tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			want := []string(nil)
			if tt.warn {
				want = []string{"config " + path + " is readable by group/others and holds passwords; chmod 600 it"}
			}
			if !reflect.DeepEqual(c.Warnings, want) {
				t.Errorf("Warnings = %q, want %q", c.Warnings, want)
			}
		})
	}
}

func TestSSHPasswordDeprecated(t *testing.T) {
	c, err := Parse(strings.NewReader(setKey(t, design(t), "ssh", "password", "x")), file)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"[ssh] password is deprecated: use a key or ssh-agent"}
	if !reflect.DeepEqual(c.Warnings, want) {
		t.Errorf("Warnings = %q, want %q", c.Warnings, want)
	}
}

func TestLoadPaths(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.ini"), []byte(design(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	tests := []struct {
		name, arg string
	}{
		{name: "directory", arg: dir},
		{name: "directory with slash", arg: dir + "/"},
		{name: "relative directory", arg: "."},
		{name: "file", arg: filepath.Join(dir, "config.ini")},
		{name: "relative file", arg: "config.ini"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.arg)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(dir, "config.ini"); c.Path != want {
				t.Errorf("Path = %q, want %q", c.Path, want)
			}
		})
	}
	t.Run("directory without config.ini", func(t *testing.T) {
		empty := t.TempDir()
		_, err := Load(empty)
		if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "config "+filepath.Join(empty, "config.ini")+": ") {
			t.Errorf("Load(empty dir) = %v, want a not-exist error naming config.ini", err)
		}
	})
}

func TestSecretNeverPrints(t *testing.T) {
	const secret = "hunter2-secret"
	c, err := Parse(strings.NewReader(set("local", "password", secret, "remote", "password", secret, "ssh", "password", secret)(t, design(t))), file)
	if err != nil {
		t.Fatal(err)
	}
	s := c.SSH.Password
	if s.Reveal() != secret {
		t.Fatalf("Reveal = %q", s.Reveal())
	}
	values := map[string]any{"*Config": c, "Config": *c, "Local": c.Local, "SSH": c.SSH, "Secret": s, "*Secret": &s, "[]Secret": []Secret{s}}
	for name, v := range values {
		for _, verb := range []string{"%v", "%s", "%q", "%+v", "%#v", "%x", "%X", "%10.3s", "%d", "%T"} {
			t.Run(name+" "+verb, func(t *testing.T) {
				if out := fmt.Sprintf(verb, v); strings.Contains(out, secret) || strings.Contains(out, fmt.Sprintf("%x", secret)) {
					t.Errorf("Sprintf(%s) = %s", verb, out)
				}
			})
		}
	}
	t.Run("String", func(t *testing.T) {
		if s.String() != "[redacted]" || s.GoString() != "[redacted]" || Secret("").String() != "" || fmt.Sprint(Secret("")) != "" {
			t.Errorf("String = %q, GoString = %q, empty = %q", s.String(), s.GoString(), Secret("").String())
		}
	})
	t.Run("slog", func(t *testing.T) {
		var buf bytes.Buffer
		for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
			slog.New(h).Info("loaded", "config", c, "ssh", c.SSH, "password", s, slog.Group("g", "local", c.Local))
		}
		if out := buf.String(); strings.Contains(out, secret) || !strings.Contains(out, "[redacted]") {
			t.Errorf("slog printed %s", out)
		}
	})
	t.Run("json", func(t *testing.T) {
		b, err := json.Marshal(c)
		if err != nil || strings.Contains(string(b), secret) {
			t.Errorf("json.Marshal = %s, %v", b, err)
		}
	})
}

func TestTunnelMode(t *testing.T) {
	tests := []struct {
		name string
		ssh  SSH
		want Mode
		text string
	}{
		{name: "no server", ssh: SSH{}, want: ModeNone, text: "no tunnel"},
		{name: "server", ssh: SSH{Server: "db"}, want: ModeDirect, text: "direct"},
		{name: "twin", ssh: SSH{Server: "bastion", TwinTunnel: true, SecondServer: "db"}, want: ModeTwin, text: "twin tunnel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Config{SSH: tt.ssh}
			if got := c.TunnelMode(); got != tt.want || got.String() != tt.text {
				t.Errorf("TunnelMode = %v (%d), want %v", got, got, tt.text)
			}
		})
	}
	if got := Mode(7).String(); got != "Mode(7)" {
		t.Errorf("Mode(7).String() = %q", got)
	}
}

func TestAddrs(t *testing.T) {
	tests := []struct {
		name                   string
		ssh                    SSH
		server, second, target string
	}{
		{name: "names", ssh: SSH{Server: "bastion", Port: 22, SecondServer: "db", BindAddress: "localhost", BindPort: 5432},
			server: "bastion:22", second: "db:22", target: "localhost:5432"},
		{name: "second with port", ssh: SSH{Server: "10.0.0.1", Port: 2222, SecondServer: "db:2200", BindAddress: "127.0.0.1", BindPort: 6432},
			server: "10.0.0.1:2222", second: "db:2200", target: "127.0.0.1:6432"},
		{name: "ipv6", ssh: SSH{Server: "::1", Port: 22, SecondServer: "::1", BindAddress: "fe80::1", BindPort: 5432},
			server: "[::1]:22", second: "[::1]:22", target: "[fe80::1]:5432"},
		{name: "ipv6 with port", ssh: SSH{SecondServer: "[::1]:2222"}, server: ":0", second: "[::1]:2222", target: ":0"},
		{name: "ipv6 bracketed", ssh: SSH{SecondServer: "[2001:db8::5]"}, server: ":0", second: "[2001:db8::5]:22", target: ":0"},
		{name: "empty", ssh: SSH{}, server: ":0", second: "", target: ":0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ssh.ServerAddr(); got != tt.server {
				t.Errorf("ServerAddr = %q, want %q", got, tt.server)
			}
			if got := tt.ssh.SecondAddr(); got != tt.second {
				t.Errorf("SecondAddr = %q, want %q", got, tt.second)
			}
			if got := tt.ssh.Target(); got != tt.target {
				t.Errorf("Target = %q, want %q", got, tt.target)
			}
		})
	}
}

func TestDefault(t *testing.T) {
	t.Setenv("HOME", "/home/op")
	c := Default()
	want := &Config{
		Local:  Local{Database: "pggraph", Port: 5432, Host: "localhost", User: "pggraph"},
		Remote: Remote{Host: "localhost", LocalPort: 7555, Queries: true, QueryText: true},
		PGGraph: PGGraph{Interval: 10 * time.Minute, MaxImages: 10, Delay: 7 * time.Second, Keep: metric.Retention{Raw: 35 * metric.Day, Hourly: 100 * metric.Day, Daily: 1825 * metric.Day},
			TopQueries: 100, QueryTextMax: 4000},
		SSH: SSH{User: "cmd", Port: 22, BindPort: 5432, BindAddress: "localhost",
			Keyfile: "/home/op/.ssh/id_ed25519", KnownHosts: "/home/op/.ssh/known_hosts"},
		Alerts: Alerts{After: 2},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Default() =\n%+v\nwant\n%+v", c, want)
	}
	t.Setenv("HOME", "")
	if c := Default(); c.SSH.Keyfile != "" || c.SSH.KnownHosts != "" {
		t.Errorf("without a home: keyfile %q, known_hosts %q; want both empty", c.SSH.Keyfile, c.SSH.KnownHosts)
	}
}

func TestParseKeepsDefaults(t *testing.T) {
	t.Setenv("HOME", "/home/op")
	src := "[install]\ndirectory = /d\nwww_path = w\ntitle = T\n[local]\nprefix = p\n[remote]\nuser = u\n"
	c, err := Parse(strings.NewReader(src), file)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Path, want.Install, want.Local.Prefix, want.Remote.User = file, Install{Directory: "/d", WWWPath: "w", Title: "T"}, "p", "u"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", c, want)
	}
	if c.TunnelMode() != ModeNone {
		t.Errorf("TunnelMode = %v, want no tunnel", c.TunnelMode())
	}
}

// FuzzParse checks that Parse never panics, that its errors are one line
// each naming the file, and that whatever it accepts survives Write → Load.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(bytes.NewReader(data), "fuzz.ini")
		if err != nil {
			for line := range strings.SplitSeq(err.Error(), "\n") {
				if !strings.HasPrefix(line, "config fuzz.ini: ") {
					t.Fatalf("error line %q does not name the file", line)
				}
			}
			return
		}
		path := filepath.Join(t.TempDir(), "config.ini")
		if err := c.Write(path); err != nil {
			t.Fatalf("Write of a config Parse accepted: %v", err)
		}
		back, err := Load(path)
		if err != nil {
			t.Fatalf("Load of what Write wrote: %v", err)
		}
		if !same(c, back) {
			t.Fatalf("round trip changed the config\n%#v\n%#v", c, back)
		}
		for _, k := range Keys() {
			if k.Get(c) != k.Get(back) {
				t.Fatalf("%s = %q, read back %q", k, k.Get(c), k.Get(back))
			}
		}
	})
}

// FuzzWrite checks that any value of a password, a title or a host either
// survives Write's encoding → Parse or, holding a line break, is refused.
func FuzzWrite(f *testing.F) {
	for _, v := range nasty() {
		f.Add(v)
	}
	base, err := Parse(strings.NewReader(design(f)), file)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		c := *base
		c.Local.Password, c.Remote.Password, c.SSH.Password = Secret(v), Secret(v+v), Secret(";"+v)
		c.Local.Host, c.SSH.BindAddress = v, " "+v
		if strings.TrimSpace(v) != "" {
			c.Install.Title = v
		}
		data, err := c.encode(file)
		if strings.ContainsAny(v, "\r\n") {
			if err == nil {
				t.Fatal("encode accepted a line break")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(bytes.NewReader(data), file)
		if err != nil {
			t.Fatalf("Parse of what encode wrote: %v\n%s", err, data)
		}
		if !same(&c, back) {
			t.Fatalf("read back\n%#v\nwant\n%#v\nfile:\n%s", back, &c, data)
		}
	})
}
