//go:build interop

package interop

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/oci-ferry/ferry/internal/testimage"
)

// ferry compresses an archive as one gzip member or zstd frame per blob
// (docs/FORMAT.md), which is what lets a killed write resume. Both
// formats define a concatenation as one stream; this proves the engines'
// decompressors agree: each docker, podman and ctr loads ferry's .tar.gz
// and .tar.zst of a multi-platform image and a single one, and ends up
// with both names, and the .tar.gz of the single image alone. What each
// does is recorded for docs/COMPATIBILITY.md; the engines that cannot
// read a compressed archive at all, or this one, are expected
// limitations (compressedLimit), asserted like the matrix's.
var compressedOutcomes = struct {
	sync.Mutex
	m map[string]map[string]string // engine name → suffix → outcome
}{m: map[string]map[string]string{}}

var compressedSuffixes = []string{".tar.gz", ".tar.zst", "single .tar.gz"}

// compressedLimit says why an engine is expected to refuse an archive.
func compressedLimit(e *engine, kind string) string {
	switch {
	case strings.HasPrefix(e.name, "docker 20.") && kind == ".tar.zst":
		return "docker learnt zstd in 23.0"
	case strings.HasPrefix(e.name, "ctr 1."):
		return "ctr images import before containerd 2.0 reads a plain tar only: gunzip or zstd -d it into ctr images import -"
	case e.name == "podman 4.3" && kind == ".tar.gz":
		return "podman 4.3 (containers/image 5.23) fails on any gzip-compressed multi-image docker-archive (\"loading tar component manifest.json: unexpected EOF\"; gzip(1) of the same tar fails the same way); a single image's .tar.gz loads"
	}
	return ""
}

func recordCompressed(e *engine, suffix, outcome string) {
	compressedOutcomes.Lock()
	defer compressedOutcomes.Unlock()
	if compressedOutcomes.m[e.name] == nil {
		compressedOutcomes.m[e.name] = map[string]string{}
	}
	compressedOutcomes.m[e.name][suffix] = outcome
}

func TestCompressedArchivesLoad(t *testing.T) {
	t.Parallel()
	set := testimage.New(t)
	dir := t.TempDir()
	fy := ferryTool()
	files := map[string]string{}
	for _, s := range compressedSuffixes {
		files[s] = filepath.Join(dir, "app"+strings.TrimPrefix(s, "single "))
		args := []string{"export", set.Dir, "example.com/app:v1", "busybox:1.36", "--to", files[s]}
		if strings.HasPrefix(s, "single ") {
			files[s] = filepath.Join(dir, "busybox"+strings.TrimPrefix(s, "single "))
			args = []string{"export", set.Dir, "busybox:1.36", "--to", files[s]}
		}
		if _, err := fy.run(t, args...); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range engines {
		if e.kind != "docker" && e.kind != "podman" && e.kind != "ctr" {
			continue
		}
		t.Run(e.slug, func(t *testing.T) {
			t.Parallel()
			for _, s := range compressedSuffixes {
				names := []string{"example.com/app:v1", "busybox:1.36"}
				if strings.HasPrefix(s, "single ") {
					names = names[1:]
				}
				store := "compressed" + strings.NewReplacer(".", "", " ", "").Replace(s)
				var load func() error
				var has func(name string) bool
				switch e.kind {
				case "docker":
					dk := docker(t, e, "compressed")
					dk.run(t, append([]string{"rmi", "-f"}, names...)...)
					load = func() error { _, err := dk.run(t, "load", "-i", files[s]); return err }
					has = func(n string) bool { _, err := dk.run(t, "image", "inspect", n); return err == nil }
				case "podman":
					pm := podman(t, e, store)
					load = func() error { _, err := pm.run(t, "load", "-i", files[s]); return err }
					has = func(n string) bool { _, err := pm.run(t, "image", "inspect", n); return err == nil }
				case "ctr":
					cs := ctr(t, e, store)
					load = func() error {
						_, err := cs.run(t, "images", "import", "--all-platforms", files[s])
						return err
					}
					has = func(n string) bool {
						out, err := cs.run(t, "images", "ls", "-q")
						return err == nil && strings.Contains(out, n)
					}
				}
				limit := compressedLimit(e, s)
				if err := load(); err != nil {
					if limit != "" {
						recordCompressed(e, s, "refused (expected: "+limit+")")
						t.Logf("%s refuses ferry's %s, as expected (%s): %v", e.name, s, limit, err)
						continue
					}
					recordCompressed(e, s, "refused: "+clip(firstLine(err.Error()), 120))
					t.Errorf("%s did not load ferry's %s: %v", e.name, s, err)
					continue
				}
				if limit != "" {
					t.Errorf("%s loaded ferry's %s, which it was expected to refuse (%s): update compressedLimit", e.name, s, limit)
				}
				var missing []string
				for _, n := range names {
					if !has(n) {
						missing = append(missing, n)
					}
				}
				if len(missing) > 0 {
					recordCompressed(e, s, "loaded without "+strings.Join(missing, ", "))
					t.Errorf("%s loaded ferry's %s but has no %v", e.name, s, missing)
					continue
				}
				recordCompressed(e, s, "loads, every name")
			}
		})
	}
}

// compressedSection renders what the engines did with compressed
// archives, for the report.
func compressedSection() string {
	compressedOutcomes.Lock()
	defer compressedOutcomes.Unlock()
	if len(compressedOutcomes.m) == 0 {
		return ""
	}
	var rows [][]string
	for _, e := range engines {
		if o, ok := compressedOutcomes.m[e.name]; ok {
			rows = append(rows, []string{e.name, o[".tar.gz"], o[".tar.zst"], o["single .tar.gz"]})
		}
	}
	return fmt.Sprintf("## Compressed archives, one member per blob (compressed)\n\n%s\n", table([]string{"engine", "two images .tar.gz", "two images .tar.zst", "one image .tar.gz"}, rows))
}
