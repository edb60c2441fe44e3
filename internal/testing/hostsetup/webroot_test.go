package hostsetup

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// webRoot is where README.md installs the client directories and _main.
const webRoot = "/var/www/pggraph"

// layoutCommands returns the commands of README.md's step 1 that create
// webRoot and _main.
func layoutCommands(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, step, ok := strings.Cut(string(readme), "**1. Packages and programs.**")
	if !ok {
		t.Fatal(`README.md has no "**1. Packages and programs.**"`)
	}
	_, block, _ := strings.Cut(step, "```sh\n")
	block, _, _ = strings.Cut(block, "```")
	var cmds []string
	for _, line := range strings.Split(block, "\n") {
		if strings.Contains(line, webRoot) {
			cmds = append(cmds, line)
		}
	}
	if len(cmds) == 0 {
		t.Fatalf("no command of step 1 makes %s:\n%s", webRoot, block)
	}
	return cmds
}

// program is what the layout's _main/pggraph.cgi holds in the test.
var program = []byte("#!/bin/sh\necho the real pggraph.cgi\n")

// layout runs step 1's layout commands (as root, as the README does) in a
// new scratch directory that www-data may walk into, and returns the
// directory standing in for webRoot.
func layout(t *testing.T, cmds []string) string {
	t.Helper()
	// Not t.TempDir: its parent is 0700, closed to www-data.
	scratch, err := os.MkdirTemp("", "pggraph-layout-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(scratch) })
	if err := os.Chmod(scratch, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(scratch, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scratch, "bin", "pggraph.cgi"), program, 0o755); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(scratch, "pggraph")
	for _, line := range cmds {
		line = strings.ReplaceAll(line, webRoot, root)
		cmd := exec.Command("sh", "-ec", line)
		cmd.Dir = scratch // for bin/pggraph.cgi
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
	}
	return root
}

// TestLayout tries as www-data, on a fresh copy of step 1's layout each
// time, what the README promises: www-data creates and removes client
// directories, and can neither move nor remove _main nor change the
// program in it.
func TestLayout(t *testing.T) {
	cmds := layoutCommands(t)
	tests := []struct {
		name, script string // ROOT stands for webRoot
		ok           bool
	}{
		{"create and remove a client directory", "mkdir ROOT/acme && touch ROOT/acme/config.ini && rm -r ROOT/acme", true},
		{"rename _main", "mv ROOT/_main ROOT/_old", false},
		{"remove _main", "rm -rf ROOT/_main", false},
		{"replace the program", "cp /bin/true ROOT/_main/pggraph.cgi", false},
		{"add to _main", "touch ROOT/_main/pggraph.cgi.new", false},
		{"open up the root", "chmod 0777 ROOT", false},
		{"replace the all-clients page's program", "ln -sf /bin/true ROOT/index.cgi", false},
		{"change the root's config.ini", "echo '[local]' >> ROOT/config.ini", false},
		{"read the root's config.ini", "grep -q '^database = pggraph$' ROOT/config.ini && test -L ROOT/index.cgi", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := layout(t, cmds)
			script := strings.ReplaceAll(tt.script, "ROOT", root)
			out, err := exec.Command("runuser", "-u", "www-data", "--", "sh", "-ec", script).CombinedOutput()
			if _, exited := err.(*exec.ExitError); err != nil && !exited {
				t.Fatalf("runuser: %v", err)
			}
			if ok := err == nil; ok != tt.ok {
				t.Errorf("as www-data, %s: succeeded %v, want %v\n%s", script, ok, tt.ok, out)
			}
			if got, err := os.ReadFile(filepath.Join(root, "_main", "pggraph.cgi")); err != nil || !bytes.Equal(got, program) {
				t.Errorf("_main/pggraph.cgi afterwards: %q, %v", got, err)
			}
		})
	}
}
