package serve_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/serve"
)

// TestNaming: two registries' images that share a path are each served
// under their full names and neither under the short one (a guess would
// serve the wrong image); an image named by a tag alone is served under
// --repo, or not at all, with a note either way; --prefix applies to all.
func TestNaming(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := layout.CreateDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	txn := d.Begin()
	one := testimage.Build(t, txn, "amd64", "ghcr's")
	two := testimage.Build(t, txn, "amd64", "docker hub's")
	three := testimage.Build(t, txn, "amd64", "tag only")
	var ims []layout.Image
	for name, desc := range map[string]layout.Image{"ghcr.io/a/b:1": {Desc: one.Manifest}, "a/b:2": {Desc: two.Manifest}, "quay.io/c/d:3": {Desc: one.Manifest}} {
		r, _ := layout.ParseRef(name)
		ims = append(ims, layout.Image{Ref: r, Desc: layout.Annotate(desc.Desc, r)})
	}
	ims = append(ims, layout.Image{Ref: layout.Ref{Tag: "v1"}, Desc: layout.Annotate(three.Manifest, layout.Ref{Tag: "v1"})})
	if err := txn.Commit(ctx, nil, ims); err != nil {
		t.Fatal(err)
	}
	d.Close()

	srv, host := start(t, dir, serve.Config{})
	if got := strings.Join(srv.Repositories(), " "); got != "c/d docker.io/a/b ghcr.io/a/b quay.io/c/d" {
		t.Errorf("repositories: %s", got)
	}
	notes := strings.Join(srv.Notes(), "\n")
	if !strings.Contains(notes, "a/b is not served") || !strings.Contains(notes, ":v1") || !strings.Contains(notes, "--repo") {
		t.Errorf("notes:\n%s", notes)
	}
	resp, _ := get(t, "GET", "http://"+host+"/v2/ghcr.io/a/b/manifests/1")
	if resp.Header.Get("Docker-Content-Digest") != one.Manifest.Digest.String() {
		t.Errorf("ghcr.io/a/b:1 is %s", resp.Header.Get("Docker-Content-Digest"))
	}
	resp, _ = get(t, "GET", "http://"+host+"/v2/docker.io/a/b/manifests/2")
	if resp.Header.Get("Docker-Content-Digest") != two.Manifest.Digest.String() {
		t.Errorf("docker.io/a/b:2 is %s", resp.Header.Get("Docker-Content-Digest"))
	}

	srv, host = start(t, dir, serve.Config{Options: serve.Options{Prefix: serve.ParsePrefix("mirror"), DefaultRepo: "local/img"}})
	want := []string{"mirror/c/d", "mirror/docker.io/a/b", "mirror/ghcr.io/a/b", "mirror/local/img", "mirror/quay.io/c/d"}
	if got := srv.Repositories(); !slices.Equal(got, want) {
		t.Errorf("with --prefix mirror --repo local/img: %v", got)
	}
	resp, _ = get(t, "GET", "http://"+host+"/v2/mirror/local/img/manifests/v1")
	if resp.StatusCode != 200 || resp.Header.Get("Docker-Content-Digest") != three.Manifest.Digest.String() {
		t.Errorf("tag-only image under --repo: %d %s", resp.StatusCode, resp.Header.Get("Docker-Content-Digest"))
	}
	resp, _ = get(t, "GET", "http://"+host+"/v2/ghcr.io/a/b/manifests/1")
	if resp.StatusCode != 404 {
		t.Errorf("unprefixed name still served: %d", resp.StatusCode)
	}
}
