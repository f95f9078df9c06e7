package layout_test

import (
	"testing"

	"github.com/oci-ferry/ferry/internal/memstore"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/layout/storetest"
)

func TestStoreConformance(t *testing.T) {
	t.Run("memstore", func(t *testing.T) {
		storetest.Writable(t, func(*testing.T) layout.Store { return memstore.New() })
		storetest.Tagger(t, func(*testing.T) storetest.TagStore { return memstore.New() }, tagName)
		storetest.ReadOnly(t, func(t *testing.T) storetest.Opened {
			m := memstore.New()
			return storetest.Opened{Store: m, Present: storetest.PushSome(t, m)}
		})
		m := memstore.New()
		storetest.Lister(t, m, nil, storetest.PushSome(t, m))
	})
	t.Run("Dir", func(t *testing.T) {
		storetest.Writable(t, func(t *testing.T) layout.Store { return newDir(t) })
		storetest.Tagger(t, func(t *testing.T) storetest.TagStore { return newDir(t) }, tagName)
		storetest.ReadOnly(t, func(t *testing.T) storetest.Opened {
			d := newDir(t)
			return storetest.Opened{Store: d, Present: storetest.PushSome(t, d)}
		})
		d := newDir(t)
		storetest.Lister(t, d, nil, storetest.PushSome(t, d))
	})
	t.Run("Txn", func(t *testing.T) {
		storetest.Writable(t, func(t *testing.T) layout.Store {
			txn := newDir(t).Begin()
			t.Cleanup(txn.Abort)
			return txn
		})
		storetest.ReadOnly(t, func(t *testing.T) storetest.Opened {
			txn := newDir(t).Begin()
			t.Cleanup(txn.Abort)
			return storetest.Opened{Store: txn, Present: storetest.PushSome(t, txn)}
		})
	})
}

func tagName(tag string) string { return "example.com/conformance:" + tag }
