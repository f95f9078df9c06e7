// Package sync will hold ferry's registry client (distribution spec over
// net/http) and the pull and push built on layout.Copy. It is empty until
// the registry issue; the name is kept because the design card fixes it.
package sync
