package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/web"
)

// listing is one line of `ferry ls`.
type listing struct {
	Name      string   `json:"name"`
	Repo      string   `json:"repository"`
	Tag       string   `json:"tag"`
	Digest    string   `json:"digest"`
	MediaType string   `json:"mediaType"`
	Platforms []string `json:"platforms"`
	Size      int64    `json:"size"`
	NameFrom  string   `json:"nameFrom"`
}

func lsCommand() *cli.Command {
	return &cli.Command{
		Name:      "ls",
		Usage:     "list the images in a layout, an archive or a layout on a web server (http:// or https:// URL)",
		ArgsUsage: "PATH",
		Flags:     append([]cli.Flag{jsonFlag()}, sourceFlags()...),
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1, 1); err != nil {
				return err
			}
			var src layout.ReadOnly
			var images []layout.Image
			var notes []string
			if web.IsURL(c.Args().First()) {
				st, ims, err := openWeb(c, c.Args().First())
				if err != nil {
					return err
				}
				src, images = st, ims
			} else {
				as, err := openSource(c)
				if err != nil {
					return err
				}
				defer as.Close()
				src, images, notes = as, as.Images, as.Notes
			}
			var out []listing
			for _, im := range images {
				g, err := layout.Walk(c.Context, src, []ocispec.Descriptor{im.Desc}, layout.WalkOptions{AllowMissing: true})
				if err != nil {
					return fmt.Errorf("%s: %w", im.Name(), err)
				}
				out = append(out, listing{Name: im.Name(), Repo: im.Ref.Repo, Tag: im.Ref.Tag, Digest: string(im.Desc.Digest),
					MediaType: im.Desc.MediaType, Platforms: layout.RootPlatforms(c.Context, src, g, im.Desc), Size: g.Size(), NameFrom: im.NameFrom})
			}
			if c.Bool("json") {
				if out == nil {
					out = []listing{}
				}
				return printJSON(c.App.Writer, out)
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTAG\tDIGEST\tPLATFORMS\tSIZE\tNAMED BY")
			for _, l := range out {
				name, tag := l.Repo, l.Tag
				if name == "" {
					name = "<none>"
				}
				if tag == "" {
					tag = "<none>"
				}
				plats := strings.Join(l.Platforms, ",")
				if plats == "" {
					plats = "-"
				}
				hprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, tag, shortDigest(l.Digest), plats, humanSize(l.Size), namedBy(l.NameFrom))
			}
			tw.Flush()
			for _, n := range notes {
				hprintf(c.App.ErrWriter, "note: %s\n", n)
			}
			return nil
		},
	}
}

// namedBy abbreviates how a name was read, for the human listing; --json
// gives the full wording.
func namedBy(from string) string {
	switch from {
	case layout.NameFromContainerd:
		return "containerd-name"
	case layout.NameFromRefFull:
		return "ref.name"
	case layout.NameFromRefTag:
		return "ref.name (tag only)"
	case layout.NameFromRepoTags:
		return "RepoTags"
	}
	return "-"
}
