package layout

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// A have-list is what the receiving side of an air gap already holds: the
// digest and size of every blob and manifest, and the names present. It is
// the one file carried back out, so it says nothing else (no paths, hosts,
// times or sizes of anything but content), and the sender reads it as
// hostile input like any other.
//
// Version 1 is a JSON object, one entry a line so that it diffs and greps:
//
//	{"ferryHaveList":1,
//	 "blobs":[
//	  {"digest":"sha256:…","size":1234},
//	  …],
//	 "images":[
//	  {"name":"docker.io/library/busybox:1.36","digest":"sha256:…"},
//	  …]}
//
// Blobs are sorted by digest, images by name then digest, each once.
const HaveListVersion = 1

// Limits on a have-list. A registry of a million blobs fits; the caps keep
// a hostile list from making ferry hold more than some tens of MiB.
const (
	MaxHaveListBlobs  = 1 << 20
	MaxHaveListImages = 1 << 18
	maxHaveEntry      = 4 << 10 // bytes of one entry: a digest, a size, a name
)

// HaveList is a parsed have-list.
type HaveList struct {
	// Digest is the sha256 of the file as read: what a delta archive
	// records as its base, so both sides can tell which list it was.
	Digest digest.Digest
	Images []HaveImage
	blobs  map[digest.Digest]int64
}

// HaveImage is one name present at the target.
type HaveImage struct {
	Name   string        `json:"name"`
	Digest digest.Digest `json:"digest"`
}

type haveBlob struct {
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
}

// Has reports whether the target holds d, with its size: a list naming the
// digest with another size does not count, since it would be a lie or a
// collision, and either way the blob must travel.
func (h *HaveList) Has(d ocispec.Descriptor) bool {
	size, ok := h.blobs[d.Digest]
	return ok && size == d.Size
}

// Blobs is the number of blobs the list names.
func (h *HaveList) Blobs() int { return len(h.blobs) }

// Bytes is the total size of the blobs the list names.
func (h *HaveList) Bytes() int64 {
	var n int64
	for _, s := range h.blobs {
		n += s
	}
	return n
}

// HaveListOf describes what s holds: every blob it lists (content only:
// entries whose name is not a valid digest are left out) and every name.
func HaveListOf(ctx context.Context, s Lister) (*HaveList, error) {
	blobs, err := s.Blobs(ctx)
	if err != nil {
		return nil, err
	}
	names, err := s.Names(ctx)
	if err != nil {
		return nil, err
	}
	h := &HaveList{blobs: make(map[digest.Digest]int64, len(blobs))}
	for _, b := range blobs {
		if b.Err == nil && b.Digest != "" {
			h.blobs[b.Digest] = b.Size
		}
	}
	for _, im := range names {
		h.Images = append(h.Images, HaveImage{Name: im.Name(), Digest: im.Desc.Digest})
	}
	return h, nil
}

// Add records a blob or manifest the target holds.
func (h *HaveList) Add(d digest.Digest, size int64) {
	if h.blobs == nil {
		h.blobs = map[digest.Digest]int64{}
	}
	h.blobs[d] = size
}

// Encode writes the list in its one canonical form, so the same content
// always gives the same file and the same digest, and sets h.Digest.
func (h *HaveList) Encode(w io.Writer) error {
	if len(h.blobs) > MaxHaveListBlobs || len(h.Images) > MaxHaveListImages {
		return fmt.Errorf("have-list: %d blobs and %d names: %w (at most %d and %d)", len(h.blobs), len(h.Images), ErrTooLarge, MaxHaveListBlobs, MaxHaveListImages)
	}
	ds := make([]digest.Digest, 0, len(h.blobs))
	for d := range h.blobs {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	ims := slices.Clone(h.Images)
	sort.Slice(ims, func(i, j int) bool {
		if ims[i].Name != ims[j].Name {
			return ims[i].Name < ims[j].Name
		}
		return ims[i].Digest < ims[j].Digest
	})
	ims = slices.Compact(ims)
	dg := digest.Canonical.Digester()
	bw := bufio.NewWriter(io.MultiWriter(w, dg.Hash()))
	fmt.Fprintf(bw, "{\"ferryHaveList\":%d,\n \"blobs\":[", HaveListVersion)
	for i, d := range ds {
		b, _ := json.Marshal(haveBlob{Digest: d, Size: h.blobs[d]})
		bw.WriteString(sep(i) + "\n  ")
		bw.Write(b)
	}
	bw.WriteString("],\n \"images\":[")
	for i, im := range ims {
		b, _ := json.Marshal(im)
		bw.WriteString(sep(i) + "\n  ")
		bw.Write(b)
	}
	bw.WriteString("]}\n")
	if err := bw.Flush(); err != nil {
		return err
	}
	h.Digest = dg.Digest()
	return nil
}

func sep(i int) string {
	if i == 0 {
		return ""
	}
	return ","
}

// ReadHaveList parses a have-list strictly: the version must be one ferry
// knows, every digest valid, every size non-negative, no unknown field,
// no key twice, no entry twice with different facts, and nothing after the
// object. label names the file in errors. It streams: an entry is decoded
// at a time, and the caps bound what is kept.
func ReadHaveList(r io.Reader, label string) (*HaveList, error) {
	dg := digest.Canonical.Digester()
	src := io.TeeReader(r, dg.Hash())
	dec := json.NewDecoder(src)
	bad := func(format string, a ...any) error {
		return fmt.Errorf("have-list %s: %w: %s", label, ErrInvalid, fmt.Sprintf(format, a...))
	}
	if err := expectDelim(dec, '{'); err != nil {
		return nil, bad("%v", err)
	}
	h := &HaveList{blobs: map[digest.Digest]int64{}}
	seen := map[string]bool{}
	version := 0
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, bad("%v", err)
		}
		key, _ := t.(string)
		if len(seen) == 0 && key != "ferryHaveList" {
			return nil, bad("the first key must be ferryHaveList (the version), found %q", key)
		}
		if seen[strings.ToLower(key)] {
			return nil, bad("key %q appears twice", key)
		}
		seen[strings.ToLower(key)] = true
		switch key {
		case "ferryHaveList":
			if err := dec.Decode(&version); err != nil {
				return nil, bad("ferryHaveList: %v", err)
			}
			if version != HaveListVersion {
				return nil, bad("version %d; this ferry reads version %d (a newer ferry wrote it?)", version, HaveListVersion)
			}
		case "blobs":
			err = eachEntry(dec, MaxHaveListBlobs, func(raw []byte) error {
				var b haveBlob
				if err := decodeEntry(raw, &b); err != nil {
					return err
				}
				if err := ValidateDigest(b.Digest); err != nil {
					return err
				}
				if b.Size < 0 {
					return fmt.Errorf("blob %s: size %d", b.Digest, b.Size)
				}
				if was, ok := h.blobs[b.Digest]; ok && was != b.Size {
					return fmt.Errorf("blob %s is listed with sizes %d and %d", b.Digest, was, b.Size)
				}
				h.blobs[b.Digest] = b.Size
				return nil
			})
		case "images":
			err = eachEntry(dec, MaxHaveListImages, func(raw []byte) error {
				var im HaveImage
				if err := decodeEntry(raw, &im); err != nil {
					return err
				}
				if err := ValidateDigest(im.Digest); err != nil {
					return fmt.Errorf("image %q: %w", im.Name, err)
				}
				if _, err := ParseRef(im.Name); err != nil && !strings.HasPrefix(im.Name, "@") && !strings.HasPrefix(im.Name, ":") {
					return fmt.Errorf("image name %q: %w", im.Name, err)
				}
				h.Images = append(h.Images, im)
				return nil
			})
		default:
			return nil, bad("unknown key %q", key)
		}
		if err != nil {
			return nil, bad("%s: %v", key, err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, bad("%v", err)
	}
	if !seen["ferryhavelist"] || !seen["blobs"] || !seen["images"] {
		return nil, bad("ferryHaveList, blobs and images are all required")
	}
	// Only white space may follow: a second document would be a second
	// answer to the same question.
	rest, err := io.ReadAll(io.LimitReader(io.MultiReader(dec.Buffered(), src), 1<<10))
	if err != nil {
		return nil, bad("%v", err)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, bad("data after the list")
	}
	h.Digest = dg.Digest()
	return h, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, found %v", want, t)
	}
	return nil
}

// eachEntry walks a JSON array of objects, handing each one's raw bytes to
// fn, at most limit of them.
func eachEntry(dec *json.Decoder, limit int, fn func([]byte) error) error {
	if err := expectDelim(dec, '['); err != nil {
		return err
	}
	n := 0
	for dec.More() {
		if n++; n > limit {
			return fmt.Errorf("%w: more than %d entries", ErrTooLarge, limit)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if len(raw) > maxHaveEntry {
			return fmt.Errorf("entry %d: %w: %d bytes", n, ErrTooLarge, len(raw))
		}
		if err := fn(raw); err != nil {
			return fmt.Errorf("entry %d: %w", n, err)
		}
	}
	return expectDelim(dec, ']')
}

// decodeEntry decodes one small object strictly: no duplicate or
// case-variant keys, no unknown fields.
func decodeEntry(raw []byte, v any) error {
	if err := StrictJSON(raw); err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	return nil
}
