package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// Opened is a store under test with the content an independent source
// (a fixture generator, the bytes a test pushed) says it holds.
type Opened struct {
	Store layout.ReadOnly
	// Present are digests the store must serve; their sizes come from
	// Info, and Fetch must return bytes that hash to the digest.
	Present []digest.Digest
	// MediaTypes, where set, are what Info must report for a digest.
	MediaTypes map[digest.Digest]string
}

// ReadOnly runs the suite of the read-only role against whatever open
// returns: archives of every format, layouts other tools wrote, a registry
// repository. It needs no write access, so it proves the role alone.
func ReadOnly(t *testing.T, open func(t *testing.T) Opened) {
	tests := []struct {
		name string
		fn   func(*testing.T, Opened)
	}{
		{"ServesWhatItHolds", testServes},
		{"WrongSize", testWrongSize},
		{"Absent", testAbsent},
		{"HostileDigest", testHostileDigest},
		{"ConcurrentFetch", testConcurrentFetch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := open(t)
			if len(o.Present) == 0 {
				t.Fatal("storetest: the store under test must hold something")
			}
			tc.fn(t, o)
		})
	}
}

// describe builds the descriptor of a present digest from Info alone, as
// a caller that holds only a digest must.
func describe(t *testing.T, s layout.ReadOnly, d digest.Digest) ocispec.Descriptor {
	t.Helper()
	info, err := s.Info(context.Background(), d)
	if err != nil {
		t.Fatalf("Info(%s): %v", d, err)
	}
	if info.Digest != d || info.Size < 0 {
		t.Fatalf("Info(%s) = digest %s size %d", d, info.Digest, info.Size)
	}
	return ocispec.Descriptor{Digest: d, Size: info.Size, MediaType: info.MediaType}
}

func testServes(t *testing.T, o Opened) {
	ctx := context.Background()
	for _, d := range o.Present {
		desc := describe(t, o.Store, d)
		if want, ok := o.MediaTypes[d]; ok && desc.MediaType != want {
			t.Errorf("Info(%s).MediaType = %q, want %q", d, desc.MediaType, want)
		}
		mustExist(t, o.Store, desc, true)
		rc, err := o.Store.Fetch(ctx, desc)
		if err != nil {
			t.Fatalf("Fetch(%s): %v", d, err)
		}
		vr, err := layout.NewVerifyReader(rc, desc)
		if err == nil {
			err = vr.Drain()
		}
		rc.Close()
		if err != nil {
			t.Fatalf("Fetch(%s) served content that does not verify: %v", d, err)
		}
	}
}

// testWrongSize: a descriptor whose size disagrees with the content is
// absent to Exists and refused or caught by Fetch, never served as valid.
func testWrongSize(t *testing.T, o Opened) {
	ctx := context.Background()
	desc := describe(t, o.Store, o.Present[0])
	for _, delta := range []int64{-1, 1} {
		bad := desc
		bad.Size += delta
		if bad.Size < 0 {
			continue
		}
		mustExist(t, o.Store, bad, false)
		rc, err := o.Store.Fetch(ctx, bad)
		if err != nil {
			continue // refused up front: the contract's first choice
		}
		vr, verr := layout.NewVerifyReader(rc, bad)
		if verr == nil {
			verr = vr.Drain()
		}
		rc.Close()
		if !errors.Is(verr, layout.ErrSizeMismatch) {
			t.Errorf("Fetch(%s, size %d) of %d bytes: %v, want ErrSizeMismatch", bad.Digest, bad.Size, desc.Size, verr)
		}
	}
}

func testAbsent(t *testing.T, o Opened) {
	ctx := context.Background()
	d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromString("storetest: never stored " + t.Name()), Size: 42}
	mustExist(t, o.Store, d, false)
	if rc, err := o.Store.Fetch(ctx, d); !errors.Is(err, layout.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("Fetch of absent content: %v, want ErrNotFound", err)
	}
	if _, err := o.Store.Info(ctx, d.Digest); !errors.Is(err, layout.ErrNotFound) {
		t.Errorf("Info of absent content: %v, want ErrNotFound", err)
	}
}

func testHostileDigest(t *testing.T, o Opened) {
	ctx := context.Background()
	for _, s := range []string{"sha256:../../../../etc/passwd", "sha256:" + strings.Repeat("A", 64), "", "sha256:/"} {
		d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.Digest(s), Size: 1}
		if ok, err := o.Store.Exists(ctx, d); ok || !errors.Is(err, layout.ErrInvalidDigest) {
			t.Errorf("Exists(%q) = %v, %v; want false, ErrInvalidDigest", s, ok, err)
		}
		if rc, err := o.Store.Fetch(ctx, d); !errors.Is(err, layout.ErrInvalidDigest) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("Fetch(%q): %v, want ErrInvalidDigest", s, err)
		}
		if _, err := o.Store.Info(ctx, d.Digest); !errors.Is(err, layout.ErrInvalidDigest) {
			t.Errorf("Info(%q): %v, want ErrInvalidDigest", s, err)
		}
	}
}

// testConcurrentFetch reads every present blob from several goroutines at
// once, as Copy and verify do: an in-place tar or a shared file handle
// must not mix their bytes up.
func testConcurrentFetch(t *testing.T, o Opened) {
	ctx := context.Background()
	descs := make([]ocispec.Descriptor, len(o.Present))
	for i, d := range o.Present {
		descs[i] = describe(t, o.Store, d)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(descs))
	for range 4 {
		for _, d := range descs {
			wg.Go(func() {
				rc, err := o.Store.Fetch(ctx, d)
				if err != nil {
					errs <- err
					return
				}
				defer rc.Close()
				vr, err := layout.NewVerifyReader(rc, d)
				if err == nil {
					_, err = io.Copy(io.Discard, vr)
				}
				if err != nil {
					errs <- fmt.Errorf("%s: %w", d.Digest, err)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Fetch: %v", err)
	}
}

// PushSome stores a few blobs of telling sizes (empty, one byte, more than
// one read buffer) in s and returns their digests: the content a
// read-only suite of a writable store can be given.
func PushSome(t *testing.T, s layout.Writable) []digest.Digest {
	t.Helper()
	var out []digest.Digest
	for _, n := range []int{0, 1, 70000} {
		b, d := Blob(t, n)
		if err := s.Push(context.Background(), d, bytes.NewReader(b)); err != nil {
			t.Fatalf("Push %s: %v", d.Digest, err)
		}
		out = append(out, d.Digest)
	}
	return out
}
