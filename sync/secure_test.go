package sync_test

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
)

// pushPull pushes busybox:1.36 to reg with c and pulls it back.
func pushPull(t *testing.T, c *remote.Client, host string) error {
	set := testimage.New(t)
	src := open(t, set.Dir)
	ims, _ := archive.Select(src.Images, []string{"busybox:1.36"})
	if _, err := sync.Push(context.Background(), c, src, ims, sync.PushOptions{To: host}); err != nil {
		return err
	}
	res, err := sync.Pull(context.Background(), c, []string{host + "/library/busybox:1.36"}, t.TempDir(), sync.PullOptions{})
	if err == nil && res[0].Digest != set.Single.Manifest.Digest {
		t.Fatalf("digest changed: %s", res[0].Digest)
	}
	return err
}

// TestBasicAuth: htpasswd credentials from docker's config.json work;
// anonymous access fails with advice, and the password never shows.
func TestBasicAuth(t *testing.T) {
	reg := regtest.StartWith(t, regtest.Options{Users: map[string]string{"alice": "s3cret-pass"}})
	err := pushPull(t, &remote.Client{Credentials: remote.DockerCredentials(nil)}, reg.Host)
	if err == nil || !strings.Contains(err.Error(), "password") {
		t.Fatalf("anonymous push: want advice about credentials, got %v", err)
	}
	cfg := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("alice:s3cret-pass"))
	os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"auths":{"`+reg.Host+`":{"auth":"`+auth+`"}}}`), 0o600)
	t.Setenv("DOCKER_CONFIG", cfg)
	t.Setenv("REGISTRY_AUTH_FILE", "")
	if err := pushPull(t, &remote.Client{Credentials: remote.DockerCredentials(nil)}, reg.Host); err != nil {
		t.Fatal(err)
	}
	bad := &remote.Client{Credentials: remote.DockerCredentials(map[string]remote.Credential{reg.Host: {Username: "alice", Password: "wrong-pass"}})}
	err = pushPull(t, bad, reg.Host)
	if err == nil || strings.Contains(err.Error(), "wrong-pass") {
		t.Fatalf("wrong password: %v", err)
	}
}

// TestTLS: a registry with a certificate from the test's CA is trusted
// with --ca-file or --insecure and refused otherwise.
func TestTLS(t *testing.T) {
	reg := regtest.StartWith(t, regtest.Options{TLS: true})
	if err := pushPull(t, &remote.Client{}, reg.Host); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: want a certificate error, got %v", err)
	}
	if err := pushPull(t, &remote.Client{CAFile: reg.CAFile}, reg.Host); err != nil {
		t.Fatal(err)
	}
	if err := pushPull(t, &remote.Client{Insecure: true}, reg.Host); err != nil {
		t.Fatal(err)
	}
}
