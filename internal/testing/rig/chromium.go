package rig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

const (
	chromiumBin = "/usr/bin/chromium"
	// screenshotTimeout bounds one Screenshot when ctx has no earlier
	// deadline.
	screenshotTimeout = 90 * time.Second
)

// Screenshot loads url in headless Chromium (Debian's chromium package)
// with a 1200×900 window and writes what a person would see as a PNG to
// out. url may carry credentials (http://user:pass@127.0.0.1:PORT/…).
// Chromium runs as root without its sandbox, with a throwaway profile,
// and is killed with its helpers when ctx ends; its output is in the
// error when it fails. It must run as root.
func Screenshot(ctx context.Context, url, out string) error {
	out, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	_ = os.Remove(out)
	output, err := chromium(ctx, "--screenshot="+out, url)
	what := "screenshot " + redactURL(url)
	if err != nil {
		return fmt.Errorf("%s: chromium: %w\n%s", what, err, lastLines(output, 15))
	}
	st, err := os.Stat(out)
	if err != nil || st.Size() == 0 {
		if err == nil {
			err = errors.New("empty file")
		}
		return fmt.Errorf("%s: no image written to %s: %v\n%s", what, out, err, lastLines(output, 15))
	}
	return nil
}

// DumpDOM loads url as Screenshot does and returns the page's DOM as
// HTML once it has loaded, after any script the page ran: what a person's
// browser made of it.
func DumpDOM(ctx context.Context, url string) (string, error) {
	output, err := chromium(ctx, "--dump-dom", url)
	if err != nil {
		return "", fmt.Errorf("dump dom of %s: chromium: %w\n%s", redactURL(url), err, lastLines(output, 15))
	}
	return output, nil
}

// chromium runs headless Chromium with args and returns its output.
func chromium(ctx context.Context, args ...string) (string, error) {
	if err := requireRoot(); err != nil {
		return "", err
	}
	profile, err := os.MkdirTemp("", "pggraph-chromium-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(profile)
	ctx, cancel := context.WithTimeout(ctx, screenshotTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromiumBin, append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir=" + profile, "--window-size=1200,900"}, args...)...)
	cmd.Dir = profile
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + profile, "LANG=C.UTF-8"}
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	// Its own process group, so that cancelling kills the helpers too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	// Pdeathsig fires when the forking thread ends: hold it (see process).
	runtime.LockOSThread()
	err = cmd.Run()
	runtime.UnlockOSThread()
	// Helpers (zygote, utility processes) normally end with the browser;
	// make sure none outlives it.
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	return output.String(), err
}

// redactURL hides the password of a URL with credentials, for messages.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	host, path, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		user, _, _ := strings.Cut(host[:i], ":")
		host = user + ":xxxxx" + host[i:]
	}
	return scheme + "://" + host + "/" + path
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}
