package main

import (
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write images from a layout into one archive that every engine loads",
		ArgsUsage: "SRC [NAME…]",
		Description: "Writes --to FILE (.tar, .tar.gz or .tar.zst, by its name) holding the named images, or all; --to DIR (any\n" +
			"other name) writes them as a layout directory instead, which any web server can publish as it stands. The tar is at\n" +
			"once an OCI layout with every image's full name (io.containerd.image.name, ref.name = tag) and a docker-save\n" +
			"archive (manifest.json with RepoTags), so docker load, podman load, ctr import and skopeo read it directly.\n" +
			"Metadata comes first and layers after; the same images always give a byte-identical file. With --platform\n" +
			"the original index is kept (digest unchanged) and other platforms' content is left out (a sparse index).\n" +
			"--format oci leaves manifest.json out, --format docker writes manifest.json and one platform's blobs only.\n" +
			"--volume-size cuts it into NAME.001.tar, NAME.002.tar, … no larger than SIZE (docs/FORMAT.md, Volume sets).\n" +
			"SRC is a layout directory, an uncompressed tar or a set of uncompressed volumes. --have FILE writes a delta:\n" +
			"every blob the have-list names is left out and recorded, and the archive has no manifest.json (only ferry\n" +
			"import or push completes it, where its base is).\n" +
			"--to s3://BUCKET/PREFIX writes the images into a bucket as a layout instead of an archive. " + s3Help,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "archive `FILE` to write (replaced atomically), a layout DIR, or s3://BUCKET/PREFIX", Required: true},
			platformFlag(),
			formatFlag(),
			haveFlag(),
			volumeSizeFlag(),
			jsonFlag(),
			&cli.StringFlag{Name: "ca-file", Usage: "trust the CA certificates in `FILE` as well as the system's (for --s3-endpoint)"},
			&cli.IntFlag{Name: "concurrency", Usage: "blobs uploaded at once into S3", Value: layout.DefaultConcurrency},
		}, s3Flags()...),
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
			if to := sync.PathEndpoint(c.String("to")); to.Kind == sync.S3 || to.Kind == sync.Layout {
				return exportToLayout(c, to, plats)
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

// exportToLayout is export --to DIR or --to s3://…: the copy route from the
// layout or archive named to a layout directory (what a web server then
// publishes as it stands) or a bucket. What shapes an archive has no
// meaning there.
func exportToLayout(c *cli.Context, to sync.Endpoint, plats []ocispec.Platform) error {
	where := "a layout in a bucket"
	if to.Kind == sync.Layout {
		where = "a layout directory (name a .tar, .tar.gz or .tar.zst for an archive)"
	}
	for _, f := range []string{"format", "have", "volume-size"} {
		if c.IsSet(f) {
			return usagef("export: --%s shapes an archive; %s is %s", f, to.Path, where)
		}
	}
	// A directory bound for a stick is held to the names FAT takes, as
	// an archive is.
	var nameNote string
	if to.Kind == sync.Layout {
		var err error
		if nameNote, err = archive.CheckName(to.Path); err != nil {
			return err
		}
	}
	src := c.Args().First()
	from := sync.Endpoint{Kind: sync.Layout, Path: src, Names: c.Args().Tail()}
	if sync.IsArchivePath(src) {
		from.Kind = sync.Archive
	}
	p := startProgress(c.App.ErrWriter, "export", 0)
	res, err := sync.Copy(c.Context, nil, from, to, sync.CopyOptions{Platforms: plats, Concurrency: c.Int("concurrency"), Progress: p.fn(), Total: p.totalFn(), S3: s3Config(c)})
	p.finish()
	if err != nil {
		return fmt.Errorf("export to %s failed, index.json there names nothing new: %w", to.Path, err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, res.Result())
	}
	n := 0
	switch {
	case res.Stored != nil:
		n = len(res.Stored.Images)
	case res.Imported != nil:
		n = len(res.Imported.Images)
	}
	hprintf(c.App.Writer, "wrote %d image(s) into %s, every blob verified\n", n, to.Path)
	printCopied(c.App.Writer, res.Result())
	if nameNote != "" {
		hprintf(c.App.Writer, "  note: %s\n", nameNote)
	}
	return nil
}
