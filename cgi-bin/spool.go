package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/pggraph/pggraph/internal/store"
)

// Spool timing: how long the process that starts a spool waits for the
// rows of the requests that come with it (a page and its images) before
// it writes them; after how long rows nobody wrote are written by the
// next request that finds them (their writer died).
const (
	spoolDelay = time.Second
	spoolStale = 10 * time.Second
)

// spoolName is the spool's file in the client's install directory.
const spoolName = "access.spool"

// spool gathers the access log rows of a client's CGI processes in a file
// beside config.ini, and one process at a time writes them to
// client_access_log, all in one statement: a burst of requests (a page
// and its images, fetched at once) costs one login to pggraph_users, not
// one each. Each row is one JSON line, written with one write(2) under a
// shared lock; the writer takes the file away under an exclusive lock
// (renames it), so that no row lands in it after it was read.
type spool struct {
	path string // the spool file; batches taken away are path.<pid>.<ns>
	now  func() time.Time
}

// add appends a's row and reports whether this process should write the
// spool out after spoolDelay: it started the spool, or the spool's first
// row is older than spoolStale.
func (s *spool) add(a store.Access) (write bool, err error) {
	line, err := json.Marshal(a)
	if err != nil {
		return false, fmt.Errorf("spool access row: %w", err)
	}
	line = append(line, '\n')
	f, err := s.openLocked(syscall.LOCK_SH)
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("spool access row: %w", err)
	}
	if _, err := f.Write(line); err != nil {
		return false, fmt.Errorf("spool access row: %w", err)
	}
	if st.Size() == 0 {
		return true, nil
	}
	first := make([]byte, min(st.Size(), 4096))
	if _, err := f.ReadAt(first, 0); err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("spool access row: %w", err)
	}
	var old store.Access
	if i := bytes.IndexByte(first, '\n'); i > 0 && json.Unmarshal(first[:i], &old) == nil {
		return s.now().Sub(old.Date) > spoolStale, nil
	}
	return true, nil // a line that does not parse: write it out (and report it)
}

// openLocked opens (creating) the spool file for appending and locks it:
// the file still at the path once the lock is held.
func (s *spool) openLocked(how int) (*os.File, error) {
	for {
		f, err := os.OpenFile(s.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open access spool: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), how); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock access spool: %w", err)
		}
		// The writer may have taken the file away meanwhile.
		held, err1 := f.Stat()
		now, err2 := os.Stat(s.path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close()
		if err1 != nil {
			return nil, fmt.Errorf("access spool: %w", err1)
		}
	}
}

// write moves the spooled rows to the database: the spool's rows, and
// those of batches a writer that died left behind. open connects to
// pggraph_users when there is something to write. It returns how many
// rows it wrote. Rows it could not write stay for the next writer.
func (s *spool) write(ctx context.Context, open func(context.Context) (users, error)) (int, error) {
	// The batches this writer holds, locked, by name.
	batches := map[string]*os.File{}
	defer func() {
		for _, b := range batches {
			b.Close()
		}
	}()
	// Take the spool away: new rows go to a new file.
	f, err := s.openLocked(syscall.LOCK_EX)
	if err != nil {
		return 0, err
	}
	batch := s.path + "." + strconv.Itoa(os.Getpid()) + "." + strconv.FormatInt(time.Now().UnixNano(), 10)
	if err := os.Rename(s.path, batch); err != nil {
		f.Close()
		return 0, fmt.Errorf("take the access spool: %w", err)
	}
	batches[batch] = f // still locked: no other writer takes it
	// Batches left behind: unlocked ones only (their writer is gone).
	left, _ := filepath.Glob(s.path + ".*")
	for _, name := range left {
		if name == batch {
			continue
		}
		b, err := os.Open(name)
		if err != nil {
			continue
		}
		if err := syscall.Flock(int(b.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			b.Close()
			continue
		}
		if _, err := os.Stat(name); err != nil { // written and removed meanwhile
			b.Close()
			continue
		}
		batches[name] = b
	}
	var rows []store.Access
	var bad int
	for _, b := range batches {
		data, err := io.ReadAll(io.NewSectionReader(b, 0, 1<<40))
		if err != nil {
			return 0, fmt.Errorf("read access spool: %w", err)
		}
		for line := range bytes.SplitSeq(bytes.TrimSpace(data), []byte("\n")) {
			var a store.Access
			if len(line) == 0 {
				continue
			}
			if json.Unmarshal(line, &a) != nil {
				bad++
				continue
			}
			rows = append(rows, a)
		}
	}
	if len(rows) > 0 {
		u, err := open(ctx)
		if err != nil {
			return 0, err
		}
		err = u.LogAccess(ctx, rows...)
		if cerr := u.Close(ctx); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			return 0, err
		}
	}
	for name := range batches {
		_ = os.Remove(name)
	}
	if bad > 0 {
		return len(rows), fmt.Errorf("access spool: %d lines that are no row, dropped", bad)
	}
	return len(rows), nil
}
