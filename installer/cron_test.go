package installer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pggraph/pggraph/internal/config"
)

func TestParseSchedule(t *testing.T) {
	const dir = "/var/www/pggraph/acme"
	tests := []struct {
		name string
		text string
		all  int
		own  []int
	}{
		{name: "empty", text: ""},
		{name: "deploy file", text: "SHELL=/bin/sh\nPATH=/usr/local/bin:/usr/bin:/bin\n\n*/10 * * * * www-data pggraph-collect -all /var/www/pggraph -jobs 4\n# */10 * * * * www-data pggraph-collect /var/www/pggraph/acme/config.ini\n", all: 4},
		{name: "trailing slash and full path", text: "*/10 * * * * www-data /usr/local/bin/pggraph-collect -all /var/www/pggraph/\n", all: 1},
		{name: "-all of another root", text: "*/10 * * * * www-data pggraph-collect -all /srv/pggraph\n"},
		{name: "own by directory", text: "3,13,23,33,43,53 * * * * www-data pggraph-collect /var/www/pggraph/acme\n", own: []int{1}},
		{name: "own by config.ini", text: "@hourly www-data pggraph-collect -v /var/www/pggraph/acme/config.ini\n", own: []int{1}},
		{name: "both", text: "*/10 * * * * www-data pggraph-collect -all /var/www/pggraph\n5 * * * * www-data pggraph-collect /var/www/pggraph/acme\n", all: 1, own: []int{2}},
		{name: "another client", text: "*/10 * * * * www-data pggraph-collect /var/www/pggraph/beta\n"},
		{name: "commented out", text: "#*/10 * * * * www-data pggraph-collect -all /var/www/pggraph\n"},
		{name: "another program", text: "*/10 * * * * www-data pggraph-forward /var/www/pggraph/acme\n"},
		{name: "user crontab format is not cron.d", text: "*/10 * * * * pggraph-collect /var/www/pggraph/acme\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseSchedule(strings.NewReader(tc.text), dir)
			if err != nil {
				t.Fatal(err)
			}
			if s.All != tc.all || !slices.Equal(s.Own, tc.own) {
				t.Errorf("All %d Own %v, want %d %v", s.All, s.Own, tc.all, tc.own)
			}
			if s.Collected() != (tc.all > 0 || len(tc.own) > 0) {
				t.Errorf("Collected() = %v", s.Collected())
			}
		})
	}
}

func TestReadScheduleMissing(t *testing.T) {
	s, err := ReadSchedule(filepath.Join(t.TempDir(), "pggraph"), "/var/www/pggraph/acme")
	if err != nil || s.File != "" || s.Collected() {
		t.Errorf("missing file: %+v, %v", s, err)
	}
}

func TestCronStep(t *testing.T) {
	c := config.Default()
	c.Install.Directory = "/var/www/pggraph/acme"
	c.Local.Prefix = "acme"
	crontab := CronMinutes("acme", 10*time.Minute) + " * * * * pggraph-collect /var/www/pggraph/acme"
	tests := []struct {
		name      string
		sched     Schedule
		want      []string
		wantNotIn []string
	}{
		{name: "no cron.d file", sched: Schedule{},
			want: []string{"crontab -e", "\n     " + crontab + "\n", "install deploy/cron/pggraph as /etc/cron.d/pggraph"}},
		{name: "-all", sched: Schedule{File: "/etc/cron.d/pggraph", All: 12},
			want: []string{"nothing to add", "Line 12 of /etc/cron.d/pggraph collects every client under /var/www/pggraph"}, wantNotIn: []string{crontab, "crontab -e"}},
		{name: "own line", sched: Schedule{File: "/etc/cron.d/pggraph", Own: []int{15}},
			want: []string{"nothing to add", "Line 15 of /etc/cron.d/pggraph collects this client"}, wantNotIn: []string{crontab}},
		{name: "twice", sched: Schedule{File: "/etc/cron.d/pggraph", All: 12, Own: []int{15, 16}},
			want: []string{"collected twice", "line 15, 16 collects this one again", "Remove the client's own line"}},
		{name: "file without the client", sched: Schedule{File: "/etc/cron.d/pggraph"},
			want: []string{"add this line to /etc/cron.d/pggraph", " pggraph-collect /var/www/pggraph/acme\n"}, wantNotIn: []string{"crontab -e"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := cronStep(c, tc.sched)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in\n%s", w, got)
				}
			}
			for _, w := range tc.wantNotIn {
				if strings.Contains(got, w) {
					t.Errorf("unexpected %q in\n%s", w, got)
				}
			}
		})
	}
}

func TestDefaultLogFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, given, dir, want, note string
	}{
		{name: "directory exists", dir: dir, want: filepath.Join(dir, "acme.log"), note: "Log file: " + filepath.Join(dir, "acme.log")},
		{name: "no directory", dir: filepath.Join(dir, "none")},
		{name: "given", given: "/elsewhere/acme.log", dir: dir, want: "/elsewhere/acme.log"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Default()
			c.Local.Prefix = "acme"
			c.PGGraph.LogFile = tc.given
			note := defaultLogFile(c, tc.dir)
			if c.PGGraph.LogFile != tc.want || !strings.HasPrefix(note, tc.note) || (tc.note == "") != (note == "") {
				t.Errorf("log_file %q, note %q; want %q, %q…", c.PGGraph.LogFile, note, tc.want, tc.note)
			}
			if tc.note != "" {
				if _, err := os.Stat(tc.want); err != nil {
					t.Errorf("log file not created: %v", err)
				}
			}
		})
	}
}
