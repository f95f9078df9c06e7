package layout

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// heldChildEnv makes the test binary the traced child of
// TestBlobWritesOpenOneFileEach: it writes the blobs and exits.
const heldChildEnv = "FERRY_HELD_DIRS_CHILD"

// TestBlobWritesOpenOneFileEach counts the openat(2) calls of real blob
// writes, pull's way (Dir.Push) and import's (Txn.Ingest, then Commit),
// with strace: every os.Root operation on .ferry/tmp/s-…/b-… or
// blobs/sha256/… opened each directory on the way, 21 opens a blob in a
// pull of a thousand small images (docs/SCALE.md). With the session and
// blob directories held open a blob opens its temp file and nothing else.
// The count is the difference between a run of n blobs and one of none,
// so the opens of starting the binary and the layout cancel out.
func TestBlobWritesOpenOneFileEach(t *testing.T) {
	if mode := os.Getenv(heldChildEnv); mode != "" {
		heldChild(t, mode)
		return
	}
	strace := needStrace(t)
	const n = 200
	for _, mode := range []string{"push", "ingest"} {
		t.Run(mode, func(t *testing.T) {
			per := perBlob(t, strace, "TestBlobWritesOpenOneFileEach", mode, "openat", n)
			if per > 1.1 {
				t.Fatalf("%s: %.2f openat calls a blob, want 1: the temp file only", mode, per)
			}
		})
	}
}

// TestBlobReadsOpenOneFileEach counts the openat(2) calls of reading
// blobs back from a Dir, as a pull does with every config before
// index.json names it (CheckConfigs) and a re-run with what is present:
// an Lstat and an Open through the layout root walked blobs/sha256 twice,
// five opens a blob, 5,000 for a thousand images. Through the held blob
// directory a read opens the blob and nothing else, so writing and then
// reading a blob opens two files.
func TestBlobReadsOpenOneFileEach(t *testing.T) {
	if mode := os.Getenv(heldChildEnv); mode != "" {
		heldChild(t, mode)
		return
	}
	strace := needStrace(t)
	per := perBlob(t, strace, "TestBlobReadsOpenOneFileEach", "fetch", "openat", 200)
	if per > 2.1 {
		t.Fatalf("%.2f openat calls to write and read back a blob, want 2: its temp file, then the blob", per)
	}
}

// TestCommitRemovesNothingItRenamed counts the unlinkat(2) calls of an
// import's commit: after renaming every staged blob into blobs/ it
// removed each temp name again, two failing unlinkat calls a blob (file,
// then directory), 6,000 for a thousand images.
func TestCommitRemovesNothingItRenamed(t *testing.T) {
	if mode := os.Getenv(heldChildEnv); mode != "" {
		heldChild(t, mode)
		return
	}
	strace := needStrace(t)
	per := perBlob(t, strace, "TestCommitRemovesNothingItRenamed", "ingest", "unlinkat", 200)
	if per > 0.1 {
		t.Fatalf("%.2f unlinkat calls a committed blob, want 0: a renamed temp file is gone already", per)
	}
}

func needStrace(t *testing.T) string {
	strace, err := exec.LookPath("strace")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("strace not installed: make test installs it (scripts/test-deps.sh); CI must not skip this count")
		}
		t.Skip("strace not installed: the calls cannot be counted")
	}
	return strace
}

// perBlob is the calls of syscall a child running mode makes for each of
// n blobs: the difference between a run of n blobs and one of none, so
// the calls of starting the binary and the layout cancel out.
func perBlob(t *testing.T, strace, test, mode, syscall string, n int) float64 {
	none := countCalls(t, strace, test, mode, syscall, 0)
	many := countCalls(t, strace, test, mode, syscall, n)
	per := float64(many-none) / float64(n)
	t.Logf("%s: %d %s for no blob, %d for %d: %.2f a blob", mode, none, syscall, many, n, per)
	return per
}

// countCalls runs the test binary as the child of test handling n blobs
// under strace and returns its calls of syscall (0 when it made none).
func countCalls(t *testing.T, strace, test, mode, syscall string, n int) int {
	out := filepath.Join(t.TempDir(), "strace")
	cmd := exec.Command(strace, "-f", "-c", "-e", "trace="+syscall, "-o", out,
		os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), heldChildEnv+"="+mode+":"+strconv.Itoa(n)+":"+t.TempDir())
	if b, err := cmd.CombinedOutput(); err != nil {
		if strings.Contains(string(b), "ptrace") || strings.Contains(string(b), "Operation not permitted") {
			t.Skipf("strace cannot trace here: %s", b)
		}
		t.Fatalf("traced child: %v\n%s", err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 5 && fields[len(fields)-1] == syscall {
			c, err := strconv.Atoi(fields[3])
			if err != nil {
				t.Fatalf("strace summary line %q: %v", sc.Text(), err)
			}
			return c
		}
	}
	return 0
}

func heldChild(t *testing.T, spec string) {
	parts := strings.SplitN(spec, ":", 3)
	n, _ := strconv.Atoi(parts[1])
	ctx := context.Background()
	d, err := CreateDir(ctx, filepath.Join(parts[2], "layout"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	txn := d.Begin()
	for i := range n {
		b := fmt.Sprintf("blob %d of a thousand small images", i)
		desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromString(b), Size: int64(len(b))}
		switch parts[0] {
		case "push", "fetch":
			err = d.Push(ctx, desc, strings.NewReader(b))
		case "ingest":
			_, err = txn.Ingest(ctx, strings.NewReader(b), desc.Digest)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := txn.Commit(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	if parts[0] == "fetch" {
		for i := range n {
			b := fmt.Sprintf("blob %d of a thousand small images", i)
			got, err := ReadAll(ctx, d, ocispec.Descriptor{Digest: digest.FromString(b), Size: int64(len(b))}, 1<<20)
			if err != nil || string(got) != b {
				t.Fatalf("blob %d read back as %q: %v", i, got, err)
			}
		}
	}
	if n > 0 {
		for i := range n {
			b := fmt.Sprintf("blob %d of a thousand small images", i)
			if ok, err := d.Exists(ctx, ocispec.Descriptor{Digest: digest.FromString(b), Size: int64(len(b))}); !ok || err != nil {
				t.Fatalf("blob %d not in place after the commit: %v", i, err)
			}
		}
	}
}
