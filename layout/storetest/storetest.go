// Package storetest is the conformance suite of ferry's content roles. One
// suite per role (Writable, ReadOnly, Resolver, Tagger, Lister), run
// against every implementation of it, is what keeps a directory, a staged
// transaction, an archive, a registry repository and the test store
// interchangeable to Walk, Copy and verify: each must verify before content
// becomes visible, leave nothing behind on failure, refuse hostile digests
// before any I/O and answer absent content with layout.ErrNotFound.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/oci-ferry/ferry/layout"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// NewStore returns a fresh, empty store for one test.
type NewStore = func(t *testing.T) layout.Store

// Writable runs the suite of the writable role; newStore must return a
// fresh, empty store for every call (subtests never share one).
func Writable(t *testing.T, newStore func(t *testing.T) layout.Store) {
	one := func(fn func(*testing.T, layout.Store)) func(*testing.T, NewStore) {
		return func(t *testing.T, ns NewStore) { fn(t, ns(t)) }
	}
	tests := []struct {
		name string
		fn   func(*testing.T, NewStore)
	}{
		{"RoundTrip", one(testRoundTrip)},
		{"BadPush", testBadPush},
		{"AlreadyPresent", one(testAlreadyPresent)},
		{"ZeroByte", one(testZeroByte)},
		{"SHA512", one(testSHA512)},
		{"InvalidDigest", testInvalidDigest},
		{"ConcurrentPush", one(testConcurrentPush)},
		{"FetchMissing", one(testFetchMissing)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
}

// Blob returns n random bytes and their descriptor.
func Blob(t testing.TB, n int) ([]byte, ocispec.Descriptor) {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(b), Size: int64(n)}
}

// FetchBytes reads the whole content of d from s.
func FetchBytes(ctx context.Context, s layout.ReadOnly, d ocispec.Descriptor) ([]byte, error) {
	rc, err := s.Fetch(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func mustExist(t *testing.T, s layout.ReadOnly, d ocispec.Descriptor, want bool) {
	t.Helper()
	ok, err := s.Exists(context.Background(), d)
	if err != nil {
		t.Fatalf("Exists(%s, size %d): %v", d.Digest, d.Size, err)
	}
	if ok != want {
		t.Fatalf("Exists(%s, size %d) = %v, want %v", d.Digest, d.Size, ok, want)
	}
}

func mustFetch(t *testing.T, s layout.ReadOnly, d ocispec.Descriptor, want []byte) {
	t.Helper()
	got, err := FetchBytes(context.Background(), s, d)
	if err != nil {
		t.Fatalf("Fetch(%s): %v", d.Digest, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Fetch(%s) returned %d bytes that differ from the %d pushed", d.Digest, len(got), len(want))
	}
}

// mustBeAbsent checks that d can be neither seen nor read.
func mustBeAbsent(t *testing.T, s layout.ReadOnly, d ocispec.Descriptor) {
	t.Helper()
	mustExist(t, s, d, false)
	if b, err := FetchBytes(context.Background(), s, d); err == nil {
		t.Fatalf("Fetch(%s) of content that must not exist returned %d bytes", d.Digest, len(b))
	}
}

func testRoundTrip(t *testing.T, s layout.Store) {
	ctx := context.Background()
	// Larger than one copy buffer, so stores read it in several pieces.
	b, d := Blob(t, 3<<20+17)
	mustExist(t, s, d, false)
	if err := s.Push(ctx, d, bytes.NewReader(b)); err != nil {
		t.Fatalf("Push: %v", err)
	}
	mustExist(t, s, d, true)
	mustFetch(t, s, d, b)
	mustInfo(t, s, d)
	wrongSize := d
	wrongSize.Size++
	mustExist(t, s, wrongSize, false)
}

// mustInfo checks that the store describes d by its digest alone.
func mustInfo(t *testing.T, s layout.ReadOnly, d ocispec.Descriptor) {
	t.Helper()
	info, err := s.Info(context.Background(), d.Digest)
	if err != nil {
		t.Fatalf("Info(%s): %v", d.Digest, err)
	}
	if info.Size != d.Size || info.Digest != d.Digest {
		t.Fatalf("Info(%s) = size %d digest %s, want size %d", d.Digest, info.Size, info.Digest, d.Size)
	}
}

// brokenReader yields part of its content and then fails, as a dropped
// connection does.
type brokenReader struct {
	r   io.Reader
	err error
}

func (b *brokenReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, b.err
	}
	return n, err
}

var errBroken = errors.New("storetest: connection reset")

func testBadPush(t *testing.T, newStore NewStore) {
	b, good := Blob(t, 64<<10)
	other, _ := Blob(t, 64<<10)
	cases := []struct {
		name    string
		desc    ocispec.Descriptor
		r       io.Reader
		wantErr error
	}{
		{"WrongDigest", ocispec.Descriptor{MediaType: good.MediaType, Digest: digest.FromBytes(other), Size: good.Size}, bytes.NewReader(b), layout.ErrDigestMismatch},
		{"SizeTooSmall", ocispec.Descriptor{MediaType: good.MediaType, Digest: good.Digest, Size: good.Size - 1}, bytes.NewReader(b), layout.ErrSizeMismatch},
		{"SizeTooLarge", ocispec.Descriptor{MediaType: good.MediaType, Digest: good.Digest, Size: good.Size + 1}, bytes.NewReader(b), layout.ErrSizeMismatch},
		{"ShortContent", good, bytes.NewReader(b[:len(b)/2]), layout.ErrSizeMismatch},
		{"TruncatedReader", good, &brokenReader{r: bytes.NewReader(b[:len(b)/2]), err: errBroken}, errBroken},
		{"NegativeSize", ocispec.Descriptor{MediaType: good.MediaType, Digest: good.Digest, Size: -1}, bytes.NewReader(b), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			err := s.Push(context.Background(), tc.desc, tc.r)
			if err == nil {
				t.Fatal("Push succeeded, want an error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Push: %v, want errors.Is %v", err, tc.wantErr)
			}
			if tc.desc.Size >= 0 {
				mustBeAbsent(t, s, tc.desc)
			}
			mustBeAbsent(t, s, good)
		})
	}
}

func testAlreadyPresent(t *testing.T, s layout.Store) {
	ctx := context.Background()
	b, d := Blob(t, 4096)
	for i := range 2 {
		if err := s.Push(ctx, d, bytes.NewReader(b)); err != nil {
			t.Fatalf("Push #%d: %v", i+1, err)
		}
	}
	mustFetch(t, s, d, b)
	// A corrupt second copy may be refused or ignored, but must never
	// replace the good one.
	bad := bytes.Clone(b)
	bad[0] ^= 0xff
	_ = s.Push(ctx, d, bytes.NewReader(bad))
	mustFetch(t, s, d, b)
}

func testZeroByte(t *testing.T, s layout.Store) {
	d := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(nil), Size: 0}
	if d.Digest != "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("empty digest is %s", d.Digest)
	}
	mustExist(t, s, d, false)
	if err := s.Push(context.Background(), d, strings.NewReader("")); err != nil {
		t.Fatalf("Push of an empty blob: %v", err)
	}
	mustExist(t, s, d, true)
	mustFetch(t, s, d, []byte{})
}

func testSHA512(t *testing.T, s layout.Store) {
	b, _ := Blob(t, 1000)
	d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.SHA512.FromBytes(b), Size: int64(len(b))}
	if err := s.Push(context.Background(), d, bytes.NewReader(b)); err != nil {
		t.Fatalf("Push: %v", err)
	}
	mustExist(t, s, d, true)
	mustFetch(t, s, d, b)
	mustInfo(t, s, d)
}

// noRead fails the test if the store reads content for a digest it should
// have refused outright.
type noRead struct{ t *testing.T }

func (n noRead) Read([]byte) (int, error) {
	n.t.Error("store read content before validating the digest")
	return 0, io.EOF
}

func testInvalidDigest(t *testing.T, newStore NewStore) {
	hex := strings.Repeat("a", 64)
	cases := []struct {
		digest string
		want   error
	}{
		{"sha256:../../x", layout.ErrInvalidDigest},
		{"sha256:../../../../etc/passwd", layout.ErrInvalidDigest},
		{"sha256:" + strings.ToUpper(hex), layout.ErrInvalidDigest},
		{"sha256:" + hex[:63], layout.ErrInvalidDigest},
		{"SHA256:" + hex, layout.ErrInvalidDigest},
		{"", layout.ErrInvalidDigest},
		{"md5:" + hex[:32], layout.ErrUnsupportedDigest},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%q", tc.digest), func(t *testing.T) {
			s := newStore(t)
			ctx := context.Background()
			d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.Digest(tc.digest), Size: 1}
			if err := s.Push(ctx, d, noRead{t}); !errors.Is(err, tc.want) {
				t.Errorf("Push: %v, want %v", err, tc.want)
			}
			if ok, err := s.Exists(ctx, d); ok || !errors.Is(err, tc.want) {
				t.Errorf("Exists = %v, %v; want false, %v", ok, err, tc.want)
			}
			if rc, err := s.Fetch(ctx, d); !errors.Is(err, tc.want) {
				if rc != nil {
					rc.Close()
				}
				t.Errorf("Fetch: %v, want %v", err, tc.want)
			}
			if _, err := s.Info(ctx, d.Digest); !errors.Is(err, tc.want) {
				t.Errorf("Info: %v, want %v", err, tc.want)
			}
		})
	}
}

func testConcurrentPush(t *testing.T, s layout.Store) {
	ctx := context.Background()
	shared, sd := Blob(t, 1<<20)
	const workers = 8
	own := make([][]byte, workers)
	ownDesc := make([]ocispec.Descriptor, workers)
	for i := range own {
		own[i], ownDesc[i] = Blob(t, 10000+i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	for i := range workers {
		wg.Go(func() {
			errs <- s.Push(ctx, sd, bytes.NewReader(shared))
			errs <- s.Push(ctx, ownDesc[i], bytes.NewReader(own[i]))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Push: %v", err)
		}
	}
	mustFetch(t, s, sd, shared)
	for i := range own {
		mustFetch(t, s, ownDesc[i], own[i])
	}
}

func testFetchMissing(t *testing.T, s layout.Store) {
	_, d := Blob(t, 10)
	rc, err := s.Fetch(context.Background(), d)
	if !errors.Is(err, layout.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Fatalf("Fetch of a missing blob: %v, want errors.Is ErrNotFound", err)
	}
	mustExist(t, s, d, false)
	if _, err := s.Info(context.Background(), d.Digest); !errors.Is(err, layout.ErrNotFound) {
		t.Fatalf("Info of a missing blob: %v, want errors.Is ErrNotFound", err)
	}
}
