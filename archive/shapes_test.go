package archive_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/shapes"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/verify"
)

func fixtures(t *testing.T) []shapes.Fixture {
	t.Helper()
	fx, err := shapes.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return fx
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

func checkNames(t *testing.T, f shapes.Fixture, got map[string]string) {
	t.Helper()
	for name, d := range f.Images {
		g, ok := got[name]
		if !ok || (d != "" && g != d) {
			t.Fatalf("%s: want %q = %s, got %v", f.Name, name, d, got)
		}
	}
	if len(got) != len(f.Images) {
		t.Fatalf("%s: want %d images, got %v", f.Name, len(f.Images), got)
	}
}

func audit(src *archive.Source) *verify.Report {
	rep := &verify.Report{}
	for _, p := range src.Problems() {
		rep.Add(verify.Problem{Kind: verify.KindOf(p), Message: p.Error()})
	}
	return verify.Check(context.Background(), src, src.Images, rep, verify.Options{})
}

// TestEveryToolShape: what docker, podman, skopeo, crane, regctl, oras and
// containerd write opens in place and streamed with the same names, passes
// verify, imports, and survives a ferry export and re-import unchanged.
func TestEveryToolShape(t *testing.T) {
	ctx := context.Background()
	for _, f := range fixtures(t) {
		if f.Bad {
			continue
		}
		t.Run(f.Name+filepath.Ext(f.Path), func(t *testing.T) {
			src := open(t, f.Path)
			checkNames(t, f, names(src.Images))
			if rep := audit(src); !rep.OK {
				t.Fatalf("verify: %+v", rep.Problems)
			}
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
			dst := filepath.Join(t.TempDir(), "dst")
			if _, err := archive.Import(ctx, f.Path, dst, archive.ImportOptions{}); err != nil {
				t.Fatalf("import: %v", err)
			}
			imported := open(t, dst)
			checkNames(t, f, names(imported.Images))
			if rep := audit(imported); !rep.OK {
				t.Fatalf("imported layout: %+v", rep.Problems)
			}
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

// TestHostileInputs: every hostile fixture fails import with an error
// naming what is wrong, leaves an existing destination exactly as it was,
// and fails verify.
func TestHostileInputs(t *testing.T) {
	ctx := context.Background()
	set := testimage.New(t)
	for _, f := range fixtures(t) {
		if !f.Bad {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "dst")
			if _, err := archive.Import(ctx, set.Dir, dst, archive.ImportOptions{Names: []string{"busybox:1.36"}}); err != nil {
				t.Fatal(err)
			}
			before := tree(t, dst)
			_, err := archive.Import(ctx, f.Path, dst, archive.ImportOptions{})
			if err == nil {
				t.Fatal("import succeeded")
			}
			for _, m := range f.Mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("import error does not mention %q: %v", m, err)
				}
			}
			if after := tree(t, dst); !reflect.DeepEqual(before, after) {
				t.Fatalf("failed import changed the destination")
			}
			var msgs []string
			src, err := archive.Open(ctx, f.Path, archive.OpenOptions{})
			if err == nil {
				rep := audit(src)
				src.Close()
				if rep.OK {
					t.Fatal("verify passed")
				}
				for _, p := range rep.Problems {
					msgs = append(msgs, p.Message+" "+p.Digest)
				}
			} else {
				msgs = append(msgs, err.Error())
			}
			for _, m := range f.Mention {
				if !strings.Contains(strings.Join(msgs, "\n"), m) {
					t.Errorf("verify does not mention %q: %v", m, msgs)
				}
			}
		})
	}
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
