package layout

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestBlobDirsSyncedOnceBeforeTheIndex: blobs pushed one by one are
// renamed into place with no fsync of their directory each; the
// directories are synced once, when index.json is about to name them,
// and before it does. One directory fsync per blob was half of the 6,000
// fsyncs of a pull of a thousand small images (bench/scale.sh).
func TestBlobDirsSyncedOnceBeforeTheIndex(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := CreateDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var synced []string
	named := false
	d.syncDirFn = func(root *os.Root, p string) error {
		b, err := os.ReadFile(dir + "/index.json")
		if err != nil {
			return err
		}
		named = named || strings.Contains(string(b), "scale.example")
		synced = append(synced, p)
		return syncDir(root, p)
	}
	const n = 50
	var man ocispec.Descriptor
	for i := range n {
		b := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","n":%d}`, i)
		desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString(b), Size: int64(len(b))}
		if err := d.Push(ctx, desc, strings.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		man = desc
	}
	if len(synced) != 0 {
		t.Fatalf("%d directory fsyncs while pushing %d blobs, want none before the index names them", len(synced), n)
	}
	ref, _ := ParseRef("scale.example/app:v1")
	err = d.UpdateIndex(ctx, func(cur []Image) ([]Image, error) {
		return MergeImages(cur, []Image{{Ref: ref, Desc: Annotate(man, ref)}}), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(synced, " ") != "blobs/sha256 blobs" {
		t.Fatalf("synced %q before writing index.json, want blobs/sha256 then blobs, once each", synced)
	}
	if named {
		t.Fatal("index.json named the image before its blobs' directory was synced")
	}
}
