package remote_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/remote"
)

// TestVersionPerClient: each client sends its own version, even two at
// once in one process: a package-wide version could not.
func TestVersionPerClient(t *testing.T) {
	var mu sync.Mutex
	agents := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		agents[r.UserAgent()] = true
		mu.Unlock()
		http.NotFound(w, r)
	}))
	defer srv.Close()
	ref, _ := layout.ParseRef(strings.TrimPrefix(srv.URL, "http://") + "/a/b:v1")
	var wg sync.WaitGroup
	for _, v := range []string{"1.2.3", "4.5.6", ""} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			(&remote.Client{Version: v}).Repository(ref, false).Resolve(context.Background(), "v1")
		}()
	}
	wg.Wait()
	if !agents["ferry/1.2.3"] || !agents["ferry/4.5.6"] || !agents["ferry/dev"] || len(agents) != 3 {
		t.Fatalf("user agents: %v", agents)
	}
}
