package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/oci-ferry/ferry/layout"
)

// fuzzSeedTar is a small valid archive shape to start mutating from.
func fuzzSeedTar() []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range []struct{ name, body string }{
		{"oci-layout", `{"imageLayoutVersion":"1.0.0"}`},
		{"index.json", `{"schemaVersion":2,"manifests":[]}`},
		{"manifest.json", `[]`},
		{"blobs/sha256/44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", `{}`},
	} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(f.body))
	}
	tw.WriteHeader(&tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "../x"})
	tw.Close()
	return b.Bytes()
}

// FuzzReadTar feeds arbitrary bytes to both tar readers: neither may panic,
// and when both accept the input they must agree on what files it holds.
func FuzzReadTar(f *testing.F) {
	f.Add(fuzzSeedTar())
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "a.tar")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		inPlace, err1 := indexTar(context.Background(), bytes.NewReader(data), int64(len(data)), p)
		streamed, err2 := readStream(context.Background(), bytes.NewReader(data), p, nil)
		if err1 != nil || err2 != nil {
			return
		}
		var each func(n *node)
		each = func(n *node) {
			for _, c := range n.kids {
				e := c.e
				s := streamed.entry(e.name)
				if s == nil || s.kind != e.kind || (e.kind == kindFile && s.size != e.size) {
					t.Fatalf("readers disagree on %q", e.name)
				}
				each(c)
			}
		}
		each(inPlace.root)
		// Whatever was accepted must open through the layout reader safely.
		src := &Source{}
		_ = src.load(context.Background(), layout.NewFS(inPlace, p), hashMember)
	})
}

// FuzzDockerManifest checks the manifest.json decoder never panics.
func FuzzDockerManifest(f *testing.F) {
	f.Add([]byte(`[{"Config":"a.json","RepoTags":["busybox:1"],"Layers":["l/layer.tar"]}]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		tw.WriteHeader(&tar.Header{Name: "manifest.json", Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
		tw.Close()
		s, err := readStream(context.Background(), bytes.NewReader(b.Bytes()), "fuzz", nil)
		if err != nil {
			return
		}
		items, err := readDockerManifest(layout.NewFS(s, "fuzz"))
		if err == nil && items == nil {
			t.Fatal("nil items without error")
		}
	})
}
