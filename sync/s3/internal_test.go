package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/minio/minio-go/v7"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/s3test"
	"github.com/oci-ferry/ferry/layout"
)

func testStore(t *testing.T) (*Store, *s3test.Server) {
	t.Helper()
	srv := s3test.Start(t)
	srv.Bucket(t, "ferry-test")
	srv.Env(t)
	st, err := Open("s3://ferry-test/x", Config{Endpoint: srv.URL(), PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	return st, srv
}

// TestServerRefusesWrongBytes bypasses ferry's verifier: the whole PUT
// alone, fed bytes that are not the digest's, is refused by the server
// before an object exists, so the key never holds them even for the
// moment before the verifier would have failed the stream.
func TestServerRefusesWrongBytes(t *testing.T) {
	st, srv := testStore(t)
	good := []byte("the real content")
	d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(good), Size: int64(len(good))}
	bad := []byte("the fake content")
	key, _ := st.blobKey(d.Digest)
	err := st.putWhole(context.Background(), key, d, bytes.NewReader(bad))
	if !errors.Is(err, layout.ErrDigestMismatch) {
		t.Fatalf("wrong bytes: %v, want the server's digest mismatch", err)
	}
	if _, err := srv.Client(t).StatObject(context.Background(), "ferry-test", key, minio.StatObjectOptions{}); err == nil {
		t.Fatal("the server stored bytes that do not match the key's digest")
	}
}

// TestHoldLast: every byte comes through, in order, however the reads
// are cut, and none of the last one before a clean end.
func TestHoldLast(t *testing.T) {
	data := []byte(strings.Repeat("0123456789", 1000))
	for _, r := range []io.Reader{bytes.NewReader(data), iotest.OneByteReader(bytes.NewReader(data)), iotest.HalfReader(bytes.NewReader(data))} {
		got, err := io.ReadAll(&holdLast{r: r})
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("holdLast changed the stream: %d bytes, %v", len(got), err)
		}
	}
	broken := io.MultiReader(bytes.NewReader(data), iotest.ErrReader(errors.New("reset")))
	got, err := io.ReadAll(&holdLast{r: broken})
	if err == nil || len(got) != len(data)-1 {
		t.Fatalf("a failed stream passed %d of %d bytes (%v); want all but the last and the error", len(got), len(data), err)
	}
}

// TestConcurrentIndexWrites starts many index.json merges at the same
// moment: the conditional write makes each that lost the race merge
// again, so every name survives.
func TestConcurrentIndexWrites(t *testing.T) {
	st, _ := testStore(t)
	const n = 16
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		b := []byte(fmt.Sprintf(`{"schemaVersion":2,"n":%d}`, i))
		r, _ := layout.ParseRef(fmt.Sprintf("example.com/w%d:1", i))
		d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(b), Size: int64(len(b))}
		im := layout.Image{Ref: r, Desc: layout.Annotate(d, r)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = st.addImages(context.Background(), []layout.Image{im})
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ims, _, err := st.images(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ims) != n {
		t.Fatalf("%d of %d names survived %d concurrent writers", len(ims), n, n)
	}
}
