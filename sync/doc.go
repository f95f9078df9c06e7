// Package sync is ferry's side of the distribution protocol: a registry
// client written on net/http following the OCI distribution spec, whose
// Repository is a layout.Writable like any layout directory, and the pull and
// push built on layout.Copy.
//
// The package name shadows the standard library's sync, which is imported
// here as gosync; the name is the one the project's design fixes.
package sync
