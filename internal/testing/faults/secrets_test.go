//go:build hard

package faults

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// secretBook holds every password the suite gives a program; none may
// ever appear in a log, an output, an error or a command line.
type secretBook struct {
	mu   sync.Mutex
	list []namedSecret
}

type namedSecret struct{ name, value string }

// secrets are the passwords of this run.
var secrets secretBook

func (b *secretBook) add(name, value string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.list = append(b.list, namedSecret{name, value})
}

func (b *secretBook) all() []namedSecret {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.list)
}

// find returns a message per secret found in data, which came from where.
func (b *secretBook) find(where string, data []byte) []string {
	var out []string
	for _, s := range b.all() {
		if s.value != "" && bytes.Contains(data, []byte(s.value)) {
			out = append(out, fmt.Sprintf("%s: holds the %s", where, s.name))
		}
	}
	return out
}

// sampler reads the command line of every process on the machine every
// sampleEvery while the suite runs, so that the scan can check the argv
// of the programs the tests start (and of the servers they talk to).
type sampler struct {
	stopc chan struct{}
	done  chan struct{}
	seen  map[string]bool // distinct command lines
	ours  map[string]int  // pggraph programs seen, by name: distinct PIDs
	pids  map[int]bool
}

const sampleEvery = 40 * time.Millisecond

// ourPrograms are the programs whose processes the sampler counts.
var ourPrograms = []string{"pggraph-collect", "pggraph-admin", "pggraph.cgi", "index.cgi", "pggraph-forward"}

func startSampler() *sampler {
	s := &sampler{stopc: make(chan struct{}), done: make(chan struct{}), seen: map[string]bool{}, ours: map[string]int{}, pids: map[int]bool{}}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(sampleEvery)
		defer tick.Stop()
		for {
			s.sample()
			select {
			case <-s.stopc:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// sample reads every /proc/PID/cmdline once.
func (s *sampler) sample() {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(b) == 0 {
			continue
		}
		line := string(b)
		if len(s.seen) < 1_000_000 {
			s.seen[line] = true
		}
		argv0 := filepath.Base(strings.SplitN(line, "\x00", 2)[0])
		if slices.Contains(ourPrograms, argv0) && !s.pids[pid] {
			s.pids[pid] = true
			s.ours[argv0]++
		}
	}
}

// cmdlines are what a sampler saw.
type cmdlines struct {
	lines []string
	ours  map[string]int
}

// stop ends the sampling and returns what it saw.
func (s *sampler) stop() cmdlines {
	close(s.stopc)
	<-s.done
	c := cmdlines{ours: s.ours}
	for l := range s.seen {
		c.lines = append(c.lines, l)
	}
	return c
}

// isLog says whether a file of the rig's directory is a log or an output
// to scan: the servers' logs, Apache's, the outputs of the programs the
// tests ran and their log_file. Data directories, keys, configs, pgpass
// and rig.env hold passwords on purpose and are not scanned.
func isLog(path string) bool {
	switch filepath.Ext(path) {
	case ".log", ".out", ".err", ".csv", ".txt":
		return true
	}
	return false
}

// scanSecrets reads every log and output of the run and every command
// line seen, and reports each password found. It prints its figures and
// returns false when it found one.
func scanSecrets(w *world, cl cmdlines) bool {
	var (
		hits  []string
		files int
		size  int64
	)
	err := filepath.WalkDir(w.rig.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file a server removed meanwhile
		}
		if d.IsDir() && d.Name() == "data" {
			return filepath.SkipDir // PostgreSQL's data directories
		}
		if d.IsDir() || !d.Type().IsRegular() || !isLog(path) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			hits = append(hits, fmt.Sprintf("%s: %v", path, err))
			return nil
		}
		files++
		size += int64(len(b))
		hits = append(hits, secrets.find(path, b)...)
		return nil
	})
	if err != nil {
		hits = append(hits, fmt.Sprintf("walk %s: %v", w.rig.Dir, err))
	}
	for _, l := range cl.lines {
		hits = append(hits, secrets.find("command line "+strconv.Quote(strings.ReplaceAll(l, "\x00", " ")), []byte(l))...)
	}
	var ours []string
	for _, p := range ourPrograms {
		if n := cl.ours[p]; n > 0 {
			ours = append(ours, fmt.Sprintf("%s %d", p, n))
		}
	}
	note := fmt.Sprintf("%d passwords × %d log files (%.1f MB) and %d distinct command lines (processes seen: %s)",
		len(secrets.all()), files, float64(size)/1e6, len(cl.lines), strings.Join(ours, ", "))
	fmt.Printf("secrets scan: %s: %d found\n", note, len(hits))
	for _, h := range hits {
		fmt.Printf("FAIL: secrets scan: %s\n", h)
	}
	tries := files + len(cl.lines)
	figures.add(figure{Area: "security", What: "passwords in logs, outputs, errors and argv", Tries: tries, Survived: tries - min(len(hits), tries), Failures: len(hits), Note: note})
	ok := len(hits) == 0
	if files == 0 || cl.ours["pggraph-collect"] == 0 {
		fmt.Printf("FAIL: secrets scan saw %d log files and %d pggraph-collect processes: it scanned nothing\n", files, cl.ours["pggraph-collect"])
		ok = false
	}
	return ok
}
