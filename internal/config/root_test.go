package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadRoot(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    Local
		title   string
		www     string
		wantErr string // "" for none
		client  bool   // the error wraps ErrClientConfig
	}{
		{name: "empty", text: "",
			want: Local{Host: "localhost", Port: 5432, Database: "pggraph"}, title: RootTitle, www: RootWWWPath},
		{name: "every key", text: "[install]\ntitle = Operators\nwww_path = /graphs/\n[local]\nhost = db.example\nport = 5433\ndatabase = samples\n",
			want: Local{Host: "db.example", Port: 5433, Database: "samples"}, title: "Operators", www: "graphs"},
		{name: "a client's", text: "[local]\nprefix = acme\n", client: true,
			wantErr: "config DIR/config.ini: a client's config.ini (it sets [local] prefix)"},
		{name: "a password", text: "[local]\npassword = secret\n",
			wantErr: "config DIR/config.ini: [local] password: not read at the root of the install directories (only [install] title, [install] www_path, [local] host, [local] port and [local] database)"},
		{name: "bad port", text: "[local]\nport = 0\n",
			wantErr: `config DIR/config.ini: [local] port = "0": must be 1 to 65535`},
		{name: "unknown key", text: "[local]\nhots = x\n",
			wantErr: `config DIR/config.ini: [local] hots: unknown key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "config.ini"), []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := LoadRoot(dir)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("LoadRoot = %+v, want error %q", c.Local, tt.wantErr)
				}
				if got := strings.ReplaceAll(err.Error(), dir, "DIR"); got != tt.wantErr {
					t.Errorf("error = %q\nwant    %q", got, tt.wantErr)
				}
				if errors.Is(err, ErrClientConfig) != tt.client {
					t.Errorf("errors.Is(ErrClientConfig) = %t, want %t", !tt.client, tt.client)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := Local{Host: c.Local.Host, Port: c.Local.Port, Database: c.Local.Database}
			if got != tt.want || c.Install.Title != tt.title || c.Install.WWWPath != tt.www {
				t.Errorf("LoadRoot = %+v %q %q, want %+v %q %q", got, c.Install.Title, c.Install.WWWPath, tt.want, tt.title, tt.www)
			}
		})
	}
}

// TestLoadSite: one read tells the root's config.ini from a client's,
// and gives each what LoadRoot and Load give.
func TestLoadSite(t *testing.T) {
	client := filepath.Join("testdata", "design.golden.ini")
	tests := []struct {
		name string
		path func(t *testing.T) string
		root bool
	}{
		{"the root's", func(t *testing.T) string {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "config.ini"), []byte("[local]\nport = 5433\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}, true},
		{"a client's", func(*testing.T) string { return client }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path(t)
			c, root, err := LoadSite(path)
			if err != nil || root != tt.root {
				t.Fatalf("LoadSite = root %v, %v; want root %v", root, err, tt.root)
			}
			load := Load
			if tt.root {
				load = LoadRoot
			}
			want, err := load(path)
			if err != nil {
				t.Fatal(err)
			}
			if c.Local != want.Local || c.Install != want.Install || c.Path != want.Path || strings.Join(c.Warnings, "|") != strings.Join(want.Warnings, "|") {
				t.Errorf("LoadSite %+v %+v %q\nwant %+v %+v %q", c.Local, c.Install, c.Path, want.Local, want.Install, want.Path)
			}
		})
	}
	if _, _, err := LoadSite(filepath.Join(t.TempDir(), "none.ini")); err == nil {
		t.Error("a missing file: no error")
	}
}
