package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/sync"
)

func copyCommand() *cli.Command {
	return &cli.Command{
		Name:      "copy",
		Usage:     "copy images between registries, layout directories and archives",
		ArgsUsage: "SRC DST",
		Description: "SRC and DST are registry references (docker://REF or a bare name:tag), layout directories (oci:DIR[:NAME])\n" +
			"or archives (oci-archive:FILE[:NAME]); the prefixes are needed only where a bare argument would be ambiguous.\n" +
			"Digests never change. From a layout or archive to a registry, DST is a full name for one image, or a\n" +
			"REGISTRY[/PREFIX] for all of them. --json prints what the destination reports: the digest map (an\n" +
			"array, as ferry push prints it) for a registry, the import for a layout, the archive written.",
		Flags: append([]cli.Flag{platformFlag, formatFlag, jsonFlag}, registryFlags()...),
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
			client, err := newClient(c, append(hostsOf(src), hostsOf(dst)...))
			if err != nil {
				return err
			}
			res, err := sync.Copy(c.Context, client, src, dst, sync.CopyOptions{Platforms: plats, Format: format, Concurrency: c.Int("concurrency")})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c.App.Writer, res.Result())
			}
			fmt.Fprintf(c.App.Writer, "copied %s -> %s\n", c.Args().Get(0), c.Args().Get(1))
			for _, p := range res.Pushed {
				fmt.Fprintf(c.App.Writer, "  %s -> %s\n", p.Source, p.Target)
			}
			return nil
		},
	}
}

// hostsOf names the registries an endpoint talks to, for credentials.
func hostsOf(e sync.Endpoint) []string {
	if e.Kind != sync.Registry {
		return nil
	}
	var out []string
	for _, n := range e.Names {
		out = append(out, hostOf(n))
	}
	return out
}
