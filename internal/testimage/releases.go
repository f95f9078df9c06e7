package testimage

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// Releases is the two-release scenario of the delta tests: R1 is the
// standard set; R2 is a copy of it plus example.com/app:v2, an index whose
// amd64 manifest is release 1's (unchanged, so a delta leaves it out) and
// whose arm64 image (V2) is new. Have is the have-list of R1, encoded and
// read back as the sender reads the file carried out.
type Releases struct {
	Set    *Set
	R1, R2 string
	V2     Image
	V2Ref  string
	Have   *layout.HaveList
}

// TwoReleases builds the scenario.
func TwoReleases(t testing.TB) *Releases {
	t.Helper()
	ctx := context.Background()
	set := New(t)
	r := &Releases{Set: set, R1: set.Dir, R2: filepath.Join(t.TempDir(), "r2"), V2Ref: "example.com/app:v2"}
	if out, err := exec.Command("cp", "-a", set.Dir, r.R2).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	d, err := layout.CreateDir(ctx, r.R2)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	txn := d.Begin()
	r.V2 = Build(t, txn, "arm64", "hello from arm64, release 2")
	a, b := set.AMD64.Manifest, r.V2.Manifest
	a.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	b.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64"}
	idx, _ := json.Marshal(ocispec.Index{Versioned: v2, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{a, b}})
	desc := Put(t, txn, ocispec.MediaTypeImageIndex, idx)
	ref, _ := layout.ParseRef(r.V2Ref)
	if err := txn.Commit(ctx, nil, []layout.Image{{Ref: ref, Desc: layout.Annotate(desc, ref)}}); err != nil {
		t.Fatal(err)
	}
	r.Have = HaveOf(t, r.R1)
	return r
}

// HaveOf is the have-list of the layout at dir: every blob file and name.
func HaveOf(t testing.TB, dir string) *layout.HaveList {
	t.Helper()
	h := &layout.HaveList{}
	for _, alg := range []string{"sha256", "sha512"} {
		es, _ := os.ReadDir(filepath.Join(dir, "blobs", alg))
		for _, e := range es {
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			h.Add(digest.NewDigestFromEncoded(digest.Algorithm(alg), e.Name()), fi.Size())
		}
	}
	var b bytes.Buffer
	if err := h.Encode(&b); err != nil {
		t.Fatal(err)
	}
	h, err := layout.ReadHaveList(&b, filepath.Join(dir, "have.json"))
	if err != nil {
		t.Fatal(err)
	}
	return h
}
