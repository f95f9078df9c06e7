// Package sync moves images between any two targets: registries, layout
// directories and archives (Copy), with pull and push as its registry
// routes. It plans with layout.Walk, copies with layout.Copy and writes
// archives with package archive; the registry protocol itself lives in
// sync/remote, so that the client, which needs the standard library's
// sync, never has to rename it.
package sync
