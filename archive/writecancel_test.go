package archive_test

import (
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
// after the signal. A cancel during the copy must leave no archive and
// no temp file.
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
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}
