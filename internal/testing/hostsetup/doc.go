// Package hostsetup holds tests that run README.md's "Setting up the
// pggraph host" commands as written and check the layout they make, for
// example that www-data can create client directories under the web root
// but cannot move or replace _main. It has no code of its own.
package hostsetup
