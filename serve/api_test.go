package serve_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/serve"
)

// wantError checks a response is the spec's error document with code.
func wantError(t *testing.T, what string, status int, body string, wantStatus int, code string) {
	t.Helper()
	var doc struct {
		Errors []struct{ Code, Message string }
	}
	if status != wantStatus {
		t.Errorf("%s: status %d, want %d (%s)", what, status, wantStatus, body)
		return
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || len(doc.Errors) != 1 || doc.Errors[0].Code != code {
		t.Errorf("%s: body %s, want error code %s", what, body, code)
	}
}

func TestManifestsAndBlobs(t *testing.T) {
	set := testimage.New(t)
	_, host := start(t, set.Dir, serve.Config{})
	base := "http://" + host + "/v2/"
	resp, body := get(t, "GET", base)
	if resp.StatusCode != 200 || body != "{}" || resp.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Fatalf("/v2/: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	m := set.Single.Manifest
	for _, method := range []string{"GET", "HEAD"} {
		for _, ref := range []string{"1.36", "latest", m.Digest.String()} {
			for _, name := range []string{"library/busybox", "docker.io/library/busybox"} {
				resp, body := get(t, method, base+name+"/manifests/"+ref)
				h := resp.Header
				if resp.StatusCode != 200 || h.Get("Content-Type") != ocispec.MediaTypeImageManifest ||
					h.Get("Docker-Content-Digest") != m.Digest.String() || h.Get("Content-Length") != strconv.FormatInt(m.Size, 10) {
					t.Errorf("%s %s:%s: %d %v", method, name, ref, resp.StatusCode, h)
				}
				if method == "GET" && int64(len(body)) != m.Size {
					t.Errorf("GET %s:%s: %d bytes", name, ref, len(body))
				}
			}
		}
	}
	resp, _ = get(t, "GET", base+"app/manifests/v1")
	if resp.Header.Get("Content-Type") != ocispec.MediaTypeImageIndex {
		t.Errorf("index served as %q", resp.Header.Get("Content-Type"))
	}
	// A child manifest of the index, by digest, under the index's names.
	resp, _ = get(t, "GET", base+"example.com/app/manifests/"+set.ARM64.Manifest.Digest.String())
	if resp.StatusCode != 200 {
		t.Errorf("child manifest: %d", resp.StatusCode)
	}
	l := set.Single.Layer
	resp, body = get(t, "GET", base+"library/busybox/blobs/"+l.Digest.String())
	if resp.StatusCode != 200 || int64(len(body)) != l.Size || resp.Header.Get("Docker-Content-Digest") != l.Digest.String() {
		t.Errorf("blob: %d, %d bytes, %v", resp.StatusCode, len(body), resp.Header)
	}
	resp, body = get(t, "HEAD", base+"library/busybox/blobs/"+l.Digest.String())
	if resp.StatusCode != 200 || resp.ContentLength != l.Size || body != "" {
		t.Errorf("HEAD blob: %d, %d", resp.StatusCode, resp.ContentLength)
	}
	// A registry client pulls per repository: busybox's layer is not app's.
	resp, body = get(t, "GET", base+"app/blobs/"+l.Digest.String())
	wantError(t, "blob of another repository", resp.StatusCode, body, 404, "BLOB_UNKNOWN")
	resp, body = get(t, "GET", base+"app/manifests/"+m.Digest.String())
	wantError(t, "manifest of another repository", resp.StatusCode, body, 404, "MANIFEST_UNKNOWN")
	resp, body = get(t, "GET", base+"library/busybox/manifests/nope")
	wantError(t, "unknown tag", resp.StatusCode, body, 404, "MANIFEST_UNKNOWN")
	resp, body = get(t, "GET", base+"nothere/manifests/latest")
	wantError(t, "unknown repository", resp.StatusCode, body, 404, "NAME_UNKNOWN")
	resp, body = get(t, "HEAD", base+"nothere/manifests/latest")
	if resp.StatusCode != 404 || body != "" {
		t.Errorf("HEAD of an unknown name: %d %q", resp.StatusCode, body)
	}
}

// TestRanges asks for ranges of a layer in a layout, in a tar read in
// place and split across the volumes of a set (ranges that start in one
// chunk and end in another).
func TestRanges(t *testing.T) {
	dir, im := bigImage(t)
	ctx := context.Background()
	src, err := archive.Open(ctx, dir, archive.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tarPath := filepath.Join(t.TempDir(), "big.tar")
	if _, err := archive.Write(ctx, src, src.Images, tarPath, archive.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	volDir := t.TempDir()
	res, err := archive.Write(ctx, src, src.Images, filepath.Join(volDir, "big.tar"), archive.WriteOptions{VolumeSize: 150 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Volumes) < 3 {
		t.Fatalf("%d volumes; the layer should be split", len(res.Volumes))
	}
	for name, p := range map[string]string{"layout": dir, "tar": tarPath, "volumes": volDir} {
		t.Run(name, func(t *testing.T) { testRanges(t, p, im) })
	}
}

func testRanges(t *testing.T, path string, im testimage.Image) {
	_, host := start(t, path, serve.Config{})
	url := "http://" + host + "/v2/big/blobs/" + im.Layer.Digest.String()
	_, whole := get(t, "GET", url)
	size := im.Layer.Size
	for _, tc := range []struct {
		hdr        string
		start, end int64
	}{
		{"bytes=0-0", 0, 0},
		{"bytes=100-199", 100, 199},
		{"bytes=70000-", 70000, size - 1},
		{"bytes=140000-160000", 140000, 160000},
		{"bytes=300000-300010", 300000, 300010},
		{"bytes=-10", size - 10, size - 1},
		{"bytes=5-" + strconv.FormatInt(size+1000, 10), 5, size - 1},
	} {
		resp, body := get(t, "GET", url, "Range", tc.hdr)
		want := "bytes " + strconv.FormatInt(tc.start, 10) + "-" + strconv.FormatInt(tc.end, 10) + "/" + strconv.FormatInt(size, 10)
		if resp.StatusCode != 206 || resp.Header.Get("Content-Range") != want || body != whole[tc.start:tc.end+1] {
			t.Errorf("%s: %d %q, %d bytes", tc.hdr, resp.StatusCode, resp.Header.Get("Content-Range"), len(body))
		}
	}
	for _, hdr := range []string{"bytes=" + strconv.FormatInt(size, 10) + "-", "bytes=99999999999-", "bytes=-0"} {
		resp, body := get(t, "GET", url, "Range", hdr)
		wantError(t, hdr, resp.StatusCode, body, 416, "SIZE_INVALID")
		if resp.Header.Get("Content-Range") != "bytes */"+strconv.FormatInt(size, 10) {
			t.Errorf("%s: Content-Range %q", hdr, resp.Header.Get("Content-Range"))
		}
	}
	// Forms a server may ignore are answered with the whole blob.
	for _, hdr := range []string{"bytes=0-1,5-6", "items=0-1", "bytes=x-y", "bytes=9-1"} {
		resp, body := get(t, "GET", url, "Range", hdr)
		if resp.StatusCode != 200 || body != whole {
			t.Errorf("%s: %d, %d bytes", hdr, resp.StatusCode, len(body))
		}
	}
}

func TestListsAndPagination(t *testing.T) {
	set := testimage.New(t)
	_, host := start(t, set.Dir, serve.Config{})
	base := "http://" + host + "/v2/"
	list := func(url, field string) ([]string, string) {
		t.Helper()
		resp, body := get(t, "GET", url)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", url, resp.StatusCode, body)
		}
		var doc map[string]any
		json.Unmarshal([]byte(body), &doc)
		var out []string
		items, ok := doc[field].([]any)
		if !ok {
			t.Fatalf("%s: no %s list in %s", url, field, body)
		}
		for _, v := range items {
			out = append(out, v.(string))
		}
		return out, resp.Header.Get("Link")
	}
	all, link := list(base+"_catalog", "repositories")
	if strings.Join(all, " ") != "app docker.io/library/busybox example.com/app library/busybox" || link != "" {
		t.Fatalf("catalog %v, link %q", all, link)
	}
	page, link := list(base+"_catalog?n=2", "repositories")
	if strings.Join(page, " ") != "app docker.io/library/busybox" || link != `</v2/_catalog?n=2&last=docker.io/library/busybox>; rel="next"` {
		t.Fatalf("catalog page %v, link %q", page, link)
	}
	page, link = list(base+"_catalog?n=2&last=docker.io/library/busybox", "repositories")
	if strings.Join(page, " ") != "example.com/app library/busybox" {
		t.Fatalf("second page %v, link %q", page, link)
	}
	tags, _ := list(base+"library/busybox/tags/list", "tags")
	if strings.Join(tags, " ") != "1.36 latest" {
		t.Fatalf("tags %v", tags)
	}
	for q, want := range map[string]string{"n=1": "1.36", "n=1&last=1.36": "latest", "last=latest": "", "n=0": "",
		"n=99999999999999999999999": "1.36 latest", "n=9223372036854775807": "1.36 latest"} {
		got, _ := list(base+"library/busybox/tags/list?"+q, "tags")
		if strings.Join(got, " ") != want {
			t.Errorf("tags?%s: %v, want %q", q, got, want)
		}
	}
	for _, q := range []string{"n=-1", "n=abc", "n=1e9"} {
		resp, body := get(t, "GET", base+"library/busybox/tags/list?"+q)
		wantError(t, q, resp.StatusCode, body, 400, "PAGINATION_NUMBER_INVALID")
	}
}

func TestReferrers(t *testing.T) {
	set := testimage.New(t)
	_, host := start(t, set.Dir, serve.Config{})
	url := "http://" + host + "/v2/library/busybox/referrers/" + set.Single.Manifest.Digest.String()
	for q, want := range map[string]int{"": 1, "?artifactType=application/vnd.example.sbom": 1, "?artifactType=application/other": 0} {
		resp, body := get(t, "GET", url+q)
		var idx ocispec.Index
		if err := json.Unmarshal([]byte(body), &idx); err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ocispec.MediaTypeImageIndex {
			t.Fatalf("referrers%s: %d %s", q, resp.StatusCode, body)
		}
		if len(idx.Manifests) != want || idx.SchemaVersion != 2 || idx.MediaType != ocispec.MediaTypeImageIndex {
			t.Errorf("referrers%s: %s", q, body)
		}
		if want == 1 && (idx.Manifests[0].Digest != set.Referrer.Digest || idx.Manifests[0].ArtifactType != "application/vnd.example.sbom") {
			t.Errorf("referrers%s: %s", q, body)
		}
		if got := resp.Header.Get("OCI-Filters-Applied"); (q != "") != (got == "artifactType") {
			t.Errorf("referrers%s: OCI-Filters-Applied %q", q, got)
		}
	}
	// The referrer itself is content of its subject's repository.
	resp, _ := get(t, "GET", "http://"+host+"/v2/library/busybox/manifests/"+set.Referrer.Digest.String())
	if resp.StatusCode != 200 {
		t.Errorf("referrer manifest: %d", resp.StatusCode)
	}
	resp, body := get(t, "GET", "http://"+host+"/v2/app/referrers/"+set.Index.Digest.String())
	if resp.StatusCode != 200 || !strings.Contains(body, `"manifests":[]`) {
		t.Errorf("no referrers: %d %s", resp.StatusCode, body)
	}
}

// TestHostileRequests: every request that cannot name served content
// gets the spec's error, and the server answers the next one as before.
func TestHostileRequests(t *testing.T) {
	set := testimage.New(t)
	_, host := start(t, set.Dir, serve.Config{})
	base := "http://" + host + "/v2/"
	long := strings.Repeat("a/", 200) + "b"
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "library/../library/busybox/manifests/latest", 400, "NAME_INVALID"},
		{"GET", "../busybox/manifests/latest", 400, "NAME_INVALID"},
		{"GET", "library/%2e%2e/busybox/manifests/latest", 400, "NAME_INVALID"},
		{"GET", "Library/Busybox/manifests/latest", 400, "NAME_INVALID"},
		{"GET", long + "/manifests/latest", 400, "NAME_INVALID"},
		{"GET", "library/busybox/blobs/sha256:abc", 400, "DIGEST_INVALID"},
		{"GET", "library/busybox/blobs/md5:d41d8cd98f00b204e9800998ecf8427e", 400, "DIGEST_INVALID"},
		{"GET", "library/busybox/blobs/sha256:" + strings.Repeat("0", 64), 404, "BLOB_UNKNOWN"},
		{"GET", "library/busybox/blobs/../../../etc/passwd", 404, "UNSUPPORTED"},
		{"GET", "library/busybox/manifests/sha256:../../x", 404, "UNSUPPORTED"},
		{"GET", "library/busybox/manifests/sha256:..", 400, "DIGEST_INVALID"},
		{"GET", "library/busybox/referrers/nope", 400, "DIGEST_INVALID"},
		{"GET", "library/busybox/manifests/" + strings.Repeat("t", 200), 404, "MANIFEST_UNKNOWN"},
		{"GET", "library/busybox/nothing", 404, "UNSUPPORTED"},
		{"PUT", "library/busybox/manifests/latest", 405, "UNSUPPORTED"},
		{"DELETE", "library/busybox/manifests/" + set.Single.Manifest.Digest.String(), 405, "UNSUPPORTED"},
		{"POST", "library/busybox/blobs/uploads/", 405, "UNSUPPORTED"},
		{"PATCH", "library/busybox/blobs/uploads/x", 405, "UNSUPPORTED"},
		{"GET", "library/busybox/blobs/uploads/x", 405, "UNSUPPORTED"},
		{"DELETE", "library/busybox/blobs/" + set.Single.Layer.Digest.String(), 405, "UNSUPPORTED"},
	} {
		resp, body := get(t, tc.method, base+tc.path)
		wantError(t, tc.method+" "+tc.path[:min(len(tc.path), 80)], resp.StatusCode, body, tc.status, tc.code)
		if tc.status == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", tc.method, tc.path, resp.Header.Get("Allow"))
		}
	}
	if resp, _ := get(t, "GET", base+"library/busybox/manifests/latest"); resp.StatusCode != 200 {
		t.Fatalf("after hostile requests: %d", resp.StatusCode)
	}
}
