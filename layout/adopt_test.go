package layout

import (
	"context"
	"os"
	"path"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// deadSession leaves in dir what a killed import leaves: a session
// directory without a live lock, holding staged files.
func deadSession(t *testing.T, dir string, files ...[]byte) {
	t.Helper()
	sess := path.Join(dir, stagePath, "s-00000000000000aa")
	if err := os.MkdirAll(sess, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(sess+".lock", nil, 0o644)
	for i, b := range files {
		if err := os.WriteFile(path.Join(sess, "b-00000000000000"+string(rune('a'+i))+"0"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A staged file is reused only when its bytes hash to the digest asked
// for: a dead run's file of the right size with a flipped byte is not.
func TestAdoptHashesWhatItReuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := CreateDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	good := []byte("the staged layer, whole")
	bad := append([]byte(nil), good...)
	bad[3] ^= 1
	deadSession(t, dir, bad, good[:5])
	d, err = CreateDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	txn := d.Begin()
	desc := ocispec.Descriptor{Digest: digest.FromBytes(good), Size: int64(len(good))}
	if txn.Adopt(ctx, desc) {
		t.Fatal("a corrupt staged copy was adopted")
	}
	d.Close()

	deadSession(t, dir, good)
	d, err = CreateDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// A second handle opened meanwhile finds nothing to claim: the files
	// belong to the first one's live session now.
	other, err := CreateDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if other.Begin().Adopt(ctx, desc) {
		t.Fatal("two sessions adopted the same staged file")
	}
	txn = d.Begin()
	if !txn.Adopt(ctx, desc) {
		t.Fatal("the intact staged copy was not adopted")
	}
	// gc runs while the adopted blob waits for its commit.
	if _, err := d.GC(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := txn.Commit(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	if n, size := d.Reused(); n != 1 || size != int64(len(good)) {
		t.Fatalf("Reused = %d, %d", n, size)
	}
	if err := d.checkPresent(ctx, desc); err != nil {
		t.Fatal(err)
	}
}
