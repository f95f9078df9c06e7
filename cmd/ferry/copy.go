package main

import (
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
)

// endpoint is one side of ferry copy.
type endpoint struct {
	kind string // "registry", "layout" or "archive"
	path string // layout directory or archive file
	name string // image name: the reference, or the one selected inside a layout/archive
}

// parseEndpoint reads docker://REF, oci:DIR[:NAME], oci-archive:FILE[:NAME]
// or a bare argument: an existing directory is a layout, a .tar/.tar.gz/
// .tar.zst name an archive, anything else a registry reference.
func parseEndpoint(s string) endpoint {
	switch {
	case strings.HasPrefix(s, "docker://"):
		return endpoint{kind: "registry", name: strings.TrimPrefix(s, "docker://")}
	case strings.HasPrefix(s, "oci-archive:"):
		p, n := splitName(strings.TrimPrefix(s, "oci-archive:"))
		return endpoint{kind: "archive", path: p, name: n}
	case strings.HasPrefix(s, "oci:"):
		p, n := splitName(strings.TrimPrefix(s, "oci:"))
		return endpoint{kind: "layout", path: p, name: n}
	}
	if fi, err := os.Stat(s); err == nil && fi.IsDir() {
		return endpoint{kind: "layout", path: s}
	}
	if isArchivePath(s) {
		return endpoint{kind: "archive", path: s}
	}
	return endpoint{kind: "registry", name: s}
}

// splitName separates PATH:NAME; a name may itself contain ':' (a tag or
// a port), so the path is the longest prefix that exists, else up to the
// first ':'.
func splitName(s string) (string, string) {
	for i := len(s); i > 0; i-- {
		if i < len(s) && s[i] != ':' {
			continue
		}
		if _, err := os.Stat(s[:i]); err == nil {
			return s[:i], strings.TrimPrefix(s[i:], ":")
		}
	}
	p, n, _ := strings.Cut(s, ":")
	return p, n
}

func copyCommand() *cli.Command {
	return &cli.Command{
		Name:      "copy",
		Usage:     "copy images between registries, layout directories and archives",
		ArgsUsage: "SRC DST",
		Description: "SRC and DST are registry references (docker://REF or a bare name:tag), layout directories (oci:DIR[:NAME])\n" +
			"or archives (oci-archive:FILE[:NAME]); the prefixes are needed only where a bare argument would be ambiguous.\n" +
			"Digests never change. From a layout or archive to a registry, DST is a full name for one image, or a\n" +
			"REGISTRY[/PREFIX] for all of them.",
		Flags: append([]cli.Flag{platformFlag(), formatFlag(), jsonFlag()}, registryFlags()...),
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 2, 2); err != nil {
				return err
			}
			src, dst := parseEndpoint(c.Args().Get(0)), parseEndpoint(c.Args().Get(1))
			plats, err := platforms(c)
			if err != nil {
				return err
			}
			var names []string
			if src.name != "" {
				names = []string{src.name}
			}
			client, err := newClient(c, []string{hostOf(src.name), hostOf(dst.name)})
			if err != nil {
				return err
			}
			var result any
			switch {
			case src.kind == "registry" && dst.kind == "registry":
				from, err := layout.ParseRef(src.name)
				if err != nil {
					return usageError{err.Error()}
				}
				to, err := layout.ParseRef(dst.name)
				if err != nil {
					return usageError{err.Error()}
				}
				result, err = sync.CopyImage(c.Context, client, from, to, sync.PullOptions{Platforms: plats, Concurrency: c.Int("concurrency")})
				if err != nil {
					return err
				}
			case src.kind == "registry":
				opts := sync.PullOptions{Platforms: plats, Concurrency: c.Int("concurrency")}
				if dst.kind == "archive" {
					result, err = pullArchive(c, client, []string{src.name}, dst.path, opts)
				} else {
					result, err = sync.Pull(c.Context, client, []string{src.name}, dst.path, opts)
				}
				if err != nil {
					return err
				}
			case dst.kind == "registry":
				s, images, err := openImages(c, src.path, names)
				if err != nil {
					return err
				}
				defer s.Close()
				opts := sync.PushOptions{Platforms: plats, Concurrency: c.Int("concurrency")}
				if r, err := layout.ParseRef(dst.name); err == nil && len(images) == 1 && strings.Contains(dst.name, ":") && r.Digest == "" {
					opts.As = &r
				} else {
					opts.To = dst.name
				}
				if result, err = sync.Push(c.Context, client, s, images, opts); err != nil {
					return err
				}
			case dst.kind == "layout":
				if result, err = archive.Import(c.Context, src.path, dst.path, archive.ImportOptions{Names: names, Platforms: plats}); err != nil {
					return err
				}
			default:
				s, images, err := openImages(c, src.path, names)
				if err != nil {
					return err
				}
				defer s.Close()
				format, err := archiveFormat(c)
				if err != nil {
					return err
				}
				if result, err = archive.Write(c.Context, s, images, dst.path, archive.WriteOptions{Platforms: plats, Format: format}); err != nil {
					return err
				}
			}
			if c.Bool("json") {
				return printJSON(c.App.Writer, result)
			}
			hprintf(c.App.Writer, "copied %s -> %s\n", c.Args().Get(0), c.Args().Get(1))
			printCopied(c.App.Writer, result)
			return nil
		},
	}
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
	case *archive.Result:
		for _, im := range r.Images {
			hprintf(w, "  %s  %s\n", im.Name(), im.Desc.Digest)
		}
	}
}
