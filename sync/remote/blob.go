package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// DefaultChunkSize is the largest upload request: none, by default. A
// blob goes in the one PUT that commits it, as docker, crane and regctl
// send it. Cutting it (512 MiB pieces, until measured) cost a round trip
// at every cut and the reference registry 0.27 s more CPU per GiB at the
// commit: ferry finished a 1 GiB push over a 25 MB/s link 0.4 s after
// regctl, which sends one request. Client.ChunkSize still cuts uploads
// for a proxy that limits a request's size.
const DefaultChunkSize int64 = math.MaxInt64

// maxResumes bounds how often one blob download is resumed.
const maxResumes = 5

// fetchBlob GETs a blob and returns a reader that resumes with Range after
// a dropped connection. The caller verifies the whole stream, so a resumed
// download is checked exactly like an uninterrupted one.
func (r *Repository) fetchBlob(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	u := r.url("blobs", d.Digest.String())
	return r.c.resumable(ctx, d, r.Host+"/"+r.Name, "registry", func() request { return r.req(http.MethodGet, u) })
}

// resumable opens the content of d with the GET get builds, as a reader
// that resumes with Range after a dropped connection. label names the
// source in messages, who says what it is ("registry", "server").
func (c *Client) resumable(ctx context.Context, d ocispec.Descriptor, label, who string, get func() request) (io.ReadCloser, error) {
	br := &blobReader{c: c, get: get, label: label, who: who, ctx: ctx, d: d, end: d.Size}
	if err := br.open(); err != nil {
		return nil, err
	}
	return br, nil
}

type blobReader struct {
	c          *Client
	get        func() request
	label, who string
	ctx        context.Context
	d          ocispec.Descriptor
	// off and end bound the bytes wanted, [off, end): the whole blob,
	// or one range of a blob fetched in parts. n counts from off.
	off, end int64
	// whole is set when a range was asked from offset 0 and the source
	// answered with the whole blob (it ignores Range): the reader then
	// reads all of it, and the caller fetches no other range.
	whole bool
	// askRange sends Range even for the whole blob ("bytes=0-"), so a
	// 206 says the source could also send parts of it.
	askRange bool
	// ignored is set when a range from past the first byte was answered
	// with the whole blob, whose start was then skipped.
	ignored bool
	// part refuses that answer instead of skipping: the caller wants one
	// part of a blob others fetch, and skipping would download all that
	// comes before it for nothing.
	part    bool
	n       int64
	resumes int
	// last is when a byte last arrived: a resume's retry time-out counts
	// from it, so a blob that keeps stalling gives up after one time-out
	// rather than one per resume.
	last time.Time

	// mu guards body and closed: Close may come from another goroutine
	// (a read-ahead's owner) while Read is resuming onto a new body.
	mu     sync.Mutex
	body   io.ReadCloser
	closed bool
}

// current is the body Read should use now.
func (b *blobReader) current() io.ReadCloser {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.body
}

func (b *blobReader) open() error {
	q := b.get()
	q.since = b.last
	q.bulk = true
	at := b.off + b.n
	ranged := at > 0 || b.end < b.d.Size || b.askRange
	if ranged {
		last := "" // open-ended to the end, as a resume always asked
		if b.end < b.d.Size {
			last = strconv.FormatInt(b.end-1, 10)
		}
		q.header.Set("Range", "bytes="+strconv.FormatInt(at, 10)+"-"+last)
	}
	resp, err := b.c.do(b.ctx, q)
	if err != nil {
		return err
	}
	switch {
	case resp.StatusCode == http.StatusPartialContent && ranged:
		if err := b.checkRange(resp, at); err != nil {
			drain(resp)
			return err
		}
	case resp.StatusCode == http.StatusOK:
		if resp.ContentLength >= 0 && resp.ContentLength != b.d.Size {
			drain(resp)
			return fmt.Errorf("%s: blob %s: %s sends %d bytes, the descriptor says %d: %w", b.label, b.d.Digest, b.who, resp.ContentLength, b.d.Size, layout.ErrSizeMismatch)
		}
		if at == 0 { // asked for a first range, given everything
			b.whole, b.end = true, b.d.Size
		} else if b.part {
			resp.Body.Close() // not drained: it is the whole blob
			return fmt.Errorf("%s: blob %s: %s answered the range of bytes %d to %d with the whole blob: %w", b.label, b.d.Digest, b.who, at, b.end, errWholeForPart)
		} else { // no range support: skip what we already have
			b.ignored = true
			if _, err := io.CopyN(io.Discard, resp.Body, at); err != nil {
				resp.Body.Close()
				return err
			}
		}
		if b.end < b.d.Size {
			resp.Body = limitedBody{io.LimitReader(resp.Body, b.end-at), resp.Body}
		}
	default:
		defer resp.Body.Close()
		return fmt.Errorf("%s: blob %s: %w", b.label, b.d.Digest, newRegistryError(resp))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed { // closed while the request was on its way
		resp.Body.Close()
		return fmt.Errorf("%s: blob %s: %w", b.label, b.d.Digest, io.ErrClosedPipe)
	}
	b.body = resp.Body
	return nil
}

func (b *blobReader) Read(p []byte) (int, error) {
	for {
		body := b.current()
		n, err := body.Read(p)
		b.n += int64(n)
		if n > 0 {
			b.last = time.Now()
		}
		if err == nil || err == io.EOF || n > 0 {
			if err != nil && err != io.EOF && b.resumes < maxResumes && transient(err) {
				err = nil // resume on the next Read
				body.Close()
				b.resumes++
				if oerr := b.open(); oerr != nil {
					return n, oerr
				}
			}
			return n, b.giveUp(err)
		}
		if b.resumes >= maxResumes || !transient(err) || b.ctx.Err() != nil {
			return 0, b.giveUp(err)
		}
		body.Close()
		b.resumes++
		if err := b.open(); err != nil {
			return 0, err
		}
	}
}

// giveUp reports a download that ends in err. A stall that outlasted the
// resumes is made final: layout.Copy would otherwise start the blob over,
// and each of its tries would wait out the same silent server again.
func (b *blobReader) giveUp(err error) error {
	var se *stallError
	if errors.As(err, &se) {
		return fmt.Errorf("%s: blob %s: gave up after %d resumes: %s", b.label, b.d.Digest, b.resumes, se)
	}
	return err
}

func (b *blobReader) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return b.body.Close()
}
