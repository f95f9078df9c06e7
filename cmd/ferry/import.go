package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/web"
)

// formatFlag picks the archive's shape for loaders that misread the
// default; docs/COMPATIBILITY.md says what each gives up.
func formatFlag() cli.Flag {
	return &cli.StringFlag{Name: "format", Value: "both", Usage: "archive shape: `both` (OCI layout + docker manifest.json, loads everywhere), oci (OCI only: docker ≤24 cannot load it), docker (manifest.json only, one platform, index digests not kept)"}
}

// archiveFormat reads --format.
func archiveFormat(c *cli.Context) (archive.Format, error) {
	f, err := archive.ParseFormat(c.String("format"))
	if err != nil {
		return f, usagef("%v", err)
	}
	return f, nil
}

// platformFlag narrows multi-platform images. Like every flag it is built
// afresh for each App: urfave/cli records parse state in the flag values
// themselves, so a shared one would carry it from one run to the next and
// race when two run at once (as in-process tests do).
func platformFlag() cli.Flag {
	return &cli.StringFlag{Name: "platform", Usage: "keep only these platforms of multi-platform images, docker syntax: `os/arch[/variant][,…]`"}
}

func importCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "copy images from an archive or layout into a layout directory, verifying every blob",
		ArgsUsage: "SRC [NAME…]",
		Description: "SRC is a layout directory, an archive (.tar, .tar.gz, .tar.zst) written by ferry, docker, podman, skopeo,\n" +
			"crane, regctl, oras or containerd, - for stdin, or a layout on a web server (http:// or https:// URL). Every blob's digest and size is checked while it streams;\n" +
			"if anything is wrong nothing is added to the destination. A volume set (--volume-size) is named by its\n" +
			"directory or its first volume and read volume by volume, never joined on disk; at a terminal, missing\n" +
			"volumes are asked for one at a time (one drive, many discs).",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "into", Usage: "destination layout `DIR` (created if missing)", Required: true},
			platformFlag(),
			&cli.IntFlag{Name: "concurrency", Usage: "blobs copied at once", Value: layout.DefaultConcurrency},
			jsonFlag(),
		}, sourceFlags()...),
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1, -1); err != nil {
				return err
			}
			if web.IsURL(c.Args().First()) {
				return importWeb(c)
			}
			plats, err := platforms(c)
			if err != nil {
				return err
			}
			p := startProgress(c.App.ErrWriter, "import", 0)
			res, err := archive.Import(c.Context, c.Args().First(), c.String("into"), archive.ImportOptions{
				Names: c.Args().Tail(), Platforms: plats, Concurrency: c.Int("concurrency"), Progress: p.fn(), Total: p.totalFn(),
				Prompt: volumePrompt(c),
			})
			p.finish()
			if err != nil {
				return fmt.Errorf("import failed, %s is unchanged: %w", c.String("into"), err)
			}
			if c.Bool("json") {
				return printJSON(c.App.Writer, res)
			}
			w := c.App.Writer
			hprintf(w, "imported %d image(s) from %s (%s, %s) into %s: %d blobs, %s, all verified\n",
				len(res.Images), c.Args().First(), res.Format, res.Mode, c.String("into"), res.Blobs, humanSize(res.Size))
			for _, im := range res.Images {
				hprintf(w, "  %s  %s  %s\n", im.Name, im.Digest, strings.Join(im.Platforms, ","))
				if len(im.Missing) > 0 {
					hprintf(w, "    sparse: not in the source: %s\n", strings.Join(im.Missing, ", "))
				}
			}
			for _, n := range res.Notes {
				hprintf(w, "  note: %s\n", n)
			}
			return nil
		},
	}
}
