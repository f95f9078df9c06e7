package remote_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/remote"
)

// TestRedirectDropsCredentials: a registry that wants basic auth and
// redirects blob downloads to storage on another host; the storage must
// receive no Authorization header, and the blob still verifies.
func TestRedirectDropsCredentials(t *testing.T) {
	blob := []byte("layer bytes served from object storage")
	d := digest.FromBytes(blob)
	var leaked []string
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" {
			leaked = append(leaked, a)
		}
		w.Write(blob)
	}))
	defer storage.Close()
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "bob" || p != "hunter2" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if strings.Contains(r.URL.Path, "/blobs/") {
			http.Redirect(w, r, storage.URL+"/bucket/"+d.Encoded()+"?sig=x", http.StatusTemporaryRedirect)
			return
		}
		http.NotFound(w, r)
	}))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	c := &remote.Client{Credentials: func(context.Context, string) (remote.Credential, error) {
		return remote.Credential{Username: "bob", Password: "hunter2"}, nil
	}}
	ref, _ := layout.ParseRef(host + "/team/app:v1")
	repo := c.Repository(ref, false)
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: d, Size: int64(len(blob))}
	b, err := layout.ReadAll(context.Background(), repo, desc, 1<<20)
	if err != nil || string(b) != string(blob) {
		t.Fatalf("fetch through redirect: %q, %v", b, err)
	}
	if len(leaked) > 0 {
		t.Fatalf("credentials sent to the storage host: %v", leaked)
	}
}
