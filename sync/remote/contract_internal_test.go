package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/layout"
)

// TestRegistryCodesMapToSentinels: the real registry's DIGEST_INVALID,
// SIZE_INVALID, BLOB_UNKNOWN and MANIFEST_UNKNOWN reach callers as
// ferry's sentinels, with the registry's words kept and no secret shown.
func TestRegistryCodesMapToSentinels(t *testing.T) {
	ctx := context.Background()
	reg := regtest.StartWith(t, regtest.Options{Users: map[string]string{"alice": "s3cret-pass"}})
	c := &Client{Credentials: func(context.Context, string) (Credential, error) {
		return Credential{Username: "alice", Password: "s3cret-pass"}, nil
	}}
	ref, _ := layout.ParseRef(reg.Host + "/codes/app:v1")
	repo := c.Repository(ref, true)
	check := func(what string, err, want error, code string) {
		t.Helper()
		var re *RegistryError
		if !errors.Is(err, want) || !errors.As(err, &re) || !re.HasCode(code) {
			t.Fatalf("%s: want %v from %s, got %v", what, want, code, err)
		}
		if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), code) || re.Message == "" {
			t.Fatalf("%s: message %q (must keep the registry's text, never the password)", what, err)
		}
	}

	raw := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`)
	d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(raw), Size: int64(len(raw))}
	_, err := repo.putManifest(ctx, d, raw, digest.FromString("other").String())
	check("manifest under another digest", err, layout.ErrDigestMismatch, "DIGEST_INVALID")

	q := repo.req(http.MethodPost, repo.url("blobs", "uploads/"))
	q.length, q.body = 0, func() (io.Reader, error) { return http.NoBody, nil }
	resp, err := c.do(ctx, q)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start upload: %v", err)
	}
	drain(resp)
	loc, _ := location(resp)
	q = repo.req(http.MethodPatch, loc)
	q.length, q.body = 5, func() (io.Reader, error) { return strings.NewReader("12345"), nil }
	q.header.Set("Content-Range", "0-9")
	resp, err = c.do(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	check("chunk whose range and length differ", failure(resp), layout.ErrSizeMismatch, "SIZE_INVALID")

	_, err = layout.ReadAll(ctx, repo, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromString("absent"), Size: 6}, 1<<10)
	check("absent blob", err, layout.ErrNotFound, "BLOB_UNKNOWN")
	_, err = repo.Resolve(ctx, "no-such-tag")
	check("absent tag", err, layout.ErrNotFound, "MANIFEST_UNKNOWN")
}

// TestCodesWithoutStatus: a registry that sends the codes with another
// status (400 for an unknown blob, as some do) maps them all the same.
func TestCodesWithoutStatus(t *testing.T) {
	for code, want := range map[string]error{"BLOB_UNKNOWN": layout.ErrNotFound, "MANIFEST_UNKNOWN": layout.ErrNotFound,
		"DIGEST_INVALID": layout.ErrDigestMismatch, "SIZE_INVALID": layout.ErrSizeMismatch} {
		req, _ := http.NewRequest(http.MethodPut, "https://r.example/v2/a/blobs/uploads/x?_state=secret-state", nil)
		resp := &http.Response{StatusCode: http.StatusBadRequest, Request: req,
			Body: io.NopCloser(bytes.NewReader([]byte(`{"errors":[{"code":"` + code + `","message":"registry words"}]}`)))}
		err := failure(resp)
		if !errors.Is(err, want) || !strings.Contains(err.Error(), "registry words") || strings.Contains(err.Error(), "secret-state") {
			t.Errorf("%s: %v", code, err)
		}
		if code != "BLOB_UNKNOWN" && code != "MANIFEST_UNKNOWN" && errors.Is(err, layout.ErrNotFound) {
			t.Errorf("%s is not a missing blob: %v", code, err)
		}
	}
}
