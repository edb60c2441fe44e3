package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/metric"
)

// openUsers opens pggraph_users as pggraph (owner) or pggraph_web (web),
// closed by the test's cleanup.
func openUsers(t *testing.T, web bool) *Users {
	t.Helper()
	r := central(t)
	l := ownerLocal(r, "")
	if web {
		l.User, l.Password = "pggraph_web", webPassword
	}
	u, err := OpenUsers(t.Context(), LocalServer(l))
	if err != nil {
		t.Fatalf("OpenUsers: %v", err)
	}
	t.Cleanup(func() { u.Close(context.Background()) })
	return u
}

func TestCheckUserName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"alice", true},
		{"Jörg Müller", true},
		{"a.b-c_d@example.com", true},
		{"", false},
		{"a:b", false},
		{" alice", false},
		{"alice ", false},
		{"a\nb", false},
		{"a\x00b", false},
		{"a\x7fb", false},
		{"\xff", false},
		{strings.Repeat("x", 128), true},
		{strings.Repeat("x", 129), false},
	} {
		if err := CheckUserName(tc.name); (err == nil) != tc.ok {
			t.Errorf("CheckUserName(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

func TestUsers(t *testing.T) {
	u := openUsers(t, false)
	ctx := t.Context()
	if _, err := u.conn.Exec(ctx, `DELETE FROM client_users WHERE client IN ('wa', 'wb')`); err != nil {
		t.Fatal(err)
	}
	if err := u.AddUser(ctx, User{Name: "w-alice", Hash: "$2y$04$x", Client: "wa"}); err != nil {
		t.Fatalf("AddUser: %v", err)
	}
	err := u.AddUser(ctx, User{Name: "w-alice", Hash: "$2y$04$y", Client: "wb"})
	if !errors.Is(err, ErrUserExists) || !strings.Contains(err.Error(), "client wa") {
		t.Errorf("AddUser twice: %v, want ErrUserExists naming client wa", err)
	}
	for _, bad := range []User{
		{Name: "x:y", Hash: "h", Client: "wa"},
		{Name: "ok", Hash: "", Client: "wa"},
		{Name: "ok", Hash: "a:b", Client: "wa"},
		{Name: "ok", Hash: "h", Client: "Bad-Prefix"},
		{Name: "ok", Hash: "h", Client: "**"},
	} {
		if err := u.AddUser(ctx, bad); err == nil {
			t.Errorf("AddUser(%+v) succeeded", bad)
		}
	}
	if err := u.SetPassword(ctx, "w-alice", "$2y$04$z"); err != nil {
		t.Errorf("SetPassword: %v", err)
	}
	if err := u.SetPassword(ctx, "w-nobody", "$2y$04$z"); !errors.Is(err, ErrNoUser) {
		t.Errorf("SetPassword of nobody: %v, want ErrNoUser", err)
	}
	if err := u.AddUser(ctx, User{Name: "w-olga", Hash: "$2y$04$x", Client: AllClients}); err != nil {
		t.Errorf("AddUser of an operator (client *): %v", err)
	}
	if c, err := u.UserClient(ctx, "w-olga"); err != nil || c != AllClients {
		t.Errorf("UserClient of the operator = %q, %v; want *", c, err)
	}
	if c, err := u.UserClient(ctx, "w-alice"); err != nil || c != "wa" {
		t.Errorf("UserClient = %q, %v; want wa", c, err)
	}
	if _, err := u.UserClient(ctx, "w-nobody"); !errors.Is(err, ErrNoUser) {
		t.Errorf("UserClient of nobody: %v, want ErrNoUser", err)
	}

	imp, err := u.ImportUsers(ctx, "wb", []User{
		{Name: "w-bob", Hash: "{SHA}abc"},
		{Name: "w-carol", Hash: "$apr1$salt$hash"},
		{Name: "w-alice", Hash: "$2y$04$stolen"}, // client wa's
	})
	if err != nil {
		t.Fatalf("ImportUsers: %v", err)
	}
	if !slices.Equal(imp.Added, []string{"w-bob", "w-carol"}) || len(imp.Updated) != 0 ||
		len(imp.Refused) != 1 || imp.Refused[0] != (User{Name: "w-alice", Client: "wa"}) {
		t.Errorf("ImportUsers = %+v", imp)
	}
	imp, err = u.ImportUsers(ctx, "wb", []User{{Name: "w-bob", Hash: "{SHA}def"}})
	if err != nil || !slices.Equal(imp.Updated, []string{"w-bob"}) || len(imp.Added) != 0 {
		t.Errorf("ImportUsers again = %+v, %v", imp, err)
	}
	if _, err := u.ImportUsers(ctx, "wb", []User{{Name: "w-dave", Hash: "h"}, {Name: "bad:name", Hash: "h"}}); err == nil {
		t.Error("ImportUsers with a bad name succeeded")
	}
	if _, err := u.UserClient(ctx, "w-dave"); !errors.Is(err, ErrNoUser) {
		t.Errorf("a failed import wrote w-dave: %v", err)
	}

	all, err := u.ListUsers(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range all {
		if x.Client == "wa" || x.Client == "wb" {
			names = append(names, x.Client+"/"+x.Name+"/"+x.Hash)
		}
	}
	want := []string{"wa/w-alice/$2y$04$z", "wb/w-bob/{SHA}def", "wb/w-carol/$apr1$salt$hash"}
	if !slices.Equal(names, want) {
		t.Errorf("ListUsers = %q, want %q", names, want)
	}
	if b, err := u.ListUsers(ctx, "wb"); err != nil || len(b) != 2 {
		t.Errorf("ListUsers(wb) = %v, %v", b, err)
	}
	if c, err := u.DeleteUser(ctx, "w-carol"); err != nil || c != "wb" {
		t.Errorf("DeleteUser = %q, %v", c, err)
	}
	if _, err := u.DeleteUser(ctx, "w-carol"); !errors.Is(err, ErrNoUser) {
		t.Errorf("DeleteUser twice: %v, want ErrNoUser", err)
	}
}

// TestUsersAsWebRole checks what the CGI does as pggraph_web: look a user
// up and append to the access log, but not change users.
func TestUsersAsWebRole(t *testing.T) {
	owner := openUsers(t, false)
	web := openUsers(t, true)
	ctx := t.Context()
	if _, err := owner.conn.Exec(ctx, `DELETE FROM client_users WHERE user_name = 'w-web'`); err != nil {
		t.Fatal(err)
	}
	if err := owner.AddUser(ctx, User{Name: "w-web", Hash: "h", Client: "wa"}); err != nil {
		t.Fatal(err)
	}
	if c, err := web.UserClient(ctx, "w-web"); err != nil || c != "wa" {
		t.Errorf("UserClient as pggraph_web = %q, %v", c, err)
	}
	if err := web.AddUser(ctx, User{Name: "w-evil", Hash: "h", Client: "wa"}); err == nil {
		t.Error("pggraph_web could add a user")
	}
	when := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	req := "/pggraph/wa/index.cgi?page=table&db=x&table=" + strings.Repeat("é", 1500) + "\xff"
	if err := web.LogAccess(ctx, Access{Login: "w-web", Date: when, Request: req, IP: "192.0.2.1", Status: 200}); err != nil {
		t.Fatalf("LogAccess: %v", err)
	}
	if err := web.LogAccess(ctx, Access{Request: "/x", Status: 400}); err != nil {
		t.Fatalf("LogAccess without login: %v", err)
	}
	var (
		login, gotReq, ip string
		date              time.Time
		status            int
	)
	err := owner.conn.QueryRow(ctx, `SELECT login, date, request, ip_address, status FROM client_access_log
		WHERE login = 'w-web' ORDER BY id DESC LIMIT 1`).Scan(&login, &date, &gotReq, &ip, &status)
	if err != nil {
		t.Fatal(err)
	}
	if !date.Equal(when) || ip != "192.0.2.1" || status != 200 || len(gotReq) > 2000 || !strings.HasPrefix(gotReq, "/pggraph/wa/") {
		t.Errorf("access row = %q %v %q %q %d", login, date, gotReq[:40], ip, status)
	}
	var nulls int
	if err := owner.conn.QueryRow(ctx, `SELECT count(*) FROM client_access_log
		WHERE request = '/x' AND login IS NULL AND ip_address IS NULL AND date > now() - interval '1 minute'`).Scan(&nulls); err != nil || nulls != 1 {
		t.Errorf("row without login: %d, %v", nulls, err)
	}

	// Several rows in one call, in their order.
	batch := []Access{
		{Login: "w-web", Date: when.Add(time.Second), Request: "/batch/1", IP: "192.0.2.2", Status: 200},
		{Request: "/batch/2", Status: 401},
		{Login: "w-web", Date: when.Add(3 * time.Second), Request: "/batch/3\xff", IP: "192.0.2.3", Status: 304},
	}
	if err := web.LogAccess(ctx, batch...); err != nil {
		t.Fatalf("LogAccess of %d rows: %v", len(batch), err)
	}
	rows, err := owner.conn.Query(ctx, `SELECT coalesce(login, '-'),
			CASE WHEN login IS NULL THEN date > now() - interval '1 minute' ELSE date IN ($1, $2) END,
			request, coalesce(ip_address, '-'), status
		FROM client_access_log WHERE request LIKE '/batch/%' ORDER BY id`, when.Add(time.Second), when.Add(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var l, r, i string
		var ok bool
		var st int
		if err := rows.Scan(&l, &ok, &r, &i, &st); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %v %s %s %d", l, ok, r, i, st))
	}
	if want := "w-web true /batch/1 192.0.2.2 200|- true /batch/2 - 401|w-web true /batch/3\uFFFD 192.0.2.3 304"; strings.Join(got, "|") != want {
		t.Errorf("batch rows %q, want %q", strings.Join(got, "|"), want)
	}

	// A refused row is an error, and the connection stays usable.
	if _, err := owner.conn.Exec(ctx, `REVOKE INSERT ON client_access_log FROM pggraph_web`); err != nil {
		t.Fatal(err)
	}
	err = web.LogAccess(ctx, Access{Request: "/refused", Status: 200})
	if _, gerr := owner.conn.Exec(ctx, `GRANT INSERT ON client_access_log TO pggraph_web`); gerr != nil {
		t.Fatal(gerr)
	}
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("LogAccess without the privilege: %v, want permission denied", err)
	}
	if err := web.LogAccess(ctx, Access{Request: "/after", Status: 200}); err != nil {
		t.Errorf("LogAccess after a refused one: %v", err)
	}
}

func TestLastCollected(t *testing.T) {
	r := central(t)
	s := openStore(t, testGroups())
	ctx := t.Context()
	if got, err := s.LastCollected(ctx, "lcnever"); err != nil || !got.IsZero() {
		t.Errorf("LastCollected of an unknown client = %v, %v; want zero", got, err)
	}
	started := time.Date(2025, 4, 1, 10, 0, 0, 0, time.UTC)
	if err := s.RecordRun(ctx, "lcfail", metric.RunRecord{Started: started, Outcome: metric.Failed, Error: "x"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LastCollected(ctx, "lcfail"); err != nil || !got.Equal(started) {
		t.Errorf("LastCollected without state = %v, %v; want last_run %v", got, err, started)
	}
	taken := time.Date(2025, 4, 1, 10, 10, 0, 0, time.UTC)
	run(t, s, "lcok", &metric.Snapshot{Taken: taken}, nil, metric.Retention{})
	if got, err := s.LastCollected(ctx, "lcok"); err != nil || !got.Equal(taken) {
		t.Errorf("LastCollected = %v, %v; want %v", got, err, taken)
	}
	// As the web role.
	l := ownerLocal(r, "")
	l.User, l.Password = "pggraph_web", config.Secret(webPassword)
	w, err := Open(ctx, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)
	if got, err := w.LastCollected(ctx, "lcok"); err != nil || !got.Equal(taken) {
		t.Errorf("LastCollected as pggraph_web = %v, %v; want %v", got, err, taken)
	}
	if _, err := w.LastCollected(ctx, "Bad"); !errors.Is(err, ErrPrefix) {
		t.Errorf("LastCollected(Bad) = %v, want ErrPrefix", err)
	}
}
