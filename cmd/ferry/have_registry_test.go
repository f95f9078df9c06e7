package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
)

// TestHaveRegistry: three repositories of the real reference registry,
// one index under three tags in two of them, read with pages of one entry
// so that every list takes several requests. The list names every tag and
// every manifest and blob under them, each manifest is fetched once, and
// the catalog gives the same list byte for byte.
func TestHaveRegistry(t *testing.T) {
	reg := regtest.Start(t)
	set := testimage.New(t)
	if code, out, errs := ferry(t, "push", set.Dir, "example.com/app:v1", "busybox:1.36", "--to", reg.Host+"/team"); code != 0 {
		t.Fatalf("seed push: %s %s", out, errs)
	}
	for _, dst := range []string{"/team/app:v2", "/team/app:v3", "/other/app:v1"} {
		if code, out, errs := ferry(t, "copy", "docker://"+reg.Host+"/team/app:v1", "docker://"+reg.Host+dst); code != 0 {
			t.Fatalf("seed %s: %s %s", dst, out, errs)
		}
	}
	before, _ := os.ReadFile(reg.Log)
	repos := []string{reg.Host + "/team/app", reg.Host + "/team/library/busybox", reg.Host + "/other/app"}
	sum, named := haveRun(t, append(repos, "--page-size", "1")...)
	logb, _ := os.ReadFile(reg.Log)
	// The access log's lines only; the registry logs each request twice.
	log := strings.Join(regexp.MustCompile(`"(GET|HEAD|POST|PUT) /v2/\S+ HTTP`).FindAllString(string(logb[len(before):]), -1), "\n")

	h, err := layout.ReadHaveList(bytes.NewReader(named), "have.json")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, im := range h.Images {
		names = append(names, im.Name)
	}
	want := []string{reg.Host + "/other/app:v1", reg.Host + "/team/app:v1", reg.Host + "/team/app:v2", reg.Host + "/team/app:v3", reg.Host + "/team/library/busybox:1.36"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("names %v, want %v", names, want)
	}
	for _, im := range h.Images {
		wantD := set.Index.Digest
		if strings.Contains(im.Name, "busybox") {
			wantD = set.Single.Manifest.Digest
		}
		if im.Digest != wantD {
			t.Errorf("%s is %s, want %s", im.Name, im.Digest, wantD)
		}
	}
	// Index, two manifests, two configs, two layers; busybox's manifest,
	// config and layer.
	content := []testimage.Image{set.AMD64, set.ARM64, set.Single}
	if sum.Blobs != 10 || sum.Repositories != 3 {
		t.Fatalf("summary %+v, want 10 blobs in 3 repositories", sum)
	}
	for _, im := range content {
		for _, d := range []layout.BlobInfo{{Digest: im.Manifest.Digest, Size: im.Manifest.Size}, {Digest: im.Config.Digest, Size: im.Config.Size}, {Digest: im.Layer.Digest, Size: im.Layer.Size}} {
			if !bytes.Contains(named, []byte(`{"digest":"`+d.Digest.String()+`","size":`)) {
				t.Errorf("%s is not listed", d.Digest)
			}
		}
	}
	// Requests: pagination was followed (team/app has three tags, one a
	// page); each tag was asked with a HEAD, and each of the four
	// manifests fetched once, by digest, although the index is under four
	// tags in two repositories; no blob was read.
	if n := strings.Count(log, "GET /v2/team/app/tags/list"); n < 3 {
		t.Errorf("%d tags list requests for team/app with pages of one; pagination was not followed", n)
	}
	if n := strings.Count(log, "HEAD /v2/"); n != 5 {
		t.Errorf("%d HEADs, want one per tag (5):\n%s", n, log)
	}
	gets := regexp.MustCompile(`"GET /v2/\S*/manifests/(\S*)`).FindAllStringSubmatch(log, -1)
	fetched := map[string]int{}
	for _, g := range gets {
		fetched[g[1]]++
	}
	for _, d := range []string{set.Index.Digest.String(), set.AMD64.Manifest.Digest.String(), set.ARM64.Manifest.Digest.String(), set.Single.Manifest.Digest.String()} {
		if fetched[d] != 1 {
			t.Errorf("manifest %s fetched %d times, want once", d, fetched[d])
		}
	}
	if len(gets) != 4 {
		t.Errorf("%d manifest GETs, want 4, one per manifest:\n%s", len(gets), log)
	}
	if strings.Contains(log, "/blobs/") {
		t.Error("a blob was requested; the manifests say what the blobs are")
	}

	// The catalog, in pages of one: the same list, byte for byte.
	if _, all := haveRun(t, reg.Host, "--all", "--page-size", "1"); !bytes.Equal(all, named) {
		t.Fatalf("catalog list differs:\n%s\nwant\n%s", all, named)
	}
	if _, again := haveRun(t, repos...); !bytes.Equal(again, named) {
		t.Fatal("the same registry gave different lists with other page sizes")
	}
}

// TestHaveCLIErrors: a wrong command line exits 2 before anything is
// asked or written; a registry that fails exits 1 with a JSON error on
// stdout for --json, and the --to file is not created.
func TestHaveCLIErrors(t *testing.T) {
	reg := regtest.Start(t)
	dir := t.TempDir()
	to := filepath.Join(dir, "have.json")
	for _, args := range [][]string{
		{"have", reg.Host + "/team/app"},                                 // --to is required
		{"have", reg.Host + "/team/app", "--to", "-", "--json"},          // stdout taken twice
		{"have", reg.Host + "/team/app:v1", "--to", to},                  // a tag, not a repository
		{"have", "nosuchdir", "--to", to},                                // neither a path nor a registry
		{"have", reg.Host, "--all", reg.Host + "/x", "--to", to},         // --all takes one registry
		{"have", reg.Host + "/team/app", "--all", "--to", to},            // --all takes a host
		{"have", dir, reg.Host + "/team/app", "--to", to},                // a layout and a registry
		{"have", reg.Host + "/team/app", "--to", to, "--page-size", "0"}, // no page
	} {
		if code, _, errs := ferry(t, args...); code != exitUsage {
			t.Errorf("ferry %v: exit %d, want 2 (%s)", args, code, errs)
		}
	}
	code, out, errs := ferry(t, "have", reg.Host+"/no/such", "--to", to, "--json")
	if code != exitFailed || !strings.Contains(out, `"code": 1`) || !strings.Contains(errs, "no/such") {
		t.Fatalf("unknown repository: exit %d, stdout %s, stderr %s", code, out, errs)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("a failed have left %v", ents)
	}
}
