package installer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultCronFile is where deploy/cron/pggraph is installed: the host's
// collection schedule when it has one.
const DefaultCronFile = "/etc/cron.d/pggraph"

// Schedule is what a cron.d file (in /etc/cron.d format: five time
// fields, a user, a command) already does about one client.
type Schedule struct {
	// File is the cron.d file read; "" when there is none.
	File string
	// All is the line number of an active line running
	// `pggraph-collect -all` over the client's parent directory; 0 when
	// there is none.
	All int
	// Own are the line numbers of active lines collecting the client by
	// its directory or config.ini.
	Own []int
}

// Collected tells whether the file already collects the client.
func (s Schedule) Collected() bool { return s.All > 0 || len(s.Own) > 0 }

// ReadSchedule reads the cron.d file at path and finds the lines that
// collect the client installed in dir. A missing file is an empty
// Schedule, not an error.
func ReadSchedule(path, dir string) (Schedule, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Schedule{}, nil
	}
	if err != nil {
		return Schedule{}, fmt.Errorf("read cron file: %w", err)
	}
	defer f.Close()
	s, err := parseSchedule(f, dir)
	if err != nil {
		return Schedule{}, fmt.Errorf("read cron file %s: %w", path, err)
	}
	s.File = path
	return s, nil
}

// parseSchedule is ReadSchedule's pure core.
func parseSchedule(r io.Reader, dir string) (Schedule, error) {
	var s Schedule
	dir = filepath.Clean(dir)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		args := collectArgs(sc.Text())
		if args == nil {
			continue
		}
		all := slices.Contains(args, "-all")
		for _, a := range args {
			if strings.HasPrefix(a, "-") {
				continue
			}
			p := filepath.Clean(a)
			switch {
			case all && p == filepath.Dir(dir):
				s.All = n
			case !all && (p == dir || p == filepath.Join(dir, "config.ini")):
				s.Own = append(s.Own, n)
			}
		}
	}
	return s, sc.Err()
}

// collectArgs returns the arguments after pggraph-collect on an active
// cron.d line (five time fields or an @keyword, a user, then the command),
// or nil when the line is blank, a comment, a variable or runs something
// else.
func collectArgs(line string) []string {
	fields := strings.Fields(line)
	if len(fields) == 0 || strings.HasPrefix(fields[0], "#") || strings.Contains(fields[0], "=") {
		return nil
	}
	cmd := 6 // five time fields and the user
	if strings.HasPrefix(fields[0], "@") {
		cmd = 2
	}
	if len(fields) <= cmd || filepath.Base(fields[cmd]) != "pggraph-collect" {
		return nil
	}
	return fields[cmd+1:]
}
