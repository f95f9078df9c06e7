package serve_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/serve"
)

// TestStalledClientIsCut: a client that asks for a large blob and stops
// reading has its response cut once a write stalls for WriteIdle, so it
// frees its request slot instead of holding it for ever.
func TestStalledClientIsCut(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := layout.CreateDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	txn := d.Begin()
	// Larger than the socket buffers on both sides, so writes block.
	im := testimage.Build(t, txn, "amd64", strings.Repeat("stalled client\n", 48<<20/15))
	r, _ := layout.ParseRef("big/stall:1")
	if err := txn.Commit(ctx, nil, []layout.Image{{Ref: r, Desc: layout.Annotate(im.Manifest, r)}}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	var log syncLog
	_, host := start(t, dir, serve.Config{Log: serve.NewLogger(&log, false), WriteIdle: 300 * time.Millisecond})
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetReadBuffer(4 << 10)
	}
	fmt.Fprintf(conn, "GET /v2/big/stall/blobs/%s HTTP/1.1\r\nHost: x\r\n\r\n", im.Layer.Digest)
	status, _ := bufio.NewReader(conn).ReadString('\n')
	if !strings.Contains(status, "200") {
		t.Fatalf("status line %q", status)
	}
	// Now read nothing more.
	logged := log.waitFor("aborted")
	if !strings.Contains(logged, "/v2/big/stall/blobs/") || !strings.Contains(logged, "aborted") {
		t.Fatalf("a stalled client's response was not cut:\n%s", logged)
	}
}
