package rig

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	chromiumBin = "/usr/bin/chromium"
	// screenshotTimeout bounds one Screenshot when ctx has no earlier
	// deadline.
	screenshotTimeout = 90 * time.Second
	// browserStartTimeout bounds StartBrowser.
	browserStartTimeout = 30 * time.Second
)

// Browser is one headless Chromium (Debian's chromium package) with one
// page, driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe): load a URL and wait for everything on it,
// log in on pggraph's login form, read the cookies, take a screenshot.
// The page is 1200×900 pixels. Chromium runs as root without its sandbox,
// with a throwaway profile, in its own process group, and dies with the
// test process; Close ends it. A Browser is for one goroutine at a time.
type Browser struct {
	proc    *process
	profile string
	cmds    io.WriteCloser // Chromium's fd 3
	session string         // the page's DevTools session
	output  string         // the file of Chromium's stdout and stderr

	mu      sync.Mutex
	nextID  int
	waiting map[int]chan message
	events  chan message
	failed  chan struct{} // closed when the pipe from Chromium ends
}

// BrowserOptions configures StartBrowser.
type BrowserOptions struct {
	// Insecure accepts any TLS certificate (the rig's own self-signed
	// one).
	Insecure bool
	// BasicAuth, when set ("user:password"), is sent as an Authorization
	// header with every request: HTTP Basic auth.
	BasicAuth string
}

// message is one DevTools message: an answer (ID) or an event (Method).
type message struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// StartBrowser starts Chromium and opens its page. It must run as root.
func StartBrowser(ctx context.Context, opt BrowserOptions) (*Browser, error) {
	if err := requireRoot(); err != nil {
		return nil, err
	}
	profile, err := os.MkdirTemp("", "pggraph-chromium-")
	if err != nil {
		return nil, fmt.Errorf("start chromium: %w", err)
	}
	b := &Browser{profile: profile, output: filepath.Join(profile, "chromium.log"), waiting: map[int]chan message{},
		events: make(chan message, 4096), failed: make(chan struct{})}
	if err := b.start(ctx, opt); err != nil {
		b.Close()
		return nil, fmt.Errorf("start chromium: %w%s", err, b.lastOutput())
	}
	return b, nil
}

func (b *Browser) start(ctx context.Context, opt BrowserOptions) error {
	ctx, cancel := context.WithTimeout(ctx, browserStartTimeout)
	defer cancel()
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		cmdR.Close()
		cmdW.Close()
		return err
	}
	log, err := os.Create(b.output)
	if err != nil {
		cmdR.Close()
		cmdW.Close()
		outR.Close()
		outW.Close()
		return err
	}
	defer log.Close()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir=" + b.profile, "--window-size=1200,900",
		"--remote-debugging-pipe"}
	if opt.Insecure {
		args = append(args, "--ignore-certificate-errors")
	}
	cmd := exec.Command(chromiumBin, append(args, "about:blank")...)
	cmd.Dir = b.profile
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + b.profile, "LANG=C.UTF-8"}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.ExtraFiles = []*os.File{cmdR, outW} // fds 3 and 4
	b.proc, err = spawn(cmd, nil, syscall.SIGKILL)
	cmdR.Close()
	outW.Close()
	if err != nil {
		cmdW.Close()
		outR.Close()
		return err
	}
	b.cmds = cmdW
	go b.read(outR)

	var created struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &created); err != nil {
		return err
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": created.TargetID, "flatten": true}, &attached); err != nil {
		return err
	}
	b.session = attached.SessionID
	if err := b.call(ctx, b.session, "Page.enable", nil, nil); err != nil {
		return err
	}
	// The page is 1200×900, as a window of that size would show it
	// without its frame.
	metrics := map[string]any{"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": false}
	if err := b.call(ctx, b.session, "Emulation.setDeviceMetricsOverride", metrics, nil); err != nil {
		return err
	}
	if opt.BasicAuth != "" {
		if err := b.call(ctx, b.session, "Network.enable", nil, nil); err != nil {
			return err
		}
		header := map[string]any{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(opt.BasicAuth))}
		if err := b.call(ctx, b.session, "Network.setExtraHTTPHeaders", map[string]any{"headers": header}, nil); err != nil {
			return err
		}
	}
	return nil
}

// read dispatches Chromium's messages (each ends with a NUL byte) until
// the pipe closes.
func (b *Browser) read(r io.ReadCloser) {
	defer r.Close()
	defer close(b.failed)
	br := bufio.NewReader(r)
	for {
		raw, err := br.ReadBytes(0)
		if err != nil {
			return
		}
		var m message
		if err := json.Unmarshal(raw[:len(raw)-1], &m); err != nil {
			continue
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.waiting[m.ID]
			delete(b.waiting, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		select {
		case b.events <- m:
		default: // nobody waits for that many events: drop
		}
	}
}

// call sends one command (to the page when session is set, else to the
// browser) and decodes its result into out (when not nil).
func (b *Browser) call(ctx context.Context, session, method string, params any, out any) error {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan message, 1)
	b.waiting[id] = ch
	b.mu.Unlock()
	req := map[string]any{"id": id, "method": method}
	if params != nil {
		req["params"] = params
	}
	if session != "" {
		req["sessionId"] = session
	}
	raw, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	if _, err := b.cmds.Write(append(raw, 0)); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		}
		if out != nil {
			if err := json.Unmarshal(m.Result, out); err != nil {
				return fmt.Errorf("%s: %w", method, err)
			}
		}
		return nil
	case <-b.failed:
		return fmt.Errorf("%s: chromium ended", method)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// drain forgets the events received so far.
func (b *Browser) drain() {
	for {
		select {
		case <-b.events:
		default:
			return
		}
	}
}

// waitLoad waits for the page's load event: the document and everything
// it loads (images included) are done.
func (b *Browser) waitLoad(ctx context.Context) error {
	for {
		select {
		case m := <-b.events:
			if m.Method == "Page.loadEventFired" && m.SessionID == b.session {
				return nil
			}
		case <-b.failed:
			return errors.New("wait for the page to load: chromium ended")
		case <-ctx.Done():
			return fmt.Errorf("wait for the page to load: %w", ctx.Err())
		}
	}
}

// Navigate loads url and waits until the page and everything on it have
// loaded. It returns how long that took, from the request to the load
// event.
func (b *Browser) Navigate(ctx context.Context, url string) (time.Duration, error) {
	b.drain()
	start := time.Now()
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := b.call(ctx, b.session, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return 0, fmt.Errorf("load %s: %w", url, err)
	}
	if nav.ErrorText != "" {
		return 0, fmt.Errorf("load %s: %s", url, nav.ErrorText)
	}
	if err := b.waitLoad(ctx); err != nil {
		return 0, fmt.Errorf("load %s: %w", url, err)
	}
	return time.Since(start), nil
}

// Settle waits until Chromium has finished starting: its processes (the
// browser, its renderer, GPU and utility helpers) keep loading and
// setting up for a second or more after the first page shows, on the
// same CPUs as anything measured next. It returns once they used less
// than settleCPU of CPU in settleWindow, or after settleTimeout.
func (b *Browser) Settle(ctx context.Context) error {
	deadline := time.Now().Add(settleTimeout)
	prev := groupCPU(b.proc.pid)
	for time.Now().Before(deadline) {
		select {
		case <-time.After(settleWindow):
		case <-ctx.Done():
			return fmt.Errorf("wait for chromium to settle: %w", ctx.Err())
		}
		cur := groupCPU(b.proc.pid)
		if cur-prev < settleCPU {
			return nil
		}
		prev = cur
	}
	return nil
}

// How Settle tells that Chromium is idle.
const (
	settleWindow  = 200 * time.Millisecond
	settleCPU     = 20 * time.Millisecond // 10% of a CPU
	settleTimeout = 10 * time.Second
)

// groupCPU is the CPU time (user and system) used so far by the
// processes of process group pgid.
func groupCPU(pgid int) time.Duration {
	var ticks int64
	for _, pid := range pids() {
		// Fields 5, 14 and 15: pgrp, utime, stime.
		f := statFields(pid)
		if f == nil || f[2] != strconv.Itoa(pgid) {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// Eval evaluates a JavaScript expression in the page and decodes its
// value (JSON) into out, when not nil.
func (b *Browser) Eval(ctx context.Context, expr string, out any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := b.call(ctx, b.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res); err != nil {
		return err
	}
	if res.Exception != nil {
		return fmt.Errorf("evaluate %.60q: %s", expr, res.Exception.Text)
	}
	if out != nil && len(res.Result.Value) > 0 {
		return json.Unmarshal(res.Result.Value, out)
	}
	return nil
}

// HasLoginForm reports whether the page shows pggraph's login form.
func (b *Browser) HasLoginForm(ctx context.Context) (bool, error) {
	var ok bool
	err := b.Eval(ctx, `!!document.querySelector('form input[name="httpd_password"]')`, &ok)
	return ok, err
}

// LogIn fills the login form of the page shown with user and password,
// submits it and waits for the page it leads to. It returns how long
// that took.
func (b *Browser) LogIn(ctx context.Context, user, password string) (time.Duration, error) {
	u, err := json.Marshal(user)
	if err != nil {
		return 0, err
	}
	p, err := json.Marshal(password)
	if err != nil {
		return 0, err
	}
	b.drain()
	start := time.Now()
	var ok bool
	if err := b.Eval(ctx, fmt.Sprintf(`(() => {
		const f = document.querySelector('form input[name="httpd_password"]')?.form;
		if (!f) return false;
		f.elements.httpd_username.value = %s;
		f.elements.httpd_password.value = %s;
		f.requestSubmit();
		return true;
	})()`, u, p), &ok); err != nil {
		return 0, fmt.Errorf("log in as %s: %w", user, err)
	}
	if !ok {
		return 0, fmt.Errorf("log in as %s: the page has no login form", user)
	}
	if err := b.waitLoad(ctx); err != nil {
		return 0, fmt.Errorf("log in as %s: %w", user, err)
	}
	return time.Since(start), nil
}

// Cookie is one cookie the browser holds.
type Cookie struct {
	Name     string  `json:"name"`
	Value    string  `json:"value"`
	Path     string  `json:"path"`
	Expires  float64 `json:"expires"` // Unix seconds; -1 for a session cookie
	HTTPOnly bool    `json:"httpOnly"`
	Secure   bool    `json:"secure"`
	SameSite string  `json:"sameSite"` // "Strict", "Lax", "None" or ""
}

// Cookies returns the cookies the browser would send to url.
func (b *Browser) Cookies(ctx context.Context, url string) ([]Cookie, error) {
	var res struct {
		Cookies []Cookie `json:"cookies"`
	}
	if err := b.call(ctx, b.session, "Network.getCookies", map[string]any{"urls": []string{url}}, &res); err != nil {
		return nil, err
	}
	return res.Cookies, nil
}

// Screenshot writes what the window shows as a PNG to out.
func (b *Browser) Screenshot(ctx context.Context, out string) error {
	var res struct {
		Data []byte `json:"data"` // base64 in JSON
	}
	if err := b.call(ctx, b.session, "Page.captureScreenshot", map[string]any{"format": "png"}, &res); err != nil {
		return err
	}
	if len(res.Data) == 0 {
		return errors.New("screenshot: empty image")
	}
	return os.WriteFile(out, res.Data, 0o644)
}

// Close ends Chromium and its helpers and removes the profile.
func (b *Browser) Close() error {
	if b.cmds != nil {
		b.cmds.Close() // Chromium exits when its pipe closes
	}
	var err error
	if b.proc != nil {
		err = b.proc.stop([]stopStep{{syscall.SIGTERM, 5 * time.Second}}, nil)
		// Helpers (zygote, utility processes) normally end with the
		// browser; make sure none outlives it.
		_ = syscall.Kill(-b.proc.pid, syscall.SIGKILL)
	}
	return errors.Join(err, os.RemoveAll(b.profile))
}

// lastOutput is the tail of Chromium's output, for errors.
func (b *Browser) lastOutput() string {
	return tail(b.output, 15)
}

// Screenshot loads url in a new headless Chromium and writes what a
// person would see as a PNG to out. url may carry credentials
// (http://user:pass@127.0.0.1:PORT/…): when the server answers with
// pggraph's login form, Chromium logs in with them there and shows the
// page it leads to; when it asks for HTTP Basic auth, Chromium sends
// them that way. Chromium is killed with its helpers when ctx ends; its
// output is in the error when it fails. It must run as root.
func Screenshot(ctx context.Context, rawURL, out string) error {
	what := "screenshot " + redactURL(rawURL)
	out, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	_ = os.Remove(out)
	ctx, cancel := context.WithTimeout(ctx, screenshotTimeout)
	defer cancel()
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	var opt BrowserOptions
	user, password := u.User.Username(), ""
	if u.User != nil {
		password, _ = u.User.Password()
		u.User = nil
		if basic, err := asksBasic(ctx, u.String()); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		} else if basic {
			opt.BasicAuth = user + ":" + password
		}
	}
	b, err := StartBrowser(ctx, opt)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer b.Close()
	if _, err := b.Navigate(ctx, u.String()); err != nil {
		return fmt.Errorf("%s: %w%s", what, err, b.lastOutput())
	}
	if user != "" && opt.BasicAuth == "" {
		if form, err := b.HasLoginForm(ctx); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		} else if form {
			if _, err := b.LogIn(ctx, user, password); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
		}
	}
	if err := b.Screenshot(ctx, out); err != nil {
		return fmt.Errorf("%s: %w%s", what, err, b.lastOutput())
	}
	return nil
}

// asksBasic reports whether url answers 401 with an HTTP Basic challenge.
func asksBasic(ctx context.Context, url string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusUnauthorized && strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic"), nil
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
