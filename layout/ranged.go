package layout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// RangedMin is the blob size from which Copy into a layout may fetch one
// blob as several byte ranges at once, each over its own connection:
// where a connection's rate is capped (a TCP window over a long round
// trip, a per-stream CDN limit) one large layer would otherwise leave
// the link idle while it trickles in. It starts as one stream and fans
// out only if that stream proves slow (see splitAfter). Below it, the
// round trip each extra range costs outweighs what it brings.
const RangedMin int64 = 64 << 20

// rangedPartMin and rangedMaxParts split a ranged blob: parts of 16 MiB
// or more, over up to four connections for a 64 MiB blob and eight from
// 128 MiB. A part costs a round trip or two (its request, a connection's
// slow start), small beside the second or more that 16 MiB take over a
// capped connection; eight connections fill a link capped per connection
// at an eighth of its rate, and stay few beside the blobs in flight.
const (
	rangedPartMin  int64 = 16 << 20
	rangedMaxParts       = 8
)

// RangeSource is a source that can send part of a blob, as a registry
// answers Range.
type RangeSource interface {
	// FetchRange opens bytes [off, end) of d. A source that answers with
	// the whole blob instead (it ignores Range) reports whole, and rc
	// then reads d from off to its end (what came before off skipped).
	FetchRange(ctx context.Context, d ocispec.Descriptor, off, end int64) (rc io.ReadCloser, whole bool, err error)
}

// PartSource is a RangeSource that can refuse a part at once when the
// source answers it with the whole blob: FetchRange would skip to the
// part's start, downloading everything before it for nothing, since a
// part cannot use the rest.
type PartSource interface {
	FetchPart(ctx context.Context, d ocispec.Descriptor, off, end int64) (io.ReadCloser, error)
}

// rangedDest is a destination that can be filled out of order: a layout,
// whose blobs are staged in files. An archive is written in order, a
// tar entry after another, so it takes every blob as one stream: putting
// ranges in order for it would need either a memory window as large as
// the ranges in flight (tens of MiB per blob, against the bound on
// ferry's memory) or a spill file (every byte written twice), and a
// pull into a layout followed by export gives the parallel fetch with
// neither.
type rangedDest interface {
	pushRanged(ctx context.Context, d ocispec.Descriptor, src RangeSource, parts int, progress func(int64)) error
}

// rangedParts is how many connections may fetch a blob of size's parts
// at once; 1 means one plain stream.
func rangedParts(size int64) int {
	if size < RangedMin {
		return 1
	}
	return int(min(int64(rangedMaxParts), (size+rangedPartMin-1)/rangedPartMin))
}

// rangedTailMin is the smallest part partBounds cuts.
const rangedTailMin int64 = 1 << 20

// partBounds cuts rest bytes into parts of about size, taken in order by
// conns connections, and returns each part's start and, last, rest. The
// last 2·conns parts are smaller (a quarter of size, then a sixteenth):
// where the connections share one link they advance in step, so the
// parts of a round all end together and the hash, which follows the
// first of them, has the others to read back after the blob's last byte
// came (seven parts of 32 MiB, 0.2 s a blob on this kind of host); small
// last rounds leave it little. Parts this small cost a round trip each,
// but only at the end, only 2·conns of them, and only for a blob that
// makes them an eighth of its bytes or less.
func partBounds(rest, size int64, conns int) []int64 {
	var tail []int64 // the small parts' sizes, the blob's last first
	for _, div := range []int64{16, 4} {
		for range conns {
			tail = append(tail, max(rangedTailMin, size/div))
		}
	}
	var tb int64
	for _, t := range tail {
		tb += t
	}
	if rest < 8*tb { // the backlog saved is small then, the requests added not
		tail, tb = nil, 0
	}
	body := rest - tb
	b := splitRanges(body, int(max(1, (body+size-1)/size)))
	for i := len(tail) - 1; i >= 0; i-- {
		b = append(b, b[len(b)-1]+tail[i])
	}
	return b
}

// splitRanges cuts size into parts ranges of nearly equal length; the
// result holds each range's start and, last, size.
func splitRanges(size int64, parts int) []int64 {
	b := make([]int64, parts+1)
	for i := range b {
		b[i] = size * int64(i) / int64(parts)
	}
	return b
}

// pushRanged stores d, fetched from src in up to parts ranges at once,
// like Push: staged, verified in one pass, and renamed into blobs/ only
// once the digest matched.
func (d *Dir) pushRanged(ctx context.Context, desc ocispec.Descriptor, src RangeSource, parts int, progress func(int64)) error {
	target, err := BlobPath(desc.Digest)
	if err != nil {
		return err
	}
	var bad error
	if ok, _ := d.FS.Exists(ctx, desc); ok {
		if bad = d.checkPresent(ctx, desc); bad == nil {
			return nil // came meanwhile, intact
		}
	}
	st, from, resumed := d.takePartial(desc)
	if !resumed {
		if st, err = d.stage("b-"); err != nil {
			return err
		}
	} else if progress != nil {
		progress(from)
	}
	mark := d.newMark(st, desc)
	defer func() { mark.drop() }()
	mark.set(from)
	n, err := fillRanges(ctx, st, desc, src, parts, progress, from, mark)
	if err != nil && resumed && contentFailure(err) {
		// The kept bytes were not the blob's first after all (changed
		// or lost since): fetch it whole, once.
		mark.drop()
		st.Abort()
		if st, err = d.stage("b-"); err != nil {
			return err
		}
		resumed = false
		mark = d.newMark(st, desc)
		n, err = fillRanges(ctx, st, desc, src, parts, progress, 0, mark)
	}
	if err != nil {
		if !contentFailure(err) && !noRoom(err) && d.keepPartial(st, desc, n) {
			return fmt.Errorf("%w (its first %d bytes, verified, are kept in the layout: the same pull fetches only the rest)", err, n)
		}
		st.Abort()
		return err
	}
	// Whole now: a kill from here on leaves a complete staged file, which
	// the next run's pool reuses after hashing it, not a partial.
	mark.drop()
	if err := d.publish(st, target); err != nil {
		return err
	}
	d.mu.Lock()
	if bad != nil {
		d.repaired = append(d.repaired, Repair{Desc: desc, Err: bad})
	}
	if resumed {
		d.resumed = append(d.resumed, Resumed{Desc: desc, From: from})
	}
	d.mu.Unlock()
	return nil
}

// contentFailure reports an error that condemns the bytes fetched (they
// are not the blob's), not the fetch: nothing of such a blob is kept.
func contentFailure(err error) bool {
	return errors.Is(err, ErrDigestMismatch) || errors.Is(err, ErrSizeMismatch)
}

// noRoom reports a full medium: a partial kept there would only hold the
// space the next try needs, so it goes, as an archive's temp does.
func noRoom(err error) bool {
	return errors.Is(err, ErrTooLarge) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
