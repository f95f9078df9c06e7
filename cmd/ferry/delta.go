package main

import (
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/verify"
)

func haveFlag() cli.Flag {
	return &cli.StringFlag{Name: "have", Usage: "write a delta archive: leave out every blob the have-list `FILE` names (written by `ferry have` on the far side)"}
}

// readHave reads --have, strictly: it came from the other side of the gap.
func readHave(c *cli.Context) (*layout.HaveList, error) {
	p := c.String("have")
	if p == "" {
		return nil, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, usagef("--have: %v", err)
	}
	defer f.Close()
	return layout.ReadHaveList(f, p)
}

func againstFlag() cli.Flag {
	return &cli.StringFlag{Name: "against", Usage: "for a delta archive, check that `TARGET` (a layout, an archive or a registry repository) holds every blob it left out"}
}

// deltaVerify is what verify needs to know of a delta: nil for a full
// archive. With --against, the target is opened read-only and asked for
// each left-out blob.
func deltaVerify(c *cli.Context, src *archive.Source) (*verify.DeltaOptions, func(), error) {
	d, err := src.Delta(c.Context)
	if err != nil || d == nil {
		if d == nil && err == nil && c.String("against") != "" {
			return nil, func() {}, usagef("--against: %s is not a delta archive; it holds every blob it needs", src.Label())
		}
		return nil, func() {}, err
	}
	opts := &verify.DeltaOptions{HaveList: d.Base.HaveList, LeftOut: d.LeftOut, Filtered: d.Filtered,
		Record: archive.RecordDescriptor(d.Base)}
	t := c.String("against")
	if t == "" {
		return opts, func() {}, nil
	}
	opts.TargetName = t
	e := sync.ParseEndpoint(t)
	if e.Kind == sync.Registry {
		client, err := newClient(c, hostsOf(e))
		if err != nil {
			return nil, func() {}, err
		}
		r, err := layout.ParseRef(e.Names[0])
		if err != nil {
			return nil, func() {}, usagef("--against %s: %v", t, err)
		}
		opts.Target = client.Repository(r, false).ReadOnly()
		return opts, func() {}, nil
	}
	ts, err := archive.Open(c.Context, e.Path, archive.OpenOptions{})
	if err != nil {
		return nil, func() {}, fmt.Errorf("--against %s: %w", t, err)
	}
	if ts.Streamed() {
		ts.Close()
		return nil, func() {}, usagef("--against %s: a compressed archive cannot be asked for blobs in place; name a layout, a plain .tar or a registry", t)
	}
	opts.Target = ts
	return opts, func() { ts.Close() }, nil
}

// printDelta says, for a human, what a delta left out and where it is.
func printDelta(w io.Writer, d *verify.DeltaReport) {
	if d == nil {
		return
	}
	where := "the target"
	if d.Target != "" {
		where = d.Target
	}
	hprintf(w, "delta archive cut against have-list %s: %d blob(s) left out by design, to be found at %s\n", d.HaveList, len(d.Expected), where)
	for _, e := range d.Expected {
		hprintf(w, "  %s: %s %s (%s), image %s\n", e.Status, e.MediaType, e.Digest, humanSize(e.Size), e.Image)
	}
}
