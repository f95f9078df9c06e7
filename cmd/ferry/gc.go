package main

import (
	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/layout"
)

func gcCommand() *cli.Command {
	return &cli.Command{
		Name:      "gc",
		Usage:     "delete blobs no image in a layout uses",
		ArgsUsage: "DIR",
		Description: "Deletes blobs that no index.json entry reaches, staging left behind by interrupted runs, and the\n" +
			"verified first bytes of large blobs that failed pulls kept for the next pull to resume from.\n" +
			"It holds the layout lock, so it is safe while other ferry processes import or pull into DIR: what\n" +
			"they have written or counted on but not yet named in index.json is kept.",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "dry-run", Usage: "only say what would be deleted"}, jsonFlag()},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1, 1); err != nil {
				return err
			}
			d, err := layout.OpenDir(c.Args().First())
			if err != nil {
				return err
			}
			defer d.Close()
			res, err := d.GC(c.Context, c.Bool("dry-run"))
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c.App.Writer, res)
			}
			verb := "deleted"
			if c.Bool("dry-run") {
				verb = "would delete"
			}
			for _, b := range res.Removed {
				hprintf(c.App.Writer, "%s %s (%s)\n", verb, b.Path, humanSize(b.Size))
			}
			hprintf(c.App.Writer, "%s %d unreferenced blob(s), %s; %d stale staging area(s), %s\n", verb, len(res.Removed), humanSize(res.Freed), res.Stale, humanSize(res.StaleBytes))
			return nil
		},
	}
}
