package rig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one child process started by the rig. It is reaped by the
// goroutine that started it, which stays locked to its OS thread until the
// child exits: Linux delivers the parent-death signal when the *thread* that
// forked the child ends, and Go only ends a thread when a goroutine locked to
// it returns. Holding the forking thread for the child's whole life means the
// signal fires exactly when the whole test process dies, never earlier.
type process struct {
	pid  int
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // result of Wait; valid once done is closed
}

// spawn starts cmd in its own process group (a terminal's Ctrl-C does not
// reach it) with deathSig as its parent-death signal, and cred as its
// identity when non-nil.
func spawn(cmd *exec.Cmd, cred *syscall.Credential, deathSig syscall.Signal) (*process, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  deathSig,
		Credential: cred,
	}
	p := &process{done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		p.pid = cmd.Process.Pid
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends each signal of steps in turn, waiting up to its duration for
// the process to exit, then SIGKILL. It returns an error only when even
// SIGKILL did not end the process; escalations are reported through note.
func (p *process) stop(steps []stopStep, note func(string)) error {
	for _, st := range steps {
		if p.exited() {
			return nil
		}
		if err := syscall.Kill(p.pid, st.sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("signal pid %d with %v: %w", p.pid, st.sig, err)
		}
		t := time.NewTimer(st.wait)
		select {
		case <-p.done:
			t.Stop()
			return nil
		case <-t.C:
			if note != nil {
				note(fmt.Sprintf("pid %d still running %s after %v", p.pid, st.wait, st.sig))
			}
		}
	}
	if p.exited() {
		return nil
	}
	_ = syscall.Kill(p.pid, syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("pid %d did not exit after SIGKILL", p.pid)
	}
}

// stopStep is one signal of a stop sequence and how long to wait after it.
type stopStep struct {
	sig  syscall.Signal
	wait time.Duration
}

// credential returns the identity of the named system user for
// SysProcAttr.Credential, supplementary groups included.
func credential(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("look up user %s: %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parse uid of %s: %w", name, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parse gid of %s: %w", name, err)
	}
	c := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	gids, err := u.GroupIds()
	if err != nil {
		gids = []string{u.Gid}
	}
	for _, g := range gids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			continue
		}
		c.Groups = append(c.Groups, uint32(n))
	}
	return c, nil
}

// freePort asks the kernel for a free TCP port on 127.0.0.1. The port is
// released before returning, so another process may take it: callers retry
// on a bind failure.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// bindAttempts is how many ports a server start tries before giving up.
const bindAttempts = 5

// errPortInUse marks a start that failed only because its port was taken.
var errPortInUse = errors.New("port already in use")

// tail returns the last lines of a log file, for error messages.
func tail(path string, lines int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log %s: %v)", path, err)
	}
	defer f.Close()
	const maxTail = 8 << 10
	st, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(log %s: %v)", path, err)
	}
	off := max(st.Size()-maxTail, 0)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil {
		return fmt.Sprintf("(read log %s: %v)", path, err)
	}
	ls := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	if off > 0 && len(ls) > 1 {
		ls = ls[1:] // first line is probably cut
	}
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return "\n--- " + path + " (tail) ---\n" + strings.Join(ls, "\n")
}

// fileSize is the current size of path, 0 when it does not exist.
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// logSince returns the content of path from offset on.
func logSince(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < offset {
		return ""
	}
	return string(b[offset:])
}

// openLog opens a log file for appending, as stdout and stderr of a child.
func openLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return f, nil
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// alive reports whether pid names a running (non-zombie) process.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	f := statFields(pid)
	if f == nil {
		return false
	}
	return f[0] != "Z"
}

// statFields returns the fields of /proc/PID/stat that follow the
// parenthesised command name (which may hold spaces and parentheses):
// f[0] is field 3, the state. It is nil when pid is gone.
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return nil
	}
	return f
}

// pids lists the processes running now.
func pids() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// cmdline returns the command line of pid with arguments joined by spaces.
func cmdline(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	return string(bytes.ReplaceAll(bytes.TrimRight(b, "\x00"), []byte{0}, []byte{' '}))
}

// descendants lists every process below pid (children, grandchildren …),
// read from /proc. sshd serves each connection in a child that calls
// setsid, so these are not in pid's process group.
func descendants(pid int) []int {
	children := map[int][]int{}
	for _, n := range pids() {
		f := statFields(n)
		if f == nil {
			continue
		}
		pp, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		children[pp] = append(children[pp], n)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// killForeign stops a process the rig did not start in this run (left by
// a dead owner, or named in a pids file): SIGTERM, up to wait for it to go,
// then SIGKILL. It never signals a process whose command line lacks mark,
// so a recycled PID is left alone.
func killForeign(pid int, mark string, wait time.Duration) {
	if !alive(pid) || !strings.Contains(cmdline(pid), mark) {
		return
	}
	kids := descendants(pid)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for _, k := range kids {
		_ = syscall.Kill(k, syscall.SIGTERM)
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) && alive(pid) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, k := range kids {
		if alive(k) {
			_ = syscall.Kill(k, syscall.SIGKILL)
		}
	}
}

// run runs a short command to completion and returns its combined output
// in the error when it fails.
func run(ctx context.Context, cred *syscall.Credential, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", filepath.Base(name), err, strings.TrimSpace(string(out)))
	}
	return nil
}
