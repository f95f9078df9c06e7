package remote

import (
	"bytes"
	"testing"

	"github.com/opencontainers/go-digest"
)

// TestKeepConfigBounded: configs are kept up to MaxKeptConfigBytes in all
// and no further, however many a pull reads.
func TestKeepConfigBounded(t *testing.T) {
	s := NewSources()
	b := bytes.Repeat([]byte{'x'}, 1<<20)
	kept := 0
	for i := range 10 {
		c := append([]byte{byte(i)}, b...)
		if s.KeepConfig(digest.FromBytes(c), c) {
			kept++
		}
	}
	if kept != 3 || s.kept > MaxKeptConfigBytes {
		t.Fatalf("kept %d configs, %d bytes; want 3 within %d", kept, s.kept, MaxKeptConfigBytes)
	}
	if _, doc := s.route(digest.FromBytes(append([]byte{9}, b...))); doc != nil {
		t.Fatal("a config past the bound is served from memory")
	}
}
