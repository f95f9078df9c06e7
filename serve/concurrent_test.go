package serve_test

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/oci-ferry/ferry/serve"
)

// TestManyClientsAtOnce has 48 clients pull the same big layer at once,
// whole and in ranges (the first ranges race to start the one whole-blob
// check the others wait on): every whole body hashes to the digest and
// every range is the blob's own bytes.
func TestManyClientsAtOnce(t *testing.T) {
	dir, im := bigImage(t)
	_, host := start(t, dir, serve.Config{Log: serve.NewLogger(nil, false)})
	url := "http://" + host + "/v2/big/blobs/" + im.Layer.Digest.String()
	_, whole := get(t, "GET", url)
	if digest.FromString(whole) != im.Layer.Digest {
		t.Fatal("whole blob does not hash to its digest")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 48)
	for i := 0; i < 48; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", url, nil)
			start, end := int64(i*997), int64(i*997+5000)
			if i%2 == 1 {
				req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", start, end))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			switch {
			case err != nil:
				errs <- err
			case i%2 == 0 && digest.FromBytes(b) != im.Layer.Digest:
				errs <- fmt.Errorf("client %d: whole body of %d bytes is not the blob", i, len(b))
			case i%2 == 1 && (resp.StatusCode != 206 || string(b) != whole[start:end+1]):
				errs <- fmt.Errorf("client %d: range %d-%d: %d, %d bytes", i, start, end, resp.StatusCode, len(b))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
