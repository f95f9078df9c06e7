package remote_test

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/remote"
)

// TestThrottleReported: a 5xx the client retries still reaches the copy
// that asked (layout.WithThrottle), which is what can take fewer blobs
// at once; the blob itself comes whole.
func TestThrottleReported(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	blob := []byte("a layer the registry is slow to give")
	d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(blob), Size: int64(len(blob))}
	ref, _ := layout.ParseRef(reg.Host + "/team/app:v1")
	if err := (&remote.Client{}).Repository(ref, true).Push(ctx, d, bytes.NewReader(blob)); err != nil {
		t.Fatal(err)
	}
	proxy := regtest.NewProxy(t, reg, regtest.Fault{Method: "GET", Path: "/blobs/", Times: 2, Kind: "500"})
	var told atomic.Int32
	ref, _ = layout.ParseRef(proxy.Host + "/team/app:v1")
	b, err := layout.ReadAll(layout.WithThrottle(ctx, func() { told.Add(1) }), (&remote.Client{}).Repository(ref, false), d, 1<<20)
	if err != nil || !bytes.Equal(b, blob) {
		t.Fatalf("fetch through two 500s: %q, %v", b, err)
	}
	if told.Load() != 2 {
		t.Fatalf("told of %d answers 429/5xx, want 2", told.Load())
	}
}
