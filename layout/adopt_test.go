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
	// What the import does not reuse goes before it copies: the disk it
	// held is free for what is still missing.
	if err := txn.CheckRoomFor(ctx, []ocispec.Descriptor{desc}); err != nil {
		t.Fatal(err)
	}
	if _, _, dropped := d.Reused(); dropped != int64(len(bad)+5) {
		t.Fatalf("dropped %d bytes of the pool, want %d", dropped, len(bad)+5)
	}
	if ents, _ := os.ReadDir(path.Join(dir, d.sess, poolDir)); len(ents) != 0 {
		t.Fatalf("the pool still holds %v", ents)
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
	if n, size, dropped := d.Reused(); n != 1 || size != int64(len(good)) || dropped != 0 {
		t.Fatalf("Reused = %d, %d, %d", n, size, dropped)
	}
	if err := d.checkPresent(ctx, desc); err != nil {
		t.Fatal(err)
	}
}
