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
	d, err := layout.CreateDir(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	txn := d.Begin()
	im := testimage.Build(t, txn, "amd64", strings.Repeat("a large layer, so that copying it takes a while ", 1<<18))
	ref, _ := layout.ParseRef("example.com/big:1")
	if err := txn.Commit(context.Background(), nil, []layout.Image{{Ref: ref, Desc: layout.Annotate(im.Manifest, ref)}}); err != nil {
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

// TestImportRacingGC imports an index whose amd64 platform the layout
// already holds under another name, again and again while gc runs without
// pause. The import relies on the present blobs (and gc used to delete the
// unnamed ones between the import's look and its commit, failing it);
// pinned, they survive, and every import succeeds with the image whole.
func TestImportRacingGC(t *testing.T) {
	ctx := context.Background()
	set := testimage.New(t)
	dir := filepath.Join(t.TempDir(), "dst")
	if _, err := archive.Import(ctx, set.Dir, dir, archive.ImportOptions{Names: []string{"example.com/app:v1"}}); err != nil {
		t.Fatal(err)
	}
	d, err := layout.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	keep, _ := layout.ParseRef("example.com/keep:amd64")
	unname := func(ims []layout.Image) ([]layout.Image, error) {
		return []layout.Image{{Ref: keep, Desc: layout.Annotate(set.AMD64.Manifest, keep)}}, nil
	}
	for i := range 40 {
		if err := d.UpdateIndex(context.Background(), unname); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg gosync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := d.GC(ctx, false); err != nil {
					t.Error(err)
				}
			}
		}()
		_, err := archive.Import(ctx, set.Dir, dir, archive.ImportOptions{Names: []string{"example.com/app:v1"}})
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatalf("round %d: import failed beside gc: %v", i, err)
		}
		got, err := archive.Open(ctx, dir, archive.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ims, _ := archive.Select(got.Images, []string{"example.com/app:v1"})
		rep := verify.Check(ctx, got, ims, nil, verify.Options{Workers: 1})
		got.Close()
		if !rep.OK || len(rep.Images) != 1 || rep.Images[0].Status != "ok" || len(rep.Images[0].Platforms) != 2 {
			t.Fatalf("round %d: layout after an import reported as done: %+v", i, rep)
		}
	}
}
