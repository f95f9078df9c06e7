package archive_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/fixtures"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/verify"
)

// sameTagTwice is a docker-save archive whose two images both claim
// app:1, as a concatenation of two saves gives; docker load keeps the last.
func sameTagTwice(t *testing.T) string {
	var files []struct {
		name string
		body []byte
	}
	var items []map[string]any
	for _, v := range []string{"one", "two"} {
		l := testimage.LayerTar("v.txt", v)
		cfg, _ := json.Marshal(map[string]any{"os": "linux", "architecture": "amd64", "rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{digest.FromBytes(l)}}})
		c := digest.FromBytes(cfg).Encoded()
		files = append(files, struct {
			name string
			body []byte
		}{c + ".json", cfg}, struct {
			name string
			body []byte
		}{v + "/layer.tar", l})
		items = append(items, map[string]any{"Config": c + ".json", "RepoTags": []string{"app:1"}, "Layers": []string{v + "/layer.tar"}})
	}
	man, _ := json.Marshal(items)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range append(files, struct {
		name string
		body []byte
	}{"manifest.json", man}) {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg})
		tw.Write(f.body)
	}
	tw.Close()
	p := filepath.Join(t.TempDir(), "twice.tar")
	os.WriteFile(p, buf.Bytes(), 0o644)
	return p
}

// One name given to two images: import refuses to guess which is meant
// and lists both digests, verify reports it as a problem, and the user
// gets either image by NAME@DIGEST.
func TestOneNameTwoImages(t *testing.T) {
	ctx := context.Background()
	fx, err := fixtures.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var oci fixtures.Fixture
	for _, f := range fx {
		if f.Name == "bad-name-twice" {
			oci = f
		}
	}
	for _, p := range []string{sameTagTwice(t), oci.Path} {
		src, err := archive.Open(ctx, p, archive.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(src.Images) != 2 || src.Images[0].Name() != src.Images[1].Name() || src.Images[0].Desc.Digest == src.Images[1].Desc.Digest {
			t.Fatalf("%s: %+v", p, src.Images)
		}
		name, a, b := src.Images[0].Name(), src.Images[0].Desc.Digest, src.Images[1].Desc.Digest
		rep := verify.Check(ctx, src, src.Images, nil, verify.Options{})
		src.Close()
		found := false
		for _, pr := range rep.Problems {
			found = found || (pr.Kind == verify.KindName && strings.Contains(pr.Message, a.String()) && strings.Contains(pr.Message, b.String()))
		}
		if rep.OK || !found {
			t.Fatalf("%s: verify: ok=%v %+v", p, rep.OK, rep.Problems)
		}

		dst := filepath.Join(t.TempDir(), "dst")
		_, err = archive.Import(ctx, p, dst, archive.ImportOptions{})
		if !errors.Is(err, layout.ErrAmbiguous) || !strings.Contains(err.Error(), a.String()) || !strings.Contains(err.Error(), b.String()) || !strings.Contains(err.Error(), "NAME@DIGEST") {
			t.Fatalf("%s: import: %v", p, err)
		}
		if _, err := os.Stat(dst); !os.IsNotExist(err) {
			t.Fatalf("refused import left %s behind: %v", dst, err)
		}
		if _, err := archive.Import(ctx, p, dst, archive.ImportOptions{Names: []string{name + "@" + b.String()}}); err != nil {
			t.Fatalf("%s: import by digest: %v", p, err)
		}
		got := open(t, dst).Images
		if len(got) != 1 || got[0].Name() != name || got[0].Desc.Digest != b {
			t.Fatalf("%s: imported %+v", p, got)
		}
	}
}
