package main

import (
	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/layout"
)

func rmCommand() *cli.Command {
	return &cli.Command{
		Name:        "rm",
		Usage:       "remove image names from a layout",
		ArgsUsage:   "DIR NAME…",
		Description: "Removes the index.json entries NAME matches. Blobs stay until `ferry gc` drops those nothing uses.",
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 2, -1); err != nil {
				return err
			}
			d, err := layout.OpenDir(c.Args().First())
			if err != nil {
				return err
			}
			defer d.Close()
			return d.UpdateIndex(c.Context, func(ims []layout.Image) ([]layout.Image, error) {
				drop := map[int]bool{}
				for _, name := range c.Args().Slice()[1:] {
					found, err := layout.Match(ims, name)
					if err != nil {
						return nil, err
					}
					for _, f := range found {
						for i, im := range ims {
							if im.Name() == f.Name() && im.Desc.Digest == f.Desc.Digest {
								drop[i] = true
							}
						}
					}
				}
				var keep []layout.Image
				for i, im := range ims {
					if drop[i] {
						hprintf(c.App.Writer, "removed %s (%s)\n", im.Name(), im.Desc.Digest)
						continue
					}
					keep = append(keep, im)
				}
				return keep, nil
			})
		},
	}
}
