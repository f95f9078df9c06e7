package remote_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/layout/storetest"
	"github.com/oci-ferry/ferry/sync/remote"
)

// TestRepositoryConformance holds the registry repository to the same
// contracts as a layout directory, against the real reference registry:
// writable, read-only (also through its read-only view), resolver and
// tagger. Each store is a fresh repository, so subtests never share one.
func TestRepositoryConformance(t *testing.T) {
	reg := regtest.Start(t)
	c := &remote.Client{}
	var n atomic.Int64
	var mu sync.Mutex
	fresh := func(t *testing.T) *remote.Repository {
		mu.Lock()
		defer mu.Unlock()
		ref, err := layout.ParseRef(fmt.Sprintf("%s/conformance/r%d", reg.Host, n.Add(1)))
		if err != nil {
			t.Fatal(err)
		}
		return c.Repository(ref, true)
	}
	var lastRepo string
	t.Run("Writable", func(t *testing.T) {
		storetest.Writable(t, func(t *testing.T) layout.Store { return fresh(t) })
	})
	t.Run("ReadOnly", func(t *testing.T) {
		storetest.ReadOnly(t, func(t *testing.T) storetest.Opened {
			r := fresh(t)
			return storetest.Opened{Store: r.ReadOnly(), Present: storetest.PushSome(t, r)}
		})
	})
	t.Run("Tagger", func(t *testing.T) {
		storetest.Tagger(t, func(t *testing.T) storetest.TagStore {
			r := fresh(t)
			lastRepo = reg.Host + "/" + r.Name
			return r
		}, func(tag string) string { return lastRepo + ":" + tag })
	})
}
