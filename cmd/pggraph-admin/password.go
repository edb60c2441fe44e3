package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"

	"github.com/pggraph/pggraph/internal/cli"
)

// maxPassword is bcrypt's limit: it ignores (and x/crypto refuses) bytes
// after the 72nd.
const maxPassword = 72

// passwordSource says where a command reads a new password: a terminal
// prompt without echo (asked twice), or one line of stdin with -stdin.
// Passwords are never taken from argv, where other users can read them.
type passwordSource struct {
	streams
	fromStdin bool
}

// read returns the new password for user.
func (p passwordSource) read(user string) ([]byte, error) {
	if p.fromStdin {
		return readLine(p.stdin)
	}
	f, ok := p.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, cli.Usage(errors.New("stdin is not a terminal: give the password on stdin with -stdin"))
	}
	pw, err := p.prompt(f, fmt.Sprintf("New password for %s: ", user))
	if err != nil {
		return nil, err
	}
	again, err := p.prompt(f, "Retype the password: ")
	defer clear(again)
	if err != nil {
		clear(pw)
		return nil, err
	}
	if !bytes.Equal(pw, again) {
		clear(pw)
		return nil, errors.New("the passwords differ")
	}
	return pw, nil
}

// prompt writes prompt to stderr and reads one line from the terminal
// tty with echo off; the terminal's settings are restored afterwards.
func (p passwordSource) prompt(tty *os.File, prompt string) ([]byte, error) {
	fmt.Fprint(p.stderr, prompt)
	pw, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(p.stderr)
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	return pw, nil
}

// readLine reads one line (up to \n or the end of r), without its line
// ending.
func readLine(r io.Reader) ([]byte, error) {
	line, err := bufio.NewReaderSize(r, 256).ReadSlice('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("read password: longer than %d bytes", maxPassword)
		}
		return nil, fmt.Errorf("read password: %w", err)
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return bytes.Clone(line), nil
}

// hashPassword checks pw and returns its bcrypt hash at cost.
func hashPassword(pw []byte, cost int) (string, error) {
	switch {
	case len(pw) == 0:
		return "", cli.Usage(errors.New("empty password"))
	case len(pw) > maxPassword:
		return "", cli.Usage(fmt.Errorf("password longer than %d bytes (bcrypt ignores the rest)", maxPassword))
	case !utf8.Valid(pw):
		return "", cli.Usage(errors.New("password is not valid UTF-8"))
	}
	h, err := bcrypt.GenerateFromPassword(pw, cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}
