package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns a new pseudo-terminal's controller and terminal ends;
// the test closes both.
func openPTY(t *testing.T) (ptm, tty *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptm.Close() })
	fd := int(ptm.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return ptm, tty
}

// readUntil reads r until what it has read, which it returns, ends in
// want.
func readUntil(t *testing.T, r io.Reader, want string) string {
	t.Helper()
	var got []byte
	buf := make([]byte, 64)
	for !bytes.HasSuffix(got, []byte(want)) {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("read %q, want it to end in %q: %v", got, want, err)
		}
	}
	return string(got)
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// echoOff reports whether the terminal tty has echo switched off.
func echoOff(t *testing.T, tty *os.File) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO == 0
}

// TestPasswordPrompt types passwords into a real pseudo-terminal: each
// prompt goes to stderr, the terminal echoes nothing while a password is
// typed, and echo is back on afterwards.
func TestPasswordPrompt(t *testing.T) {
	tests := []struct {
		name          string
		first, second string
		want          string // the password read, or the error
		wantErr       bool
	}{
		{name: "same twice", first: "s3cret:pw", second: "s3cret:pw", want: "s3cret:pw"},
		{name: "with spaces", first: " two words ", second: " two words ", want: " two words "},
		{name: "differ", first: "s3cret-one", second: "s3cret-two", want: "the passwords differ", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ptm, tty := openPTY(t)
			prompts, stderr := io.Pipe()
			type result struct {
				pw  []byte
				err error
			}
			done := make(chan result, 1)
			go func() {
				pw, err := passwordSource{streams: streams{stdin: tty, stderr: stderr}}.read("alice")
				stderr.Close()
				done <- result{pw, err}
			}()
			// Each line is typed once its prompt is shown and echo is off.
			said := readUntil(t, prompts, "New password for alice: ")
			waitFor(t, "echo off", func() bool { return echoOff(t, tty) })
			fmt.Fprintf(ptm, "%s\n", tt.first)
			said += readUntil(t, prompts, "Retype the password: ")
			waitFor(t, "echo off", func() bool { return echoOff(t, tty) })
			fmt.Fprintf(ptm, "%s\n", tt.second)
			rest, err := io.ReadAll(prompts)
			if err != nil {
				t.Fatal(err)
			}
			said += string(rest)
			res := <-done

			if tt.wantErr {
				if res.err == nil || res.err.Error() != tt.want {
					t.Errorf("read = %q, %v; want error %q", res.pw, res.err, tt.want)
				}
			} else if res.err != nil || string(res.pw) != tt.want {
				t.Errorf("read = %q, %v; want %q", res.pw, res.err, tt.want)
			}
			if want := "New password for alice: \nRetype the password: \n"; said != want {
				t.Errorf("stderr %q, want %q", said, want)
			}
			// Echo is back: a line typed now comes back, and nothing
			// before it did.
			if echoOff(t, tty) {
				t.Fatal("echo still off after the prompts")
			}
			fmt.Fprint(ptm, "after\n")
			var seen []byte
			buf := make([]byte, 256)
			for !bytes.Contains(seen, []byte("after")) {
				n, err := ptm.Read(buf)
				if err != nil {
					t.Fatalf("read terminal output: %v (so far %q)", err, seen)
				}
				seen = append(seen, buf[:n]...)
			}
			if echoed := string(seen[:bytes.Index(seen, []byte("after"))]); echoed != "" {
				t.Errorf("the terminal echoed %q while passwords were typed", echoed)
			}
		})
	}
}
