package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/internal/testimage"
)

// hostile are the characters a name or message may carry to act on the
// terminal: ESC (with BEL, an OSC title sequence), CR, LF, BEL and U+202E
// (right-to-left override), and how human output must show each.
var hostile = []struct{ raw, shown string }{
	{"\x1b]0;pwned\x07", `\x1b]0;pwned\a`},
	{"\r", `\r`},
	{"\n", `\n`},
	{"\a", `\a`},
	{"\u202e", `\u202e`},
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io/library/busybox:1.36": "docker.io/library/busybox:1.36",
		"café 中文 tab\tend":               `café 中文 tab\tend`,
		"a\x1b[31mred":                   `a\x1b[31mred`,
		"x\x7fy\u0085z":                  `x\x7fy\u0085z`,
		"bidi\u2066\u200f":               `bidi\u2066\u200f`,
		"bad\xffutf8":                    `bad\xffutf8`,
		"line\u2028sep":                  `line\u2028sep`,
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
	for _, h := range hostile {
		if got := escape("a" + h.raw + "b"); got != "a"+h.shown+"b" {
			t.Errorf("escape(%q) = %q", h.raw, got)
		}
	}
}

// TestEscapeJSON: --json output decodes to exactly the values given, and
// carries none of the characters raw.
func TestEscapeJSON(t *testing.T) {
	var vals []string
	for _, h := range hostile {
		vals = append(vals, "v"+h.raw+"x")
	}
	vals = append(vals, "del\x7f", "c1\u0085", "astral\U000e0001", "plain é")
	var buf strings.Builder
	if err := printJSON(&buf, vals); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	var back []string
	if err := json.Unmarshal([]byte(out), &back); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for i := range vals {
		if back[i] != vals[i] {
			t.Errorf("value %d came back %q, want %q", i, back[i], vals[i])
		}
	}
	for _, r := range []string{"\x1b", "\r", "\a", "\u202e", "\x7f", "\u0085", "\U000e0001", "v\nx"} {
		if strings.Contains(out, r) {
			t.Errorf("JSON output carries %q raw:\n%s", r, out)
		}
	}
	if !strings.Contains(out, "plain é") {
		t.Errorf("printable non-ASCII was escaped:\n%s", out)
	}
}

// hostileLayout is the test layout with one more name per hostile
// character (a ref.name tag, as skopeo and oras write them) and a junk
// blob whose file name carries them all.
func hostileLayout(t *testing.T, withJunk bool) (dir string, tags []string) {
	set := testimage.New(t)
	p := filepath.Join(set.Dir, "index.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var idx map[string]any
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	ms := idx["manifests"].([]any)
	for _, h := range hostile {
		tag := "v1" + h.raw + "x"
		tags = append(tags, tag)
		ms = append(ms, map[string]any{
			"mediaType":   set.Single.Manifest.MediaType,
			"digest":      set.Single.Manifest.Digest,
			"size":        set.Single.Manifest.Size,
			"annotations": map[string]string{"org.opencontainers.image.ref.name": tag},
		})
	}
	idx["manifests"] = ms
	if b, err = json.Marshal(idx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if withJunk {
		var junk strings.Builder
		junk.WriteString("junk")
		for _, h := range hostile {
			junk.WriteString(h.raw)
		}
		os.WriteFile(filepath.Join(set.Dir, "blobs", "sha256", junk.String()), []byte("x"), 0o644)
	}
	return set.Dir, tags
}

// assertEscaped checks human output shows every hostile tag escaped and
// carries none of the characters raw (LF and BEL aside, which the report's
// own lines use: the tags must not).
func assertEscaped(t *testing.T, what, out string, tags []string) {
	t.Helper()
	for _, r := range []string{"\x1b", "\r", "\a", "\u202e"} {
		if strings.Contains(out, r) {
			t.Errorf("%s: output carries %q raw:\n%s", what, r, out)
		}
	}
	for i, tag := range tags {
		if strings.Contains(out, tag) {
			t.Errorf("%s: tag %q printed raw", what, tag)
		}
		if !strings.Contains(out, "v1"+hostile[i].shown+"x") {
			t.Errorf("%s: tag %q not shown escaped:\n%s", what, tag, out)
		}
	}
}

// TestHostileNamesEscaped: names from index.json and blob file names reach
// ls, verify and import output escaped; --json keeps them exact.
func TestHostileNamesEscaped(t *testing.T) {
	// A file under blobs/ that is not a blob is refused by every command
	// (one rule for import and verify); its name is shown escaped.
	junkDir, _ := hostileLayout(t, true)
	for _, cmd := range []string{"ls", "verify"} {
		code, out, errs := ferry(t, cmd, junkDir)
		if code != exitFailed || !strings.Contains(out+errs, `junk\x1b]0;pwned\a\r\n\a\u202e`) {
			t.Errorf("%s does not refuse the junk blob, named escaped: exit %d\n%s%s", cmd, code, out, errs)
		}
		if strings.ContainsAny(out+errs, "\x1b\r\a\u202e") {
			t.Errorf("%s prints the junk blob's name raw", cmd)
		}
	}

	dir, tags := hostileLayout(t, false)
	code, out, errs := ferry(t, "ls", dir)
	if code != 0 {
		t.Fatalf("ls: %d %s", code, errs)
	}
	assertEscaped(t, "ls", out+errs, tags)

	code, out, errs = ferry(t, "verify", dir)
	assertEscaped(t, "verify", out+errs, tags)
	if code != 0 {
		t.Errorf("verify of a sound layout with hostile names: exit %d\n%s", code, out)
	}

	code, out, errs = ferry(t, "import", dir, "--into", filepath.Join(t.TempDir(), "dst"))
	if code != 0 {
		t.Fatalf("import: %d %s", code, errs)
	}
	assertEscaped(t, "import", out+errs, tags)

	// --json: the exact names, and nothing raw on the terminal.
	code, out, _ = ferry(t, "ls", "--json", dir)
	var ls []struct{ Tag string }
	if err := json.Unmarshal([]byte(out), &ls); err != nil || code != 0 {
		t.Fatalf("ls --json: %v\n%s", err, out)
	}
	got := map[string]bool{}
	for _, l := range ls {
		got[l.Tag] = true
	}
	assertRaw(t, "ls --json", out)
	code, out, _ = ferry(t, "import", "--json", dir, "--into", filepath.Join(t.TempDir(), "dst"))
	var imp struct{ Images []struct{ Name string } }
	if err := json.Unmarshal([]byte(out), &imp); err != nil || code != 0 {
		t.Fatalf("import --json: %v\n%s", err, out)
	}
	for _, im := range imp.Images {
		got["import "+im.Name] = true
	}
	assertRaw(t, "import --json", out)
	for _, tag := range tags {
		if !got[tag] || !got["import :"+tag] {
			t.Errorf("--json: tag %q not given exactly", tag)
		}
	}
}

// assertRaw fails if JSON output carries a terminal control raw.
func assertRaw(t *testing.T, what, out string) {
	t.Helper()
	if strings.ContainsAny(out, "\x1b\r\a\u202e") || strings.Contains(out, "v1\nx") {
		t.Errorf("%s carries a control character raw:\n%s", what, out)
	}
}

// TestRegistryErrorEscaped: a registry's error message reaches stderr
// escaped and --json's error object exactly.
func TestRegistryErrorEscaped(t *testing.T) {
	msg := "denied" + "\x1b]0;pwned\x07" + "\r\nferry: all verified" + "\u202e"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": "DENIED", "message": msg}}})
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	code, out, errs := ferry(t, "pull", host+"/a/b:1", "--to", filepath.Join(t.TempDir(), "x"), "--json")
	if code != exitFailed {
		t.Fatalf("pull from a refusing registry: exit %d\n%s%s", code, out, errs)
	}
	if strings.ContainsAny(errs, "\x1b\r\a\u202e") || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, `denied\x1b]0;pwned\a\r\nferry: all verified\u202e`) {
		t.Errorf("stderr not escaped: %q", errs)
	}
	var je struct {
		Error string
		Code  int
	}
	if err := json.Unmarshal([]byte(out), &je); err != nil || je.Code != exitFailed || !strings.Contains(je.Error, msg) {
		t.Errorf("--json error object: %v %+v\n%s", err, je, out)
	}
}

// TestHostileRepoTagsEscaped: docker-save RepoTags, which reach notes and
// messages, are escaped in ls, verify and import output.
func TestHostileRepoTagsEscaped(t *testing.T) {
	set := testimage.New(t)
	arch := filepath.Join(t.TempDir(), "docker.tar")
	if code, _, errs := ferry(t, "export", set.Dir, "busybox:1.36", "--to", arch, "--format", "docker"); code != 0 {
		t.Fatal(errs)
	}
	var tags []string
	for _, h := range hostile {
		tags = append(tags, "v1"+h.raw+"x")
	}
	rewriteTarMember(t, arch, "manifest.json", func(b []byte) []byte {
		var items []map[string]any
		if err := json.Unmarshal(b, &items); err != nil {
			t.Fatal(err)
		}
		items[0]["RepoTags"] = tags
		out, _ := json.Marshal(items)
		return out
	})
	for _, args := range [][]string{
		{"ls", arch},
		{"verify", arch},
		{"import", arch, "--into", filepath.Join(t.TempDir(), "dst")},
	} {
		_, out, errs := ferry(t, args...)
		assertEscaped(t, args[0], out+errs, tags)
	}
}

// rewriteTarMember replaces one member of a tar with edit's result.
func rewriteTarMember(t *testing.T, path, name string, edit func([]byte) []byte) {
	t.Helper()
	in, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(in))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if h.Name == name {
			b = edit(b)
			h.Size = int64(len(b))
		}
		tw.WriteHeader(h)
		tw.Write(b)
	}
	tw.Close()
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
