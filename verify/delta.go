package verify

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// DeltaOptions describe an input that leaves blobs out by design (a delta
// archive): the record of what it left out, so that absence is told from
// loss, and optionally the target meant to hold them.
type DeltaOptions struct {
	// HaveList is the digest of the have-list the delta was cut against.
	HaveList digest.Digest
	// LeftOut are the descriptors the input leaves out.
	LeftOut map[digest.Digest]ocispec.Descriptor
	// Filtered are index entries left out by --platform: a sparse index
	// by choice, still a warning.
	Filtered map[digest.Digest]bool
	// Record is the blob that lists them: the input's own, hashed like
	// any blob but not reported as unreferenced.
	Record ocispec.Descriptor
	// Target, if set, is asked for each left-out blob (stat for a layout,
	// HEAD for a registry); one it lacks is a problem.
	Target layout.ReadOnly
	// TargetName names the target in messages.
	TargetName string
}

// Expected is a blob a delta left out, as verify found it.
type Expected struct {
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	Size      int64         `json:"size"`
	Image     string        `json:"image,omitempty"`
	// Status is "expected at the target" without a target to ask,
	// "present at the target" or "absent at the target" (a problem).
	Status string `json:"status"`
}

// Expected statuses.
const (
	ExpectedAtTarget = "expected at the target"
	PresentAtTarget  = "present at the target"
	AbsentAtTarget   = "absent at the target"
)

// DeltaReport is what verify says of a delta.
type DeltaReport struct {
	HaveList digest.Digest `json:"haveList"`
	Target   string        `json:"target,omitempty"`
	Expected []Expected    `json:"expected"`
}

// expect takes the left-out blobs out of what the walk found missing and
// what hashing must read: each is a note, or, when a target is asked and
// lacks it, a problem.
func (c *checker) expect(ctx context.Context, d *DeltaOptions, roots []ocispec.Descriptor) {
	if d == nil {
		return
	}
	c.filtered = d.Filtered
	c.rep.Delta = &DeltaReport{HaveList: d.HaveList, Target: d.TargetName, Expected: []Expected{}}
	if d.Record.Digest != "" {
		c.leaves[d.Record.Digest] = d.Record
	}
	reached := map[digest.Digest]bool{}
	missing := c.g.Missing[:0:0]
	for _, m := range c.g.Missing {
		if l, ok := d.LeftOut[m.Digest]; ok && l.Size == m.Size {
			reached[m.Digest] = true
			continue
		}
		missing = append(missing, m)
	}
	c.g.Missing = missing
	for _, b := range c.g.Blobs {
		if l, ok := d.LeftOut[b.Digest]; ok && l.Size == b.Size {
			if has, _ := c.src.Exists(ctx, b); !has {
				reached[b.Digest] = true
			}
		}
	}
	// Every blob of the record is reported, not only those the walk
	// reached: what lies under a left-out manifest is left out too, and
	// the target must hold it all.
	all := make([]ocispec.Descriptor, 0, len(d.LeftOut))
	for _, l := range d.LeftOut {
		all = append(all, l)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Digest < all[j].Digest })
	owner := c.owner
	if d.Target != nil {
		// What lies under a left-out manifest is known only to the
		// target: walk through it so each blob is named with its image.
		if g, err := layout.Walk(ctx, &targetView{c.src, d}, roots, layout.WalkOptions{AllowMissing: true}); err == nil {
			owner = func(dg digest.Digest) string { return c.names[g.Owner(dg)] }
		}
	}
	for _, r := range all {
		if !reached[r.Digest] {
			if has, _ := c.src.Exists(ctx, r); has {
				continue // carried after all: hashed like any blob
			}
		}
		e := Expected{Digest: r.Digest, MediaType: r.MediaType, Size: r.Size, Image: owner(r.Digest), Status: ExpectedAtTarget}
		if reached[r.Digest] {
			c.leafSt[r.Digest] = layout.Whole
		}
		if d.Target != nil {
			ok, err := d.Target.Exists(ctx, r)
			switch {
			case err != nil:
				e.Status = AbsentAtTarget
				c.problem(fmt.Errorf("%s %s (%d bytes), left out of this delta: asking %s: %w", r.MediaType, r.Digest, r.Size, d.TargetName, err), e.Image, r.Digest)
			case ok:
				e.Status = PresentAtTarget
			default:
				e.Status = AbsentAtTarget
				msg := fmt.Sprintf("%s %s (%d bytes) was left out of this delta, and %s does not have it", r.MediaType, r.Digest, r.Size, d.TargetName)
				if e.Image != "" {
					msg = "image " + e.Image + ": " + msg
				}
				c.rep.Problems = append(c.rep.Problems, Problem{Kind: KindMissing, Image: e.Image, Digest: string(r.Digest), Message: msg})
			}
			if e.Status == AbsentAtTarget && reached[r.Digest] {
				c.leafSt[r.Digest] = layout.Bad // one problem, said above, not a second "missing"
			}
		}
		c.rep.Delta.Expected = append(c.rep.Delta.Expected, e)
	}
}

// targetView reads the input, and what it left out from the target.
type targetView struct {
	src Source
	d   *DeltaOptions
}

func (v *targetView) leftOut(dg digest.Digest) bool { _, ok := v.d.LeftOut[dg]; return ok }

func (v *targetView) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if v.leftOut(d.Digest) {
		if ok, _ := v.src.Exists(ctx, d); !ok {
			return v.d.Target.Fetch(ctx, d)
		}
	}
	return v.src.Fetch(ctx, d)
}

func (v *targetView) Exists(ctx context.Context, d ocispec.Descriptor) (bool, error) {
	if ok, err := v.src.Exists(ctx, d); ok || err != nil || !v.leftOut(d.Digest) {
		return ok, err
	}
	return v.d.Target.Exists(ctx, d)
}

func (v *targetView) Info(ctx context.Context, dg digest.Digest) (layout.BlobInfo, error) {
	if bi, err := v.src.Info(ctx, dg); err == nil || !v.leftOut(dg) {
		return bi, err
	}
	return v.d.Target.Info(ctx, dg)
}
