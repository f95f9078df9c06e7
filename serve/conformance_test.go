package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/serve"
)

// conformanceBinary finds the suite `make conformance` builds.
func conformanceBinary(t *testing.T) string {
	if p := os.Getenv("FERRY_CONFORMANCE_BIN"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "bin", "conformance.test")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("conformance suite not built at %s: run `make conformance` (CI must not skip it)", p)
		}
		t.Skipf("conformance suite not built at %s: run `make conformance`", p)
	}
	return p
}

// TestConformancePull runs the OCI distribution-spec conformance suite's
// pull tests (push, delete and the uploads it cannot do are disabled, as
// the suite asks of a read-only registry) against a layout seeded with
// what they ask for: tags, an image, an index with its children, their
// blobs, and a subject with a referrer.
func TestConformancePull(t *testing.T) {
	bin := conformanceBinary(t)
	ctx := context.Background()
	dir := t.TempDir()
	d, err := layout.CreateDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	txn := d.Begin()
	amd := testimage.Build(t, txn, "amd64", "conformance amd64")
	arm := testimage.Build(t, txn, "arm64", "conformance arm64")
	a, r := amd.Manifest, arm.Manifest
	a.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	r.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64"}
	raw, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{a, r}})
	idx := testimage.Put(t, txn, ocispec.MediaTypeImageIndex, raw)
	empty := testimage.Put(t, txn, "application/vnd.oci.empty.v1+json", []byte("{}"))
	subj := amd.Manifest
	raw, _ = json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: "application/vnd.example.signature", Config: empty, Layers: []ocispec.Descriptor{empty}, Subject: &subj})
	sig := testimage.Put(t, txn, ocispec.MediaTypeImageManifest, raw)
	var ims []layout.Image
	for name, desc := range map[string]ocispec.Descriptor{"conformance/repo1:image": amd.Manifest, "conformance/repo1:index": idx, "conformance/repo1:sig": sig} {
		ref, _ := layout.ParseRef(name)
		ims = append(ims, layout.Image{Ref: ref, Desc: layout.Annotate(desc, ref)})
	}
	if err := txn.Commit(ctx, nil, ims); err != nil {
		t.Fatal(err)
	}
	d.Close()
	// Through serve.Listen, as `ferry serve` runs it.
	src, err := archive.OpenInPlace(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	srv, err := serve.New(ctx, src, serve.Config{Log: serve.NewLogger(testLog{t}, false)})
	if err != nil {
		t.Fatal(err)
	}
	host, _ := listen(t, srv, serve.ListenOptions{Addr: "127.0.0.1:0"})
	results := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Dir = results
	cmd.Env = append(os.Environ(),
		"OCI_REGISTRY="+host, "OCI_TLS=disabled", "OCI_REPO1=conformance/repo1", "OCI_REPO2=conformance/repo2",
		"OCI_RESULTS_DIR="+results, "OCI_VERSION=1.1", "OCI_LOG=warn",
		"OCI_API_PULL=true", "OCI_API_PUSH=false",
		"OCI_API_BLOBS_DELETE=false", "OCI_API_MANIFESTS_DELETE=false", "OCI_API_TAGS_DELETE=false",
		"OCI_API_BLOBS_MOUNT_ANONYMOUS=false", "OCI_API_BLOBS_DIGEST_HEADER=true",
		// Left at the suite's default (false): with read-only data it
		// checks the header on a response it never keeps (api.go,
		// ManifestGetExists saves the response only for content it
		// generated), so it fails against any server. TestManifestsAndBlobs
		// checks Docker-Content-Digest on every manifest answer instead.
		"OCI_API_MANIFESTS_DIGEST_HEADER=false",
		"OCI_API_TAGS_LIST=true", "OCI_API_REFERRER=true",
		"OCI_RO_DATA_TAGS=image index sig",
		"OCI_RO_DATA_MANIFESTS="+strings.Join([]string{amd.Manifest.Digest.String(), arm.Manifest.Digest.String(), idx.Digest.String(), sig.Digest.String()}, " "),
		"OCI_RO_DATA_BLOBS="+strings.Join([]string{amd.Config.Digest.String(), amd.Layer.Digest.String(), arm.Layer.Digest.String(), empty.Digest.String()}, " "),
		"OCI_RO_DATA_REFERRERS="+amd.Manifest.Digest.String(),
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("conformance suite:\n%s", out.String())
	// This version of the suite prints its report, then panics writing
	// results.yaml whenever push is disabled (ReportResultsYAML looks up
	// the test data of the push-only blob tests it skipped, which it
	// never made). That one crash, after a report that passed, is not a
	// failure of the server; any other exit is.
	knownCrash := strings.Contains(out.String(), "ReportResultsYAML") && strings.Contains(out.String(), "nil pointer dereference")
	if err != nil && !knownCrash {
		t.Fatalf("conformance suite failed: %v (results in %s)", err, results)
	}
	for _, want := range []string{"OCI Conformance Test: Pass", "read-only/pull: Pass", "read-only/head: Pass", "read-only/referrers: Pass", "read-only/tag-list: Pass"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the suite's report does not say %q", want)
		}
	}
}
