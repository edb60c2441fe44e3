package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/pggraph/pggraph/internal/cli"
)

// Hashes of "secret" made by htpasswd (apache2-utils): -B -C 4, -m, -s, -2, -5, -d.
const (
	bcryptSecret = "$2y$04$03S5YFXUt9ztiErqtbDlhOvIk0FQZAtWc877KgeN3IIUmbAlfmOua"
	apr1Secret   = "$apr1$SOlzhyZw$FkPZxMMXKc8QXGexPTv8A0"
	shaSecret    = "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="
	sha256Secret = "$5$RdhEJSoP4ddjZEYn$QYnYFspHNh10QyFQkEGL3PPxKcIMb/KLq2cWKRGhkm6"
	sha512Secret = "$6$vwmMQkHUQ.qMgHkb$PxQugAeEkkW6TuMddVjKz.s42hBILKJD2646GjKbCNEuSjnOlrzu.xx3RewcoF2JHcsRPi12lGtOJ/J669TTg0"
	desSecret    = "9QIqegYYMp3jU"
	md5Secret    = "5ebe2294ecd0e0f08eab7690d2a6ee69" // the original pggraph's md5(password)
)

func TestHashKind(t *testing.T) {
	for _, tc := range []struct{ hash, want string }{
		{bcryptSecret, "bcrypt"},
		{strings.Replace(bcryptSecret, "$2y$", "$2a$", 1), "bcrypt"},
		{strings.Replace(bcryptSecret, "$2y$", "$2b$", 1), "bcrypt"},
		{strings.Replace(bcryptSecret, "$2y$04$", "$2y$32$", 1), ""},
		{bcryptSecret[:59], ""},
		{apr1Secret, "apr1"},
		{shaSecret, "sha1"},
		{"{SHA}notbase64!", ""},
		{"{SHA}AAAA", ""},
		{sha256Secret, "sha256-crypt"},
		{sha512Secret, "sha512-crypt"},
		{"$5$rounds=5000$abc$QYnYFspHNh10QyFQkEGL3PPxKcIMb/KLq2cWKRGhkm6", "sha256-crypt"},
		{desSecret, ""},
		{md5Secret, ""},
		{"$1$abc$def", ""},
		{"plaintext", ""},
		{"", ""},
	} {
		if got := hashKind(tc.hash); got != tc.want {
			t.Errorf("hashKind(%q) = %q, want %q", tc.hash, got, tc.want)
		}
	}
}

func TestParseHtpasswd(t *testing.T) {
	in := strings.Join([]string{
		"# exported from the old server",
		"alice:" + bcryptSecret,
		"bob:" + apr1Secret + "\r",
		"",
		"carol:" + shaSecret,
		"dave:" + md5Secret,
		"erin:" + desSecret,
		"no colon here",
		"alice:" + shaSecret,
		":" + shaSecret,
		" frank:" + shaSecret,
		"grace:" + sha512Secret,
		"heidi:" + bcryptSecret + " trailing",
		"   ",
	}, "\n")
	entries, problems, err := parseHtpasswd(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, fmt.Sprintf("%d %s %s", e.Line, e.User, hashKind(e.Hash)))
	}
	want := []string{"2 alice bcrypt", "3 bob apr1", "5 carol sha1", "12 grace sha512-crypt"}
	if !slices.Equal(got, want) {
		t.Errorf("entries %q, want %q", got, want)
	}
	got = nil
	for _, p := range problems {
		got = append(got, p.String())
	}
	want = []string{
		"line 6: user dave: plain MD5 hash (the original pggraph's), which Apache cannot verify: the user needs a new password",
		"line 7: user erin: unknown password hash: want bcrypt ($2y$, $2a$, $2b$), $apr1$, {SHA}, $5$ or $6$",
		"line 8: want user:hash",
		"line 9: user alice: already on line 2",
		"line 10: user name is empty",
		`line 11: user name " frank" starts or ends with a space`,
		"line 13: user heidi: unknown password hash: want bcrypt ($2y$, $2a$, $2b$), $apr1$, {SHA}, $5$ or $6$",
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !problems[0].MD5 || problems[1].MD5 {
		t.Errorf("MD5 marks: %v %v", problems[0].MD5, problems[1].MD5)
	}
	if _, _, err := parseHtpasswd(strings.NewReader("x:" + strings.Repeat("a", maxHtpasswdLine))); err == nil {
		t.Error("an overlong line was accepted")
	}
}

// FuzzParseHtpasswd checks that any input parses without panicking, that
// every entry is importable (valid name, known hash), that line numbers
// increase and are never both an entry and a problem, and that entries
// written back as htpasswd lines parse to the same entries.
func FuzzParseHtpasswd(f *testing.F) {
	f.Add("alice:" + bcryptSecret + "\nbob:" + md5Secret + "\n")
	f.Add("# comment\r\ncarol:" + shaSecret + "\r\n\r\nx\n")
	f.Add("a:" + apr1Secret + "\na:" + apr1Secret)
	f.Fuzz(func(t *testing.T, in string) {
		entries, problems, err := parseHtpasswd(strings.NewReader(in))
		if err != nil {
			return
		}
		lines := map[int]bool{}
		var out strings.Builder
		last := 0
		for _, e := range entries {
			if e.Line <= last {
				t.Fatalf("entry line %d after %d", e.Line, last)
			}
			last = e.Line
			lines[e.Line] = true
			if hashKind(e.Hash) == "" {
				t.Fatalf("entry with unknown hash %q", e.Hash)
			}
			if strings.ContainsAny(e.User, ":\n\r") || e.User == "" {
				t.Fatalf("entry with bad user %q", e.User)
			}
			fmt.Fprintf(&out, "%s:%s\n", e.User, e.Hash)
		}
		for _, p := range problems {
			if lines[p.Line] {
				t.Fatalf("line %d is both entry and problem", p.Line)
			}
			if strings.Contains(p.String(), "\n") {
				t.Fatalf("problem spans lines: %q", p.String())
			}
		}
		again, problems2, err := parseHtpasswd(strings.NewReader(out.String()))
		if err != nil || len(problems2) != 0 || len(again) != len(entries) {
			t.Fatalf("round trip: %d entries, %v, %v", len(again), problems2, err)
		}
		for i := range again {
			if again[i].User != entries[i].User || again[i].Hash != entries[i].Hash {
				t.Fatalf("round trip changed entry %d", i)
			}
		}
	})
}

// adminIn runs pggraph-admin in-process with stdin.
func adminIn(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(t.Context(), args, strings.NewReader(stdin), &out, &errb)
	return result{out.String(), errb.String(), err, cli.ExitCode(err)}
}

// hashOf returns a user's stored hash and client, as the superuser sees
// them.
func hashOf(t *testing.T, connString, user string) (hash, client string) {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, `SELECT user_passwd, client FROM client_users WHERE user_name = $1`, user).Scan(&hash, &client)
	if err == pgx.ErrNoRows {
		return "", ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return hash, client
}

func TestUserCommands(t *testing.T) {
	r := setUp(t)
	users := r.Central.ConnString("pggraph_users")
	if err := r.Central.Exec(t.Context(), "pggraph_users", `DELETE FROM client_users WHERE client IN ('uacme', 'uother')`); err != nil {
		t.Fatal(err)
	}
	const pw = "correct horse ' battery"

	add := adminIn(t, pw+"\n", "user", "add", "-stdin", "-cost", "4", "uacme", "ualice")
	if add.err != nil || add.stdout != "user ualice added: may see client uacme\n" {
		t.Fatalf("user add: %v\n%s%s", add.err, add.stdout, add.stderr)
	}
	hash, client := hashOf(t, users, "ualice")
	if client != "uacme" || !strings.HasPrefix(hash, "$2a$04$") || bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) != nil {
		t.Errorf("stored %q for client %q", hash, client)
	}
	// Without -cost: bcrypt's default, 10.
	if res := adminIn(t, "pw-of-bob\r\n", "user", "add", "-stdin", "uother", "ubob"); res.err != nil {
		t.Fatalf("user add ubob: %v", res.err)
	}
	if hash, _ := hashOf(t, users, "ubob"); !strings.HasPrefix(hash, "$2a$10$") || bcrypt.CompareHashAndPassword([]byte(hash), []byte("pw-of-bob")) != nil {
		t.Errorf("ubob's hash %q", hash)
	}

	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"taken", "x\n", []string{"user", "add", "-stdin", "uother", "ualice"}, 1, "user add: user ualice: user already exists (client uacme)"},
		{"no terminal", "x\n", []string{"user", "add", "uacme", "ucarol"}, 2, "user add: stdin is not a terminal: give the password on stdin with -stdin"},
		{"empty password", "\n", []string{"user", "add", "-stdin", "uacme", "ucarol"}, 2, "user add: empty password"},
		{"long password", strings.Repeat("p", 73) + "\n", []string{"user", "add", "-stdin", "uacme", "ucarol"}, 2, "longer than 72 bytes"},
		{"bad client", "x\n", []string{"user", "add", "-stdin", "Acme", "ucarol"}, 2, "prefix must match"},
		{"bad user", "x\n", []string{"user", "add", "-stdin", "uacme", "a:b"}, 2, `user add: user name "a:b" contains ':'`},
		{"bad cost", "x\n", []string{"user", "add", "-stdin", "-cost", "3", "uacme", "ucarol"}, 2, "-cost 3: want 4-31"},
		{"one arg", "", []string{"user", "add", "uacme"}, 2, "user add: want CLIENT USER"},
		{"passwd nobody", "x\n", []string{"user", "passwd", "-stdin", "unobody"}, 1, "user passwd: user unobody: look up web user: no such user"},
		{"del nobody", "", []string{"user", "del", "unobody"}, 1, "user del: delete user unobody: no such user"},
		{"list two", "", []string{"user", "list", "a", "b"}, 2, "user list: want at most one CLIENT"},
		{"import missing file", "", []string{"user", "import", "uacme", "/nonexistent"}, 2, "user import: open /nonexistent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := adminIn(t, tc.stdin, tc.args...)
			if res.code != tc.code || !strings.Contains(cli.OneLine(res.err), tc.want) {
				t.Errorf("exit %d (%v), want %d with %q", res.code, res.err, tc.code, tc.want)
			}
		})
	}
	if h, _ := hashOf(t, users, "ucarol"); h != "" {
		t.Error("a failed user add created ucarol")
	}

	if res := adminIn(t, "new-secret\n", "user", "passwd", "-stdin", "-cost", "5", "ualice"); res.err != nil || res.stdout != "user ualice: password changed\n" {
		t.Errorf("user passwd: %v %q", res.err, res.stdout)
	}
	if hash, _ := hashOf(t, users, "ualice"); bcrypt.CompareHashAndPassword([]byte(hash), []byte("new-secret")) != nil {
		t.Errorf("passwd did not take: %q", hash)
	}

	// Import: good lines in, the rest refused by line with the reason.
	file := filepath.Join(t.TempDir(), "htpasswd")
	body := strings.Join([]string{
		"ucarol:" + apr1Secret,
		"udave:" + shaSecret,
		"uerin:" + md5Secret,   // new user: user add
		"ualice:" + md5Secret,  // existing user: user passwd
		"ubob:" + bcryptSecret, // client uother's
		"ufrank:" + desSecret,
		"garbage",
	}, "\n")
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	imp := adminIn(t, "", "user", "import", "uacme", file)
	if imp.code != 1 || imp.stdout != "client uacme: 2 added, 0 updated, 5 refused\n" {
		t.Errorf("user import: exit %d %v\n%s", imp.code, imp.err, imp.stdout)
	}
	for _, want := range []string{
		file + ": refused line 3: user uerin: plain MD5 hash (the original pggraph's), which Apache cannot verify: the user needs a new password: pggraph-admin user add uacme uerin",
		file + ": refused line 4: user ualice: plain MD5 hash (the original pggraph's), which Apache cannot verify: the user needs a new password: pggraph-admin user passwd ualice",
		file + ": refused line 6: user ufrank: unknown password hash",
		file + ": refused line 7: want user:hash",
		file + ": refused user ubob: belongs to client uother, left unchanged",
	} {
		if !strings.Contains(imp.stderr, want) {
			t.Errorf("import stderr lacks %q:\n%s", want, imp.stderr)
		}
	}
	if h, c := hashOf(t, users, "ucarol"); h != apr1Secret || c != "uacme" {
		t.Errorf("ucarol = %q %q", h, c)
	}
	if h, _ := hashOf(t, users, "ubob"); h == bcryptSecret {
		t.Error("import changed another client's user")
	}
	// From stdin, again: updated.
	imp = adminIn(t, "ucarol:"+bcryptSecret+"\n", "user", "import", "uacme", "-")
	if imp.err != nil || imp.stdout != "client uacme: 0 added, 1 updated, 0 refused\n" {
		t.Errorf("user import -: %v %q", imp.err, imp.stdout)
	}

	list := adminIn(t, "", "user", "list", "uacme")
	if list.err != nil {
		t.Fatal(list.err)
	}
	for _, re := range []string{`(?m)^CLIENT +USER +HASH$`, `(?m)^uacme +ualice +bcrypt$`, `(?m)^uacme +ucarol +bcrypt$`, `(?m)^uacme +udave +sha1$`} {
		if !regexp.MustCompile(re).MatchString(list.stdout) {
			t.Errorf("user list lacks %s:\n%s", re, list.stdout)
		}
	}
	if strings.Contains(list.stdout, "ubob") || strings.Contains(list.stdout, "$2") {
		t.Errorf("user list shows another client or a hash:\n%s", list.stdout)
	}
	// A hash left by the original pggraph is flagged.
	if err := r.Central.Exec(context.Background(), "pggraph_users", `INSERT INTO client_users VALUES ('uold', $1, 'uacme')`, md5Secret); err != nil {
		t.Fatal(err)
	}
	if list := adminIn(t, "", "user", "list"); !strings.Contains(list.stdout, "uold    md5: Apache cannot verify it") {
		t.Errorf("user list does not flag the MD5 hash:\n%s", list.stdout)
	}
	del := adminIn(t, "", "user", "del", "uold")
	if del.err != nil || !strings.Contains(del.stdout, "user uold deleted (was client uacme's)") {
		t.Errorf("user del: %v %q", del.err, del.stdout)
	}
	if list := adminIn(t, "", "user", "list", "uzzz"); list.stdout != "no users of client uzzz\n" {
		t.Errorf("empty list: %q", list.stdout)
	}
	// Passwords never reach the output.
	for _, res := range []result{add, imp, list, del} {
		if strings.Contains(res.stdout+res.stderr, pw) || strings.Contains(res.stdout+res.stderr, "new-secret") {
			t.Error("a password was printed")
		}
	}
}
