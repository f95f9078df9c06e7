package remote_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/remote"
)

// TestRangeAnsweredWrong: a server that answers a range with another one
// (here always the first bytes) is refused at once, naming the blob and
// both ranges, rather than writing its bytes at the wrong offsets and
// failing the digest only once the whole blob came.
func TestRangeAnsweredWrong(t *testing.T) {
	blob := []byte(strings.Repeat("0123456789", 10))
	d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(blob), Size: int64(len(blob))}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") == "" {
			w.Write(blob)
			return
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-9/%d", len(blob)))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(blob[:10])
	}))
	defer srv.Close()
	ref, _ := layout.ParseRef(strings.TrimPrefix(srv.URL, "http://") + "/team/app:v1")
	repo := (&remote.Client{}).Repository(ref, false)
	_, _, err := repo.FetchRange(context.Background(), d, 50, 60)
	if !errors.Is(err, layout.ErrSizeMismatch) || !strings.Contains(err.Error(), d.Digest.String()) || !strings.Contains(err.Error(), "bytes 50-59") {
		t.Fatalf("want a refusal naming the blob and the range, got %v", err)
	}
	rc, whole, err := repo.FetchRange(context.Background(), d, 0, 10)
	if err != nil || whole {
		t.Fatalf("the range it does answer right: whole %v, %v", whole, err)
	}
	rc.Close()
}
