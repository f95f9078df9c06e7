package layout

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Txn stages blobs for a layout and publishes them, with their index
// entries, in one step. Until Commit nothing is visible in blobs/ or
// index.json; Abort (or a crash) leaves the layout exactly as it was, with
// at most a staging directory that gc, or the next CreateDir, removes.
type Txn struct {
	d      *Dir
	mu     sync.Mutex
	staged map[digest.Digest]string // digest → temp path in the session
	sizes  map[digest.Digest]int64
	// present are blobs Push found already committed (and hashed). The
	// caller pins them against gc (Dir.Pin); Commit still checks they are
	// there, as the last word before index.json names them.
	present map[digest.Digest]int64
	// hashed are staged blobs this process hashed when it adopted them.
	hashed map[digest.Digest]bool
}

var _ Store = (*Txn)(nil)

// Begin starts a transaction on the layout.
func (d *Dir) Begin() *Txn {
	return &Txn{d: d, staged: map[digest.Digest]string{}, sizes: map[digest.Digest]int64{}, present: map[digest.Digest]int64{}}
}

// Fetch implements Store, seeing staged blobs as well as committed ones.
func (t *Txn) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	t.mu.Lock()
	p, ok := t.staged[desc.Digest]
	size := t.sizes[desc.Digest]
	t.mu.Unlock()
	if !ok {
		return t.d.Fetch(ctx, desc)
	}
	if size != desc.Size {
		return nil, fmt.Errorf("blob %s is %d bytes, its descriptor says %d: %w", desc.Digest, size, desc.Size, ErrSizeMismatch)
	}
	return RootFS(t.d.root).Open(p) // never blocks on a FIFO swapped in
}

// Exists implements Store.
func (t *Txn) Exists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	t.mu.Lock()
	_, ok := t.staged[desc.Digest]
	size := t.sizes[desc.Digest]
	t.mu.Unlock()
	if ok {
		return size == desc.Size, nil
	}
	if t.Adopt(ctx, desc) {
		return true, nil
	}
	return t.d.Exists(ctx, desc)
}

// Push implements Store: the blob is verified into the staging area.
func (t *Txn) Push(ctx context.Context, desc ocispec.Descriptor, r io.Reader) error {
	st, err := t.d.writeTemp(ctx, desc, r)
	if err != nil {
		return err
	}
	if st == nil {
		t.mu.Lock()
		t.present[desc.Digest] = desc.Size
		t.mu.Unlock()
		return nil
	}
	if err := st.Keep(); err != nil {
		return err
	}
	t.record(desc.Digest, desc.Size, st.Name())
	return nil
}

func (t *Txn) record(d digest.Digest, size int64, tmp string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.staged[d]; ok {
		// Same digest, same bytes: keep the first copy, which readers may
		// already hold the path of.
		t.d.remove(tmp)
		return
	}
	t.staged[d], t.sizes[d] = tmp, size
}

// Ingest stages content whose digest is not known in advance (an entry of
// a streamed archive), hashing it as it is written. If want is set the
// content must match it. The descriptor returned has only digest and size.
func (t *Txn) Ingest(ctx context.Context, r io.Reader, want digest.Digest) (ocispec.Descriptor, error) {
	alg := digest.Canonical
	if want != "" {
		if err := ValidateDigest(want); err != nil {
			return ocispec.Descriptor{}, err
		}
		alg = want.Algorithm()
	}
	if want != "" {
		if size, ok := t.stagedSize(want); ok {
			// Staged already (adopted from a killed run, or a duplicate
			// entry): the stream is read through and must match, but
			// nothing is written again.
			h := alg.Digester()
			n, err := CopyBuffer(h.Hash(), contextReader{ctx, r})
			if err != nil {
				return ocispec.Descriptor{}, err
			}
			if got := h.Digest(); got != want {
				return ocispec.Descriptor{}, &MismatchError{Want: want, Got: got}
			}
			if n != size {
				return ocispec.Descriptor{}, fmt.Errorf("blob %s is %d bytes, its staged copy %d: %w", want, n, size, ErrSizeMismatch)
			}
			return ocispec.Descriptor{Digest: want, Size: n}, nil
		}
	}
	st, err := t.d.stage("b-")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	h := alg.Digester()
	n, err := st.CopyFrom(ctx, io.TeeReader(r, h.Hash()))
	if err != nil {
		st.Abort()
		return ocispec.Descriptor{}, err
	}
	got := h.Digest()
	if want != "" && got != want {
		st.Abort()
		return ocispec.Descriptor{}, &MismatchError{Want: want, Got: got}
	}
	if err := st.Keep(); err != nil {
		return ocispec.Descriptor{}, err
	}
	tmp := st.Name()
	t.record(got, n, tmp)
	return ocispec.Descriptor{Digest: got, Size: n}, nil
}

func (t *Txn) stagedSize(d digest.Digest) (int64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.staged[d]
	return t.sizes[d], ok
}

// StagedPath returns where a staged blob sits, relative to the layout, so a
// stream reader can serve it by its archive name.
func (t *Txn) StagedPath(d digest.Digest) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.staged[d]
	return p, ok
}

// Root is the layout root the staged paths are relative to.
func (t *Txn) Root() *os.Root { return t.d.root }

// Commit publishes the staged blobs in keep (nil keeps all) and merges add
// into index.json, under the layout lock so gc cannot race it. Blobs go
// first and index.json last; if anything fails the blobs this commit added
// are removed again. Cancelling ctx stops the wait for the lock and
// commits nothing; once the lock is held the commit runs to its end.
func (t *Txn) Commit(ctx context.Context, keep map[digest.Digest]bool, add []Image) error {
	l, err := lockFile(ctx, t.d.root, lockName, true, true)
	if err != nil {
		return err
	}
	defer l.unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	var added []string
	var renamed []digest.Digest
	rollback := func(err error) error {
		for _, p := range added {
			t.d.remove(p)
		}
		return err
	}
	for d, tmp := range t.staged {
		if keep != nil && !keep[d] {
			continue
		}
		target, err := BlobPath(d)
		if err != nil {
			return rollback(err)
		}
		// A copy already in place is replaced all the same: the staged
		// one is verified and the rename costs nothing, while the old one
		// may be corrupt (only its size was ever compared). Rollback
		// leaves a replaced blob alone: it was there before.
		_, err = t.d.lstat(target)
		existed := err == nil
		if err := t.d.rename(tmp, target); err != nil {
			return rollback(err)
		}
		renamed = append(renamed, d)
		if !existed {
			added = append(added, target)
		}
	}
	// Every blobs/ directory, not only those renamed into here: a blob
	// found present may be another process's rename, not yet synced.
	if err := t.d.syncBlobDirs(); err != nil {
		return rollback(err)
	}
	for d, size := range t.present {
		if keep != nil && !keep[d] {
			continue
		}
		if _, staged := t.staged[d]; staged {
			continue
		}
		p, _ := BlobPath(d)
		if fi, err := t.d.lstat(p); err != nil || !fi.Mode().IsRegular() || fi.Size() != size {
			return rollback(fmt.Errorf("blob %s was removed from the layout (by gc?) before this import committed: %w; run the import again", d, ErrNotFound))
		}
	}
	if len(add) > 0 {
		ims, err := t.d.Images()
		if err != nil {
			return rollback(err)
		}
		b, err := EncodeIndex(MergeImages(ims, add), nil, t.d.path)
		if err != nil {
			return rollback(err)
		}
		if err := t.d.writeFileAtomic(ocispec.ImageIndexFile, b); err != nil {
			return rollback(err)
		}
	}
	// What was renamed has no temp name left to remove: only the blobs
	// keep left out are discarded (removing every name again cost two
	// failing unlinkat calls a blob).
	for _, d := range renamed {
		delete(t.staged, d)
	}
	t.discardLocked()
	t.d.pool.drop(t.d)
	return nil
}

// Abort drops everything staged.
func (t *Txn) Abort() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.discardLocked()
}

func (t *Txn) discardLocked() {
	for d, tmp := range t.staged {
		t.d.remove(tmp)
		delete(t.staged, d)
	}
}

// Info implements ReadOnly, seeing staged blobs as well as committed ones.
func (t *Txn) Info(ctx context.Context, dg digest.Digest) (BlobInfo, error) {
	t.mu.Lock()
	p, ok := t.staged[dg]
	size := t.sizes[dg]
	t.mu.Unlock()
	if ok {
		return BlobInfo{Digest: dg, Size: size, Path: p}, nil
	}
	return t.d.Info(ctx, dg)
}
