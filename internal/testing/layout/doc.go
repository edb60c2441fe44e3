// Package layout holds the test that keeps pggraph's package structure as
// ARCHITECTURE.md draws it: which pggraph packages each package may import,
// and that the web CGI links no SSH code. It has no code of its own.
package layout
