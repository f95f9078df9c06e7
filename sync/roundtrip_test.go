package sync_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/internal/fixtures"
	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
)

// TestEveryShapeRoundTrip pushes the ferry-layout fixture (a Docker
// schema2 manifest list, an OCI index, tagged images, an image kept by
// digest only and a referrer) and pulls each back: every manifest comes
// back byte-identical.
func TestEveryShapeRoundTrip(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	fx, err := fixtures.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var lay fixtures.Fixture
	for _, f := range fx {
		if f.Name == "ferry-layout" {
			lay = f
		}
	}
	src := open(t, lay.Path)
	c := &remote.Client{}
	pushed, err := sync.Push(ctx, c, src, src.Images, sync.PushOptions{To: reg.Host})
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, p := range pushed {
		refs = append(refs, p.Target) // name[:tag]@digest: pulled by digest
	}
	dir := t.TempDir()
	if _, err := sync.Pull(ctx, c, refs, dir, sync.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range pushed {
		want, err := os.ReadFile(filepath.Join(lay.Path, "blobs", "sha256", p.Digest.Encoded()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", p.Digest.Encoded()))
		if err != nil || string(got) != string(want) {
			t.Fatalf("%s (%s) did not come back byte-identical", p.Source, p.Digest)
		}
	}
	if len(pushed) != len(src.Images) {
		t.Fatalf("pushed %d of %d images", len(pushed), len(src.Images))
	}
}

// TestPullFetchesOnlyWhatIsMissing: a second pull into the same layout
// sends no blob GET for what the first one stored.
func TestPullFetchesOnlyWhatIsMissing(t *testing.T) {
	ctx := context.Background()
	reg, set := seeded(t)
	c := &remote.Client{}
	dir := t.TempDir()
	if _, err := sync.Pull(ctx, c, []string{reg.Host + "/seed/library/busybox:1.36"}, dir, sync.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(reg.Log)
	if _, err := sync.Pull(ctx, c, []string{reg.Host + "/seed/library/busybox:1.36", reg.Host + "/seed/app:v1"}, dir, sync.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(reg.Log)
	second := string(after[len(before):])
	if strings.Contains(second, "/blobs/"+set.Single.Layer.Digest.String()) {
		t.Fatal("the second pull fetched a layer the layout already held")
	}
	if !strings.Contains(second, "/blobs/"+set.ARM64.Layer.Digest.String()) {
		t.Fatal("the second pull did not fetch the new image's layers")
	}
}

// TestCredentialHelper: credentials come from docker-credential-NAME as
// docker's credHelpers configure it.
func TestCredentialHelper(t *testing.T) {
	reg := regtest.StartWith(t, regtest.Options{Users: map[string]string{"carol": "from-helper"}})
	bin := t.TempDir()
	helper := "#!/bin/sh\nread host\n[ \"$host\" = \"" + reg.Host + "\" ] || { echo 'credentials not found in native keychain'; exit 1; }\n" +
		"echo '{\"ServerURL\":\"'$host'\",\"Username\":\"carol\",\"Secret\":\"from-helper\"}'\n"
	os.WriteFile(filepath.Join(bin, "docker-credential-ferrytest"), []byte(helper), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	cfg := t.TempDir()
	os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"credHelpers":{"`+reg.Host+`":"ferrytest"}}`), 0o600)
	t.Setenv("DOCKER_CONFIG", cfg)
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	if err := pushPull(t, &remote.Client{Credentials: remote.DockerCredentials(nil)}, reg.Host); err != nil {
		t.Fatal(err)
	}
}
