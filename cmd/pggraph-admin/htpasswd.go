package main

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/pggraph/pggraph/internal/store"
)

// htpasswdEntry is one accepted line of an htpasswd file.
type htpasswdEntry struct {
	Line int
	User string
	Hash string
}

// htpasswdProblem is one refused line of an htpasswd file.
type htpasswdProblem struct {
	Line int
	User string // "" when the line has no user name
	// MD5 marks a plain hex MD5 hash, the original pggraph's: the user
	// needs a new password.
	MD5     bool
	Problem string
}

func (p htpasswdProblem) String() string {
	if p.User == "" {
		return fmt.Sprintf("line %d: %s", p.Line, p.Problem)
	}
	return fmt.Sprintf("line %d: user %s: %s", p.Line, p.User, p.Problem)
}

// maxHtpasswdLine bounds a line of an htpasswd file (a bcrypt line is
// about 80 bytes).
const maxHtpasswdLine = 4096

// Hash formats Apache verifies that pggraph-admin user import keeps as
// they are.
var (
	bcryptHash = regexp.MustCompile(`^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$`)
	apr1Hash   = regexp.MustCompile(`^\$apr1\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22}$`)
	// SHA-256 and SHA-512 crypt (htpasswd -2, -5), with optional rounds.
	shaCryptHash = regexp.MustCompile(`^\$[56]\$(rounds=[0-9]{1,9}\$)?[./A-Za-z0-9]{1,16}\$([./A-Za-z0-9]{43}|[./A-Za-z0-9]{86})$`)
	md5Hex       = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
)

// hashKind names the format of a password hash, "" when it is not one
// Apache verifies.
func hashKind(h string) string {
	switch {
	case bcryptHash.MatchString(h):
		return "bcrypt"
	case apr1Hash.MatchString(h):
		return "apr1"
	case strings.HasPrefix(h, "{SHA}"):
		if b, err := base64.StdEncoding.DecodeString(h[len("{SHA}"):]); err == nil && len(b) == 20 {
			return "sha1"
		}
	case shaCryptHash.MatchString(h):
		if h[1] == '5' {
			return "sha256-crypt"
		}
		return "sha512-crypt"
	}
	return ""
}

// parseHtpasswd reads htpasswd lines (user:hash). Blank lines and lines
// starting with # are skipped; a trailing \r is dropped. Lines with a hash
// Apache verifies (bcrypt $2y$/$2a$/$2b$, $apr1$, {SHA}, $5$, $6$) are
// returned as entries; every other line is a problem naming its number:
// a plain 32-digit hex MD5 hash (the original pggraph's, which Apache
// cannot verify), an unknown hash, a bad user name, a user seen on an
// earlier line, or a line without ':'. The error is for reading only.
func parseHtpasswd(r io.Reader) ([]htpasswdEntry, []htpasswdProblem, error) {
	var (
		entries  []htpasswdEntry
		problems []htpasswdProblem
		seen     = map[string]int{}
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxHtpasswdLine)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok {
			problems = append(problems, htpasswdProblem{Line: n, Problem: "want user:hash"})
			continue
		}
		if err := store.CheckUserName(user); err != nil {
			problems = append(problems, htpasswdProblem{Line: n, Problem: err.Error()})
			continue
		}
		if first, dup := seen[user]; dup {
			problems = append(problems, htpasswdProblem{Line: n, User: user, Problem: fmt.Sprintf("already on line %d", first)})
			continue
		}
		seen[user] = n
		switch {
		case md5Hex.MatchString(hash):
			problems = append(problems, htpasswdProblem{Line: n, User: user, MD5: true,
				Problem: "plain MD5 hash (the original pggraph's), which Apache cannot verify: the user needs a new password"})
		case hashKind(hash) == "":
			problems = append(problems, htpasswdProblem{Line: n, User: user,
				Problem: "unknown password hash: want bcrypt ($2y$, $2a$, $2b$), $apr1$, {SHA}, $5$ or $6$"})
		default:
			entries = append(entries, htpasswdEntry{Line: n, User: user, Hash: hash})
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, nil, fmt.Errorf("line %d: longer than %d bytes", n+1, maxHtpasswdLine)
		}
		return nil, nil, err
	}
	return entries, problems, nil
}
