package rig

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// StartSSHD starts one more OpenSSH server beside the rig's Bastion and
// DBHost, configured like them (the same login user and authorized keys,
// its own host keys, a free 127.0.0.1 port, LogLevel DEBUG1) but without
// PermitOpen: it forwards anywhere. Fault tests use it as a bastion in
// front of a db host address that never answers, which the rig's own
// Bastion may not forward to. Its directory is Dir/<name>; name must be
// a single path element not used by the rig ("bastion", "dbhost",
// "legacy", "pg", "central", "keys"). Its host key is not in KnownHosts:
// add KnownHostsLine to the known_hosts file that should trust it. The
// caller stops it with Stop before the rig closes; it is not listed in
// Dir/pids.
func (r *Rig) StartSSHD(ctx context.Context, name string) (*SSHD, error) {
	if name == "" || filepath.Base(name) != name {
		return nil, fmt.Errorf("start extra sshd: bad name %q", name)
	}
	s, err := newSSHD(ctx, filepath.Join(r.Dir, name), name, filepath.Join(r.Dir, "authorized_keys"), r.logf)
	if err != nil {
		return nil, err
	}
	if err := s.startFresh(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// KnownHostsLine returns the known_hosts line of the server's ed25519
// host key, "[127.0.0.1]:PORT ssh-ed25519 AAAA…\n", as the rig writes
// into KnownHosts.
func (s *SSHD) KnownHostsLine() (string, error) {
	return s.hostKeyLine()
}

// StartStandby starts a streaming standby of PG: a pg_basebackup of it
// (with -R, so it follows PG over PG's socket as the superuser) in
// Dir/<name>, on a free port, with PG's settings and then settings
// ("name = 'value'" lines for postgresql.auto.conf). Its roles and
// passwords are PG's. name follows StartSSHD's rules. The caller stops it
// with Stop before the rig closes; it is not listed in Dir/pids.
func (r *Rig) StartStandby(ctx context.Context, name string, settings ...string) (*Postgres, error) {
	if name == "" || filepath.Base(name) != name {
		return nil, fmt.Errorf("start standby: bad name %q", name)
	}
	p, err := newPostgres(filepath.Join(r.Dir, name), name, r.logf)
	if err != nil {
		return nil, err
	}
	p.SuperPassword, p.MonitorPassword = r.PG.SuperPassword, r.PG.MonitorPassword
	if err := os.Mkdir(p.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("start standby %s: %w", name, err)
	}
	if err := os.Chown(p.DataDir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
		return nil, fmt.Errorf("start standby %s: %w", name, err)
	}
	if err := run(ctx, p.cred, p.dir, filepath.Join(pgBin, "pg_basebackup"),
		"-D", p.DataDir, "-h", r.PG.SocketDir, "-p", fmt.Sprint(r.PG.Port), "-U", r.PG.Superuser,
		"-R", "-X", "stream", "-c", "fast", "--no-sync"); err != nil {
		return nil, fmt.Errorf("start standby %s: %w", name, err)
	}
	if len(settings) > 0 {
		f, err := os.OpenFile(filepath.Join(p.DataDir, "postgresql.auto.conf"), os.O_WRONLY|os.O_APPEND, 0)
		if err == nil {
			_, err = f.WriteString(strings.Join(settings, "\n") + "\n")
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return nil, fmt.Errorf("start standby %s: %w", name, err)
		}
	}
	if err := p.startOnFreePort(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// StartTest starts a rig for one test (Start with opt), failing the test
// when it cannot start, and closes it when the test ends.
func StartTest(ctx context.Context, t testing.TB, opt Options) *Rig {
	t.Helper()
	r, err := Start(ctx, opt)
	if err != nil {
		t.Fatalf("start rig: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("close rig: %v", err)
		}
	})
	return r
}
