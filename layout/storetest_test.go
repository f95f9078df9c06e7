package layout_test

import (
	"testing"

	"github.com/oci-ferry/ferry/internal/memstore"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/layout/storetest"
)

func TestStoreConformance(t *testing.T) {
	t.Run("memstore", func(t *testing.T) {
		storetest.Run(t, func(*testing.T) layout.Store { return memstore.New() })
	})
	t.Run("Dir", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) layout.Store { return newDir(t) })
	})
	t.Run("Txn", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) layout.Store {
			txn := newDir(t).Begin()
			t.Cleanup(txn.Abort)
			return txn
		})
	})
}
