package archive_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
)

// TestWriteCancelledDuringLastBlob: a signal while export copied its last
// (or only) large layer was not seen: the context was checked between
// blobs only, so the copy ran to the end and the archive was committed
// after the signal. A cancel during the copy must leave no archive; the
// temp file it keeps for a resume holds whole segments only (the layer
// in progress is cut off).
func TestWriteCancelledDuringLastBlob(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "src")
	d, err := layout.CreateDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	txn := d.Begin()
	im := testimage.Build(t, txn, "amd64", strings.Repeat("a layer large enough to be copied in many reads ", 1<<18))
	ref, _ := layout.ParseRef("example.com/big:1")
	if err := txn.Commit(context.Background(), nil, []layout.Image{{Ref: ref, Desc: layout.Annotate(im.Manifest, ref)}}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	src := open(t, dir)

	out := t.TempDir()
	dest := filepath.Join(out, "a.tar")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var total, written int64
	_, err = archive.Write(ctx, src, src.Images, dest, archive.WriteOptions{
		Total: func(n int64) { total = n },
		// Cancel once all but the last MiB is written: inside the layer,
		// which comes last.
		Progress: func(n int64) {
			if written += n; written >= total-1<<20 {
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Write cancelled during its last blob: %v, want context.Canceled", err)
	}
	if _, err := os.Stat(dest); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the archive was committed after the cancel (%v)", err)
	}
	ents, _ := os.ReadDir(out)
	if len(ents) > 1 || len(ents) == 1 && !strings.HasPrefix(ents[0].Name(), ".a.tar.tmp-") {
		t.Fatalf("left behind: %v", ents)
	}
	// What the cancelled run kept is resumed into the archive a fresh
	// write gives.
	res, err := archive.Write(context.Background(), src, src.Images, dest, archive.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(t.TempDir(), "a.tar")
	if _, err := archive.Write(context.Background(), src, src.Images, fresh, archive.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(dest)
	b, _ := os.ReadFile(fresh)
	if !bytes.Equal(a, b) || len(ents) == 1 && res.Kept == nil {
		t.Fatalf("the resumed archive differs from a fresh one (kept %+v)", res.Kept)
	}
}
