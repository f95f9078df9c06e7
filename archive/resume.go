package archive

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"

	"github.com/oci-ferry/ferry/layout"
)

// A write of an archive or of a volume set that was killed resumes from
// its temp file: the segments (segment.go) it holds whole and right are
// kept, every byte of them read and checked again (headers byte for byte,
// blobs by digest, padding as zeros, a compressed member's own checksum),
// and only the rest is fetched from the source. The kept bytes are a
// prefix of what the uninterrupted write would give, so the result is the
// same file, byte for byte.

// keptSeg is a segment found whole in a temp file.
type keptSeg struct {
	end   int64         // where it ends in the file
	chunk digest.Digest // a chunk's own digest
	index digest.Digest // the digest of a volume index's bytes as found
}

// splitHash is the running hash of each split blob, fed chunk by chunk as
// the scan meets them: a chunk is kept only if the whole blob checks out.
type splitHash map[digest.Digest]digest.Digester

// scanKept reads f (size bytes) as the segments segs, in order, and
// returns those it holds whole and right. It stops at the first that is
// missing, short or different; nothing of f is trusted beyond it.
func scanKept(ctx context.Context, f io.ReaderAt, size int64, comp Compression, segs []seg, t time.Time, split splitHash) []keptSeg {
	var dec *zstd.Decoder
	if comp == Zstd {
		var err error
		if dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow)); err != nil {
			return nil
		}
		defer dec.Close()
	}
	var out []keptSeg
	var off int64
	for i := range segs {
		if ctx.Err() != nil {
			return out
		}
		s := &segs[i]
		head, pad, opaque, err := s.render(t)
		if err != nil {
			return out
		}
		k := keptSeg{}
		switch comp {
		case None:
			n := int64(len(head)) + s.size() + pad
			if off+n > size || checkSeg(io.NewSectionReader(f, off, n), s, head, pad, opaque, split, &k) != nil {
				return out
			}
			k.end = off + n
		case Gzip:
			sr := &byteCounter{r: io.NewSectionReader(f, off, size-off)}
			br := bufio.NewReader(sr)
			zr, err := gzip.NewReader(br)
			if err != nil {
				return out
			}
			zr.Multistream(false)
			if checkSeg(zr, s, head, pad, opaque, split, &k) != nil || !atEOF(zr) {
				return out
			}
			k.end = off + sr.n - int64(br.Buffered())
		case Zstd:
			n, err := zstdFrameLen(f, off, size)
			if err != nil || dec.Reset(io.NewSectionReader(f, off, n)) != nil {
				return out
			}
			if checkSeg(dec, s, head, pad, opaque, split, &k) != nil || !atEOF(dec) {
				return out
			}
			k.end = off + n
		}
		out = append(out, k)
		off = k.end
	}
	return out
}

// checkSeg reads one segment's bytes from r and compares them with what
// the write would put there.
func checkSeg(r io.Reader, s *seg, head []byte, pad int64, opaque [2]int, split splitHash, k *keptSeg) error {
	buf := make([]byte, len(head)) // rendered here, never sized from the file
	if _, err := io.ReadFull(r, buf); err != nil {
		return err
	}
	if opaque[1] > 0 {
		found := buf[opaque[0] : opaque[0]+opaque[1]]
		k.index = digest.FromBytes(found)
		copy(found, head[opaque[0]:opaque[0]+opaque[1]])
	}
	if !bytes.Equal(buf, head) {
		return errors.New("headers differ")
	}
	switch {
	case s.part != nil:
		d := s.part.item.desc
		h := split[d.Digest]
		if s.part.part == 1 || h == nil {
			if s.part.part != 1 {
				return errors.New("chunk out of order")
			}
			h = d.Digest.Algorithm().Digester()
			split[d.Digest] = h
		}
		ch := digest.SHA256.Digester()
		if _, err := io.CopyN(io.MultiWriter(ch.Hash(), h.Hash()), r, s.part.size); err != nil {
			return err
		}
		k.chunk = ch.Digest()
	case s.blob.Digest != "":
		vr, err := layout.NewVerifyReader(io.LimitReader(r, s.blob.Size), s.blob)
		if err != nil {
			return err
		}
		if err := vr.Drain(); err != nil {
			return err
		}
	}
	var z [512]byte
	if _, err := io.ReadFull(r, z[:pad]); err != nil {
		return err
	}
	if !bytes.Equal(z[:pad], zeros[:pad]) {
		return errors.New("padding is not zeros")
	}
	return nil
}

// atEOF says a member or frame ended where its segment does.
func atEOF(r io.Reader) bool {
	var b [1]byte
	n, err := io.ReadFull(r, b[:])
	return n == 0 && errors.Is(err, io.EOF)
}

type byteCounter struct {
	r io.Reader
	n int64
}

func (c *byteCounter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// zstdFrameLen walks the zstd frame at off by its block headers (RFC 8878
// §3.1.1) without decoding it, to find where the next one starts: the
// decoder reads ahead and cannot say.
func zstdFrameLen(f io.ReaderAt, off, size int64) (int64, error) {
	var b [14]byte
	read := func(at int64, n int) ([]byte, error) {
		if at+int64(n) > size {
			return nil, io.ErrUnexpectedEOF
		}
		_, err := f.ReadAt(b[:n], at)
		return b[:n], err
	}
	h, err := read(off, 5)
	if err != nil {
		return 0, err
	}
	if !bytes.Equal(h[:4], zstdMagic) {
		return 0, errors.New("not a zstd frame")
	}
	fhd := h[4]
	single := fhd>>5&1 == 1
	pos := off + 5
	if !single {
		pos++ // window descriptor
	}
	pos += [...]int64{0, 1, 2, 4}[fhd&3]
	fcs := [...]int64{0, 2, 4, 8}[fhd>>6]
	if fhd>>6 == 0 && single {
		fcs = 1
	}
	pos += fcs
	for {
		bh, err := read(pos, 3)
		if err != nil {
			return 0, err
		}
		v := int64(bh[0]) | int64(bh[1])<<8 | int64(bh[2])<<16
		last, typ, n := v&1 == 1, v>>1&3, v>>3
		switch typ {
		case 1:
			n = 1 // RLE: one byte repeated
		case 3:
			return 0, errors.New("reserved zstd block type")
		}
		pos += 3 + n
		if pos > size {
			return 0, io.ErrUnexpectedEOF
		}
		if last {
			break
		}
	}
	if fhd>>2&1 == 1 {
		pos += 4 // content checksum
	}
	if pos > size {
		return 0, io.ErrUnexpectedEOF
	}
	return pos - off, nil
}

// takeOver finds the temps killed writes of name left beside it and keeps
// the largest, which went furthest (more than one is left only by runs
// killed while another ran), removing the rest. It returns nil if there
// is none; a temp a live writer holds is never touched.
func takeOver(root *os.Root, name string) (*layout.Staged, []string) {
	temps := layout.AdoptTemps(root, ".", tempPrefix(name))
	if len(temps) == 0 {
		return nil, nil
	}
	slices.SortFunc(temps, func(a, b *layout.Staged) int { return cmp.Compare(b.Size(), a.Size()) })
	var gone []layout.Leftover
	for _, t := range temps[1:] {
		gone = append(gone, layout.Leftover{Path: t.Name(), Size: t.Size()})
		t.Abort()
	}
	if len(gone) > 0 {
		return temps[0], []string{LeftoverNote(gone, "beside "+name, "removed")}
	}
	return temps[0], nil
}

// keptNote words what a resumed write kept.
func keptNote(name, temp string, blobs int, bytes int64, of int) string {
	return fmt.Sprintf("resumed %s from %s, which a killed run left: kept %d of %d blobs (%d bytes), each checked again", name, temp, blobs, of, bytes)
}
