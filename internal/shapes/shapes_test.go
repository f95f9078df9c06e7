package shapes

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestDeterministic: two runs write the same bytes, so failures reproduce.
func TestDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	fa, err := Generate(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(b); err != nil {
		t.Fatal(err)
	}
	for _, f := range fa {
		filepath.Walk(f.Path, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() || info.Mode()&os.ModeSymlink != 0 {
				return err
			}
			rel, _ := filepath.Rel(a, p)
			x, _ := os.ReadFile(p)
			y, err := os.ReadFile(filepath.Join(b, rel))
			if err != nil || !bytes.Equal(x, y) {
				t.Errorf("%s differs between runs", rel)
			}
			return nil
		})
	}
	if len(fa) < 40 {
		t.Fatalf("only %d fixtures", len(fa))
	}
}
