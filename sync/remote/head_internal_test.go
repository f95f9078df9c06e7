package remote

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// TestHeadTagFallsBack: a HEAD whose headers do not name a manifest (no
// digest, a media type that is not a manifest's, no or an absurd length)
// is followed by a GET, whose bytes give the descriptor; a complete HEAD
// is taken as it is.
func TestHeadTagFallsBack(t *testing.T) {
	body := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":2},"layers":[]}`
	d := digest.FromString(body)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		length  string
		get     bool
	}{
		{"complete", map[string]string{"Docker-Content-Digest": d.String(), "Content-Type": ocispec.MediaTypeImageManifest}, fmt.Sprint(len(body)), false},
		{"no digest", map[string]string{"Content-Type": ocispec.MediaTypeImageManifest}, fmt.Sprint(len(body)), true},
		{"not a manifest", map[string]string{"Docker-Content-Digest": d.String(), "Content-Type": "application/json"}, fmt.Sprint(len(body)), true},
		{"absurd length", map[string]string{"Docker-Content-Digest": d.String(), "Content-Type": ocispec.MediaTypeImageManifest}, fmt.Sprint(layout.MaxManifestSize + 1), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gets := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v2/" {
					return
				}
				if r.Method == http.MethodGet {
					gets++
					w.Header().Set("Content-Type", ocispec.MediaTypeImageManifest)
					fmt.Fprint(w, body)
					return
				}
				for k, v := range tc.headers {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Length", tc.length)
			}))
			defer srv.Close()
			repo := repoOf(&Client{}, strings.TrimPrefix(srv.URL, "http://"), "app")
			got, err := repo.HeadTag(context.Background(), "v1")
			if err != nil || got.Digest != d || got.Size != int64(len(body)) || got.MediaType != ocispec.MediaTypeImageManifest {
				t.Fatalf("%+v %v", got, err)
			}
			if (gets == 1) != tc.get {
				t.Fatalf("%d GETs", gets)
			}
		})
	}
}
