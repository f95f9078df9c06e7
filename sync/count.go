package sync

import (
	"context"
	"io"
	"sync/atomic"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// countingStore counts what Copy actually sends, for the push report.
type countingStore struct {
	layout.Store
	pushed atomic.Int64
}

func (s *countingStore) Push(ctx context.Context, d ocispec.Descriptor, r io.Reader) error {
	if err := s.Store.Push(ctx, d, r); err != nil {
		return err
	}
	s.pushed.Add(1)
	return nil
}
