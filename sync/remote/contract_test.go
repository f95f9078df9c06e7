package remote_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/remote"
)

// counted puts a proxy that counts requests in front of reg.
func counted(t *testing.T, reg *regtest.Registry) (string, *atomic.Int64) {
	var n atomic.Int64
	up, _ := url.Parse("http://" + reg.Host)
	rp := httputil.NewSingleHostReverseProxy(up)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), &n
}

// TestPushRefusesBadDescriptors: a size that is negative (unknown) or a
// digest that does not parse is refused before any request is sent.
func TestPushRefusesBadDescriptors(t *testing.T) {
	host, hits := counted(t, regtest.Start(t))
	ref, _ := layout.ParseRef(host + "/contract/app:v1")
	repo := (&remote.Client{}).Repository(ref, true)
	good := digest.FromString("x")
	for name, tc := range map[string]struct {
		d    ocispec.Descriptor
		want error
	}{
		"unknown size":          {ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: good, Size: -1}, layout.ErrInvalid},
		"negative manifest":     {ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: good, Size: -5}, layout.ErrInvalid},
		"digest not hex":        {ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: "sha256:xyz", Size: 1}, layout.ErrInvalidDigest},
		"digest with a path":    {ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: "sha256:../../../v2/x", Size: 1}, layout.ErrInvalidDigest},
		"manifest digest empty": {ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Size: 1}, layout.ErrInvalidDigest},
		"unknown algorithm":     {ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: "md5:d41d8cd98f00b204e9800998ecf8427e", Size: 1}, layout.ErrUnsupportedDigest},
	} {
		err := repo.Push(context.Background(), tc.d, strings.NewReader("x"))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: want %v, got %v", name, tc.want, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d requests reached the registry for descriptors that could only fail", n)
	}
}

// TestPushVerifiesPlainReader: given a plain reader (not a VerifyReader),
// Push still checks the content itself and names both digests; nothing is
// committed. Ferry's check, not the registry's, must be what fails.
func TestPushVerifiesPlainReader(t *testing.T) {
	reg := regtest.Start(t)
	ref, _ := layout.ParseRef(reg.Host + "/contract/app:v1")
	repo := (&remote.Client{}).Repository(ref, true)
	good := []byte("the layer as described")
	bad := bytes.Clone(good)
	bad[3] ^= 1
	d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(good), Size: int64(len(good))}
	err := repo.Push(context.Background(), d, bytes.NewReader(bad))
	var me *layout.MismatchError
	if !errors.As(err, &me) || me.Want != d.Digest || !strings.Contains(err.Error(), d.Digest.String()) {
		t.Fatalf("want ferry's digest mismatch naming %s, got %v", d.Digest, err)
	}
	if ok, _ := repo.Exists(context.Background(), d); ok {
		t.Fatal("the corrupt blob was committed")
	}
	// The same blob already on the registry is mounted, not uploaded: the
	// source must still be read and found sound.
	if err := repo.Push(context.Background(), d, bytes.NewReader(good)); err != nil {
		t.Fatal(err)
	}
	ref2, _ := layout.ParseRef(reg.Host + "/contract/other:v1")
	c := &remote.Client{}
	first := c.Repository(ref, true)
	if ok, err := first.Exists(context.Background(), d); !ok || err != nil { // teaches the client where the blob is
		t.Fatal(ok, err)
	}
	err = c.Repository(ref2, true).Push(context.Background(), d, bytes.NewReader(bad))
	if !errors.As(err, &me) {
		t.Fatalf("a mount from a corrupt source: want a digest mismatch, got %v", err)
	}
}
