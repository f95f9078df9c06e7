package archive_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/fixtures"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/verify"
)

// TestEveryToolShape runs ferry against internal/fixtures, an independent
// implementation of what docker (legacy and 25+), podman, skopeo, crane,
// regctl, oras and ctr export write, plus one hostile archive per rule.
// Valid shapes must open in place and streamed with the same names, verify,
// import with the names and digests the generator predicts, and survive a
// ferry archive unchanged. Hostile ones must fail import and verify naming
// what is wrong, and leave an existing destination exactly as it was.
func TestEveryToolShape(t *testing.T) {
	ctx := context.Background()
	fx, err := fixtures.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	set := testimage.New(t)
	for _, f := range fx {
		t.Run(f.Name+filepath.Ext(f.Path), func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "dst")
			if f.Bad {
				refused(t, set.Dir, f.Path, f)
				// The stream reader must refuse what the in-place one does.
				if strings.HasSuffix(f.Path, ".tar") {
					gz := filepath.Join(t.TempDir(), f.Name+".tar.gz")
					writeGzip(t, f.Path, gz)
					refused(t, set.Dir, gz, f)
				}
				return
			}
			src := open(t, f.Path)
			got := names(src.Images)
			for _, im := range f.Images {
				d, ok := got[im.Name]
				if !ok || (im.ManifestDigest != "" && d != im.ManifestDigest) {
					t.Fatalf("want %q = %s, got %v", im.Name, im.ManifestDigest, got)
				}
			}
			if rep := audit(src); !rep.OK {
				t.Fatalf("verify: %+v", rep.Problems)
			}
			// A tar read in place and the same tar streamed must agree.
			if fi, _ := os.Stat(f.Path); !fi.IsDir() {
				r, _ := os.Open(f.Path)
				defer r.Close()
				st, err := archive.OpenStream(ctx, r, f.Path, archive.OpenOptions{})
				if err != nil {
					t.Fatalf("streamed: %v", err)
				}
				if a, b := names(src.Images), names(st.Images); !reflect.DeepEqual(a, b) {
					t.Fatalf("in place %v, streamed %v", a, b)
				}
				if rep := audit(st); !rep.OK {
					t.Fatalf("streamed verify: %+v", rep.Problems)
				}
			}
			if _, err := archive.Import(ctx, f.Path, dst, archive.ImportOptions{}); err != nil {
				t.Fatalf("import: %v", err)
			}
			imported := open(t, dst)
			if rep := audit(imported); !rep.OK {
				t.Fatalf("imported layout: %+v", rep.Problems)
			}
			// Through a ferry archive and back: nothing changes.
			out := filepath.Join(t.TempDir(), "again.tar.zst")
			if _, err := archive.Write(ctx, imported, imported.Images, out, archive.WriteOptions{}); err != nil {
				t.Fatalf("export: %v", err)
			}
			again := filepath.Join(t.TempDir(), "again")
			if _, err := archive.Import(ctx, out, again, archive.ImportOptions{}); err != nil {
				t.Fatalf("re-import: %v", err)
			}
			if a, b := names(imported.Images), names(open(t, again).Images); !reflect.DeepEqual(a, b) {
				t.Fatalf("changed in transit: %v vs %v", a, b)
			}
		})
	}
}

// refused checks that import and verify of a hostile input at p both fail
// naming f's defect, and that the failed import leaves an existing
// destination exactly as it was.
func refused(t *testing.T, good, p string, f fixtures.Fixture) {
	t.Helper()
	ctx := context.Background()
	dst := filepath.Join(t.TempDir(), "dst")
	if _, err := archive.Import(ctx, good, dst, archive.ImportOptions{Names: []string{"busybox:1.36"}}); err != nil {
		t.Fatal(err)
	}
	before := tree(t, dst)
	_, err := archive.Import(ctx, p, dst, archive.ImportOptions{})
	if err == nil {
		t.Fatalf("import of %s succeeded (%s)", p, f.Note)
	}
	for _, m := range f.Mention {
		if !strings.Contains(err.Error(), m) && !strings.Contains(err.Error(), strings.ReplaceAll(m, `\`, `\\`)) {
			t.Errorf("%s: error does not mention %q: %v", p, m, err)
		}
	}
	if after := tree(t, dst); !reflect.DeepEqual(before, after) {
		t.Fatal("failed import changed the destination")
	}
	// verify must fail too, on the same evidence.
	msgs := []string{}
	if src, err := archive.Open(ctx, p, archive.OpenOptions{}); err != nil {
		msgs = append(msgs, err.Error())
	} else {
		rep := audit(src)
		src.Close()
		if rep.OK {
			t.Fatalf("verify passed %s (%s)", p, f.Note)
		}
		for _, p := range rep.Problems {
			msgs = append(msgs, p.Message+" "+p.Digest+" "+p.File)
		}
	}
	all := strings.Join(msgs, "\n")
	for _, m := range f.Mention {
		if !strings.Contains(all, m) && !strings.Contains(all, strings.ReplaceAll(m, `\`, `\\`)) {
			t.Errorf("%s: verify does not mention %q: %v", p, m, msgs)
		}
	}
}

func writeGzip(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	if err := os.WriteFile(to, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// names maps what a source holds: name → root digest.
func names(ims []layout.Image) map[string]string {
	m := map[string]string{}
	for _, im := range ims {
		n := im.Name()
		if strings.HasPrefix(n, "@") {
			n = ""
		}
		m[n] = im.Desc.Digest.String()
	}
	return m
}

func audit(src *archive.Source) *verify.Report {
	rep := &verify.Report{}
	for _, p := range src.Problems() {
		rep.Add(verify.Problem{Kind: verify.KindOf(p), Message: p.Error()})
	}
	return verify.Check(context.Background(), src, src.Images, rep, verify.Options{})
}

// tree snapshots a layout's files (not .ferry/) and their content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == ".ferry" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			b, _ := os.ReadFile(p)
			m[rel] = string(b)
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return m
}
