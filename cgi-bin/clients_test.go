package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// fakeClients is pggraph_clients of the all-clients page's tests.
type fakeClients struct {
	health []store.Health
	fail   bool
}

func (f *fakeClients) Health(ctx context.Context) ([]store.Health, error) {
	if f.fail {
		return nil, errors.New("fake: clients down")
	}
	return f.health, nil
}

func (f *fakeClients) Close(ctx context.Context) error { return nil }

// rootHandler is the all-clients page with the fakes.
func rootHandler(c *fakeClients) *handler {
	return &handler{
		site:        site{Title: "All <clients>", WWWPath: "pggraph", Root: true},
		openClients: func(context.Context) (clientsSource, error) { return c, nil },
		openUsers:   func(context.Context) (users, error) { return &fakeUsers{}, nil },
		now:         func() time.Time { return now },
		log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		version:     "test",
		needUser:    true,
	}
}

func TestClientsPage(t *testing.T) {
	ran := now.Add(-25 * time.Minute)
	c := &fakeClients{health: []store.Health{
		{Client: store.Client{Prefix: "acme", Title: `<script>alert("x")</script>`, WWWPath: "pggraph/acme", LastRun: ran, LastOK: ran,
			LastDuration: 1500 * time.Millisecond, LastOutcome: metric.Failed, LastError: "dial <b>db</b>: refused"}, Critical: 1, Warning: 2},
		{Client: store.Client{Prefix: "other", Title: "Other", WWWPath: "pggraph/other", LastRun: ran, LastOK: ran, LastOutcome: metric.OK}},
		{Client: store.Client{Prefix: "fresh", Title: "Fresh"}},
	}}
	tests := []struct {
		name       string
		target     string
		user       string
		fail       bool
		status     int
		has, lacks []string
	}{
		{name: "operator", target: "/pggraph/", user: "olga", status: http.StatusOK,
			has: []string{
				`<h1>All &lt;clients&gt;</h1>`,
				`3 clients, worst first · 1 CRITICAL, 1 UNKNOWN, 1 OK`,
				`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`,
				`<span class="CRITICAL">1 critical</span> · <span class="WARNING">2 warning</span>`,
				`<td class="num">25 min ago</td>`, `failed <small class="error">dial &lt;b&gt;db&lt;/b&gt;: refused</small>`, `1.5 s`,
				`<a href="/pggraph/acme/index.cgi">overview</a> · <a href="/pggraph/acme/index.cgi?page=alerts">alerts</a>`,
				`<td class="num">never</td>`, `(no www_path)`,
			},
			lacks: []string{`<script>`, `<b>`}},
		{name: "a client's user", target: "/pggraph/", user: "alice", status: http.StatusForbidden,
			has: []string{`user "alice" may not see every client (operators only: web users of client *)`}},
		{name: "unknown user", target: "/pggraph/", user: "mallory", status: http.StatusForbidden},
		{name: "no login", target: "/pggraph/", status: http.StatusForbidden},
		{name: "a client's parameter", target: "/pggraph/?page=alerts", user: "olga", status: http.StatusBadRequest,
			has: []string{`unknown parameter "page" (the all-clients page takes none)`}},
		{name: "hostile parameter", target: "/pggraph/?%3Cscript%3E=1&a=2", user: "olga", status: http.StatusBadRequest,
			has: []string{`unknown parameter "<script>"`}},
		{name: "malformed", target: "/pggraph/?a=%zz", user: "olga", status: http.StatusBadRequest},
		{name: "oversized", target: "/pggraph/?x=" + strings.Repeat("a", maxQuery), user: "olga", status: http.StatusBadRequest},
		{name: "database down", target: "/pggraph/", user: "olga", fail: true, status: http.StatusInternalServerError,
			has: []string{"500 Internal Server Error: central database unavailable\n"}, lacks: []string{"fake"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.fail = tt.fail
			w := get(rootHandler(c), tt.target, tt.user)
			body := w.Body.String()
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d: %s", w.Code, tt.status, body)
			}
			for _, s := range tt.has {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %q:\n%s", s, body)
				}
			}
			for _, s := range tt.lacks {
				if strings.Contains(body, s) {
					t.Errorf("body holds %q", s)
				}
			}
			if tt.status == http.StatusOK && w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", w.Header().Get("Cache-Control"))
			}
		})
	}
}

func TestAgeText(t *testing.T) {
	tests := []struct {
		name string
		ago  time.Duration
		want string
	}{
		{"seconds", 30 * time.Second, "just now"},
		{"minutes", 59 * time.Minute, "59 min ago"},
		{"hours", 47 * time.Hour, "47 h ago"},
		{"days", 50 * time.Hour, "2 days ago"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ageText(now.Add(-tt.ago), now); got != tt.want {
				t.Errorf("ageText(-%v) = %q, want %q", tt.ago, got, tt.want)
			}
		})
	}
	if got := ageText(time.Time{}, now); got != "never" {
		t.Errorf("ageText(zero) = %q, want never", got)
	}
}
