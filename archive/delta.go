package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// A delta archive leaves out what a have-list says the far side holds. It
// must explain itself: the far side has to tell a blob left out by design
// from one lost on the way, or a lost layer would pass as "expected". So
// the archive carries the exact list of what it left out, as a small JSON
// blob under blobs/ (content-addressed, so verify hashes it like any other
// blob and a stray edit shows), and index.json names that blob and the
// have-list in the dev.ferry.archive.delta-base annotation. Loaders ignore
// both: an unreferenced blob and an unknown annotation are allowed by the
// image-spec, and a delta holds no manifest.json (see Write).

// DeltaRecordVersion is the version of the left-out record.
const DeltaRecordVersion = 1

// MediaTypeDeltaRecord is the media type ferry gives the record.
const MediaTypeDeltaRecord = "application/vnd.ferry.delta.v1+json"

// maxDeltaRecord bounds the record a reader accepts: far more than the
// descriptors of a have-list's maximum number of blobs would need is never
// read into memory.
const maxDeltaRecord = 256 << 20

// DeltaBase is the value of the delta-base annotation: which have-list the
// archive was cut against and what that left out.
type DeltaBase struct {
	// HaveList is the digest of the have-list file as read.
	HaveList digest.Digest `json:"haveList"`
	// Listed is the number of blobs the have-list names.
	Listed int `json:"listed"`
	// LeftOut and LeftOutBytes count the blobs the archive does not hold.
	LeftOut      int   `json:"leftOut"`
	LeftOutBytes int64 `json:"leftOutBytes"`
	// Record is the blob listing every left-out descriptor.
	Record digest.Digest `json:"record"`
	// RecordSize is that blob's size, so it can be read as a descriptor.
	RecordSize int64 `json:"recordSize"`
}

// deltaRecord is the record blob's content.
type deltaRecord struct {
	Version  int                  `json:"ferryDelta"`
	HaveList digest.Digest        `json:"haveList"`
	LeftOut  []ocispec.Descriptor `json:"leftOut"`
	// Filtered are the index entries --platform left out: absent by
	// choice, a sparse index, not a loss.
	Filtered []ocispec.Descriptor `json:"filtered,omitempty"`
}

// Delta is what a reader knows of a delta archive.
type Delta struct {
	Base DeltaBase
	// LeftOut are the descriptors the archive leaves out, by digest.
	LeftOut map[digest.Digest]ocispec.Descriptor
	// Filtered are the index entries --platform left out.
	Filtered map[digest.Digest]bool
}

// Sorted lists the left-out descriptors by digest.
func (d *Delta) Sorted() []ocispec.Descriptor {
	out := make([]ocispec.Descriptor, 0, len(d.LeftOut))
	for _, v := range d.LeftOut {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Digest < out[j].Digest })
	return out
}

// leaveOut drops from the plan everything have lists (digest and size) and
// returns the record of it, nil if have is nil. The order of what stays is
// today's; the record goes first among the blobs, as metadata does.
func (p *plan) leaveOut(have *layout.HaveList) (*deltaRecord, error) {
	if have == nil {
		return nil, nil
	}
	rec := &deltaRecord{Version: DeltaRecordVersion, HaveList: have.Digest, LeftOut: []ocispec.Descriptor{}}
	keep := func(ds []ocispec.Descriptor) []ocispec.Descriptor {
		return slices.DeleteFunc(ds, func(d ocispec.Descriptor) bool {
			if have.Has(d) {
				rec.LeftOut = append(rec.LeftOut, ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size})
				return true
			}
			return false
		})
	}
	p.meta, p.layers = keep(p.meta), keep(p.layers)
	for _, f := range p.graph.Filtered {
		rec.Filtered = append(rec.Filtered, ocispec.Descriptor{MediaType: f.MediaType, Digest: f.Digest, Size: f.Size})
	}
	sort.Slice(rec.LeftOut, func(i, j int) bool { return rec.LeftOut[i].Digest < rec.LeftOut[j].Digest })
	return rec, nil
}

// encode gives the record's bytes and the annotation naming them.
func (r *deltaRecord) encode(listed int) ([]byte, DeltaBase, string) {
	b, _ := json.Marshal(r)
	b = append(b, '\n')
	base := DeltaBase{HaveList: r.HaveList, Listed: listed, LeftOut: len(r.LeftOut), Record: digest.FromBytes(b), RecordSize: int64(len(b))}
	for _, d := range r.LeftOut {
		base.LeftOutBytes += d.Size
	}
	ann, _ := json.Marshal(base)
	return b, base, string(ann)
}

// Delta reads the delta-base annotation and the record it names: nil for a
// full archive. A delta whose record is absent, altered or inconsistent
// with its annotation is refused: without it, nothing could tell what was
// left out from what was lost.
func (src *Source) Delta(ctx context.Context) (*Delta, error) {
	if !src.HasLayout() {
		return nil, nil
	}
	idx, err := src.ReadIndex()
	if err != nil {
		return nil, err
	}
	v, ok := idx.Annotations[AnnotationDeltaBase]
	marked := src.deltaMarked()
	if !ok {
		if marked {
			return nil, fmt.Errorf("%s: %w: oci-layout marks a delta archive, but index.json has no %s annotation to say what it left out", src.Label(), layout.ErrInvalid, AnnotationDeltaBase)
		}
		return nil, nil
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s: index.json annotation %s: %w: %s", src.Label(), AnnotationDeltaBase, layout.ErrInvalid, fmt.Sprintf(format, a...))
	}
	base, err := parseDeltaBase(v)
	if err != nil {
		return nil, bad("%v", err)
	}
	desc := RecordDescriptor(base)
	rc, err := src.Fetch(ctx, desc)
	if err != nil {
		return nil, fmt.Errorf("%s: the record of what this delta leaves out (blob %s): %w", src.Label(), base.Record, err)
	}
	defer rc.Close()
	vr, err := layout.NewVerifyReader(rc, desc)
	if err != nil {
		return nil, err
	}
	d, err := readDeltaRecord(vr, base)
	if err == nil {
		err = vr.Drain() // the digest is known only at the end
	}
	if err != nil {
		return nil, fmt.Errorf("%s: delta record %s: %w", src.Label(), base.Record, err)
	}
	return d, nil
}

// parseDeltaBase reads the delta-base annotation strictly.
func parseDeltaBase(v string) (DeltaBase, error) {
	var base DeltaBase
	if err := strictDecode([]byte(v), &base); err != nil {
		return base, err
	}
	if layout.ValidateDigest(base.HaveList) != nil || layout.ValidateDigest(base.Record) != nil || base.RecordSize < 0 || base.RecordSize > maxDeltaRecord {
		return base, fmt.Errorf("needs the have-list's digest, the record's digest and a record size up to %d", maxDeltaRecord)
	}
	if base.Listed < 0 || base.LeftOut < 0 || base.LeftOut > layout.MaxHaveListBlobs || base.LeftOutBytes < 0 {
		return base, fmt.Errorf("counts out of range: %d listed, %d left out, %d bytes", base.Listed, base.LeftOut, base.LeftOutBytes)
	}
	return base, nil
}

// readDeltaRecord parses a record strictly and as a stream, an entry at a
// time (one of a registry-sized delta can run to a hundred MiB), and
// checks it against the annotation that names it.
func readDeltaRecord(r io.Reader, base DeltaBase) (*Delta, error) {
	dec := json.NewDecoder(r)
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", layout.ErrInvalid, fmt.Sprintf(format, a...))
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, bad("not a JSON object")
	}
	d := &Delta{Base: base, LeftOut: map[digest.Digest]ocispec.Descriptor{}, Filtered: map[digest.Digest]bool{}}
	seen := map[string]bool{}
	var version int
	var have digest.Digest
	var total int64
	entries := func(fn func(ocispec.Descriptor) error) error {
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return errors.New("not an array")
		}
		for n := 0; dec.More(); n++ {
			if n >= layout.MaxHaveListBlobs {
				return fmt.Errorf("%w: more than %d entries", layout.ErrTooLarge, layout.MaxHaveListBlobs)
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return err
			}
			if len(raw) > 4<<10 {
				return fmt.Errorf("entry %d: %w: %d bytes", n+1, layout.ErrTooLarge, len(raw))
			}
			var e struct {
				MediaType string        `json:"mediaType"`
				Digest    digest.Digest `json:"digest"`
				Size      int64         `json:"size"`
			}
			if err := strictDecode(raw, &e); err != nil {
				return fmt.Errorf("entry %d: %v", n+1, err)
			}
			if err := layout.ValidateDigest(e.Digest); err != nil || e.Size < 0 || e.Size > 1<<50 {
				return fmt.Errorf("entry %d: %s (%d bytes) is not a blob", n+1, e.Digest, e.Size)
			}
			if err := fn(ocispec.Descriptor{MediaType: e.MediaType, Digest: e.Digest, Size: e.Size}); err != nil {
				return fmt.Errorf("entry %d: %w", n+1, err)
			}
		}
		_, err := dec.Token()
		return err
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, bad("%v", err)
		}
		key, _ := t.(string)
		if seen[strings.ToLower(key)] {
			return nil, bad("key %q appears twice", key)
		}
		seen[strings.ToLower(key)] = true
		switch key {
		case "ferryDelta":
			err = dec.Decode(&version)
			if err == nil && version != DeltaRecordVersion {
				err = fmt.Errorf("version %d; this ferry reads %d", version, DeltaRecordVersion)
			}
		case "haveList":
			err = dec.Decode(&have)
		case "leftOut":
			err = entries(func(l ocispec.Descriptor) error {
				if _, dup := d.LeftOut[l.Digest]; dup {
					return fmt.Errorf("%s listed twice", l.Digest)
				}
				d.LeftOut[l.Digest] = l
				if total += l.Size; total > 1<<60 {
					return errors.New("more bytes left out than any target holds")
				}
				return nil
			})
		case "filtered":
			err = entries(func(f ocispec.Descriptor) error {
				d.Filtered[f.Digest] = true
				return nil
			})
		default:
			err = fmt.Errorf("unknown key")
		}
		if err != nil {
			return nil, bad("%s: %v", key, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad("%v", err)
	}
	if !seen["ferrydelta"] || !seen["havelist"] || !seen["leftout"] {
		return nil, bad("ferryDelta, haveList and leftOut are all required")
	}
	if rest, _ := io.ReadAll(io.LimitReader(io.MultiReader(dec.Buffered(), r), 1<<10)); len(bytes.TrimSpace(rest)) > 0 {
		return nil, bad("data after the record")
	}
	if have != base.HaveList || len(d.LeftOut) != base.LeftOut || total != base.LeftOutBytes {
		return nil, bad("the index.json annotation says have-list %s, %d blobs and %d bytes left out; the record says %s, %d and %d", base.HaveList, base.LeftOut, base.LeftOutBytes, have, len(d.LeftOut), total)
	}
	return d, nil
}

// deltaMarked reports whether oci-layout carries the delta version.
func (src *Source) deltaMarked() bool {
	b, err := src.ReadFile(ocispec.ImageLayoutFile, 1<<16)
	if err != nil {
		return false
	}
	var l struct {
		Version string `json:"imageLayoutVersion"`
	}
	return json.Unmarshal(b, &l) == nil && l.Version == layout.DeltaLayoutVersion
}

func strictDecode(b []byte, v any) error {
	if err := layout.StrictJSON(b); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// DeltaView reads a delta archive as the whole it stands for: what the
// archive holds from the archive, and what it left out (and only that)
// from base, the target that is meant to hold it. With base nil a left-out
// blob is taken on the record's word: it exists, but cannot be read.
type DeltaView struct {
	Archive layout.ReadOnly
	Delta   *Delta
	Base    layout.ReadOnly
}

// LeftOut reports whether the delta left out d (size -1: any size).
func (v *DeltaView) LeftOut(d digest.Digest, size int64) bool { return v.leftOut(d, size) }

func (v *DeltaView) leftOut(d digest.Digest, size int64) bool {
	l, ok := v.Delta.LeftOut[d]
	return ok && (size < 0 || l.Size == size)
}

// Fetch implements layout.ReadOnly.
func (v *DeltaView) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if v.leftOut(d.Digest, d.Size) {
		if ok, _ := v.Archive.Exists(ctx, d); !ok {
			if v.Base == nil {
				return nil, fmt.Errorf("%s %s: %w: left out of this delta archive, expected at the target", d.MediaType, d.Digest, layout.ErrNotFound)
			}
			return v.Base.Fetch(ctx, d)
		}
	}
	return v.Archive.Fetch(ctx, d)
}

// Exists implements layout.ReadOnly.
func (v *DeltaView) Exists(ctx context.Context, d ocispec.Descriptor) (bool, error) {
	if ok, err := v.Archive.Exists(ctx, d); ok || err != nil || !v.leftOut(d.Digest, d.Size) {
		return ok, err
	}
	if v.Base == nil {
		return true, nil
	}
	return v.Base.Exists(ctx, d)
}

// Info implements layout.ReadOnly.
func (v *DeltaView) Info(ctx context.Context, dg digest.Digest) (layout.BlobInfo, error) {
	bi, err := v.Archive.Info(ctx, dg)
	if err == nil || !errors.Is(err, layout.ErrNotFound) || !v.leftOut(dg, -1) {
		return bi, err
	}
	if v.Base == nil {
		l := v.Delta.LeftOut[dg]
		return layout.BlobInfo{Digest: dg, Size: l.Size, MediaType: l.MediaType}, nil
	}
	return v.Base.Info(ctx, dg)
}

// AbsentBlob is a left-out blob the target lacks, with the images that
// need it.
type AbsentBlob struct {
	Desc   ocispec.Descriptor `json:"descriptor"`
	Images []string           `json:"images"`
}

// AbsentError says which left-out blobs a target lacks; an import or push
// that meets it has written nothing.
type AbsentError struct {
	Archive, Target string
	HaveList        digest.Digest
	Blobs           []AbsentBlob
}

func (e *AbsentError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is a delta archive, and %d blob(s) it left out are not at %s (the have-list it was cut against, %s, does not describe this target):",
		e.Archive, len(e.Blobs), e.Target, e.HaveList)
	for _, a := range e.Blobs {
		fmt.Fprintf(&b, "\n  %s %s (%d bytes), needed by %s", a.Desc.MediaType, a.Desc.Digest, a.Desc.Size, strings.Join(a.Images, ", "))
	}
	b.WriteString("\nnothing was written; bring a full archive, or a delta cut against a have-list of this target (`ferry have`)")
	return b.String()
}

// Unwrap makes an AbsentError a layout.ErrNotFound.
func (e *AbsentError) Unwrap() error { return layout.ErrNotFound }

// Absent walks images through a DeltaView over base and lists the left-out
// blobs base lacks, each with every image that needs it. A left-out
// manifest base lacks hides what lies under it; that manifest is named.
func Absent(ctx context.Context, view *DeltaView, images []layout.Image, platforms []ocispec.Platform) ([]AbsentBlob, error) {
	need := map[digest.Digest]*AbsentBlob{}
	var order []digest.Digest
	for _, im := range images {
		g, err := layout.Walk(ctx, view, []ocispec.Descriptor{im.Desc}, layout.WalkOptions{Platforms: platforms, AllowMissing: true, CheckBlobs: true})
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", im.Name(), err)
		}
		for _, m := range g.Missing {
			if !view.leftOut(m.Digest, m.Size) {
				continue
			}
			a, ok := need[m.Digest]
			if !ok {
				a = &AbsentBlob{Desc: view.Delta.LeftOut[m.Digest]}
				need[m.Digest] = a
				order = append(order, m.Digest)
			}
			if !slices.Contains(a.Images, im.Name()) {
				a.Images = append(a.Images, im.Name())
			}
		}
	}
	slices.Sort(order)
	out := make([]AbsentBlob, 0, len(order))
	for _, d := range order {
		out = append(out, *need[d])
	}
	return out, nil
}

// deltaPlan is what a plan carries for a delta archive: the record's bytes,
// its base and the annotation naming them.
type deltaPlan struct {
	delta     []byte
	deltaBase DeltaBase
	deltaAnn  string
}

// refuseDeltaSource stops a write from a delta archive: what it left out
// is not there to copy, and the new archive would pose as a full one
// with blobs missing. A delta is completed by import or push first.
func refuseDeltaSource(ctx context.Context, src layout.ReadOnly) error {
	s, ok := src.(*Source)
	if !ok {
		return nil
	}
	d, err := s.Delta(ctx)
	if err != nil {
		return err
	}
	if d != nil {
		return fmt.Errorf("%s is a delta archive (cut against have-list %s; %d blobs left out): import it into the layout it was cut against, or push it to the registry that holds its base, and write the archive from there", s.Label(), d.Base.HaveList, d.Base.LeftOut)
	}
	return nil
}

// deltaFormat settles a delta's shape before planning. docker load reads
// manifest.json and nothing else, and with a layer left out it fails deep
// in an unpack; a delta with no manifest.json is refused by docker ≤24 at
// once and is read by newer loaders as the OCI layout it is, whose missing
// blobs they name. So a delta never poses as a docker-save archive.
func deltaFormat(opts *WriteOptions) error {
	if opts.Have == nil {
		return nil
	}
	switch opts.Format {
	case Docker:
		return errors.New("a delta archive (--have) cannot be written in the docker format: docker load would find layers missing; use --format oci or both")
	case Both:
		opts.Format = OCI
	}
	return nil
}

// cutDelta leaves out of p what have lists and prepares the record.
func (p *plan) cutDelta(have *layout.HaveList) error {
	rec, err := p.leaveOut(have)
	if err != nil || rec == nil {
		return err
	}
	p.delta, p.deltaBase, p.deltaAnn = rec.encode(have.Blobs())
	return nil
}

// deltaResult counts the record among the archive's blobs and reports
// the delta.
func (p *plan) deltaResult(res *Result) {
	if p.delta == nil {
		return
	}
	res.Blobs++
	res.Size += int64(len(p.delta))
	base := p.deltaBase
	res.Delta = &base
	res.Notes = append(res.Notes, fmt.Sprintf("delta against have-list %s: %d blob(s), %d bytes left out (the far side holds them); no manifest.json, so docker and podman cannot take this archive alone: `ferry import` or `ferry push` it where its base is", base.HaveList, base.LeftOut, base.LeftOutBytes))
}

// deltaSource is what an import reads: the archive itself, or, for a
// delta, the archive with what it left out read from the destination. It
// first makes sure the destination holds every left-out blob the chosen
// images need, so a have-list that lied stops the import before a byte is
// written, naming each blob and the images that need it.
func deltaSource(ctx context.Context, s *Source, label string, dst *layout.Dir, dir string, images []layout.Image, platforms []ocispec.Platform) (layout.ReadOnly, error) {
	d, err := s.Delta(ctx)
	if err != nil || d == nil {
		return s, err
	}
	view := &DeltaView{Archive: s, Delta: d, Base: dst}
	absent, err := Absent(ctx, view, images, platforms)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	if len(absent) > 0 {
		return nil, &AbsentError{Archive: label, Target: dir, HaveList: d.Base.HaveList, Blobs: absent}
	}
	return view, nil
}

// RecordDescriptor is the descriptor of a delta's record blob.
func RecordDescriptor(b DeltaBase) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: MediaTypeDeltaRecord, Digest: b.Record, Size: b.RecordSize}
}

// layoutFile is the oci-layout entry: 1.0.0, or for a delta the version
// no engine knows (layout.DeltaLayoutVersion), so that each refuses it
// at once instead of loading an image with blobs missing.
func (p *plan) layoutFile() []byte {
	if p.delta == nil {
		return []byte(`{"imageLayoutVersion":"1.0.0"}`)
	}
	b, _ := json.Marshal(map[string]string{"imageLayoutVersion": layout.DeltaLayoutVersion})
	return b
}

// deltaNote says, for an import of a delta, what it took from dir.
func deltaNote(rd layout.ReadOnly, dir string) []string {
	v, ok := rd.(*DeltaView)
	if !ok {
		return nil
	}
	return []string{fmt.Sprintf("delta archive cut against have-list %s: the %d blob(s) it left out (%d bytes) were found in %s and checked again", v.Delta.Base.HaveList, v.Delta.Base.LeftOut, v.Delta.Base.LeftOutBytes, dir)}
}
