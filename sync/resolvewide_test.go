package sync_test

import (
	"context"
	"net/http"
	gosync "sync"
	"testing"
	"time"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
)

// TestResolveWide: with the adaptive default, a pull resolves its
// references all at once (up to layout.AdaptiveMax), not four at a time:
// resolving is round trips, and over a WAN four at a time left most of
// a many-image pull waiting on them. The proxy holds every manifest GET
// until eight are waiting, which eight references resolved at once
// reach; the time-out only keeps a failing run from hanging.
func TestResolveWide(t *testing.T) {
	reg, _ := seeded(t)
	const n = 8
	var mu gosync.Mutex
	waiting := 0
	all := make(chan struct{})
	timedOut := false
	proxy := regtest.NewProxy(t, reg, regtest.Fault{Method: "GET", Path: "/manifests/", Times: n, Before: func(*http.Request) {
		mu.Lock()
		waiting++
		if waiting == n {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
		case <-time.After(20 * time.Second):
			mu.Lock()
			timedOut = true
			mu.Unlock()
		}
	}})
	refs := make([]string, n)
	for i := range refs {
		refs[i] = proxy.Host + "/seed/library/busybox:1.36"
	}
	if _, err := sync.Resolve(context.Background(), &remote.Client{}, refs, sync.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if timedOut {
		t.Fatalf("only %d of %d manifest GETs were ever in flight at once", waiting, n)
	}
}
