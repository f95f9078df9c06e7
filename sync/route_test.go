package sync_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
	"github.com/oci-ferry/ferry/verify"
)

// TestCopyEveryRoute copies one multi-platform index along all nine
// routes between a registry, a layout and an archive, with the one
// library call the CLI makes, and finds the same digest, a sound result
// and the name at every destination.
func TestCopyEveryRoute(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	set := testimage.New(t)
	c := &remote.Client{}
	const name = "example.com/app:v1"
	want := set.Index.Digest

	tmp := t.TempDir()
	seedArchive := filepath.Join(tmp, "seed.tar")
	if _, err := sync.Copy(ctx, c, sync.Endpoint{Kind: sync.Layout, Path: set.Dir, Names: []string{name}}, sync.PathEndpoint(seedArchive), sync.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	seedRef := reg.Host + "/seed/app:v1"
	if _, err := sync.Copy(ctx, c, sync.Endpoint{Kind: sync.Layout, Path: set.Dir, Names: []string{name}}, sync.ParseEndpoint(seedRef), sync.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	sources := map[string]sync.Endpoint{
		"registry": sync.ParseEndpoint(seedRef),
		"layout":   {Kind: sync.Layout, Path: set.Dir, Names: []string{name}},
		"archive":  {Kind: sync.Archive, Path: seedArchive, Names: []string{name}},
	}
	n := 0
	for sname, src := range sources {
		for _, dkind := range []sync.Kind{sync.Registry, sync.Layout, sync.Archive} {
			n++
			t.Run(fmt.Sprintf("%s-to-%s", sname, dkind), func(t *testing.T) {
				var dst sync.Endpoint
				switch dkind {
				case sync.Registry:
					dst = sync.ParseEndpoint(fmt.Sprintf("docker://%s/route%d/app:v1", reg.Host, n))
				case sync.Layout:
					dst = sync.Endpoint{Kind: sync.Layout, Path: filepath.Join(t.TempDir(), "dir")}
				case sync.Archive:
					dst = sync.PathEndpoint(filepath.Join(t.TempDir(), "out.tar.zst"))
				}
				res, err := sync.Copy(ctx, c, src, dst, sync.CopyOptions{})
				if err != nil {
					t.Fatalf("copy %s to %s: %v", sname, dkind, err)
				}
				if res.Result() == nil {
					t.Fatal("copy reported nothing")
				}
				if got := digestAt(t, c, dst, src.Names[0]); got != want {
					t.Fatalf("destination holds %s, want %s", got, want)
				}
			})
		}
	}
}

// digestAt resolves the copied image at a destination (a local one keeps
// the source's name), and for a local one also audits it whole.
func digestAt(t *testing.T, c *remote.Client, e sync.Endpoint, name string) digest.Digest {
	t.Helper()
	ctx := context.Background()
	if e.Kind == sync.Registry {
		ref, err := layout.ParseRef(e.Names[0])
		if err != nil {
			t.Fatal(err)
		}
		d, err := c.Repository(ref, false).Resolve(ctx, ref.Tag)
		if err != nil {
			t.Fatal(err)
		}
		return d.Digest
	}
	src, err := archive.Open(ctx, e.Path, archive.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if rep := verify.Check(ctx, src, src.Images, nil, verify.Options{}); !rep.OK {
		t.Fatalf("%s does not verify: %+v", e.Path, rep.Problems)
	}
	d, err := src.Resolve(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest
}
