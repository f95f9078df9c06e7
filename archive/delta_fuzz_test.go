package archive

import (
	"bytes"
	"errors"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// FuzzDeltaRecord: the delta-base annotation and the record come from the
// far side's archive, hostile like any input. Whatever they hold, parsing
// ends with a record that agrees with its annotation, every entry a valid
// digest of a sane size, or an ErrInvalid/ErrTooLarge, never a panic.
func FuzzDeltaRecord(f *testing.F) {
	rec := &deltaRecord{Version: DeltaRecordVersion, HaveList: digest.FromString("have"),
		LeftOut:  []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromString("a"), Size: 1}},
		Filtered: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("m"), Size: 2}}}
	b, _, ann := rec.encode(3)
	f.Add(ann, b)
	f.Add(ann, bytes.Replace(b, []byte(`"size":1`), []byte(`"size":1,"size":2`), 1))
	f.Add(ann, append(b, "{}"...))
	f.Add(`{"haveList":"sha256:`+digest.FromString("have").Encoded()+`","listed":0,"leftOut":0,"leftOutBytes":0,"record":"`+digest.FromString("x").String()+`","recordSize":1}`, []byte(`{"ferryDelta":1,"haveList":"`+digest.FromString("have").String()+`","leftOut":[]}`))
	f.Fuzz(func(t *testing.T, ann string, record []byte) {
		base, err := parseDeltaBase(ann)
		if err != nil {
			return
		}
		d, err := readDeltaRecord(bytes.NewReader(record), base)
		if err != nil {
			if !errors.Is(err, layout.ErrInvalid) && !errors.Is(err, layout.ErrTooLarge) {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		var total int64
		for dg, l := range d.LeftOut {
			if layout.ValidateDigest(dg) != nil || l.Digest != dg || l.Size < 0 {
				t.Fatalf("accepted entry %+v", l)
			}
			total += l.Size
		}
		if len(d.LeftOut) != base.LeftOut || total != base.LeftOutBytes {
			t.Fatalf("accepted a record that disagrees with its annotation: %d/%d entries, %d/%d bytes", len(d.LeftOut), base.LeftOut, total, base.LeftOutBytes)
		}
	})
}
