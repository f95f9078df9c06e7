package web_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/internal/webtest"
	"github.com/oci-ferry/ferry/layout/storetest"
	"github.com/oci-ferry/ferry/sync/remote"
	"github.com/oci-ferry/ferry/sync/web"
)

// TestStoreConformance holds the web store, over nginx and HTTPS, to the
// contracts every store meets: read-only, resolver and lister.
func TestStoreConformance(t *testing.T) {
	set := testimage.New(t)
	srv := webtest.Serve(t, set.Dir, webtest.Options{})
	files, err := os.ReadDir(filepath.Join(set.Dir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	var present []digest.Digest
	for _, f := range files {
		present = append(present, digest.NewDigestFromEncoded(digest.SHA256, f.Name()))
	}
	open := func(t *testing.T) *web.Store {
		st, err := web.Open(context.Background(), &remote.Client{CAFile: srv.CAFile}, srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	t.Run("ReadOnly", func(t *testing.T) {
		storetest.ReadOnly(t, func(t *testing.T) storetest.Opened {
			return storetest.Opened{Store: open(t), Present: present, MediaTypes: map[digest.Digest]string{
				set.Index.Digest: ocispec.MediaTypeImageIndex, set.Single.Manifest.Digest: ocispec.MediaTypeImageManifest}}
		})
	})
	names := map[string]digest.Digest{"example.com/app:v1": set.Index.Digest, "busybox:1.36": set.Single.Manifest.Digest}
	t.Run("Resolver", func(t *testing.T) { storetest.Resolver(t, open(t), names) })
	t.Run("Lister", func(t *testing.T) {
		storetest.Lister(t, open(t), map[string]digest.Digest{"example.com/app:v1": set.Index.Digest,
			"docker.io/library/busybox:1.36": set.Single.Manifest.Digest}, present)
	})
}
