package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/web"
	"github.com/oci-ferry/ferry/verify"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "audit a layout, an archive or a layout on a web server without importing it",
		ArgsUsage: "PATH",
		Description: "Hashes every blob once (in parallel on a directory or an uncompressed tar, in one pass on a\n" +
			"compressed archive or stdin) and checks every reference from index.json down: indexes, manifests,\n" +
			"configs, layers, referrers, sizes, media types, strict JSON and names. Exit 0 when sound, 1 when\n" +
			"it found problems, 2 for usage errors. A volume set is named by its directory or its first volume;\n" +
			"a bad volume is named, so it alone is copied again. A delta archive (written with --have) is checked\n" +
			"against the record of what it left out: each left-out blob is reported as expected at the target,\n" +
			"anything else missing is a problem; --against TARGET asks the target for each (a stat, or a HEAD of a\n" +
			"registry). A layout on a web server (http:// or https:// URL) is checked from its index.json down, every\n" +
			"blob fetched and hashed (--workers at once, default --concurrency); blobs nothing references cannot\n" +
			"be seen over HTTP.",
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "workers", Usage: "blobs hashed at once (default: one per CPU)"},
			againstFlag(),
			jsonFlag(),
		}, registryFlags()...),
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1, 1); err != nil {
				return err
			}
			path := c.Args().First()
			rep := &verify.Report{Path: path}
			if web.IsURL(path) {
				if err := verifyWeb(c, rep); err != nil {
					return err
				}
			} else if src, err := archive.Open(c.Context, path, archive.OpenOptions{Prompt: volumePrompt(c)}); err != nil {
				if _, serr := os.Stat(path); path != "-" && serr != nil {
					// Nothing to audit: a usage mistake (exit 2, as the
					// README says), not a finding about content.
					return usageError{fmt.Sprintf("verify: nothing to audit: %v", serr)}
				}
				if c.Context.Err() != nil {
					return err
				}
				rep.Add(verify.Problem{Kind: verify.KindOf(err), File: path, Message: err.Error()})
				rep.Finish()
			} else {
				defer src.Close()
				rep.Format, rep.Mode, rep.Notes = src.Format, src.Mode, src.Notes
				for _, p := range src.Problems() {
					rep.Add(verify.Problem{Kind: verify.KindOf(p), File: path, Message: p.Error()})
				}
				delta, done, err := deltaVerify(c, src)
				var ue usageError
				if errors.As(err, &ue) {
					return err
				} else if err != nil {
					// A delta whose record is lost or altered cannot tell
					// what it left out from what it lost: a finding.
					rep.Add(verify.Problem{Kind: verify.KindOf(err), File: path, Message: err.Error()})
				}
				defer done()
				verify.Check(c.Context, src, src.Images, rep, verify.Options{Workers: c.Int("workers"), Delta: delta})
				rep.Notes = append(rep.Notes, leftovers(path)...)
			}
			if c.Context.Err() != nil {
				return c.Context.Err()
			}
			if c.Bool("json") {
				if err := printJSON(c.App.Writer, rep); err != nil {
					return err
				}
			} else {
				printReport(c.App.Writer, rep)
			}
			if !rep.OK {
				return errReported
			}
			return nil
		},
	}
}

func printReport(w io.Writer, r *verify.Report) {
	how := ""
	if r.Format != "" {
		how = fmt.Sprintf(" (%s, %s)", r.Format, r.Mode)
	}
	hprintf(w, "verify %s%s\n", r.Path, how)
	if len(r.Images) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "IMAGE\tDIGEST\tPLATFORMS\tSIZE\tSTATUS")
		for _, im := range r.Images {
			plats := strings.Join(im.Platforms, ",")
			if plats == "" {
				plats = "-"
			}
			hprintf(tw, "%s\t%s\t%s\t%s\t%s\n", im.Name, shortDigest(im.Digest), plats, humanSize(im.Size), im.Status)
		}
		tw.Flush()
	}
	for _, n := range r.Notes {
		hprintf(w, "note: %s\n", n)
	}
	printDelta(w, r.Delta)
	t := r.Totals
	hprintf(w, "%d image(s), %d blobs, %s hashed; %d unreferenced; %d problem(s), %d warning(s)\n",
		t.Images, t.Blobs, humanSize(t.Bytes), t.Unreferenced, t.Problems, t.Warnings)
	for _, p := range r.Problems {
		if p.Image != "" && !strings.Contains(p.Message, p.Image) {
			hprintf(w, "PROBLEM %s: image %s: %s\n", p.Kind, p.Image, p.Message)
		} else {
			hprintf(w, "PROBLEM %s: %s\n", p.Kind, p.Message)
		}
	}
	for _, p := range r.Warnings {
		hprintf(w, "warning %s: %s\n", p.Kind, p.Message)
	}
	if r.OK {
		fmt.Fprintln(w, "OK: every blob matches its digest and size")
	} else {
		fmt.Fprintln(w, "FAILED: do not load this content; fix or re-create the archive")
	}
}

// leftovers notes what killed ferry runs left: staging in a layout, temp
// files beside an archive. They are not problems (the content is sound),
// but they take space until gc or the next write removes them.
func leftovers(path string) []string {
	if path == "-" {
		return nil
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		if los, _ := layout.Leftovers(path); len(los) > 0 {
			return []string{archive.LeftoverNote(los, "in "+path, "found") + "; ferry gc removes them, as does the next import or pull"}
		}
		return nil
	}
	if los := archive.Leftovers(path); len(los) > 0 {
		return []string{archive.LeftoverNote(los, "beside "+path, "found") + "; the next export or pull to it removes them"}
	}
	return nil
}

// verifyWeb audits a layout on a web server. A server that cannot be
// reached or refuses the credentials is an error (exit 1 with why), not a
// finding; an index.json that is invalid or over the cap is a finding.
func verifyWeb(c *cli.Context, rep *verify.Report) error {
	if c.IsSet("against") {
		return usagef("verify: --against checks a delta archive on disk; %s is a web server", rep.Path)
	}
	st, images, err := openWeb(c, rep.Path)
	if err != nil {
		if errors.Is(err, layout.ErrInvalid) || errors.Is(err, layout.ErrTooLarge) {
			rep.Add(verify.Problem{Kind: verify.KindOf(err), File: rep.Path, Message: err.Error()})
			rep.Finish()
			return nil
		}
		return err
	}
	rep.Format, rep.Mode = "oci-layout", "web server (GET by digest)"
	workers := c.Int("workers")
	if workers <= 0 {
		workers = c.Int("concurrency")
	}
	verify.Check(c.Context, st, images, rep, verify.Options{Workers: workers})
	return nil
}
