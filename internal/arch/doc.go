// Package arch holds narwhal's architecture test: the import rules of
// docs/design (../shared/DESIGN.md), checked over the module's real import
// graph as `go list` reports it. It has no code of its own.
package arch
