package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// cacheDirName is the image cache's directory in the client's install
// directory.
const cacheDirName = "cache"

// cache keeps the images and CSV the CGI drew, as files beside
// config.ini, until the next collection is due: what the pages tell
// browsers too (Cache-Control max-age), here shared by every user of the
// client. A request it answers reads no database: no PostgreSQL login, no
// drawing. Each entry is one file named by its key, a JSON header line
// and the body, its modification time set to when it expires; files are
// written whole and renamed into place.
type cache struct {
	dir string
	now func() time.Time
}

// entry is one cached response.
type entry struct {
	ETag string
	Type string    // Content-Type
	Last time.Time // the collection it shows: Last-Modified
	// Expires is when the next collection is due.
	Expires time.Time
	Body    []byte `json:"-"`
}

// get returns the entry of key, nil when there is none or it expired.
func (c *cache) get(key string) *entry {
	data, err := os.ReadFile(filepath.Join(c.dir, key))
	if err != nil {
		return nil
	}
	head, body, ok := bytes.Cut(data, []byte("\n"))
	var e entry
	if !ok || json.Unmarshal(head, &e) != nil || !c.now().Before(e.Expires) {
		return nil
	}
	e.Body = body
	return &e
}

// put stores e under key, unless it expires within a second.
func (c *cache) put(key string, e *entry) error {
	if !c.now().Add(time.Second).Before(e.Expires) {
		return nil
	}
	head, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("cache %s: %w", key, err)
	}
	if err := os.Mkdir(c.dir, 0o700); err != nil && !os.IsExist(err) {
		return fmt.Errorf("cache %s: %w", key, err)
	}
	f, err := os.CreateTemp(c.dir, ".new-*")
	if err != nil {
		return fmt.Errorf("cache %s: %w", key, err)
	}
	_, err = f.Write(append(append(head, '\n'), e.Body...))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chtimes(f.Name(), e.Expires, e.Expires)
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(c.dir, key))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("cache %s: %w", key, err)
	}
	return nil
}

// sweep removes the entries that expired (and files left half-written a
// minute ago or more), and returns how many.
func (c *cache) sweep() (int, error) {
	des, err := os.ReadDir(c.dir)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sweep cache: %w", err)
	}
	n, now := 0, c.now()
	for _, de := range des {
		info, err := de.Info()
		if err != nil {
			continue
		}
		stale := info.ModTime().Before(now)
		if strings.HasPrefix(de.Name(), ".new-") {
			stale = info.ModTime().Before(now.Add(-time.Minute))
		}
		if stale && os.Remove(filepath.Join(c.dir, de.Name())) == nil {
			n++
		}
	}
	return n, nil
}
