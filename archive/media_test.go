package archive

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
)

// withLimit makes the destination of opts a FAT-like medium whose largest
// file is limit bytes: the same checks as on FAT32, at a size a test can
// write.
func withLimit(opts WriteOptions, limit int64) WriteOptions {
	opts.medium = func(dest string) *medium {
		m := detectMedium(dest)
		m.fs.Kind, m.maxFile = layout.FSFAT, limit
		return m
	}
	return opts
}

// TestPlannedSizeIsExact: the size a single archive or a volume set is
// checked against before the first byte is the size written, to the
// byte, in every format and for a delta: a limit of exactly that passes,
// one byte less is refused before anything is written.
func TestPlannedSizeIsExact(t *testing.T) {
	set := testimage.New(t)
	rel := testimage.TwoReleases(t)
	ctx := context.Background()
	cases := []struct {
		name string
		src  string
		opts WriteOptions
	}{
		{"both.tar", set.Dir, WriteOptions{}},
		{"oci.tar", set.Dir, WriteOptions{Format: OCI}},
		{"docker.tar", set.Dir, WriteOptions{Format: Docker}},
		{"delta.tar", rel.R2, WriteOptions{Have: rel.Have}},
		{"set.tar", noisy(t), WriteOptions{VolumeSize: MinVolumeSize}},
		{"one.tar", set.Dir, WriteOptions{VolumeSize: 1 << 20}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, err := Open(ctx, c.src, OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			dir := t.TempDir()
			res, err := Write(ctx, src, src.Images, filepath.Join(dir, c.name), c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if c.name == "set.tar" && len(res.Volumes) < 3 {
				t.Fatalf("the set has %d volumes, not several", len(res.Volumes))
			}
			files := res.Volumes
			if len(files) == 0 {
				files = []string{res.Path}
			}
			var largest int64
			for _, f := range files {
				fi, err := os.Stat(f)
				if err != nil {
					t.Fatal(err)
				}
				largest = max(largest, fi.Size())
			}
			if _, err := Write(ctx, src, src.Images, filepath.Join(t.TempDir(), c.name), withLimit(c.opts, largest)); err != nil {
				t.Fatalf("a limit of the largest file written (%d) refused: %v", largest, err)
			}
			out := t.TempDir()
			_, err = Write(ctx, src, src.Images, filepath.Join(out, c.name), withLimit(c.opts, largest-1))
			if !errors.Is(err, layout.ErrTooLarge) || !strings.Contains(err.Error(), "would be") || !strings.Contains(err.Error(), "--volume-size fat32") {
				t.Fatalf("a limit one byte below the largest file (%d): %v", largest, err)
			}
			if des, _ := os.ReadDir(out); len(des) != 0 {
				t.Fatalf("written before the refusal: %v", des)
			}
		})
	}
}

// noisy is a layout of one image with a 200 KiB incompressible layer.
func noisy(t *testing.T) string { return testimage.Noisy(t, "example.com/noise:1", 200<<10, 5) }

// TestCapWriterStopsAtTheLimit: whatever a plan got wrong, no byte past
// the file system's largest file reaches the driver.
func TestCapWriterStopsAtTheLimit(t *testing.T) {
	m := &medium{fs: layout.FileSystem{Kind: layout.FSFAT, Type: "vfat"}, maxFile: 10}
	var b bytes.Buffer
	w := m.capped(&b, "x.tar", 0)
	if _, err := w.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	if n, err := w.Write([]byte("a")); n != 0 || !errors.Is(err, layout.ErrTooLarge) || b.Len() != 10 {
		t.Fatalf("past the limit: wrote %d (%d in all): %v", n, b.Len(), err)
	}
	if w := (&medium{}).capped(&b, "x", 0); w != &b {
		t.Fatal("a medium without a limit wraps the writer")
	}
}

func TestPortableNames(t *testing.T) {
	for name, want := range map[string]string{
		"images.tar":             "",
		"release-2.tar.gz":       "",
		".hidden.tar":            "",
		"räksmörgås.tar":         "",
		"app:v1.tar":             "':'",
		"a*b.tar":                "'*'",
		`a"b.tar`:                `'"'`,
		"a<b>.tar":               "'<'",
		"a|b.tar":                "'|'",
		"a?.tar":                 "'?'",
		"a\\b.tar":               `'\\'`,
		"tab\there.tar":          `'\t'`,
		"out.tar.":               "ends in a dot",
		"out.tar ":               "ends in a dot or a space",
		"CON.tar":                "device name",
		"nul":                    "device name",
		"com1.tar.zst":           "device name",
		"LPT9":                   "device name",
		"COM.tar":                "",
		"console.tar":            "",
		strings.Repeat("a", 255): "",
		strings.Repeat("a", 256): "longer than 255",
		strings.Repeat("é", 200): "longer than 255", // 200 UTF-16 units, 400 bytes
	} {
		got := portableProblem(name)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("portableProblem(%.40q) = %q, want %q", name, got, want)
		}
	}
	if got := portableName("app:v1 ."); got != "app_v1" {
		t.Errorf("portableName = %q", got)
	}
	if got := portableName("CON.tar"); got != "" {
		t.Errorf("portableName of a reserved name = %q, want none", got)
	}
}

// TestDerivedNamesArePortable: the names ferry makes of a portable name
// (volumes, temp files) are portable too, for every suffix it knows.
func TestDerivedNamesArePortable(t *testing.T) {
	for _, base := range []string{"a.tar", "a.tar.gz", "a.tgz", "a.tar.zst", "a.tzst", "a.tar.zstd", "a", "a.b.c.tar", "release 2.tar"} {
		for _, n := range append(derivedNames(base, 999), filepath.Base(volumePath(base, 1, 1)), filepath.Base(volumePath(base, 12, 1200))) {
			if why := portableProblem(n); why != "" {
				t.Errorf("%s: ferry derives %q: %s", base, n, why)
			}
		}
	}
	m := &medium{}
	long := strings.Repeat("x", 240) + ".tar"
	if _, err := m.checkNames(long, derivedNames(long, 0)); err == nil || !strings.Contains(err.Error(), "at most 233 characters") {
		t.Fatalf("a name whose temp file is too long: %v", err)
	}
	if note, err := m.checkNames("a:b.tar", derivedNames("a:b.tar", 0)); err != nil || !strings.Contains(note, "name it a_b.tar") {
		t.Fatalf("a colon off FAT: %q %v", note, err)
	}
	m.fs.Kind = layout.FSExFAT
	if _, err := m.checkNames("a:b.tar", derivedNames("a:b.tar", 0)); err == nil {
		t.Fatal("a colon on exFAT was let through")
	}
}

// TestAutoVolumeSize: fat32 on FAT, one archive on exFAT and elsewhere,
// each saying what it chose.
func TestAutoVolumeSize(t *testing.T) {
	for _, c := range []struct {
		kind layout.FSKind
		want int64
		note string
	}{
		{layout.FSFAT, 4<<30 - 1, "(fat32)"},
		{layout.FSExFAT, 0, "exFAT has no 4 GiB limit"},
		{layout.FSOther, 0, "one archive"},
	} {
		m := &medium{dir: "/x", fs: layout.FileSystem{Kind: c.kind, Type: "t"}}
		m.maxFile = m.fs.MaxFile()
		if n, note := m.autoVolumeSize(); n != c.want || !strings.Contains(note, c.note) {
			t.Errorf("%v: %d %q", c.kind, n, note)
		}
	}
	if n, err := ParseVolumeSize("AUTO"); err != nil || n != VolumeSizeAuto {
		t.Fatalf("auto: %d %v", n, err)
	}
}
