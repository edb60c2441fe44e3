package rig

import (
	"context"
	"fmt"
	"path/filepath"
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
