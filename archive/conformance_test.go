package archive_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/fixtures"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/layout/storetest"
)

// openStaged opens p the way import reads it: a stream is staged into a
// transaction, so every blob it carried can be fetched afterwards.
func openStaged(t *testing.T, p string, staged bool) *archive.Source {
	t.Helper()
	opts := archive.OpenOptions{}
	if staged {
		d, err := layout.CreateDir(context.Background(), filepath.Join(t.TempDir(), "stage"))
		if err != nil {
			t.Fatal(err)
		}
		txn := d.Begin()
		t.Cleanup(func() { txn.Abort(); d.Close() })
		opts.Stage = txn
	}
	src, err := archive.Open(context.Background(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// TestReadOnlyConformance holds every input ferry reads to the read-only,
// resolver and lister contracts: the layouts and archives other tools
// write (from the independent fixture generator, which says what each
// holds) and ferry's own archives in every format and compression.
func TestReadOnlyConformance(t *testing.T) {
	fx, err := fixtures.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fx {
		if f.Bad {
			continue
		}
		present, names := oracle(f)
		if len(present) == 0 {
			continue
		}
		stream := !isDir(f.Path) && !strings.HasSuffix(f.Path, ".tar")
		t.Run(filepath.Base(f.Path), func(t *testing.T) {
			storetest.ReadOnly(t, func(t *testing.T) storetest.Opened {
				return storetest.Opened{Store: openStaged(t, f.Path, stream), Present: present}
			})
			src := openStaged(t, f.Path, stream)
			if len(names) > 0 {
				storetest.Resolver(t, src, names)
			}
			storetest.Lister(t, src, names, present)
		})
	}

	set := testimage.New(t)
	base := open(t, set.Dir)
	all, err := base.Blobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var present []digest.Digest
	for _, b := range all {
		present = append(present, b.Digest)
	}
	names := map[string]digest.Digest{}
	for _, im := range base.Images {
		names[im.Name()] = im.Desc.Digest
	}
	for _, name := range []string{"all.tar", "all.tar.gz", "all.tar.zst"} {
		for _, format := range []archive.Format{archive.Both, archive.OCI} {
			p := export(t, base, base.Images, format.String()+"-"+name, archive.WriteOptions{Format: format})
			t.Run("ferry-"+format.String()+"-"+name, func(t *testing.T) {
				stream := !strings.HasSuffix(p, ".tar")
				storetest.ReadOnly(t, func(t *testing.T) storetest.Opened {
					return storetest.Opened{Store: openStaged(t, p, stream), Present: present}
				})
				src := openStaged(t, p, stream)
				storetest.Resolver(t, src, names)
				storetest.Lister(t, src, names, present)
			})
		}
	}
}

// oracle is what the fixture generator says an input holds: the root and
// config of every image, and the names that stand for a known root.
func oracle(f fixtures.Fixture) ([]digest.Digest, map[string]digest.Digest) {
	seen := map[digest.Digest]bool{}
	var present []digest.Digest
	names := map[string]digest.Digest{}
	for _, im := range f.Images {
		for _, d := range []string{im.ManifestDigest, im.ConfigDigest} {
			if d != "" && !seen[digest.Digest(d)] {
				seen[digest.Digest(d)] = true
				present = append(present, digest.Digest(d))
			}
		}
		if im.Name != "" && im.ManifestDigest != "" && !strings.HasPrefix(im.Name, ":") {
			names[im.Name] = digest.Digest(im.ManifestDigest)
		}
	}
	return present, names
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
