package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/archive"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write images from a layout into one archive that every engine loads",
		ArgsUsage: "SRC [NAME…]",
		Description: "Writes --to FILE (.tar, .tar.gz or .tar.zst, by its name) holding the named images, or all. The tar is at\n" +
			"once an OCI layout with every image's full name (io.containerd.image.name, ref.name = tag) and a docker-save\n" +
			"archive (manifest.json with RepoTags), so docker load, podman load, ctr import and skopeo read it directly.\n" +
			"Metadata comes first and layers after; the same images always give a byte-identical file. With --platform\n" +
			"the original index is kept (digest unchanged) and other platforms' content is left out (a sparse index).\n" +
			"--format oci leaves manifest.json out, --format docker writes manifest.json and one platform's blobs only.\n" +
			"--volume-size cuts it into NAME.001.tar, NAME.002.tar, … no larger than SIZE (docs/FORMAT.md, Volume sets).\n" +
			"SRC is a layout directory, an uncompressed tar or a set of uncompressed volumes. --have FILE writes a delta:\n" +
			"every blob the have-list names is left out and recorded, and the archive has no manifest.json (only ferry\n" +
			"import or push completes it, where its base is).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "archive `FILE` to write (replaced atomically)", Required: true},
			platformFlag(),
			formatFlag(),
			haveFlag(),
			volumeSizeFlag(),
			jsonFlag(),
		},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1, -1); err != nil {
				return err
			}
			plats, err := platforms(c)
			if err != nil {
				return err
			}
			format, err := archiveFormat(c)
			if err != nil {
				return err
			}
			have, err := readHave(c)
			if err != nil {
				return err
			}
			vsize, err := volumeSize(c, true)
			if err != nil {
				return err
			}
			src, images, err := openImages(c, c.Args().First(), c.Args().Tail())
			if err != nil {
				return err
			}
			defer src.Close()
			p := startProgress(c.App.ErrWriter, "export", 0)
			res, err := archive.Write(c.Context, src, images, c.String("to"), archive.WriteOptions{Platforms: plats, Format: format, VolumeSize: vsize, Progress: p.fn(), Total: p.totalFn(), Have: have})
			p.finish()
			if err != nil {
				return fmt.Errorf("export failed, %s was not written: %w", c.String("to"), err)
			}
			if c.Bool("json") {
				return printJSON(c.App.Writer, res)
			}
			w := c.App.Writer
			hprintf(w, "wrote %s (%s format): %d image(s), %d blobs, %s\n", res.Path, res.Format, len(res.Images), res.Blobs, humanSize(res.Size))
			for _, im := range res.Images {
				hprintf(w, "  %s  %s\n", im.Name(), im.Desc.Digest)
			}
			printVolumes(w, res)
			if len(res.Filtered) > 0 {
				hprintf(w, "  index kept whole (digests unchanged); left out by --platform: %v\n", res.Filtered)
			}
			for _, n := range res.Notes {
				hprintf(w, "  note: %s\n", n)
			}
			return nil
		},
	}
}
