package archive

import (
	"archive/tar"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func seedVolumeIndex() []byte {
	blob := digest.FromString("blob")
	v := &volumeIndex{Version: 1, Set: strings.Repeat("ab", 16), Volume: 2, Volumes: 3, Entries: []volumeEntry{
		{Name: chunkName(blob, 2), Size: 1024, Blob: blob, BlobSize: 4096, Offset: 1024, Digest: digest.FromString("chunk")},
		{Name: "blobs/sha256/" + digest.FromString("x").Encoded(), Size: 1},
	}}
	return v.encode()
}

// FuzzVolumeIndex: the parser never panics, and whatever it accepts
// encodes to a canonical form that parses back to the same index.
func FuzzVolumeIndex(f *testing.F) {
	f.Add(seedVolumeIndex())
	f.Add([]byte(`{"ferryVolume":1,"set":"00000000000000000000000000000000","volume":1,"volumes":2,"entries":[]}`))
	f.Add([]byte(`{"ferryVolume":1,"Set":"x","set":"y"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseVolumeIndex(b, "fuzz")
		if err != nil {
			return
		}
		again, err := parseVolumeIndex(v.encode(), "fuzz")
		if err != nil {
			t.Fatalf("canonical form of an accepted index is refused: %v", err)
		}
		if !reflect.DeepEqual(v, again) {
			t.Fatalf("index changed through its canonical form:\n%+v\n%+v", v, again)
		}
	})
}

// TestVolumeIndexStrict: what the parser refuses, each for its reason.
func TestVolumeIndexStrict(t *testing.T) {
	good := string(seedVolumeIndex())
	if _, err := parseVolumeIndex([]byte(good), "v"); err != nil {
		t.Fatal(err)
	}
	blob := digest.FromString("blob")
	for name, bad := range map[string]string{
		"version 2":          strings.Replace(good, `"ferryVolume":1`, `"ferryVolume":2`, 1),
		"key in other case":  strings.Replace(good, `"volumes":3`, `"Volumes":3`, 1),
		"key twice":          strings.Replace(good, `"volumes":3`, `"volumes":3,"volumes":4`, 1),
		"unknown key":        strings.Replace(good, `"volumes":3`, `"volumes":3,"extra":1`, 1),
		"volume past count":  strings.Replace(good, `"volume":2`, `"volume":4`, 1),
		"set of one":         strings.Replace(strings.Replace(good, `"volumes":3`, `"volumes":1`, 1), `"volume":2`, `"volume":1`, 1),
		"short set id":       strings.Replace(good, strings.Repeat("ab", 16), "abab", 1),
		"chunk past blob":    strings.Replace(good, `"offset":1024`, `"offset":3584`, 1),
		"chunk of other":     strings.Replace(good, blob.Encoded()+".2", digest.FromString("other").Encoded()+".2", 1),
		"unclean name":       strings.Replace(good, `"blobs/sha256/`, `"blobs/../sha256/`, 1),
		"trailing data":      good + "{}",
		"negative size":      strings.Replace(good, `"size":1}`, `"size":-1}`, 1),
		"whole in chunk dir": strings.Replace(good, `"blobs/sha256/`, `"ferry-chunks/sha256/`, 1),
		"bad chunk digest":   strings.Replace(good, digest.FromString("chunk").String(), "sha256:abc", 1),
	} {
		if _, err := parseVolumeIndex([]byte(bad), "v.002.tar"); err == nil || !strings.Contains(err.Error(), "v.002.tar: ferry-volume.json") {
			t.Errorf("%s: accepted or unnamed: %v", name, err)
		}
	}
}

// TestPlanKeepsToTheSize: however the sizes fall, a planned volume's tar
// never passes the room it was given, and the chunks of a blob add up.
func TestPlanKeepsToTheSize(t *testing.T) {
	for _, usable := range []int64{MinVolumeSize, 100_000, 1 << 20, 25_000_000_000} {
		var items []*volItem
		items = append(items, &volItem{name: "index.json", size: 700, data: make([]byte, 700)})
		for i, size := range []int64{0, 1, 511, 512, 513, usable, 3*usable + 17, 40_000} {
			d := digest.FromString(strings.Repeat("x", i))
			items = append(items, &volItem{name: blobName(d), size: size})
			items[len(items)-1].desc.Digest, items[len(items)-1].desc.Size = d, size
		}
		vols, idx, err := planVolumes(items, usable)
		if err != nil {
			t.Fatal(err)
		}
		// The room fillVolumes promises each volume's index is kept free.
		const reserve = 4096
		filled, err := fillVolumes(items, usable, reserve)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range filled {
			var sum int64
			for _, p := range v {
				sum += tarCost(p.name(), p.size)
			}
			if sum > usable-tarEnd-reserve {
				t.Fatalf("usable %d: volume %d's content takes %d of the %d left beside its index", usable, i+1, sum, usable-tarEnd-reserve)
			}
		}
		got := map[string]int64{}
		for i, v := range vols {
			total := tarCost(volumeIndexName, int64(len(idx[i].encode()))) + tarEnd
			for _, p := range v {
				total += tarCost(p.name(), p.size)
				got[p.item.name] += p.size
			}
			if total > usable {
				t.Fatalf("usable %d: volume %d needs %d", usable, i+1, total)
			}
		}
		for _, it := range items {
			if got[it.name] != it.size {
				t.Fatalf("%s: %d of %d bytes planned", it.name, got[it.name], it.size)
			}
		}
	}
}

// countWriter counts bytes and keeps none.
type countWriter struct{ n int64 }

func (c *countWriter) Write(b []byte) (int, error) { c.n += int64(len(b)); return len(b), nil }

// TestTarCostIsWhatTarWrites: the planner's header sizes are the ones
// archive/tar writes, for sizes on both sides of ustar's limit.
func TestTarCostIsWhatTarWrites(t *testing.T) {
	sha512 := digest.SHA512.FromString("x")
	for _, size := range []int64{0, 1, 512, maxUstarSize, maxUstarSize + 1, 25_000_000_000} {
		for _, name := range []string{chunkName(digest.FromString("x"), 9999), blobName(sha512), chunkName(sha512, 1)} {
			var c countWriter
			tw := tar.NewWriter(&c)
			if err := tw.WriteHeader(regHeader(name, size, mtime())); err != nil {
				t.Fatal(err)
			}
			planned := tarCost(name, size) - (size+511)&^511
			if c.n > planned || len(name) <= 100 && size <= maxUstarSize && c.n != planned {
				t.Errorf("%s of %d bytes: header takes %d bytes, planned %d", name, size, c.n, planned)
			}
		}
	}
}
