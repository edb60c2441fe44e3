package tunnel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/testing/rig"
)

// shared is the package's one rig, started on first use.
var shared rig.Lazy

func TestMain(m *testing.M) {
	code := m.Run()
	if err := shared.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close rig:", err)
	}
	os.Exit(code)
}

// pgTarget is the rig's PostgreSQL as seen from the db host.
func pgTarget(r *rig.Rig) string { return fmt.Sprintf("127.0.0.1:%d", r.PG.Port) }

func TestRealModes(t *testing.T) {
	r := shared.Get(t)
	tests := []struct {
		name        string
		hops        []string
		target      string
		bastionSees string // a target the bastion's log must show, "" = none
	}{
		{name: "no tunnel", target: pgTarget(r)},
		{name: "direct", hops: []string{r.DBHost.Addr}, target: pgTarget(r)},
		{name: "twin tunnel", hops: []string{r.Bastion.Addr, r.DBHost.Addr}, target: pgTarget(r),
			bastionSees: fmt.Sprintf("target 127.0.0.1 port %d", r.DBHost.Port)},
		{name: "legacy bastion", hops: []string{r.Bastion.Addr}, target: fmt.Sprintf("127.0.0.1:%d", r.LegacyPort),
			bastionSees: fmt.Sprintf("target 127.0.0.1 port %d", r.LegacyPort)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := r.Bastion.Log()
			tun, err := Open(t.Context(), Config{
				Hops: tt.hops, Target: tt.target, User: r.User,
				Keyfile: r.Keys.ED25519, KnownHosts: r.KnownHosts, Timeout: 10 * time.Second,
			})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer tun.Close()
			conn, err := tun.Connect(t.Context(), r.PG.MonitorUser, config.Secret(r.PG.MonitorPassword), "postgres")
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			defer conn.Close(context.Background())
			var port, n int
			var monitor bool
			err = conn.QueryRow(t.Context(), `SELECT current_setting('port')::int,
				(SELECT count(*) FROM generate_series(1, 1000)),
				pg_has_role(current_user, 'pg_monitor', 'member')`).Scan(&port, &n, &monitor)
			if err != nil {
				t.Fatalf("query: %v", err)
			}
			if port != r.PG.Port || n != 1000 || !monitor {
				t.Errorf("got port %d, count %d, pg_monitor %v; want %d, 1000, true", port, n, monitor, r.PG.Port)
			}
			after, err := r.Bastion.Log()
			if err != nil {
				t.Fatal(err)
			}
			added := strings.TrimPrefix(after, before)
			if tt.bastionSees != "" && !strings.Contains(added, tt.bastionSees) {
				t.Errorf("bastion log lacks %q; new lines:\n%s", tt.bastionSees, added)
			}
			if tt.bastionSees == "" && strings.Contains(added, "server_request_direct_tcpip") {
				t.Errorf("bastion forwarded in mode %s:\n%s", tt.name, added)
			}
		})
	}
}

// TestRealKeyTypes logs in to the real sshd with each supported key type,
// and checks the refusals of keys it cannot use.
func TestRealKeyTypes(t *testing.T) {
	r := shared.Get(t)
	tests := []struct {
		name    string
		key     string
		wantErr error
	}{
		{name: "ed25519", key: r.Keys.ED25519},
		{name: "ecdsa", key: r.Keys.ECDSA},
		{name: "rsa", key: r.Keys.RSA},
		{name: "not authorized", key: r.Keys.Unauthorized, wantErr: ErrAuth},
		{name: "passphrase", key: r.Keys.Protected, wantErr: ErrPassphrase},
		{name: "dsa pem", key: r.Keys.DSA, wantErr: ErrDSAKey},
		{name: "dsa openssh format", key: r.Keys.DSAOpenSSH, wantErr: ErrDSAKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tun, err := Open(t.Context(), Config{
				Hops: []string{r.DBHost.Addr}, Target: pgTarget(r), User: r.User,
				Keyfile: tt.key, KnownHosts: r.KnownHosts, Timeout: 10 * time.Second,
			})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer tun.Close()
			c, err := tun.Dial(t.Context())
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			c.Close()
		})
	}
}

// TestRealBastionRefusal: the rig's bastion only permits forwards to the db
// host's sshd and the legacy port; a twin tunnel whose second server is
// anything else is refused, and says so.
func TestRealBastionRefusal(t *testing.T) {
	r := shared.Get(t)
	_, err := Open(t.Context(), Config{
		Hops: []string{r.Bastion.Addr, pgTarget(r)}, Target: pgTarget(r), User: r.User,
		Keyfile: r.Keys.ED25519, KnownHosts: r.KnownHosts, Timeout: 10 * time.Second,
	})
	if !errors.Is(err, ErrForwardRefused) || !strings.Contains(err.Error(), "administratively prohibited") {
		t.Fatalf("error %v, want ErrForwardRefused (administratively prohibited)", err)
	}
}

// BenchmarkOpen measures opening a chain to the real sshd: direct (one hop)
// and twin (bastion, then db host).
func BenchmarkOpen(b *testing.B) {
	r := shared.Get(b)
	for _, bm := range []struct {
		name string
		hops []string
	}{
		{"direct", []string{r.DBHost.Addr}},
		{"twin", []string{r.Bastion.Addr, r.DBHost.Addr}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			cfg := Config{Hops: bm.hops, Target: pgTarget(r), User: r.User, Keyfile: r.Keys.ED25519, KnownHosts: r.KnownHosts}
			for b.Loop() {
				tun, err := Open(b.Context(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				tun.Close()
			}
		})
	}
}

// BenchmarkQueries100 runs 100 small queries on one connection without a
// tunnel (the baseline) and through each kind of tunnel, and reports the
// ratio to the baseline measured in the same run.
func BenchmarkQueries100(b *testing.B) {
	r := shared.Get(b)
	connect := func(hops []string) *pgx.Conn {
		tun, err := Open(b.Context(), Config{Hops: hops, Target: pgTarget(r), User: r.User, Keyfile: r.Keys.ED25519, KnownHosts: r.KnownHosts})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { tun.Close() })
		conn, err := tun.Connect(b.Context(), r.PG.MonitorUser, config.Secret(r.PG.MonitorPassword), "postgres")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close(context.Background()) })
		return conn
	}
	hundred := func(conn *pgx.Conn) time.Duration {
		start := time.Now()
		for i := range 100 {
			var n int
			if err := conn.QueryRow(b.Context(), "SELECT $1::int + 1", i).Scan(&n); err != nil || n != i+1 {
				b.Fatalf("query: %v (got %d)", err, n)
			}
		}
		return time.Since(start)
	}
	base := connect(nil)
	for _, bm := range []struct {
		name string
		hops []string
	}{
		{"direct", []string{r.DBHost.Addr}},
		{"twin", []string{r.Bastion.Addr, r.DBHost.Addr}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			conn := connect(bm.hops)
			var baseline, through time.Duration
			for b.Loop() {
				baseline += hundred(base)
				through += hundred(conn)
			}
			b.ReportMetric(float64(baseline.Microseconds())/float64(b.N)/1000, "ms-no-tunnel/100q")
			b.ReportMetric(float64(through.Microseconds())/float64(b.N)/1000, "ms-tunnel/100q")
			b.ReportMetric(float64(through)/float64(baseline), "ratio")
		})
	}
}
