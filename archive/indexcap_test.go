package archive_test

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
)

// TestImportRefusesAnIndexItCouldNotRead: a docker-save archive whose one
// image has 20,000 RepoTags used to be imported into an index.json of
// over 6 MB that ferry then refused to read, for the images already there
// too. The import must be refused before it writes anything, and the
// layout must stay readable.
func TestImportRefusesAnIndexItCouldNotRead(t *testing.T) {
	ctx := context.Background()
	layer := testimage.LayerTar("a.txt", "one layer")
	cfg, _ := json.Marshal(map[string]any{"os": "linux", "architecture": "amd64",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{digest.FromBytes(layer)}}})
	var tags []string
	for i := range 20000 {
		tags = append(tags, fmt.Sprintf("registry.example.com/team/app:build-%05d", i))
	}
	man, _ := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": tags, "Layers": []string{"layer.tar"}}})
	src := filepath.Join(t.TempDir(), "many-tags.tar")
	f, _ := os.Create(src)
	tw := tar.NewWriter(f)
	for _, e := range []struct {
		name string
		body []byte
	}{{"layer.tar", layer}, {"config.json", cfg}, {"manifest.json", man}} {
		tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg})
		tw.Write(e.body)
	}
	tw.Close()
	f.Close()

	set := testimage.New(t)
	before := tree(t, set.Dir)
	_, err := archive.Import(ctx, src, set.Dir, archive.ImportOptions{})
	if !errors.Is(err, layout.ErrTooLarge) || !strings.Contains(err.Error(), "index.json would be") {
		t.Fatalf("import of 20000 names: %v", err)
	}
	if !reflect.DeepEqual(before, tree(t, set.Dir)) {
		t.Fatal("a refused import changed the layout")
	}
	d, err := layout.OpenDir(set.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if ims, err := d.Images(); err != nil || len(ims) != 4 {
		t.Fatalf("the layout after a refused import: %v, %v", ims, err)
	}
}
