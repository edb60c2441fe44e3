// Package fcgiclient runs pggraph.cgi's FastCGI server (-serve SOCKET)
// and sends it requests as Apache's mod_proxy_fcgi does: a CGI
// environment as FastCGI parameters, one connection per request. Tests
// and benchmarks use it to reach the server without Apache in between.
package fcgiclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// FastCGI record types and the responder role (FastCGI 1.0).
const (
	typeBeginRequest = 1
	typeEndRequest   = 3
	typeParams       = 4
	typeStdin        = 5
	typeStdout       = 6
	typeStderr       = 7
	roleResponder    = 1
)

// Process is a FastCGI server started by Start.
type Process struct {
	Socket string // the Unix socket it listens on
	cmd    *exec.Cmd
	done   chan error
}

// Start starts program with args, which must make it listen on the Unix
// socket at socket, with env as its environment and its stderr to
// stderr, and waits up to 10 s until the socket accepts connections.
// Stop it with Stop.
func Start(ctx context.Context, program string, args []string, socket string, env []string, stderr io.Writer) (*Process, error) {
	cmd := exec.Command(program, args...)
	cmd.Env = env
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", program, err)
	}
	p := &Process{Socket: socket, cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		if c, err := net.Dial("unix", socket); err == nil {
			c.Close()
			return p, nil
		}
		select {
		case err := <-p.done:
			return nil, fmt.Errorf("%s exited before listening on %s: %v", program, socket, err)
		case <-ctx.Done():
			p.Stop(time.Second)
			return nil, fmt.Errorf("%s: no socket at %s: %w", program, socket, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Stop ends the process as systemd does, SIGTERM, and waits up to
// timeout for it to exit (then SIGKILL). It returns the process's exit
// error, if any.
func (p *Process) Stop(timeout time.Duration) error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within %s of SIGTERM", p.cmd.Path, timeout)
	}
}

// PID is the process's.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Response is what the application answered: the CGI response it wrote
// to FastCGI's stdout, split into its headers and body, and what it wrote
// to FastCGI's stderr.
type Response struct {
	Status int // from the Status header; 200 without one
	Header map[string]string
	Body   []byte
	Stderr []byte
}

// Do sends one request with params (SCRIPT_FILENAME, QUERY_STRING,
// REMOTE_USER and so on) and no body, and reads the response, within
// ctx.
func (p *Process) Do(ctx context.Context, params map[string]string) (*Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", p.Socket)
	if err != nil {
		return nil, fmt.Errorf("fastcgi: connect: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	var req bytes.Buffer
	record(&req, typeBeginRequest, []byte{0, roleResponder, 0, 0, 0, 0, 0, 0})
	var pairs bytes.Buffer
	for k, v := range params {
		putLen(&pairs, len(k))
		putLen(&pairs, len(v))
		pairs.WriteString(k)
		pairs.WriteString(v)
	}
	for b := pairs.Bytes(); len(b) > 0; {
		n := min(len(b), 65535)
		record(&req, typeParams, b[:n])
		b = b[n:]
	}
	record(&req, typeParams, nil)
	record(&req, typeStdin, nil)
	if _, err := conn.Write(req.Bytes()); err != nil {
		return nil, fmt.Errorf("fastcgi: send: %w", err)
	}
	var stdout, stderr bytes.Buffer
	r := bufio.NewReader(conn)
	for {
		var h [8]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return nil, fmt.Errorf("fastcgi: read: %w", err)
		}
		body := make([]byte, int(binary.BigEndian.Uint16(h[4:6]))+int(h[6]))
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, fmt.Errorf("fastcgi: read: %w", err)
		}
		body = body[:binary.BigEndian.Uint16(h[4:6])]
		switch h[1] {
		case typeStdout:
			stdout.Write(body)
		case typeStderr:
			stderr.Write(body)
		case typeEndRequest:
			resp, err := parse(stdout.Bytes())
			if err != nil {
				return nil, err
			}
			resp.Stderr = stderr.Bytes()
			return resp, nil
		}
	}
}

// record appends one record of request 1.
func record(w *bytes.Buffer, typ byte, content []byte) {
	w.Write([]byte{1, typ, 0, 1})
	binary.Write(w, binary.BigEndian, uint16(len(content)))
	w.Write([]byte{0, 0})
	w.Write(content)
}

// putLen appends a name-value pair's length.
func putLen(w *bytes.Buffer, n int) {
	if n < 128 {
		w.WriteByte(byte(n))
		return
	}
	binary.Write(w, binary.BigEndian, uint32(n)|1<<31)
}

// parse splits a CGI response.
func parse(out []byte) (*Response, error) {
	head, body, ok := bytes.Cut(out, []byte("\r\n\r\n"))
	if !ok {
		return nil, fmt.Errorf("fastcgi: a response without headers: %.200q", out)
	}
	resp := &Response{Status: 200, Header: map[string]string{}, Body: body}
	for _, line := range strings.Split(string(head), "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("fastcgi: a bad header line %q", line)
		}
		resp.Header[k] = strings.TrimSpace(v)
	}
	if s := resp.Header["Status"]; s != "" {
		if _, err := fmt.Sscanf(s, "%d", &resp.Status); err != nil {
			return nil, fmt.Errorf("fastcgi: a bad status %q", s)
		}
	}
	return resp, nil
}

// Env is a service's environment: PATH and HOME, nothing of the
// caller's.
func Env() []string { return []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent"} }
