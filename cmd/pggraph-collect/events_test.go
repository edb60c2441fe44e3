package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pggraph/pggraph/collector"
	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/metric"
)

// storedEvents returns every event of a client, oldest first.
func storedEvents(t *testing.T, conn *pgx.Conn, prefix string) []metric.Event {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT ts, until, kind, coalesce(dbname, ''), object, detail FROM `+
		pgx.Identifier{prefix + "_event"}.Sanitize()+` ORDER BY ts, kind, object`)
	if err != nil {
		t.Fatal(err)
	}
	var (
		out   []metric.Event
		e     metric.Event
		until *time.Time
		kind  string
	)
	if _, err := pgx.ForEachRow(rows, []any{&e.Time, &until, &kind, &e.Database, &e.Object, &e.Detail}, func() error {
		e.Kind, e.End = metric.EventKind(kind), time.Time{}
		if until != nil {
			e.End = *until
		}
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEvents: between two runs, a setting changed and reloaded, a
// restart, a statistics reset, a database and an extension created are
// exactly five events with their details; a run with nothing changed
// records none, and neither does the first.
func TestEvents(t *testing.T) {
	r := env(t)
	remoteExec(t, r, "postgres", "CREATE DATABASE evt")
	t.Cleanup(func() {
		for _, s := range []string{"ALTER SYSTEM RESET work_mem", "SELECT pg_reload_conf()", "DROP DATABASE IF EXISTS evt_new", "DROP DATABASE IF EXISTS evt"} {
			if err := r.PG.Exec(context.Background(), "postgres", s); err != nil {
				t.Error(err)
			}
		}
	})
	path := clientConfig(t, r, t.TempDir(), "evt", func(c *config.Config) { c.Remote.Databases = []string{"evt"} })
	conn := central(t, r)

	mustCollect(t, path) // primes: no events
	if got := storedEvents(t, conn, "evt"); len(got) != 0 {
		t.Fatalf("the first run recorded events: %v", got)
	}
	remoteExec(t, r, "postgres", "ALTER SYSTEM SET work_mem = '16MB'", "SELECT pg_reload_conf()")
	if err := r.PG.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := r.PG.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	remoteExec(t, r, "evt", "SELECT pg_stat_reset()", "CREATE EXTENSION pg_trgm")
	remoteExec(t, r, "postgres", "CREATE DATABASE evt_new")
	before := time.Now()
	mustCollect(t, path)

	got := storedEvents(t, conn, "evt")
	want := []struct {
		kind         metric.EventKind
		db, object   string
		detailPrefix string
	}{
		{metric.EventRestart, "", "server", "started "},
		{metric.EventSetting, "", "work_mem", "work_mem: 4MB → 16MB"},
		{metric.EventReset, "evt", "database evt", "statistics of database evt reset"},
		{metric.EventDatabase, "evt_new", "evt_new", "database evt_new created"},
		{metric.EventExtension, "evt", "pg_trgm", "extension pg_trgm 1.6 created in evt"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(got), len(want), got)
	}
	// Restart and setting share the start time (the reload at start);
	// the rest are in time order.
	byKind := map[metric.EventKind]metric.Event{}
	for _, e := range got {
		byKind[e.Kind] = e
	}
	for _, w := range want {
		e, ok := byKind[w.kind]
		if !ok || e.Database != w.db || e.Object != w.object || !strings.HasPrefix(e.Detail, w.detailPrefix) {
			t.Errorf("%s event %+v, want database %q object %q detail %q…", w.kind, e, w.db, w.object, w.detailPrefix)
		}
		if e.Time.After(time.Now()) || e.Time.Before(before.Add(-time.Minute)) || !e.End.IsZero() {
			t.Errorf("%s event at %s (end %s): want a point within the last minute", w.kind, e.Time, e.End)
		}
	}

	mustCollect(t, path) // nothing changed
	if again := storedEvents(t, conn, "evt"); len(again) != len(got) {
		t.Errorf("a run with nothing changed recorded %d events: %+v", len(again)-len(got), again[len(got):])
	}
}

// TestGapEvents: a run failing with the db host's sshd down, then an hour
// without runs, leave one collection-gap event from the last good run to
// the next, naming the failure; the failed run's own event is taken in.
func TestGapEvents(t *testing.T) {
	r := env(t)
	path := clientConfig(t, r, t.TempDir(), "gaps", func(c *config.Config) { c.Remote.Databases = []string{"postgres"} })
	conn := central(t, r)
	cfg, st := openStore(t, path)
	var skipped time.Duration // the clock's lead: the hour not run
	job := collector.Job{Config: cfg, Store: st, Now: func() time.Time { return time.Now().Add(skipped) }}
	runAt := func() (time.Time, error) {
		_, err := collector.Run(t.Context(), job)
		var taken time.Time
		if qerr := conn.QueryRow(t.Context(), `SELECT taken FROM gaps_state`).Scan(&taken); qerr != nil {
			t.Fatal(qerr)
		}
		return taken, err
	}

	if _, err := runAt(); err != nil {
		t.Fatal(err)
	}
	good, err := runAt()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.DBHost.Stop(); err != nil {
		t.Fatal(err)
	}
	failedAt := time.Now()
	_, ferr := runAt()
	if err := r.DBHost.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ferr == nil {
		t.Fatal("the run with sshd stopped succeeded")
	}
	points := storedEvents(t, conn, "gaps")
	if len(points) != 1 || points[0].Kind != metric.EventGap || !points[0].End.IsZero() ||
		!strings.HasPrefix(points[0].Detail, "collection failed: tunnel: ") || points[0].Time.Before(failedAt.Add(-time.Second)) {
		t.Fatalf("after the failed run: %+v, want one gap point, collection failed: tunnel: …", points)
	}

	skipped = time.Hour
	next, err := runAt()
	if err != nil {
		t.Fatal(err)
	}
	got := storedEvents(t, conn, "gaps")
	if len(got) != 1 {
		t.Fatalf("%d events, want one gap: %+v", len(got), got)
	}
	g := got[0]
	if g.Kind != metric.EventGap || !g.Time.Equal(good) || !g.End.Equal(next) {
		t.Errorf("gap %s from %s to %s, want gap from %s to %s", g.Kind, g.Time, g.End, good, next)
	}
	span := next.Sub(good).Round(time.Second).String()
	if want := "no samples for " + span + "; 1 failed collection, the last: collection failed: tunnel: "; !strings.HasPrefix(g.Detail, want) {
		t.Errorf("gap detail %q, want %q…", g.Detail, want)
	}
}
