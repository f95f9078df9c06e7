// Package serve answers the pull half of the OCI distribution API straight
// from ferry's content roles (a layout directory, an archive read in
// place, a volume set), so a sealed host can pull from what was carried in
// without first pushing it into a registry someone has to run.
//
// It only ever reads through layout.ReadOnly and layout.Lister: whatever
// store stands behind it, the same verification applies. A blob's bytes
// are hashed as they are sent and the last buffer is held back until the
// digest matches, so a corrupt blob reaches a client as a truncated body
// (the connection is cut), never as a complete wrong one.
package serve
