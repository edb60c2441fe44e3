package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pggraph/pggraph/internal/store"
)

// newSpool is a spool in a new directory, with its clock at now.
func newSpool(t *testing.T) *spool {
	return &spool{path: filepath.Join(t.TempDir(), spoolName), now: func() time.Time { return now }}
}

// opener returns a users opener that logs to u, counting the logins.
func opener(u *fakeUsers, logins *int) func(context.Context) (users, error) {
	return func(context.Context) (users, error) {
		*logins++
		return u, nil
	}
}

func row(i int) store.Access {
	return store.Access{Login: "alice", Date: now.Add(time.Duration(i) * time.Millisecond), Request: fmt.Sprintf("/r/%d", i), IP: "192.0.2.1", Status: 200}
}

// TestSpoolWriter: the request that starts the spool writes it out, with
// the rows of those that came after it, in one login and their order;
// the next row starts a new spool. A spool whose first row is stale is
// written by whoever adds to it.
func TestSpoolWriter(t *testing.T) {
	s := newSpool(t)
	var wants []bool
	for i := range 3 {
		w, err := s.add(row(i))
		if err != nil {
			t.Fatal(err)
		}
		wants = append(wants, w)
	}
	if !slices.Equal(wants, []bool{true, false, false}) {
		t.Errorf("writers %v, want only the first", wants)
	}
	u, logins := &fakeUsers{}, 0
	n, err := s.write(t.Context(), opener(u, &logins))
	if err != nil || n != 3 || logins != 1 {
		t.Fatalf("write: %d rows, %d logins, %v", n, logins, err)
	}
	for i, a := range u.log {
		if a != row(i) {
			t.Errorf("row %d = %+v, want %+v", i, a, row(i))
		}
	}
	if left, _ := filepath.Glob(s.path + "*"); len(left) != 0 {
		t.Errorf("files left: %v", left)
	}
	if w, err := s.add(row(3)); err != nil || !w {
		t.Errorf("the first row after a write: writer %v, %v", w, err)
	}
	// Its writer died: 11 s later the next request writes it.
	s.now = func() time.Time { return now.Add(spoolStale + time.Second) }
	if w, err := s.add(row(4)); err != nil || !w {
		t.Errorf("a row after a stale one: writer %v, %v", w, err)
	}
	if n, err := s.write(t.Context(), opener(u, &logins)); n != 2 || err != nil {
		t.Errorf("write: %d, %v", n, err)
	}
}

// TestSpoolFailures: rows a writer could not write stay for the next;
// a batch another writer holds is left to it; a line that is no row is
// reported, the others written.
func TestSpoolFailures(t *testing.T) {
	s := newSpool(t)
	for i := range 2 {
		if _, err := s.add(row(i)); err != nil {
			t.Fatal(err)
		}
	}
	down := func(context.Context) (users, error) { return nil, errors.New("fake: connection refused") }
	if n, err := s.write(t.Context(), down); err == nil || n != 0 {
		t.Fatalf("write with the database down: %d, %v", n, err)
	}
	// A batch a live writer holds (locked) is not taken.
	held := s.path + ".1.1"
	if err := os.WriteFile(held, []byte(`{"Request":"/held","Status":200}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(held)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, err := s.add(row(2)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.path, []byte("not a row\n"), 0o600); err != nil { // replaces row 2's spool
		t.Fatal(err)
	}
	if _, err := s.add(row(3)); err != nil {
		t.Fatal(err)
	}
	u, logins := &fakeUsers{}, 0
	n, err := s.write(t.Context(), opener(u, &logins))
	if n != 3 || err == nil || logins != 1 {
		t.Errorf("write: %d rows, %d logins, %v; want 3 rows (0, 1, 3) and an error for the bad line", n, logins, err)
	}
	var got []string
	for _, a := range u.log {
		got = append(got, a.Request)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"/r/0", "/r/1", "/r/3"}) {
		t.Errorf("rows %q", got)
	}
	if _, err := os.Stat(held); err != nil {
		t.Errorf("the held batch was taken: %v", err)
	}
}

// TestSpoolConcurrent: rows added while writers take the spool away are
// each written exactly once.
func TestSpoolConcurrent(t *testing.T) {
	s := newSpool(t)
	const adders, each = 8, 50
	u := &fakeUsers{}
	var wg sync.WaitGroup
	errs := make(chan error, adders*each+100)
	stop := make(chan struct{})
	write := func() {
		var logins int
		if _, err := s.write(context.Background(), opener(u, &logins)); err != nil {
			errs <- err
		}
	}
	var writers sync.WaitGroup
	for range 2 {
		writers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					write()
				}
			}
		})
	}
	for a := range adders {
		wg.Go(func() {
			for i := range each {
				if _, err := s.add(row(a*each + i)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	writers.Wait()
	write()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	seen := map[string]int{}
	for _, a := range u.log {
		seen[a.Request]++
	}
	for i := range adders * each {
		if n := seen[row(i).Request]; n != 1 {
			t.Errorf("row %d written %d times", i, n)
		}
	}
}

// TestHandlerSpool: with the spool, a request whose client Apache
// checked opens no users connection until its rows are written: the first
// request writes them all, one login, a second after it started; a
// directory that is not its config.ini's client is 403.
func TestHandlerSpool(t *testing.T) {
	u, logins := &fakeUsers{}, 0
	h := testHandler(t, newFakeSamples(), u, nil)
	h.needUser = true
	h.spool = newSpool(t)
	h.openUsers = opener(u, &logins)
	const base = "/pggraph/acme/index.cgi"
	var finish []func()
	statuses := map[string]int{}
	for _, tc := range []struct {
		target string
		v      visit
		status int
	}{
		{base, visit{User: "alice", Client: "acme", Form: true}, 200},
		{base + "?graph=connections", visit{User: "alice", Client: "acme", Form: true}, 200},
		{base + "?graph=transactions", visit{User: "alice", Client: "beta"}, 403},
	} {
		w := httptest.NewRecorder()
		finish = append(finish, h.respond(w, withVisit(httptest.NewRequest(http.MethodGet, tc.target, nil), tc.v)))
		statuses[tc.target] = w.Code
		if w.Code != tc.status {
			t.Errorf("%s as %+v: %d, want %d", tc.target, tc.v, w.Code, tc.status)
		}
	}
	if logins != 0 {
		t.Errorf("%d logins to pggraph_users before the responses' rest", logins)
	}
	// Each process finishes on its own, right after its response.
	start := time.Now()
	var wg sync.WaitGroup
	for _, f := range finish {
		wg.Go(f)
		time.Sleep(10 * time.Millisecond)
	}
	wg.Wait()
	if took := time.Since(start); logins != 1 || len(u.log) != 3 || took < spoolDelay/2 {
		t.Errorf("%d logins, %d rows, after %v; want 1 login, 3 rows, after the first request's second", logins, len(u.log), took)
	}
	for _, a := range u.log {
		if a.Status != statuses[a.Request] || a.Login != "alice" {
			t.Errorf("row %+v", a)
		}
	}
}
