package main

import (
	"archive/tar"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
)

// TestSaveCarryLoad is the mission end to end through real registries:
// push test images to one registry, pull them into an archive, verify it,
// push it into a second registry under a new prefix, and find the same
// digests there.
func TestSaveCarryLoad(t *testing.T) {
	src, dst := regtest.Start(t), regtest.Start(t)
	set := testimage.New(t)
	if code, out, errs := ferry(t, "push", set.Dir, "example.com/app:v1", "busybox:1.36", "--to", src.Host+"/team"); code != 0 {
		t.Fatalf("seed push: %s %s", out, errs)
	}
	arch := filepath.Join(t.TempDir(), "carry.tar.zst")
	code, out, errs := ferry(t, "pull", src.Host+"/team/app:v1", src.Host+"/team/library/busybox:1.36", "--to", arch, "--json")
	if code != 0 {
		t.Fatalf("pull: %s %s", out, errs)
	}
	var pulled []struct{ Name, Digest string }
	json.Unmarshal([]byte(out), &pulled)
	if ents, _ := os.ReadDir(filepath.Dir(arch)); len(ents) != 1 {
		t.Fatalf("pull into an archive left more than the archive: %v", ents)
	}
	if code, out, _ := ferry(t, "verify", arch); code != 0 {
		t.Fatalf("verify:\n%s", out)
	}
	// On the far side: import, export a plain tar, push it (read in
	// place) to another registry under a new prefix.
	far := filepath.Join(t.TempDir(), "far.tar")
	lay := filepath.Join(t.TempDir(), "lay")
	if code, _, errs := ferry(t, "import", arch, "--into", lay); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := ferry(t, "export", lay, "--to", far); code != 0 {
		t.Fatal(errs)
	}
	code, out, errs = ferry(t, "push", far, "--to", dst.Host+"/mirror", "--json")
	if code != 0 {
		t.Fatalf("push: %s %s", out, errs)
	}
	var pushed []struct{ Source, Target, Digest string }
	json.Unmarshal([]byte(out), &pushed)
	var a, b []string
	for _, p := range pulled {
		a = append(a, p.Digest)
	}
	for _, p := range pushed {
		b = append(b, p.Digest)
		if !strings.HasPrefix(p.Target, dst.Host+"/mirror/team/") {
			t.Fatalf("target %s", p.Target)
		}
	}
	sort.Strings(a)
	sort.Strings(b)
	if len(a) != 2 || strings.Join(a, ",") != strings.Join(b, ",") {
		t.Fatalf("digests changed: pulled %v, pushed %v", a, b)
	}
	if code, out, _ := ferry(t, "push", far, "--to", dst.Host+"/mirror", "--dry-run"); code != 0 || !strings.Contains(out, "0 sent") {
		t.Fatalf("dry run after push:\n%s", out)
	}
}

// TestCopyEveryWay: registry to registry, registry to archive, archive to
// registry under an exact name, layout to layout; one digest throughout.
func TestCopyEveryWay(t *testing.T) {
	reg := regtest.Start(t)
	set := testimage.New(t)
	want := set.Index.Digest.String()
	if code, out, errs := ferry(t, "copy", "oci:"+set.Dir+":example.com/app:v1", reg.Host+"/a/app:v1"); code != 0 {
		t.Fatalf("layout -> registry: %s %s", out, errs)
	}
	if code, out, errs := ferry(t, "copy", "docker://"+reg.Host+"/a/app:v1", reg.Host+"/b/app:copied"); code != 0 || !strings.Contains(out, want) {
		t.Fatalf("registry -> registry: %s %s", out, errs)
	}
	arch := filepath.Join(t.TempDir(), "app.tar")
	if code, out, errs := ferry(t, "copy", reg.Host+"/b/app:copied", arch); code != 0 {
		t.Fatalf("registry -> archive: %s %s", out, errs)
	}
	if code, out, errs := ferry(t, "copy", "oci-archive:"+arch, "docker://"+reg.Host+"/c/app:final"); code != 0 || !strings.Contains(out, want) {
		t.Fatalf("archive -> registry: %s %s", out, errs)
	}
	dir := filepath.Join(t.TempDir(), "lay")
	if code, out, errs := ferry(t, "copy", arch, "oci:"+dir); code != 0 {
		t.Fatalf("archive -> layout: %s %s", out, errs)
	}
	_, out, _ := ferry(t, "ls", "--json", dir)
	if !strings.Contains(out, want) || !strings.Contains(out, reg.Host+"/b/app:copied") {
		t.Fatalf("layout after copies:\n%s", out)
	}
}

// TestPullFormats: pull --format shapes the archive it writes: oci has no
// manifest.json, docker only manifest.json and the blobs it names.
func TestPullFormats(t *testing.T) {
	reg := regtest.Start(t)
	set := testimage.New(t)
	if code, out, errs := ferry(t, "push", set.Dir, "example.com/app:v1", "--to", reg.Host); code != 0 {
		t.Fatalf("seed push: %s %s", out, errs)
	}
	for format, want := range map[string][2]bool{"oci": {true, false}, "docker": {false, true}, "both": {true, true}} {
		arch := filepath.Join(t.TempDir(), format+".tar")
		if code, out, errs := ferry(t, "pull", reg.Host+"/app:v1", "--to", arch, "--format", format); code != 0 {
			t.Fatalf("%s: %s %s", format, out, errs)
		}
		names := map[string]bool{}
		for _, e := range tarNames(t, arch) {
			names[e] = true
		}
		if names["index.json"] != want[0] || names["manifest.json"] != want[1] {
			t.Fatalf("%s: index.json %v, manifest.json %v", format, names["index.json"], names["manifest.json"])
		}
		if code, out, _ := ferry(t, "verify", arch); code != 0 {
			t.Fatalf("%s: verify:\n%s", format, out)
		}
	}
}

func tarNames(t *testing.T, p string) []string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name)
	}
}

// TestPushSparseSaysWhat: pushing a one-platform export of a two-platform
// index says the index was narrowed, to which digest, and what was left
// out, in text and in --json.
func TestPushSparseSaysWhat(t *testing.T) {
	reg := regtest.Start(t)
	set := testimage.New(t)
	arch := filepath.Join(t.TempDir(), "arm.tar")
	if code, _, errs := ferry(t, "export", set.Dir, "example.com/app:v1", "--platform", "linux/arm64", "--to", arch); code != 0 {
		t.Fatal(errs)
	}
	code, out, errs := ferry(t, "push", arch, "--to", reg.Host+"/a")
	if code != 0 || !strings.Contains(out, "index "+set.Index.Digest.String()+" narrowed") || !strings.Contains(out, "left out linux/amd64 "+set.AMD64.Manifest.Digest.String()) {
		t.Fatalf("push: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = ferry(t, "push", arch, "--to", reg.Host+"/b", "--json")
	var res []struct {
		Digest       string   `json:"digest"`
		SourceDigest string   `json:"sourceDigest"`
		LeftOut      []string `json:"leftOut"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res) != 1 || res[0].SourceDigest != set.Index.Digest.String() || res[0].Digest == res[0].SourceDigest || len(res[0].LeftOut) != 1 {
		t.Fatalf("push --json: exit %d\n%s%s", code, out, errs)
	}
}

// TestRetryTimeoutFlag: --retry-timeout reaches the client, so a registry
// that accepts and never answers fails the pull in about that time; a
// duration that is not positive is a usage error.
func TestRetryTimeoutFlag(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			cn, err := l.Accept()
			if err != nil {
				return
			}
			defer cn.Close()
			go io.Copy(io.Discard, cn)
		}
	}()
	start := time.Now()
	code, _, errs := ferry(t, "pull", l.Addr().String()+"/a/b:v1", "--to", t.TempDir(), "--plain-http", l.Addr().String(), "--retry-timeout", "500ms")
	if took := time.Since(start); code == 0 || took > 5*time.Second || !strings.Contains(errs, "retry time-out") {
		t.Fatalf("exit %d after %s: %s", code, took, errs)
	}
	if code, _, errs := ferry(t, "pull", "x/y:z", "--to", t.TempDir(), "--idle-timeout", "0s"); code != 2 || !strings.Contains(errs, "positive") {
		t.Fatalf("--idle-timeout 0s: exit %d: %s", code, errs)
	}
}
