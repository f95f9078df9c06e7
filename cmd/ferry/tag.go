package main

import (
	"fmt"
	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/layout"
)

func tagCommand() *cli.Command {
	return &cli.Command{
		Name:      "tag",
		Usage:     "give an image in a layout another name",
		ArgsUsage: "DIR SOURCE TARGET…",
		Description: "Adds index.json entries named TARGET for the image SOURCE names, as docker tag does. A TARGET\n" +
			"that already exists is moved to the new image. Digests never change.",
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 3, -1); err != nil {
				return err
			}
			var targets []layout.Ref
			for _, t := range c.Args().Slice()[2:] {
				r, err := layout.ParseRef(t)
				if err != nil {
					return usageError{err.Error()}
				}
				if r.Digest != "" {
					return usagef("tag target %q must not contain a digest", t)
				}
				targets = append(targets, r)
			}
			d, err := layout.OpenDir(c.Args().First())
			if err != nil {
				return err
			}
			defer d.Close()
			// Said once index.json is written: a refused write tags nothing.
			var done []string
			err = d.UpdateIndex(c.Context, func(ims []layout.Image) ([]layout.Image, error) {
				found, err := layout.Match(ims, c.Args().Get(1))
				if err != nil {
					return nil, err
				}
				desc := found[0].Desc
				var add []layout.Image
				for _, r := range targets {
					add = append(add, layout.Image{Ref: r, Desc: layout.Annotate(desc, r), NameFrom: layout.NameFromContainerd})
					done = append(done, fmt.Sprintf("tagged %s as %s (%s)", found[0].Name(), r, desc.Digest))
				}
				return layout.MergeImages(ims, add), nil
			})
			if err != nil {
				return err
			}
			for _, line := range done {
				hprintf(c.App.Writer, "%s\n", line)
			}
			return nil
		},
	}
}
