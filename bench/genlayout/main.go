// Command genlayout writes a deterministic OCI layout of a chosen size for
// the benchmarks: a few images sharing layers, blob sizes deliberately
// uneven (one large layer, several medium ones) so that parallel hashing
// has to balance, content incompressible so compression is measured
// honestly. With -images it writes the opposite shape instead, many small
// images over several repositories (scale.go), so that costs paid per
// image rather than per byte show up. It goes through ferry's own layout
// package.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

func main() {
	out := flag.String("out", "out/bench/layout", "layout directory to write")
	size := flag.String("size", "1GiB", "total bytes of layer blobs (KiB/MiB/GiB suffixes)")
	blobs := flag.Int("blobs", 8, "number of layer blobs")
	images := flag.Int("images", 0, "write this many small images instead (-size is then each image's layer bytes)")
	repos := flag.Int("repos", 50, "with -images: spread the images over this many repositories")
	flag.Parse()
	total, err := parseSize(*size)
	if err != nil {
		fail(err)
	}
	if *images > 0 {
		if err := scaleMain(*out, total, *images, *repos); err != nil {
			fail(err)
		}
		return
	}
	if *blobs < 1 || total/int64(*blobs) < 1<<10 {
		fail(fmt.Errorf("-size %s over -blobs %d: need at least one blob and 1 KiB per blob", *size, *blobs))
	}
	// The stamp names the generator's version too, so a change to what it
	// writes regenerates layouts stamped by an older one.
	stamp := fmt.Sprintf("genlayout/2 %s %d %d\n", *out, total, *blobs)
	if b, err := os.ReadFile(*out + ".stamp"); err == nil && string(b) == stamp {
		fmt.Printf("%s already holds %s in %d layers\n", *out, *size, *blobs)
		return
	}
	os.RemoveAll(*out)
	os.Remove(*out + ".stamp")
	if err := generate(*out, total, *blobs); err != nil {
		fail(err)
	}
	if err := os.WriteFile(*out+".stamp", []byte(stamp), 0o644); err != nil {
		fail(err)
	}
	fmt.Printf("wrote %s: %s in %d layers\n", *out, *size, *blobs)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "genlayout:", err)
	os.Exit(1)
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	for suf, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if strings.HasSuffix(s, suf) {
			s, mult = strings.TrimSuffix(s, suf), m
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n * mult, err
}

// sizes splits total into n uneven blob sizes: the first takes a quarter,
// so one worker gets a long job and scheduling matters; the rest share the
// remainder, jittered in pairs (one blob +d, the next -d, |d| < 1/16 of the
// share) so the sum stays exact and no blob ever shrinks to zero bytes,
// whatever n is. Empty blobs would all be the same blob.
func sizes(total int64, n int) []int64 {
	out := make([]int64, n)
	if n == 1 {
		out[0] = total
		return out
	}
	out[0] = total / 4
	rest := total - out[0]
	avg := rest / int64(n-1)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 1; i < n; i++ {
		out[i] = avg
	}
	for i := 1; i+1 < n; i += 2 {
		if j := avg / 16; j > 0 {
			d := r.Int64N(j)
			out[i] += d
			out[i+1] -= d
		}
	}
	out[n-1] += rest - avg*int64(n-1)
	return out
}

func generate(dir string, total int64, n int) error {
	ctx := context.Background()
	d, err := layout.CreateDir(context.Background(), dir)
	if err != nil {
		return err
	}
	defer d.Close()
	txn := d.Begin()
	var layers []ocispec.Descriptor
	for i, sz := range sizes(total, n) {
		src := rand.NewChaCha8([32]byte{byte(i), 0xfe, 0x77, 0x79})
		desc, err := txn.Ingest(ctx, io.LimitReader(src, sz), "")
		if err != nil {
			return err
		}
		desc.MediaType = ocispec.MediaTypeImageLayerGzip
		layers = append(layers, desc)
	}
	// Three images: the first holds half the layers, the second the other
	// half, the third all of them, so blobs are shared between images.
	groups := [][]ocispec.Descriptor{layers[:n/2], layers[n/2:], layers}
	var images []layout.Image
	for i, g := range groups {
		man, err := pushImage(ctx, txn, g)
		if err != nil {
			return err
		}
		r, _ := layout.ParseRef(fmt.Sprintf("bench.example/big/image%d:v1", i))
		images = append(images, layout.Image{Ref: r, Desc: layout.Annotate(man, r)})
	}
	return txn.Commit(ctx, nil, images)
}

func pushImage(ctx context.Context, txn *layout.Txn, layers []ocispec.Descriptor) (ocispec.Descriptor, error) {
	cfg := ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}, RootFS: ocispec.RootFS{Type: "layers"}}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.Digest) // not real DiffIDs; verify does not decompress
	}
	cd, err := put(ctx, txn, ocispec.MediaTypeImageConfig, cfg)
	if err != nil {
		return cd, err
	}
	return put(ctx, txn, ocispec.MediaTypeImageManifest, ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cd, Layers: layers})
}

func put(ctx context.Context, txn *layout.Txn, mt string, v any) (ocispec.Descriptor, error) {
	b, _ := json.Marshal(v)
	d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
	return d, txn.Push(ctx, d, strings.NewReader(string(b)))
}
