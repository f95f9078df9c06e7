package main

import (
	"encoding/json"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/layout"
)

// inspection is what `ferry inspect` prints: the documents exactly as
// stored, so what you see is what the digest covers.
type inspection struct {
	Name       string             `json:"name"`
	NameFrom   string             `json:"nameFrom"`
	Descriptor ocispec.Descriptor `json:"descriptor"`
	Index      json.RawMessage    `json:"index,omitempty"`
	Platform   string             `json:"platform,omitempty"`
	Manifest   json.RawMessage    `json:"manifest,omitempty"`
	Config     json.RawMessage    `json:"config,omitempty"`
}

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "print an image's manifest and config",
		ArgsUsage: "PATH NAME",
		Description: "Prints, as JSON, the index (for a multi-platform image), the manifest for --platform (default:\n" +
			"linux/amd64, else the first) and its config, byte for byte as stored and verified.",
		Flags: []cli.Flag{&cli.StringFlag{Name: "platform", Usage: "platform to show from a multi-platform image, `os/arch[/variant]`"}},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 2, 2); err != nil {
				return err
			}
			plats, err := platforms(c)
			if err != nil {
				return err
			}
			src, err := openSource(c)
			if err != nil {
				return err
			}
			defer src.Close()
			ims, err := layout.Match(src.Images, c.Args().Get(1))
			if err != nil {
				return err
			}
			im := ims[0]
			out := inspection{Name: im.Name(), NameFrom: im.NameFrom, Descriptor: im.Desc}
			n, err := layout.FetchNode(c.Context, src, im.Desc)
			if err != nil {
				return err
			}
			for depth := 0; n.Index != nil && depth < layout.DefaultMaxDepth; depth++ {
				if out.Index == nil {
					out.Index = n.Raw
				}
				child, err := chooseChild(n.Index, plats)
				if err != nil {
					return fmt.Errorf("%s: %w", im.Name(), err)
				}
				out.Platform = layout.PlatformString(child.Platform)
				if n, err = layout.FetchNode(c.Context, src, child); err != nil {
					return err
				}
			}
			if n.Manifest != nil {
				out.Manifest = n.Raw
				if layout.IsConfig(n.Manifest.Config.MediaType) {
					b, err := layout.ReadAll(c.Context, src, n.Manifest.Config, layout.MaxManifestSize)
					if err != nil {
						return err
					}
					out.Config = b
				}
			}
			return printJSON(c.App.Writer, out)
		},
	}
}

// chooseChild picks the index entry to show.
func chooseChild(idx *ocispec.Index, want []ocispec.Platform) (ocispec.Descriptor, error) {
	if len(want) == 0 {
		want, _ = layout.ParsePlatforms("linux/amd64")
		for _, m := range idx.Manifests {
			if m.Platform != nil && layout.MatchPlatform(want, m.Platform) {
				return m, nil
			}
		}
		if len(idx.Manifests) > 0 {
			return idx.Manifests[0], nil
		}
		return ocispec.Descriptor{}, fmt.Errorf("empty index")
	}
	for _, m := range idx.Manifests {
		if m.Platform != nil && layout.MatchPlatform(want, m.Platform) {
			return m, nil
		}
	}
	return ocispec.Descriptor{}, fmt.Errorf("no manifest for platform %s", layout.PlatformString(&want[0]))
}
