package rig

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"time"
)

// templateName is the directory under Base holding a cluster made by
// initdb once and copied for every rig cluster: initdb costs about a
// CPU-second, a copy a few milliseconds. Bump the suffix whenever the
// initdb arguments change.
const templateName = ".pg15-template-v1"

// ensureTemplate returns the data directory of the template cluster under
// base, creating it with initdb the first time. Concurrent rigs serialise on
// a lock file; the template appears by rename, so a rig killed midway
// leaves at most a temporary directory behind.
func ensureTemplate(ctx context.Context, base string, logf func(string, ...any)) (string, error) {
	path := filepath.Join(base, templateName)
	data := filepath.Join(path, "data")
	ready := func() bool {
		_, err := os.Stat(filepath.Join(path, "ok"))
		return err == nil
	}
	if ready() {
		return data, nil
	}
	unlock, err := lockFile(ctx, path+".lock")
	if err != nil {
		return "", fmt.Errorf("postgres template: %w", err)
	}
	defer unlock()
	if ready() {
		return data, nil
	}
	cred, err := credential("postgres")
	if err != nil {
		return "", fmt.Errorf("postgres template: %w", err)
	}
	t0 := time.Now()
	tmp, err := os.MkdirTemp(base, templateName+".tmp-")
	if err != nil {
		return "", fmt.Errorf("postgres template: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("postgres template: %w", err)
	}
	if err := initdb(ctx, tmp, filepath.Join(tmp, "data"), cred); err != nil {
		return "", fmt.Errorf("postgres template: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "ok"), nil, 0o644); err != nil {
		return "", fmt.Errorf("postgres template: %w", err)
	}
	if err := os.RemoveAll(path); err != nil {
		return "", fmt.Errorf("postgres template: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("postgres template: %w", err)
	}
	logf("postgres template: initdb done in %v (%s)", time.Since(t0).Round(time.Millisecond), path)
	return data, nil
}

// lockFile takes an exclusive flock on path, polling so that ctx can end
// the wait. The returned function releases it.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
	}
}

// walSegment matches the name of a WAL segment file.
var walSegment = regexp.MustCompile(`^[0-9A-F]{24}$`)

// cloneCluster copies the stopped cluster template into dataDir, owned by
// cred, and makes it a cluster of its own: a new system identifier in
// pg_control, then pg_resetwal to write fresh WAL carrying it (what
// PostgreSQL 17's pg_createsubscriber does). WAL segments are not copied.
func cloneCluster(ctx context.Context, template, dataDir string, cred *syscall.Credential) error {
	err := filepath.WalkDir(template, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(template, path)
		if err != nil {
			return err
		}
		if filepath.Dir(rel) == "pg_wal" && walSegment.MatchString(d.Name()) {
			return nil
		}
		dst := filepath.Join(dataDir, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.Mkdir(dst, info.Mode().Perm()); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			if err := copyFile(path, dst, info.Mode().Perm()); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: unexpected file type %v", path, info.Mode().Type())
		}
		if err := os.Chmod(dst, info.Mode().Perm()); err != nil {
			return err
		}
		return os.Lchown(dst, int(cred.Uid), int(cred.Gid))
	})
	if err != nil {
		return fmt.Errorf("copy template: %w", err)
	}
	if err := newSystemIdentifier(filepath.Join(dataDir, "global", "pg_control")); err != nil {
		return err
	}
	if err := run(ctx, cred, dataDir, "/usr/lib/postgresql/15/bin/pg_resetwal", "-D", dataDir); err != nil {
		return fmt.Errorf("reset wal: %w", err)
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// newSystemIdentifier writes a random system identifier into a pg_control
// file and updates its CRC-32C. The CRC covers ControlFileData up to the
// crc field, whose offset is found rather than hard-coded: the first
// 4-aligned offset where the CRC of the bytes before it is stored.
func newSystemIdentifier(path string) error {
	buf, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("new system identifier: %w", err)
	}
	table := crc32.MakeTable(crc32.Castagnoli)
	off := -1
	for k := 16; k+4 <= len(buf) && k <= 1024; k += 4 {
		if crc32.Checksum(buf[:k], table) == binary.LittleEndian.Uint32(buf[k:]) {
			off = k
			break
		}
	}
	if off < 0 {
		return fmt.Errorf("new system identifier: no CRC found in %s", path)
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return fmt.Errorf("new system identifier: %w", err)
	}
	// Like PostgreSQL: seconds in the high half, the rest unique.
	id := uint64(time.Now().Unix())<<32 | uint64(binary.LittleEndian.Uint32(rnd[:]))
	binary.LittleEndian.PutUint64(buf[0:], id)
	binary.LittleEndian.PutUint32(buf[off:], crc32.Checksum(buf[:off], table))
	if err := os.WriteFile(path, buf, 0o600); err != nil {
		return fmt.Errorf("new system identifier: %w", err)
	}
	return nil
}
