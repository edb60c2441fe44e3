package schema

import (
	"strings"
	"testing"
)

func TestMigrations(t *testing.T) {
	for _, kind := range Kinds() {
		t.Run(kind, func(t *testing.T) {
			ms, err := Migrations(kind)
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) == 0 {
				t.Fatal("no migrations")
			}
			for i, m := range ms {
				if m.Version != i+1 {
					t.Errorf("%s: version %d, want %d", m, m.Version, i+1)
				}
				if strings.TrimSpace(m.SQL) == "" {
					t.Errorf("%s: empty", m)
				}
				// A migration runs inside the runner's transaction.
				for _, bad := range []string{"BEGIN;", "COMMIT;", "ROLLBACK;"} {
					if strings.Contains(strings.ToUpper(m.SQL), bad) {
						t.Errorf("%s: contains %s: the runner owns the transaction", m, bad)
					}
				}
			}
			if got := Latest(kind); got != len(ms) {
				t.Errorf("Latest = %d, want %d", got, len(ms))
			}
		})
	}
}

func TestMigrationsUnknownKind(t *testing.T) {
	if _, err := Migrations("pggraph_other"); err == nil {
		t.Fatal("no error for an unknown kind")
	}
	if got := Latest("nope"); got != 0 {
		t.Fatalf("Latest(unknown) = %d, want 0", got)
	}
}

func TestMigrationString(t *testing.T) {
	if got := (Migration{Version: 7, Name: "add_x"}).String(); got != "0007_add_x" {
		t.Fatalf("String = %q", got)
	}
}
