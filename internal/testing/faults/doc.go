// Package faults holds pggraph's fault, bad-input and load suite, run by
// `make test-hard` (see README.md in this directory). Its tests carry the
// build constraint "hard", so `go test ./...` (make test) leaves them out:
//
//	go test -tags hard -count=1 -timeout 15m ./internal/testing/faults/
//
// They run the real programs, built from this tree into the rig's
// directory, against a real rig (internal/testing/rig): a client PostgreSQL
// behind a bastion sshd and a db host sshd, a central PostgreSQL, and
// Apache with the deploy/apache configuration. They kill those servers in
// the middle of collections, reset the client's statistics, point the
// collector at addresses that never answer, send the web pages hostile
// and oversized parameters, load Apache, and finally scan every log and
// command line of the run for the passwords used. Each test reports its
// figures (tries, survived, failures), and TestMain prints them as a
// table at the end, also written as tab-separated lines to the file
// $PGGRAPH_HARD_FIGURES when that is set.
//
// This file holds no code: the package exists for its tests.
package faults
