// Package collector reads a client's PostgreSQL statistics and turns two
// successive reads into samples: for a counter the growth over the interval
// (NULL across a reset), for a gauge the value read.
//
// What is read is data, not code: metric.Groups lists every metric group
// with its SQL per minimum server version, and which of its columns are
// counters and which gauges. A run (Run) reads one metric.Snapshot through
// the tunnel, then, in one transaction of the metric.Store, derives the
// samples from the previous snapshot (Deltas) and writes both.
package collector
