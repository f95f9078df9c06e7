package archive_test

import (
	"context"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/verify"
)

// TestTwoImportsIntoANewDirectory starts two imports into a directory that
// does not exist yet; one fails at once (it names no image of the source).
// Its clean-up used to run without the lock and remove .ferry/, oci-layout
// and index.json while the other import was still copying, which then
// failed or left no layout. The good import must succeed every time and
// leave a layout that verifies.
func TestTwoImportsIntoANewDirectory(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	d, err := layout.CreateDir(src)
	if err != nil {
		t.Fatal(err)
	}
	txn := d.Begin()
	im := testimage.Build(t, txn, "amd64", strings.Repeat("a large layer, so that copying it takes a while ", 1<<18))
	ref, _ := layout.ParseRef("example.com/big:1")
	if err := txn.Commit(nil, []layout.Image{{Ref: ref, Desc: layout.Annotate(im.Manifest, ref)}}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	for i := range 8 {
		dir := filepath.Join(t.TempDir(), "new")
		start := make(chan struct{})
		var wg gosync.WaitGroup
		var good, bad error
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			_, good = archive.Import(ctx, src, dir, archive.ImportOptions{})
		}()
		go func() {
			defer wg.Done()
			<-start
			_, bad = archive.Import(ctx, src, dir, archive.ImportOptions{Names: []string{"example.com/none:1"}})
		}()
		close(start)
		wg.Wait()
		if bad == nil {
			t.Fatal("an import of a name the source lacks succeeded")
		}
		if good != nil {
			t.Fatalf("round %d: the good import failed beside a failing one: %v", i, good)
		}
		got, err := archive.Open(ctx, dir, archive.OpenOptions{})
		if err != nil {
			t.Fatalf("round %d: the layout the good import wrote: %v", i, err)
		}
		rep := verify.Check(ctx, got, got.Images, nil, verify.Options{Workers: 1})
		got.Close()
		if !rep.OK || len(rep.Images) != 1 || rep.Images[0].Digest != im.Manifest.Digest.String() {
			t.Fatalf("round %d: layout after the good import: %+v", i, rep)
		}
	}
}
