package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/internal/webtest"
)

// published is what a user puts on a web server: the layout directory
// `ferry export --to DIR` wrote, and the set it came from.
func published(t *testing.T) (string, *testimage.Set) {
	t.Helper()
	set := testimage.New(t)
	dir := filepath.Join(t.TempDir(), "pub")
	if code, out, stderr := ferry(t, "export", set.Dir, "--to", dir); code != 0 || !strings.Contains(out, "into "+dir) {
		t.Fatalf("export: %s %s", out, stderr)
	}
	if code, _, stderr := ferry(t, "verify", dir); code != 0 {
		t.Fatalf("verify of the exported directory: %s", stderr)
	}
	return dir, set
}

// blobsOf is every blob file of a layout, by path, with its content.
func blobsOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	all := snapshot(t, filepath.Join(dir, "blobs"))
	if len(all) == 0 {
		t.Fatalf("%s holds no blobs", dir)
	}
	return all
}

// indexEntries is index.json's manifests, as the raw JSON of each, so names,
// annotations and digests are compared byte for byte.
func indexEntries(t *testing.T, dir string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx struct{ Manifests []json.RawMessage }
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range idx.Manifests {
		out[string(m)] = true
	}
	return out
}

func sameMaps(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s differs or is missing", what, k)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d files, want %d", what, len(got), len(want))
	}
}

// TestWebRouteEveryCommand publishes an export with nginx over HTTPS and
// reads it with each command: every image arrives with its entry and its
// blobs byte for byte as published, and ls and verify see them all.
func TestWebRouteEveryCommand(t *testing.T) {
	dir, set := published(t)
	srv := webtest.Serve(t, dir, webtest.Options{})
	want := blobsOf(t, dir)

	out := filepath.Join(t.TempDir(), "pulled")
	if code, stdout, stderr := ferry(t, "pull", srv.URL, "--to", out, "--ca-file", srv.CAFile, "--concurrency", "4"); code != 0 {
		t.Fatalf("pull: exit %d: %s", code, stderr)
	} else if !strings.Contains(stdout, "every blob verified") {
		t.Errorf("pull said %q", stdout)
	}
	sameMaps(t, "pull", blobsOf(t, out), want)
	// Parallel over kept-alive connections: no more than --concurrency
	// (4) blobs at once, and the documents before them, not one
	// connection (and TLS handshake) per request. The number is given:
	// left to itself the pull adapts it (layout.Adaptive), and under CI's
	// load it once climbed to 5, on 6 connections.
	requests, conns := connections(srv.Log(t))
	if requests < 12 || conns > 5 {
		t.Errorf("pull: %d requests over %d connections", requests, conns)
	}
	for e := range indexEntries(t, dir) {
		if !indexEntries(t, out)[e] {
			t.Errorf("pull: entry %s not carried byte for byte", e)
		}
	}

	into := filepath.Join(t.TempDir(), "imported")
	if code, _, stderr := ferry(t, "import", srv.URL+"index.json", "--into", into, "--ca-file", srv.CAFile); code != 0 {
		t.Fatalf("import: exit %d: %s", code, stderr)
	}
	sameMaps(t, "import", blobsOf(t, into), want)

	one := filepath.Join(t.TempDir(), "one")
	if code, _, stderr := ferry(t, "copy", srv.URL+"#busybox:1.36", "oci:"+one, "--ca-file", srv.CAFile); code != 0 {
		t.Fatalf("copy: exit %d: %s", code, stderr)
	}
	if got := indexEntries(t, one); len(got) != 1 {
		t.Errorf("copy of one image named %d entries", len(got))
	}
	if _, err := os.Stat(filepath.Join(one, "blobs", "sha256", set.Single.Layer.Digest.Encoded())); err != nil {
		t.Errorf("copy of busybox:1.36: %v", err)
	}

	tarOut := filepath.Join(t.TempDir(), "again.tar")
	if code, _, stderr := ferry(t, "copy", srv.URL, tarOut, "--ca-file", srv.CAFile); code != 0 {
		t.Fatalf("copy to an archive: exit %d: %s", code, stderr)
	}
	if code, _, stderr := ferry(t, "verify", tarOut); code != 0 {
		t.Fatalf("verify of the archive copied from the web: %s", stderr)
	}

	code, stdout, stderr := ferry(t, "ls", srv.URL, "--ca-file", srv.CAFile, "--json")
	if code != 0 {
		t.Fatalf("ls: exit %d: %s", code, stderr)
	}
	var ls []listing
	if err := json.Unmarshal([]byte(stdout), &ls); err != nil {
		t.Fatal(err)
	}
	if len(ls) != len(indexEntries(t, dir)) {
		t.Errorf("ls listed %d images, index.json has %d", len(ls), len(indexEntries(t, dir)))
	}
	for _, n := range set.Names {
		found := false
		for _, l := range ls {
			found = found || l.Name == n
		}
		if !found {
			t.Errorf("ls does not list %s: %s", n, stdout)
		}
	}

	code, stdout, stderr = ferry(t, "verify", srv.URL, "--ca-file", srv.CAFile)
	if code != 0 || !strings.Contains(stdout, "OK:") {
		t.Fatalf("verify: exit %d:\n%s%s", code, stdout, stderr)
	}
}

// TestWebCorruptBlobRefused flips a byte of a layer on the server: pull
// names the blob and the image and names nothing in the destination;
// verify reports it.
func TestWebCorruptBlobRefused(t *testing.T) {
	dir, set := published(t)
	p := filepath.Join(dir, "blobs", "sha256", set.Single.Layer.Digest.Encoded())
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 0xff
	os.WriteFile(p, b, 0o644)
	srv := webtest.Serve(t, dir, webtest.Options{})

	out := filepath.Join(t.TempDir(), "pulled")
	code, _, stderr := ferry(t, "pull", srv.URL, "--to", out, "--ca-file", srv.CAFile)
	if code != 1 || !strings.Contains(stderr, set.Single.Layer.Digest.String()) || !strings.Contains(stderr, "busybox:1.36 from "+srv.URL) ||
		!strings.Contains(stderr, "digest mismatch") {
		t.Fatalf("pull of a corrupt blob: exit %d, stderr %q (want the blob, the image and the server named)", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "blobs", "sha256", set.Single.Layer.Digest.Encoded())); err == nil {
		t.Error("the corrupt blob was committed")
	}
	if b, err := os.ReadFile(filepath.Join(out, "index.json")); err == nil && strings.Contains(string(b), "busybox") {
		t.Errorf("an image with a corrupt blob was named: %s", b)
	}

	code, stdout, _ := ferry(t, "verify", srv.URL, "--ca-file", srv.CAFile)
	if code != 1 || !strings.Contains(stdout, set.Single.Layer.Digest.String()) {
		t.Fatalf("verify of a corrupt blob: exit %d:\n%s", code, stdout)
	}
}

// TestWebSizeLie serves a blob longer than its descriptor: refused before
// it is read, naming it.
func TestWebSizeLie(t *testing.T) {
	dir, set := published(t)
	p := filepath.Join(dir, "blobs", "sha256", set.AMD64.Config.Digest.Encoded())
	b, _ := os.ReadFile(p)
	os.WriteFile(p, append(b, ' '), 0o644)
	srv := webtest.Serve(t, dir, webtest.Options{})
	code, _, stderr := ferry(t, "pull", srv.URL+"#example.com/app:v1", "--to", filepath.Join(t.TempDir(), "x"), "--ca-file", srv.CAFile)
	if code != 1 || !strings.Contains(stderr, set.AMD64.Config.Digest.String()) || !strings.Contains(stderr, "size mismatch") {
		t.Fatalf("a blob of the wrong size: exit %d, stderr %q", code, stderr)
	}
}

// TestWebTLSRefusedWithoutItsCA: the system roots and another CA both
// refuse nginx's certificate; nothing is written.
func TestWebTLSRefusedWithoutItsCA(t *testing.T) {
	dir, _ := published(t)
	srv := webtest.Serve(t, dir, webtest.Options{})
	other, _, _ := regtest.WriteTLS(t, t.TempDir())
	for _, extra := range [][]string{nil, {"--ca-file", other}} {
		out := filepath.Join(t.TempDir(), "x")
		code, _, stderr := ferry(t, append([]string{"pull", srv.URL, "--to", out}, extra...)...)
		if code != 1 || !strings.Contains(stderr, "certificate") || !strings.Contains(stderr, "--ca-file") {
			t.Errorf("pull %v with the wrong CA: exit %d, stderr %q", extra, code, stderr)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("pull %v with the wrong CA created %s", extra, out)
		}
	}
}

// dockerConfig points the credentials file at one holding user:pass for
// host, and nothing else ferry could find.
func dockerConfig(t *testing.T, host, user, pass string) {
	t.Helper()
	d := t.TempDir()
	cfg := map[string]any{"auths": map[string]any{host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}}}
	b, _ := json.Marshal(cfg)
	os.WriteFile(filepath.Join(d, "config.json"), b, 0o600)
	t.Setenv("DOCKER_CONFIG", d)
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
}

// TestWebBasicAuth serves with nginx's auth_basic: the credentials file's
// entry for the host opens it; a wrong password is a clear refusal that
// names the host.
func TestWebBasicAuth(t *testing.T) {
	dir, _ := published(t)
	srv := webtest.Serve(t, dir, webtest.Options{Users: map[string]string{"alice": "s3cret"}})
	want := blobsOf(t, dir)

	dockerConfig(t, srv.Host, "alice", "s3cret")
	out := filepath.Join(t.TempDir(), "pulled")
	if code, _, stderr := ferry(t, "pull", srv.URL, "--to", out, "--ca-file", srv.CAFile); code != 0 {
		t.Fatalf("pull with credentials: exit %d: %s", code, stderr)
	}
	sameMaps(t, "pull with credentials", blobsOf(t, out), want)

	dockerConfig(t, srv.Host, "alice", "wrong")
	code, _, stderr := ferry(t, "ls", srv.URL, "--ca-file", srv.CAFile)
	if code != 1 || !strings.Contains(stderr, "401") || !strings.Contains(stderr, "refused the credentials ferry holds for "+srv.Host) {
		t.Fatalf("a wrong password: exit %d, stderr %q", code, stderr)
	}

	dockerConfig(t, "elsewhere.example", "alice", "s3cret")
	code, _, stderr = ferry(t, "ls", srv.URL, "--ca-file", srv.CAFile)
	if code != 1 || !strings.Contains(stderr, srv.Host) {
		t.Fatalf("no credentials for the host: exit %d, stderr %q", code, stderr)
	}
}

// TestWebResumesWithRange cuts the connection half-way through a layer:
// the pull resumes where it stopped with a Range request nginx answers
// with 206, and the result is whole.
func TestWebResumesWithRange(t *testing.T) {
	dir, set := published(t)
	srv := webtest.Serve(t, dir, webtest.Options{Plain: true})
	layer := "/blobs/sha256/" + set.AMD64.Layer.Digest.Encoded()
	proxy := regtest.NewProxyTo(t, srv.Host, regtest.Fault{Method: http.MethodGet, Path: layer, Times: 1, Kind: "reset"})
	out := filepath.Join(t.TempDir(), "pulled")
	if code, _, stderr := ferry(t, "pull", "http://"+proxy.Host+"/", "--to", out); code != 0 {
		t.Fatalf("pull through a cut connection: exit %d: %s", code, stderr)
	}
	if proxy.Hits(0) != 1 {
		t.Fatalf("the cut never happened (%d)", proxy.Hits(0))
	}
	half := set.AMD64.Layer.Size / 2
	if log := srv.Log(t); !strings.Contains(log, "GET "+layer+" 206 \"bytes="+itoa(half)+"-\" ") {
		t.Fatalf("no Range resume from byte %d in nginx's log:\n%s", half, log)
	}
	sameMaps(t, "resumed pull", blobsOf(t, out), blobsOf(t, dir))
	seen := map[string]bool{}
	for _, l := range strings.Split(srv.Log(t), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[2] == "200" {
			if seen[f[1]] {
				t.Errorf("%s fetched twice (the walk's manifests must be reused)", f[1])
			}
			seen[f[1]] = true
		}
	}
}

// connections counts the requests in an nginx access log and the
// connections they came over.
func connections(log string) (requests, conns int) {
	seen := map[string]bool{}
	for _, l := range strings.Split(log, "\n") {
		if f := strings.Fields(l); len(f) >= 6 {
			requests++
			seen[f[5]] = true
		}
	}
	return requests, len(seen)
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestWebLooksLikeARegistry: a registry's URL given as a web layout gets
// told how to name it instead.
func TestWebLooksLikeARegistry(t *testing.T) {
	reg := regtest.Start(t)
	code, _, stderr := ferry(t, "ls", "http://"+reg.Host+"/library/busybox")
	if code != 1 || !strings.Contains(stderr, "docker://"+reg.Host+"/library/busybox") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// TestWebUsage: a web layout is pulled alone, and verify's --against does
// not apply to it; both are usage errors, with nothing fetched.
func TestWebUsage(t *testing.T) {
	for _, args := range [][]string{
		{"pull", "https://127.0.0.1:1/images/", "busybox", "--to", filepath.Join(t.TempDir(), "x")},
		{"verify", "https://127.0.0.1:1/images/", "--against", t.TempDir()},
		{"ls", "https://user:pw@127.0.0.1:1/images/"},
	} {
		if code, _, stderr := ferry(t, args...); code != exitUsage || strings.Contains(stderr, "pw@") {
			t.Errorf("ferry %v: exit %d, stderr %q", args, code, stderr)
		}
	}
}
