package layout

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/pggraph/pggraph"

// allowed lists, for every product package (relative to the module), the
// pggraph packages it may import directly: ARCHITECTURE.md's table. A
// package missing here fails the test, so a new package gets a row.
// cmd/* may import any product package; nothing outside internal/testing
// may import internal/testing.
var allowed = map[string][]string{
	"metric":           nil,
	"sql":              nil,
	"internal/cli":     nil,
	"internal/logging": nil,
	"internal/config":  {"metric"},
	"tunnel":           {"internal/config", "metric"},
	"collector":        {"internal/config", "internal/logging", "metric", "tunnel"},
	"internal/store":   {"internal/config", "metric", "sql"},
	"alert":            {"internal/config", "internal/store", "metric"},
	"graph":            {"internal/store", "metric"},
	"cgi-bin":          {"graph", "internal/cli", "internal/config", "internal/logging", "internal/store", "metric", "sql"},
	"installer":        {"internal/config", "internal/store", "metric", "tunnel"},
}

// forbiddenDeps are packages a program must not link, directly or not.
var forbiddenDeps = map[string][]string{
	// The CGI runs once per image: it reads samples and draws; it never
	// opens a tunnel.
	// Nor does it deliver notifications (os/exec): package alert.
	"cgi-bin": {"golang.org/x/crypto/ssh", "golang.org/x/crypto/ssh/agent", "golang.org/x/crypto/ssh/knownhosts", module + "/tunnel", module + "/collector", module + "/alert"},
}

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func list(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps=false", "-json=ImportPath,Imports,Deps", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < len(allowed) {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	return pkgs
}

func TestImports(t *testing.T) {
	for _, p := range list(t) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		t.Run(rel, func(t *testing.T) {
			machinery := rel == "internal/testing" || strings.HasPrefix(rel, "internal/testing/")
			command := strings.HasPrefix(rel, "cmd/")
			may, listed := allowed[rel]
			if !listed && !machinery && !command {
				t.Fatalf("%s is not in the layout table: add its row here and to ARCHITECTURE.md", rel)
			}
			for _, imp := range p.Imports {
				dep, ok := strings.CutPrefix(imp, module+"/")
				if !ok {
					continue
				}
				switch {
				case !machinery && (dep == "internal/testing" || strings.HasPrefix(dep, "internal/testing/")):
					t.Errorf("%s imports test machinery %s", rel, dep)
				case machinery || command:
				case !slices.Contains(may, dep):
					t.Errorf("%s imports %s; it may import only %v", rel, dep, may)
				}
			}
		})
	}
}

func TestForbiddenDeps(t *testing.T) {
	pkgs := list(t)
	for rel, banned := range forbiddenDeps {
		i := slices.IndexFunc(pkgs, func(p pkg) bool { return p.ImportPath == module+"/"+rel })
		if i < 0 {
			t.Fatalf("package %s not found", rel)
		}
		for _, b := range banned {
			if slices.Contains(pkgs[i].Deps, b) {
				t.Errorf("%s links %s", rel, b)
			}
		}
	}
}
