package main

import (
	"io"
	"net/url"

	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/s3"
)

func copyCommand() *cli.Command {
	return &cli.Command{
		Name:      "copy",
		Usage:     "copy images between registries, layout directories and archives",
		ArgsUsage: "SRC DST",
		Description: "SRC and DST are registry references (docker://REF or a bare name:tag), layout directories (oci:DIR[:NAME])\n" +
			"or archives (oci-archive:FILE[:NAME]); the prefixes are needed only where a bare argument would be ambiguous.\n" +
			"SRC may also be a layout on a web server: an http:// or https:// URL (URL#NAME for one image).\n" +
			"Digests never change. From a layout or archive to a registry, DST is a full name for one image, or a\n" +
			"REGISTRY[/PREFIX] for all of them. --json prints what the destination reports: the digest map (an\n" +
			"array, as ferry push prints it) for a registry, the import for a layout, the archive written, the upload to S3.\n" +
			s3Help + " s3://BUCKET/PREFIX:NAME picks one image of it.",
		Flags: append(append([]cli.Flag{platformFlag(), formatFlag(), volumeSizeFlag(), haveFlag(), jsonFlag()}, registryFlags()...), s3Flags()...),
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 2, 2); err != nil {
				return err
			}
			src, dst := sync.ParseEndpoint(c.Args().Get(0)), sync.ParseEndpoint(c.Args().Get(1))
			plats, err := platforms(c)
			if err != nil {
				return err
			}
			format, err := archiveFormat(c)
			if err != nil {
				return err
			}
			vsize, err := volumeSize(c, dst.Kind == sync.Archive)
			if err != nil {
				return err
			}
			client, err := newClient(c, append(hostsOf(src), hostsOf(dst)...))
			if err != nil {
				return err
			}
			have, err := readHave(c)
			if err != nil {
				return err
			}
			res, err := sync.Copy(c.Context, client, src, dst, sync.CopyOptions{Platforms: plats, Format: format, VolumeSize: vsize, Concurrency: c.Int("concurrency"), Have: have, S3: s3Config(c)})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c.App.Writer, res.Result())
			}
			hprintf(c.App.Writer, "copied %s -> %s\n", c.Args().Get(0), c.Args().Get(1))
			printCopied(c.App.Writer, res.Result())
			if len(res.Cleaned) > 0 {
				printNotes(c.App.Writer, []string{archive.LeftoverNote(res.Cleaned, "in "+c.Args().Get(1), "removed")})
			}
			return nil
		},
	}
}

// hostsOf names the registries an endpoint talks to, for credentials.
func hostsOf(e sync.Endpoint) []string {
	if e.Kind == sync.Web {
		if u, err := url.Parse(e.Path); err == nil {
			return []string{u.Host}
		}
	}
	if e.Kind != sync.Registry {
		return nil
	}
	var out []string
	for _, n := range e.Names {
		out = append(out, hostOf(n))
	}
	return out
}

// printCopied says, for a human, which images went where under which
// digest; --json has the full result.
func printCopied(w io.Writer, result any) {
	switch r := result.(type) {
	case sync.Pushed:
		hprintf(w, "  %s -> %s  %s\n", r.Source, r.Target, r.Digest)
	case []sync.Pushed:
		for _, p := range r {
			printCopied(w, p)
		}
	case []sync.Pulled:
		for _, p := range r {
			hprintf(w, "  %s  %s\n", p.Name, p.Digest)
		}
	case *archive.ImportResult:
		for _, im := range r.Images {
			hprintf(w, "  %s  %s\n", im.Name, im.Digest)
		}
		printNotes(w, r.Notes)
	case *archive.Result:
		for _, im := range r.Images {
			hprintf(w, "  %s  %s\n", im.Name(), im.Desc.Digest)
		}
		printVolumes(w, r)
		printNotes(w, r.Notes)
	case *s3.Result:
		for _, im := range r.Images {
			hprintf(w, "  %s  %s\n", im.Name, im.Digest)
		}
		hprintf(w, "  %s: %d blobs uploaded, %d already there, index.json written last\n", r.URL, r.Uploaded, r.Skipped)
	}
}

// printNotes prints what a write or an import noted, as export and import
// do: copy and pull must say the same of the same result.
func printNotes(w io.Writer, notes []string) {
	for _, n := range notes {
		hprintf(w, "  note: %s\n", n)
	}
}
