package depcheck

import (
	"testing"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/memstore"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/remote"
	"github.com/oci-ferry/ferry/sync/s3"
)

// TestRoles pins which store plays which role. What may only be read must
// be read-only by type: a Push method on an archive or a registry source
// would let a copy write where it must not, and a run-time "read-only"
// error string is exactly what the roles replace.
func TestRoles(t *testing.T) {
	type roles struct{ writable, resolver, tagger, lister bool }
	cases := []struct {
		name string
		v    any
		want roles
	}{
		{"layout.Dir", (*layout.Dir)(nil), roles{true, true, true, true}},
		{"layout.Txn", (*layout.Txn)(nil), roles{writable: true}},
		{"layout.FS (a layout read in place)", (*layout.FS)(nil), roles{resolver: true, lister: true}},
		{"layout.WithDoc", (*layout.WithDoc)(nil), roles{}},
		{"archive.Source", (*archive.Source)(nil), roles{resolver: true, lister: true}},
		{"remote.Repository", (*remote.Repository)(nil), roles{writable: true, resolver: true, tagger: true}},
		{"remote.Repository.ReadOnly()", (&remote.Repository{}).ReadOnly(), roles{}},
		{"remote.Sources (a pull's sources)", (*remote.Sources)(nil), roles{}},
		{"memstore.Store", (*memstore.Store)(nil), roles{true, true, true, true}},
		{"s3.Store (a layout in a bucket)", (*s3.Store)(nil), roles{writable: true, resolver: true, lister: true}},
	}
	for _, c := range cases {
		if _, ok := c.v.(layout.ReadOnly); !ok {
			t.Errorf("%s is not even a layout.ReadOnly", c.name)
		}
		_, w := c.v.(layout.Writable)
		_, r := c.v.(layout.Resolver)
		_, tg := c.v.(layout.Tagger)
		_, l := c.v.(layout.Lister)
		if got := (roles{w, r, tg, l}); got != c.want {
			t.Errorf("%s plays %+v, want %+v", c.name, got, c.want)
		}
	}
}
