package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/web"
)

// openWeb opens the web layout a URL argument names (ls, verify), with the
// client the source flags configure, and the images it selects.
func openWeb(c *cli.Context, arg string) (*web.Store, []layout.Image, error) {
	base, name, err := web.SplitURL(arg)
	if err != nil {
		return nil, nil, usageError{err.Error()}
	}
	client, err := newClient(c, hostsOf(sync.ParseEndpoint(arg)))
	if err != nil {
		return nil, nil, err
	}
	st, err := web.Open(c.Context, client, base)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	if name != "" {
		names = []string{name}
	}
	images, err := archive.Select(st.Images(), names)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", base, err)
	}
	return st, images, nil
}

// importWeb is `ferry import URL --into DIR`: the web route of sync.Copy,
// which commits blobs as they arrive so a re-run after a dropped link
// fetches only what is missing.
func importWeb(c *cli.Context) error {
	from := sync.ParseEndpoint(c.Args().First())
	from.Names = append(from.Names, c.Args().Tail()...)
	plats, err := platforms(c)
	if err != nil {
		return err
	}
	client, err := newClient(c, hostsOf(from))
	if err != nil {
		return err
	}
	p := startProgress(c.App.ErrWriter, "import", 0)
	copied, err := sync.Copy(c.Context, client, from, sync.Endpoint{Kind: sync.Layout, Path: c.String("into")},
		sync.CopyOptions{Platforms: plats, Concurrency: c.Int("concurrency"), Progress: p.fn(), Total: p.totalFn()})
	p.finish()
	if err != nil {
		return fmt.Errorf("import failed, nothing was named in %s: %w", c.String("into"), err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, copied.Pulled)
	}
	w := c.App.Writer
	hprintf(w, "imported %d image(s) from %s into %s, every blob verified\n", len(copied.Pulled), from.Path, c.String("into"))
	printCopied(w, copied.Pulled)
	if len(copied.Cleaned) > 0 {
		printNotes(w, []string{archive.LeftoverNote(copied.Cleaned, "in "+c.String("into"), "removed")})
	}
	return nil
}
