package main

import (
	"context"
	"testing"
	"time"

	"github.com/pggraph/pggraph/alert"
	"github.com/pggraph/pggraph/collector"
	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/internal/logging"
	"github.com/pggraph/pggraph/internal/store"
	"github.com/pggraph/pggraph/metric"
)

// BenchmarkAlertCost is what alert evaluation adds to a collection of
// BenchmarkCollect's remote (5 databases × 1,000 tables, twin tunnel),
// measured in one loop, as pggraph-collect runs a client: each
// iteration collects (collector.Run: the evaluation off) and then
// evaluates the run's checks on the samples just written
// (alert.AfterRun: read the states, evaluate every check on every
// object, save, deliver; no contacts). It reports both times and the
// ratio of the run with evaluation to the run without (target ≤ 1.05).
// In process, so the collection has no process start: the ratio errs
// on the high side.
func BenchmarkAlertCost(b *testing.B) {
	r := env(b)
	dbs := benchSchema(b, r)
	ctx := b.Context()
	path := clientConfig(b, r, b.TempDir(), "benchalert", func(c *config.Config) { c.Remote.Databases = dbs })
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(ctx, cfg.Local, metric.StoredGroups())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close(context.Background())
	groups := metric.Groups()
	log := logging.New(b.Output(), logging.Level(false, true))
	job := collector.Job{Config: cfg, Store: st, Groups: groups, Logger: log}
	if _, err := collector.Run(ctx, job); err != nil { // primes
		b.Fatal(err)
	}
	var collect, evaluate time.Duration
	var objects, samples int
	for b.Loop() {
		start := time.Now()
		res, err := collector.Run(ctx, job)
		if err != nil {
			b.Fatal(err)
		}
		collect += time.Since(start)
		start = time.Now()
		if _, err := alert.AfterRun(ctx, st, cfg, alert.Run{Groups: groups, Samples: res.Data}, alert.Options{}); err != nil {
			b.Fatal(err)
		}
		evaluate += time.Since(start)
		objects, samples = res.Objects, len(res.Data)
	}
	if samples < benchDatabases*benchTables {
		b.Fatalf("a run wrote %d samples, want at least %d", samples, benchDatabases*benchTables)
	}
	n := float64(b.N)
	b.ReportMetric(float64(collect.Milliseconds())/n, "ms-collect")
	b.ReportMetric(float64(evaluate.Microseconds())/1000/n, "ms-evaluate")
	b.ReportMetric(float64(collect+evaluate)/float64(collect), "with/without")
	b.ReportMetric(float64(objects), "objects")
}
