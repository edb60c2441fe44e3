//go:build hard

package faults

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pggraph/pggraph/internal/testing/centraltest"
	"github.com/pggraph/pggraph/internal/testing/rig"
)

// shared is the suite's one rig: a client PostgreSQL behind a bastion and
// a db host, and a central PostgreSQL. Fault tests stop and start its
// servers; TestMain closes it.
var shared = rig.Lazy{Options: rig.Options{Central: true}}

// centralSetup sets the central databases up once.
var centralSetup centraltest.Once

// world is what every test of the suite shares, set up once by env.
type world struct {
	rig *rig.Rig
	// bin holds the programs built from this tree for this run:
	// pggraph-collect, pggraph-admin, …, pggraph.cgi. It lives in the
	// rig's directory, so www-data can run the CGI.
	bin string
	// logs holds the output of every program the tests run, one file per
	// stream; the secrets scan reads it with the servers' logs.
	logs string
	// work holds the install directories of the clients that Apache
	// does not serve.
	work string
	// centralPassword is role pggraph's password on the central server.
	centralPassword string
}

var (
	worldOnce sync.Once
	theWorld  *world
	worldErr  error
)

// env returns the shared world, setting it up on first use: the rig, the
// central databases and the programs. It fails the test, never skips it.
func env(t testing.TB) *world {
	t.Helper()
	r := shared.Get(t)
	worldOnce.Do(func() {
		w := &world{rig: r, centralPassword: "central-pw-" + rand.Text()}
		secrets.add("central pggraph password", w.centralPassword)
		secrets.add("remote monitor password", r.PG.MonitorPassword)
		theWorld, worldErr = w, w.setUp()
	})
	if worldErr != nil {
		t.Fatalf("set up the hard suite: %v", worldErr)
	}
	centralSetup.Do(t, r, theWorld.centralPassword)
	return theWorld
}

// setUp creates the directories and builds the programs.
func (w *world) setUp() error {
	w.bin = filepath.Join(w.rig.Dir, "hard-bin")
	w.logs = filepath.Join(w.rig.Dir, "hard-logs")
	w.work = filepath.Join(w.rig.Dir, "hard-work")
	for _, d := range []string{w.bin, w.logs, w.work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		return err
	}
	for _, args := range [][]string{
		{"build", "-trimpath", "-o", w.bin + "/", "./cmd/..."},
		{"build", "-trimpath", "-o", filepath.Join(w.bin, "pggraph.cgi"), "./cgi-bin"},
	} {
		cmd := exec.CommandContext(ctx, goTool(), args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %v: %w\n%s", args, err, out)
		}
	}
	return nil
}

// program is the path of one of the built programs.
func (w *world) program(name string) string { return filepath.Join(w.bin, name) }

// goTool is the go command running these tests.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestMain(m *testing.M) {
	sampler := startSampler()
	code := m.Run()
	cmdlines := sampler.stop()
	// The scan needs the rig's logs: before Close removes them.
	if theWorld != nil {
		if !scanSecrets(theWorld, cmdlines) {
			code = 1
		}
	}
	if site.apache != nil {
		if err := site.apache.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop apache:", err)
		}
	}
	if err := shared.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close rig:", err)
	}
	figures.print(os.Stdout)
	if err := figures.write(os.Getenv("PGGRAPH_HARD_FIGURES")); err != nil {
		fmt.Fprintln(os.Stderr, "write figures:", err)
		code = 1
	}
	os.Exit(code)
}
