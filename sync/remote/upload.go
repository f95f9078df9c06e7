package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// smallBlob is the largest blob read and verified whole in memory before
// its upload starts, so it goes in one PUT: configs and small layers keep
// the two requests the protocol allows. A larger blob streams, and its
// last chunk goes as the body of the closing PUT, whose final tailHold
// bytes are handed over only once ferry's hash of the whole blob matched:
// a registry sees a complete body (and commits) only for verified bytes,
// and the bodiless PUT after the last PATCH, a round trip per blob, is
// not needed. Bounded, so blobs in flight cost at most this much memory
// each.
const smallBlob = 2 << 20

// smallBufs recycle the buffers small blobs are read into, one pool for
// each power of two from 64 KiB to smallBlob: eight pushes in flight each
// holding a whole smallBlob for a config of a few hundred bytes would make
// the push's memory, and the garbage its GC leaves between cycles, twice
// or many times what the blobs need.
var smallBufs [smallClasses]sync.Pool

const (
	smallMin     = 64 << 10
	smallClasses = 6 // 64K, 128K, 256K, 512K, 1M, 2M
)

// smallBuf gives a pooled buffer of at least n bytes (n <= smallBlob) and
// the function that returns it.
func smallBuf(n int64) (*[]byte, func()) {
	c, size := 0, int64(smallMin)
	for size < n {
		c, size = c+1, size*2
	}
	bp, _ := smallBufs[c].Get().(*[]byte)
	if bp == nil {
		b := make([]byte, size)
		bp = &b
	}
	return bp, func() { smallBufs[c].Put(bp) }
}

// uploadBlob sends d's content from rd. A small blob is read and verified
// first, then sent in one PUT; a larger one streams in PATCHes (from the
// file beneath rd by sendfile where there is one, hashed beside the send)
// and is committed only after the hash matched. Nothing rd did not verify
// is ever committed: a source that changes under the push leaves an
// upload session the registry is told to drop, never a blob.
func (r *Repository) uploadBlob(ctx context.Context, d ocispec.Descriptor, rd *layout.VerifyReader) error {
	var small []byte
	if d.Size <= smallBlob {
		bp, put := smallBuf(d.Size)
		defer put()
		small = (*bp)[:d.Size]
		if _, err := io.ReadFull(rd, small); err != nil {
			return fmt.Errorf("%s/%s: upload of %s: %w", r.Host, r.Name, d.Digest, err)
		}
		if err := rd.Drain(); err != nil {
			return fmt.Errorf("%s/%s: upload of %s: %w", r.Host, r.Name, d.Digest, err)
		}
	}
	loc, mounted, err := r.startUpload(ctx, d)
	if err != nil {
		return err
	}
	if mounted {
		if small == nil {
			if err := rd.Drain(); err != nil { // the source must still be sound
				return fmt.Errorf("%s/%s: %s: %w", r.Host, r.Name, d.Digest, err)
			}
		}
		r.c.remember(r.Host, r.Name, d.Digest.String())
		return nil
	}
	if small != nil {
		err = r.commit(ctx, d, loc, int64(len(small)), func() (io.Reader, error) { return bytes.NewReader(small), nil })
	} else {
		loc, err = r.stream(ctx, d, rd, loc)
		if err != nil && !Retryable(err) {
			// The registry answers but the session is spoilt (a source
			// that changed, a refused chunk). A dropped or stalled link
			// is left alone: a DELETE would only wait on it too, and
			// the retry opens a session of its own.
			r.cancelUpload(loc)
		}
	}
	if err != nil {
		return err
	}
	r.c.remember(r.Host, r.Name, d.Digest.String())
	return nil
}

// startUpload opens an upload session, or mounts d from another
// repository on the same registry known to hold it: the registry links
// the blob it has instead of receiving it again.
func (r *Repository) startUpload(ctx context.Context, d ocispec.Descriptor) (loc string, mounted bool, err error) {
	from := r.c.holder(r.Host, d.Digest.String())
	if from == r.Name {
		from = ""
	}
	resp, err := r.c.do(ctx, r.uploadPost(d, from))
	if err != nil {
		return "", false, err
	}
	if resp.StatusCode == http.StatusCreated && from != "" {
		drain(resp)
		return "", true, nil
	}
	if resp.StatusCode != http.StatusAccepted {
		return "", false, fmt.Errorf("%s/%s: start upload of %s: %w", r.Host, r.Name, d.Digest, failure(resp))
	}
	drain(resp)
	loc, err = location(resp)
	return loc, false, err
}

// stream sends all of d in chunk-size requests (the spec makes a blob's
// chunks sequential; blobs go in parallel instead) and commits it. Read
// in line, the last chunk is the closing PUT's body, its tail held back
// until rd verified every byte; from a file by sendfile, whose hash runs
// beside and behind the send, every chunk is a PATCH and a bodiless PUT
// commits once the hash matched. It returns where the session stands, for
// a caller that drops it after a failure.
func (r *Repository) stream(ctx context.Context, d ocispec.Descriptor, rd *layout.VerifyReader, loc string) (string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	src := newUploadSource(rd, d, cancel, r.c.sendfile(r.Host))
	defer src.close()
	chunkSize := r.c.chunkSize()
	for sent := int64(0); sent < d.Size; {
		n := min(chunkSize, d.Size-sent)
		if sent+n == d.Size && src.f == nil {
			return loc, r.closeWith(ctx, d, loc, src.pipe.chunk(n))
		}
		body, err := src.chunk(n)
		if err != nil {
			return loc, r.failed(d, src, err)
		}
		q := r.req(http.MethodPatch, loc)
		q.retryable = false
		q.body = body.rebuild
		q.length = n
		q.header.Set("Content-Type", "application/octet-stream")
		q.header.Set("Content-Range", fmt.Sprintf("%d-%d", sent, sent+n-1))
		// The body is shut only after the answer is closed: that ends the
		// exchange, and with it a transport still sending (an early
		// answer), which shut waits for.
		resp, err := r.c.do(ctx, q)
		if err != nil {
			body.shut()
			return loc, r.failed(d, src, err)
		}
		if resp.StatusCode != http.StatusAccepted {
			err := failure(resp)
			body.shut()
			return loc, r.failed(d, src, fmt.Errorf("%s/%s: upload chunk of %s: %w", r.Host, r.Name, d.Digest, err))
		}
		drain(resp)
		body.shut()
		if err := received(resp, sent+n); err != nil {
			return loc, r.failed(d, src, fmt.Errorf("%s/%s: upload of %s: %w", r.Host, r.Name, d.Digest, err))
		}
		if loc, err = location(resp); err != nil {
			return loc, r.failed(d, src, err)
		}
		sent += n
	}
	if err := src.finish(); err != nil {
		return loc, fmt.Errorf("%s/%s: upload of %s: %w", r.Host, r.Name, d.Digest, err)
	}
	return loc, r.commit(ctx, d, loc, 0, nil)
}

// closeWith commits d by a PUT whose body is its last chunk. The body
// ends only if the hash matched; otherwise the transport fails the send
// and the registry, short of Content-Length, commits nothing. An answer
// that comes before the whole body went (a registry that did not wait
// for the bytes it was to check) is an error, not a commit ferry
// verified.
func (r *Repository) closeWith(ctx context.Context, d ocispec.Descriptor, loc string, body *pipeChunk) error {
	err := r.commit(ctx, d, loc, body.n, body.rebuild)
	body.shut()
	if body.err != nil {
		return fmt.Errorf("%s/%s: upload of %s: %w", r.Host, r.Name, d.Digest, body.err)
	}
	if err == nil && (body.taken != body.n || !body.p.verified()) {
		return fmt.Errorf("%s/%s: upload of %s: the registry answered before the whole blob was sent", r.Host, r.Name, d.Digest)
	}
	return err
}

// failed reports a send that went wrong, preferring what the hash beside
// it found: a source that changed or ended early is the cause, and its
// error names it better than the broken request it led to.
func (r *Repository) failed(d ocispec.Descriptor, src *uploadSource, err error) error {
	if herr := src.abort(); herr != nil {
		return fmt.Errorf("%s/%s: upload of %s: %w", r.Host, r.Name, d.Digest, herr)
	}
	return err
}

// received checks the Range a registry answers a PATCH with, where it
// sends one: the session must hold exactly the bytes sent so far, or the
// commit would be of something else.
func received(resp *http.Response, want int64) error {
	rg := resp.Header.Get("Range")
	if rg == "" {
		return nil
	}
	_, end, ok := strings.Cut(strings.TrimPrefix(rg, "bytes="), "-")
	last, err := strconv.ParseInt(end, 10, 64)
	if !ok || err != nil {
		return nil // not ours to judge; the commit's digest check still is
	}
	if last+1 != want {
		return fmt.Errorf("registry holds %d bytes of the upload, %d were sent", last+1, want)
	}
	return nil
}

// commit closes the session with the PUT that names the digest, with n
// bytes of body: a verified small blob, the last chunk with its tail held
// back, or none after a verified stream.
func (r *Repository) commit(ctx context.Context, d ocispec.Descriptor, loc string, n int64, body func() (io.Reader, error)) error {
	u, err := url.Parse(loc)
	if err != nil {
		return err
	}
	v := u.Query()
	v.Set("digest", d.Digest.String())
	u.RawQuery = v.Encode()
	q := r.req(http.MethodPut, u.String())
	q.retryable = false
	q.length = n
	q.body = body
	if n == 0 { // an empty blob: a zero-length body, never a chunked one
		q.body = func() (io.Reader, error) { return http.NoBody, nil }
	}
	q.header.Set("Content-Type", "application/octet-stream")
	resp, err := r.c.do(ctx, q)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("%s/%s: finish upload of %s: %w", r.Host, r.Name, d.Digest, failure(resp))
	}
	drain(resp)
	return nil
}

// cancelUpload tells the registry to drop a session that will never be
// committed, so what was sent does not sit in its storage until it
// expires. Best effort, and not under the push's context, which may be
// what ended: the registry drops stale sessions itself anyway.
func (r *Repository) cancelUpload(loc string) {
	ctx, cancel := context.WithTimeout(context.Background(), uploadCancelTime)
	defer cancel()
	q := r.req(http.MethodDelete, loc)
	q.retryable = false
	if resp, err := r.c.do(ctx, q); err == nil {
		drain(resp)
	}
}

// location resolves an upload Location against the request URL; it may be
// relative and may carry state in its query, which must be kept.
func location(resp *http.Response) (string, error) {
	l := resp.Header.Get("Location")
	if l == "" {
		return "", fmt.Errorf("%s %s: registry sent no Location", resp.Request.Method, redactURL(resp.Request.URL.String()))
	}
	u, err := resp.Request.URL.Parse(l)
	if err != nil {
		return "", fmt.Errorf("registry sent a bad Location: %w", err)
	}
	return u.String(), nil
}

// gate lends a request body to the HTTP transport until shut. The
// transport may still be reading a body after the request returned (on an
// early answer or a reset, it writes from its own goroutine), and the
// uploader then reads the rest itself to verify it: shut waits for a read
// in flight and refuses later ones, so the two never read at once.
type gate struct {
	mu     sync.Mutex
	r      io.Reader
	closed bool
}

var errGateShut = errors.New("upload body no longer lent to the transport")

func (g *gate) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, errGateShut
	}
	return g.r.Read(p)
}

func (g *gate) shut() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}
