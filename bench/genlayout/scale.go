package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// scaleMain writes n small images over r repositories, and beside the
// layout OUT.refs, their names one a line, for `ferry pull -f`. Each image
// is a base layer its repository's images share (an eighth of its bytes,
// so pulls and exports must notice blobs they already carry) and a layer
// of its own, so the bytes grow with the count and no image is free.
func scaleMain(out string, perImage int64, n, r int) error {
	if r < 1 || perImage < 8<<10 {
		return fmt.Errorf("-images %d -repos %d -size %d: need one repository and 8 KiB per image", n, r, perImage)
	}
	r = min(r, n)
	stamp := fmt.Sprintf("genlayout/scale/1 %s %d %d %d\n", out, perImage, n, r)
	if b, err := os.ReadFile(out + ".stamp"); err == nil && string(b) == stamp {
		fmt.Printf("%s already holds %d images over %d repositories\n", out, n, r)
		return nil
	}
	os.RemoveAll(out)
	os.Remove(out + ".stamp")
	refs, err := generateScale(out, perImage, n, r)
	if err != nil {
		return err
	}
	if err := writeLines(out+".refs", refs); err != nil {
		return err
	}
	if err := os.WriteFile(out+".stamp", []byte(stamp), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d images of %d bytes over %d repositories\n", out, n, perImage, r)
	return nil
}

// scaleName is image i's name: round-robin over the repositories, so every
// repository holds about n/r tags and a pull list visits them interleaved.
func scaleName(i, r int) string {
	return fmt.Sprintf("bench.example/scale/repo%03d:v%d", i%r, i/r)
}

func generateScale(dir string, perImage int64, n, r int) ([]string, error) {
	ctx := context.Background()
	d, err := layout.CreateDir(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	txn := d.Begin()
	base := perImage / 8
	bases := make([]ocispec.Descriptor, r)
	for j := range bases {
		if bases[j], err = ingestRandom(ctx, txn, base, [32]byte{byte(j), byte(j >> 8), 0xba, 0x5e}); err != nil {
			return nil, err
		}
	}
	images := make([]layout.Image, 0, n)
	refs := make([]string, 0, n)
	for i := range n {
		own, err := ingestRandom(ctx, txn, perImage-base, [32]byte{byte(i), byte(i >> 8), byte(i >> 16), 0x5c})
		if err != nil {
			return nil, err
		}
		man, err := pushImage(ctx, txn, []ocispec.Descriptor{bases[i%r], own})
		if err != nil {
			return nil, err
		}
		name := scaleName(i, r)
		ref, err := layout.ParseRef(name)
		if err != nil {
			return nil, err
		}
		images = append(images, layout.Image{Ref: ref, Desc: layout.Annotate(man, ref)})
		refs = append(refs, name)
	}
	return refs, txn.Commit(ctx, nil, images)
}

func ingestRandom(ctx context.Context, txn *layout.Txn, size int64, seed [32]byte) (ocispec.Descriptor, error) {
	desc, err := txn.Ingest(ctx, io.LimitReader(rand.NewChaCha8(seed), size), "")
	desc.MediaType = ocispec.MediaTypeImageLayerGzip
	return desc, err
}

func writeLines(path string, lines []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
