package layout_test

import (
	"errors"
	"testing"

	"github.com/oci-ferry/ferry/layout"
)

func TestCheckSpace(t *testing.T) {
	dir := t.TempDir()
	if err := layout.CheckSpace(dir, 1); err != nil {
		t.Fatalf("one byte must fit: %v", err)
	}
	if err := layout.CheckSpace(dir, 1<<62); !errors.Is(err, layout.ErrNoSpace) {
		t.Fatalf("4 EiB must not fit: %v", err)
	}
}
