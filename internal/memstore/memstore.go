// Package memstore holds an in-memory layout.Store and a call-counting
// decorator. They exist for tests: a store with the same verification
// rules as a layout directory but no disk, and a way to assert which calls
// an algorithm such as layout.Copy made or avoided.
package memstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/oci-ferry/ferry/layout"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Store is a layout.Store kept in a map. Push verifies through
// layout.NewVerifyReader like every real store, so tests that use it see
// the same failures (and the same absence of partial content) as they
// would against a directory.
type Store struct {
	mu    sync.RWMutex
	blobs map[digest.Digest][]byte
	names []layout.Image // in tag order; a moved name replaces its entry
}

var (
	_ layout.Writable = (*Store)(nil)
	_ layout.Lister   = (*Store)(nil)
	_ layout.Resolver = (*Store)(nil)
	_ layout.Tagger   = (*Store)(nil)
)

// New returns an empty store.
func New() *Store { return &Store{blobs: map[digest.Digest][]byte{}} }

// Fetch implements layout.Store. Like a directory it refuses invalid
// digests before looking anything up and reports a stored blob whose size
// differs from d as a size mismatch.
func (s *Store) Fetch(_ context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if err := layout.ValidateDigest(d.Digest); err != nil {
		return nil, err
	}
	s.mu.RLock()
	b, ok := s.blobs[d.Digest]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("memstore: blob %s: %w", d.Digest, layout.ErrNotFound)
	}
	if int64(len(b)) != d.Size {
		return nil, fmt.Errorf("memstore: blob %s is %d bytes, its descriptor says %d: %w", d.Digest, len(b), d.Size, layout.ErrSizeMismatch)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// Push implements layout.Store. The content is read to the end through a
// VerifyReader before it is stored, even when the blob is already present,
// so a corrupt source is reported however often it is pushed.
func (s *Store) Push(ctx context.Context, d ocispec.Descriptor, r io.Reader) error {
	vr, err := layout.NewVerifyReader(r, d)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var buf bytes.Buffer // grows as bytes arrive; d.Size is not trusted for an allocation
	if _, err := io.Copy(&buf, vr); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.blobs[d.Digest]; !ok {
		s.blobs[d.Digest] = buf.Bytes()
	}
	return nil
}

// Exists implements layout.Store: the blob is present with d's size.
func (s *Store) Exists(_ context.Context, d ocispec.Descriptor) (bool, error) {
	if err := layout.ValidateDigest(d.Digest); err != nil {
		return false, err
	}
	s.mu.RLock()
	b, ok := s.blobs[d.Digest]
	s.mu.RUnlock()
	return ok && int64(len(b)) == d.Size, nil
}

// Blobs implements layout.Lister, sorted by digest so that listings are
// stable across runs.
func (s *Store) Blobs(context.Context) ([]layout.BlobInfo, error) {
	s.mu.RLock()
	out := make([]layout.BlobInfo, 0, len(s.blobs))
	for d, b := range s.blobs {
		out = append(out, layout.BlobInfo{Path: "mem:" + d.String(), Digest: d, Size: int64(len(b))})
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Digest < out[j].Digest })
	return out, nil
}

// Len is the number of blobs held.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.blobs)
}

// Counts is a snapshot of the calls a Counting store has seen.
type Counts struct{ Fetch, Push, Exists, Info int }

// Counting wraps a Store and counts the calls made through it, per method
// and per digest, so tests can prove that an algorithm skipped work (for
// example that Copy with SkipExisting fetches nothing the destination has).
// The calls themselves go to the wrapped store unchanged.
type Counting struct {
	layout.Store

	mu      sync.Mutex
	counts  Counts
	fetched map[digest.Digest]int
	pushed  map[digest.Digest]int
}

var _ layout.Store = (*Counting)(nil)

// NewCounting wraps s.
func NewCounting(s layout.Store) *Counting {
	c := &Counting{Store: s}
	c.Reset()
	return c
}

// Fetch implements layout.Store.
func (c *Counting) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	c.mu.Lock()
	c.counts.Fetch++
	c.fetched[d.Digest]++
	c.mu.Unlock()
	return c.Store.Fetch(ctx, d)
}

// Push implements layout.Store.
func (c *Counting) Push(ctx context.Context, d ocispec.Descriptor, r io.Reader) error {
	c.mu.Lock()
	c.counts.Push++
	c.pushed[d.Digest]++
	c.mu.Unlock()
	return c.Store.Push(ctx, d, r)
}

// Info implements layout.ReadOnly.
func (c *Counting) Info(ctx context.Context, d digest.Digest) (layout.BlobInfo, error) {
	c.mu.Lock()
	c.counts.Info++
	c.mu.Unlock()
	return c.Store.Info(ctx, d)
}

// Exists implements layout.Store.
func (c *Counting) Exists(ctx context.Context, d ocispec.Descriptor) (bool, error) {
	c.mu.Lock()
	c.counts.Exists++
	c.mu.Unlock()
	return c.Store.Exists(ctx, d)
}

// Counts returns the calls seen since creation or the last Reset.
func (c *Counting) Counts() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts
}

// Fetched is how many times d was fetched.
func (c *Counting) Fetched(d digest.Digest) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fetched[d]
}

// Pushed is how many times d was pushed.
func (c *Counting) Pushed(d digest.Digest) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pushed[d]
}

// Reset zeroes the counters, so a test can count one phase (say Copy)
// apart from the one before it (Walk).
func (c *Counting) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts = Counts{}
	c.fetched = map[digest.Digest]int{}
	c.pushed = map[digest.Digest]int{}
}
