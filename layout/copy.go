package layout

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// DefaultConcurrency is how many blobs Copy moves at once when the caller
// does not say: enough to keep disks and connections busy on small machines
// without thrashing a USB stick. A pull starts from it and adapts to the
// link (Adaptive).
const DefaultConcurrency = 4

// CopyOptions tune Copy. The zero value copies everything with the default
// concurrency.
type CopyOptions struct {
	Concurrency int
	// SkipExisting trusts blobs the destination already holds instead of
	// reading and verifying the source copy too.
	SkipExisting bool
	// VerifyExisting, with SkipExisting, reads back and hashes what the
	// destination holds instead of trusting its size; a bad copy is copied
	// again from the source (a layout's Push replaces it). Local reads are
	// cheap beside a registry's, and a corrupt blob must not be kept.
	VerifyExisting bool
	// Progress, if set, is called as bytes are copied (from several
	// goroutines at once).
	Progress func(n int64)
	// Retry, if set, says whether a failed blob copy is worth starting
	// again from a fresh Fetch (a dropped upload cannot be resent from
	// the middle of a stream). At most three more attempts are made.
	Retry func(error) bool
	// Adaptive, if set and Concurrency is 0, decides how many blobs are
	// in flight from the throughput it sees (a pull over a WAN); without
	// it the number is fixed.
	Adaptive *Adaptive
}

// Copy writes a walked graph into dst: leaves in parallel, then indexes and
// manifests from the verified bytes Walk holds, in parallel too but each
// after the nodes it lists, so a destination never references content it
// does not have. Every byte
// read from src passes through a VerifyReader before dst sees it.
func Copy(ctx context.Context, src ReadOnly, dst Writable, g *Graph, opts CopyOptions) error {
	limit := opts.Concurrency
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	eg, ectx := errgroup.WithContext(ctx)
	var sl *slots
	if ad := opts.Adaptive; ad != nil && opts.Concurrency <= 0 {
		sl = newSlots(ad.Limit())
		var moved atomic.Int64
		opts.Progress = countInto(&moved, opts.Progress)
		ectx = WithThrottle(ectx, func() { sl.set(ad.Throttled()) })
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			t := time.NewTicker(ad.Window / 4)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case now := <-t.C:
					sl.set(ad.Sample(now, moved.Load(), sl.inUse()))
				}
			}
		}()
	} else {
		eg.SetLimit(limit)
	}
	for _, b := range g.Blobs {
		if sl != nil && !sl.acquire(ectx) {
			break
		}
		eg.Go(func() error {
			if sl != nil {
				defer sl.release()
			}
			err := copyBlob(ectx, src, dst, b, opts)
			for try := 0; err != nil && opts.Retry != nil && try < 3 && ectx.Err() == nil && opts.Retry(err); try++ {
				err = copyBlob(ectx, src, dst, b, opts)
			}
			if err != nil {
				return &CopyError{Desc: b, Err: err}
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil { // stopped between two blobs
		return err
	}
	// Manifests and indexes go in parallel as well, a level at a time: a
	// node only after every node it lists (see nodeLevels). One after the
	// other, each a write, fsync and rename into a layout, the thousand
	// manifests of a pull of a thousand small images were its last 0.6 s,
	// with every other worker idle.
	for _, level := range nodeLevels(g.Nodes) {
		eg, ectx := errgroup.WithContext(ctx)
		eg.SetLimit(limit)
		for _, n := range level {
			eg.Go(func() error { return copyNode(ectx, dst, n, opts) })
		}
		if err := eg.Wait(); err != nil {
			return err
		}
	}
	return nil
}

// copyNode pushes one manifest or index from the verified bytes Walk holds.
func copyNode(ctx context.Context, dst Writable, n *Node, opts CopyOptions) error {
	// Pushing a document from memory is as cheap as checking it; a
	// verifying destination (a layout) hashes its present copy then.
	if opts.SkipExisting && !opts.VerifyExisting {
		if ok, err := dst.Exists(ctx, n.Desc); err != nil {
			return err
		} else if ok {
			return nil
		}
	}
	if err := dst.Push(ctx, n.Desc, bytes.NewReader(n.Raw)); err != nil {
		return &CopyError{Desc: n.Desc, Err: fmt.Errorf("%s %s: %w", n.Desc.MediaType, n.Desc.Digest, err)}
	}
	if opts.Progress != nil {
		opts.Progress(n.Desc.Size)
	}
	return nil
}

// nodeLevels groups nodes (children before parents) so that each node is
// in a later level than every node among its children and its subject: a
// destination (a registry above all) never receives an index before the
// manifests it lists, nor a signature before what it signs, as when they
// went one by one. Each level keeps the nodes' order.
func nodeLevels(nodes []*Node) [][]*Node {
	depth := make(map[digest.Digest]int, len(nodes))
	var levels [][]*Node
	for _, n := range nodes {
		l := 0
		deps := slices.Clip(n.Children()) // an index's own list is not appended to
		if n.Manifest != nil && n.Manifest.Subject != nil {
			deps = append(deps, *n.Manifest.Subject)
		}
		if n.Index != nil && n.Index.Subject != nil {
			deps = append(deps, *n.Index.Subject)
		}
		for _, c := range deps {
			if d, ok := depth[c.Digest]; ok {
				l = max(l, d+1)
			}
		}
		depth[n.Desc.Digest] = l
		for len(levels) <= l {
			levels = append(levels, nil)
		}
		levels[l] = append(levels[l], n)
	}
	return levels
}

func copyBlob(ctx context.Context, src ReadOnly, dst Writable, d ocispec.Descriptor, opts CopyOptions) error {
	if IsNonDistributable(d.MediaType) {
		if ok, _ := src.Exists(ctx, d); !ok {
			return nil // never fetched from its urls; carried only if present
		}
	}
	if opts.SkipExisting {
		if ok, err := dst.Exists(ctx, d); err != nil {
			return err
		} else if ok && (!opts.VerifyExisting || intact(ctx, dst, d) == nil) {
			if opts.Progress != nil {
				opts.Progress(d.Size)
			}
			return nil
		}
	}
	if rs, ok := src.(RangeSource); ok {
		if rd, ok := dst.(rangedDest); ok {
			if parts := rangedParts(d.Size); parts > 1 {
				if err := rd.pushRanged(ctx, d, rs, parts, opts.Progress); err != nil {
					return fmt.Errorf("%s %s: %w", d.MediaType, d.Digest, err)
				}
				return nil
			}
		}
	}
	rc, err := src.Fetch(ctx, d)
	if err != nil {
		return fmt.Errorf("%s %s: %w", d.MediaType, d.Digest, err)
	}
	defer rc.Close()
	var r io.Reader = rc
	if opts.Progress != nil {
		r = &progressReader{r: rc, fn: opts.Progress}
	}
	// dst.Push reuses this reader rather than hashing a second time.
	vr, err := NewVerifyReader(r, d)
	if err != nil {
		return err
	}
	if ph, ok := rc.(PrefixHashed); ok {
		ph.HashedBy(vr) // progressReader passes every byte straight on
	}
	if err := dst.Push(ctx, d, vr); err != nil {
		return fmt.Errorf("%s %s: %w", d.MediaType, d.Digest, err)
	}
	return nil
}

// intact reads d back from s and hashes it.
func intact(ctx context.Context, s ReadOnly, d ocispec.Descriptor) error {
	if t, ok := s.(*Txn); ok && t.isHashed(d.Digest) {
		return nil // hashed when it was adopted, moments ago
	}
	rc, err := s.Fetch(ctx, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	vr, err := NewVerifyReader(contextReader{ctx, rc}, d)
	if err != nil {
		return err
	}
	return vr.Drain()
}

// progressReader reports bytes as they are read from the source.
type progressReader struct {
	r  io.Reader
	fn func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.fn(int64(n))
	}
	return n, err
}

// countInto adds the bytes reported to n before passing them on to fn.
func countInto(n *atomic.Int64, fn func(int64)) func(int64) {
	return func(b int64) {
		n.Add(b)
		if fn != nil {
			fn(b)
		}
	}
}

// CopyError names the descriptor a copy failed on.
type CopyError struct {
	Desc ocispec.Descriptor
	Err  error
}

// Error is the cause's message; the digest is already in it.
func (e *CopyError) Error() string { return e.Err.Error() }

// Unwrap exposes the cause to errors.Is.
func (e *CopyError) Unwrap() error { return e.Err }
