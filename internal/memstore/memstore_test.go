package memstore_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/oci-ferry/ferry/internal/memstore"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/layout/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Writable(t, func(*testing.T) layout.Store { return memstore.New() })
}

func TestCounting(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	c := memstore.NewCounting(mem)
	b, d := storetest.Blob(t, 10)
	if err := c.Push(ctx, d, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	c.Exists(ctx, d)
	c.Exists(ctx, d)
	for range 3 {
		rc, err := c.Fetch(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	if got, want := c.Counts(), (memstore.Counts{Fetch: 3, Push: 1, Exists: 2}); got != want {
		t.Fatalf("Counts() = %+v, want %+v", got, want)
	}
	if c.Fetched(d.Digest) != 3 || c.Pushed(d.Digest) != 1 {
		t.Fatalf("per-digest counts: fetched %d, pushed %d", c.Fetched(d.Digest), c.Pushed(d.Digest))
	}
	c.Reset()
	if c.Counts() != (memstore.Counts{}) || c.Fetched(d.Digest) != 0 {
		t.Fatal("Reset left counts behind")
	}
	if mem.Len() != 1 {
		t.Fatalf("the wrapped store holds %d blobs, want 1", mem.Len())
	}
}

func TestBlobs(t *testing.T) {
	s := memstore.New()
	for range 5 {
		b, d := storetest.Blob(t, 32)
		if err := s.Push(context.Background(), d, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	infos, err := s.Blobs(context.Background())
	if err != nil || len(infos) != 5 {
		t.Fatalf("Blobs = %d, %v", len(infos), err)
	}
	for i, bi := range infos {
		if bi.Size != 32 || bi.Err != nil || (i > 0 && infos[i-1].Digest >= bi.Digest) {
			t.Fatalf("Blobs()[%d] = %+v (want size 32, sorted by digest)", i, bi)
		}
	}
}
