package main

import (
	"context"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
)

// haveSummary is what `ferry have --json` prints.
type haveSummary struct {
	File   string        `json:"file"`
	Digest digest.Digest `json:"digest"`
	Blobs  int           `json:"blobs"`
	Bytes  int64         `json:"bytes"`
	Images int           `json:"images"`
	// Registry targets only.
	Repositories int      `json:"repositories,omitempty"`
	Skipped      []string `json:"skipped,omitempty"`
}

func haveCommand() *cli.Command {
	return &cli.Command{
		Name:      "have",
		Usage:     "write a have-list: what the receiving side already holds, for a delta",
		ArgsUsage: "TARGET…",
		Description: "TARGET is a layout directory, an archive (.tar read in place, .tar.gz/.tar.zst streamed), one or more\n" +
			"registry repositories (REGISTRY/REPO: every tag), or with --all a REGISTRY whose catalog names the\n" +
			"repositories. --to FILE receives the list (replaced only when complete; - for stdout): the digest and\n" +
			"size of every blob and manifest, and every name with its digest, nothing else (see docs/FORMAT.md).\n" +
			"The same content always gives the same bytes. --json prints file, digest (the list's sha256, which a delta\n" +
			"records), blobs, bytes, images and, for registries, repositories; skipped lists what was left out and why.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "write the have-list to `FILE` (- for stdout)", Required: true},
			&cli.BoolFlag{Name: "all", Usage: "describe every repository the registry's catalog lists (TARGET is REGISTRY)"},
			&cli.BoolFlag{Name: "verify", Usage: "read and hash every blob of a layout or plain tar, leaving out any that does not match (a streamed archive is always checked)"},
			&cli.IntFlag{Name: "page-size", Usage: "ask for `N` entries per tags or catalog request", Value: remote.DefaultPageSize},
			jsonFlag(),
		}, registryFlags()...),
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1, -1); err != nil {
				return err
			}
			to := c.String("to")
			if to == "-" && c.Bool("json") {
				return usagef("have: --to - writes the list to stdout, so --json has nowhere to go; give --to FILE")
			}
			if c.Int("page-size") <= 0 {
				return usagef("have: --page-size must be positive")
			}
			// The list is carried out on a stick: its name is judged
			// before the targets are read, as an archive's is.
			var nameNote string
			if to != "-" {
				note, err := archive.CheckName(to)
				if err != nil {
					return err
				}
				nameNote = note
			}
			h, sum, err := haveOf(c)
			if err != nil {
				return err
			}
			if nameNote != "" {
				hprintf(c.App.ErrWriter, "note: %s\n", nameNote)
			}
			if to == "-" {
				if err := h.Encode(c.App.Writer); err != nil {
					return err
				}
			} else if err := layout.WriteHaveListFile(to, h); err != nil {
				return err
			}
			sum.File, sum.Digest, sum.Blobs, sum.Bytes, sum.Images = to, h.Digest, h.Blobs(), h.Bytes(), len(h.Images)
			if c.Bool("json") {
				return printJSON(c.App.Writer, sum)
			}
			w := c.App.Writer
			if to == "-" {
				w = c.App.ErrWriter
			}
			hprintf(w, "have-list %s: %d blob(s) and manifest(s), %s, %d name(s); %s\n", to, sum.Blobs, humanSize(sum.Bytes), sum.Images, sum.Digest)
			for _, s := range sum.Skipped {
				hprintf(c.App.ErrWriter, "note: left out (its content will travel): %s\n", s)
			}
			return nil
		},
	}
}

// haveOf reads the targets the command line names.
func haveOf(c *cli.Context) (*layout.HaveList, *haveSummary, error) {
	args := c.Args().Slice()
	opts := sync.HaveOptions{PageSize: c.Int("page-size"), Concurrency: c.Int("concurrency")}
	if c.Bool("all") {
		if len(args) != 1 {
			return nil, nil, usagef("have --all: name one REGISTRY, got %d argument(s)", len(args))
		}
		host := strings.TrimSuffix(strings.TrimPrefix(args[0], "docker://"), "/")
		if host == "" || strings.Contains(host, "/") {
			return nil, nil, usagef("have --all: %q is not a registry host (such as registry.example.com or 127.0.0.1:5000)", args[0])
		}
		client, err := newClient(c, []string{hostOf(host + "/x")})
		if err != nil {
			return nil, nil, err
		}
		repos, err := sync.CatalogRepositories(c.Context, client, host, opts)
		if err != nil {
			return nil, nil, err
		}
		opts.Catalog = true
		return registryHave(c, client, repos, opts)
	}
	if len(args) == 1 {
		if e := sync.ParseEndpoint(args[0]); e.Kind != sync.Registry {
			if len(e.Names) > 0 {
				return nil, nil, usagef("have: %s selects an image; a have-list describes the whole %s", args[0], e.Kind)
			}
			return localHave(c, e.Path)
		}
	}
	var repos []layout.Ref
	var hosts []string
	for _, a := range args {
		e := sync.ParseEndpoint(a)
		if e.Kind != sync.Registry {
			return nil, nil, usagef("have: %s is a %s; name one layout or archive, or only registry repositories", a, e.Kind)
		}
		name := strings.TrimPrefix(a, "docker://")
		if !strings.HasPrefix(a, "docker://") && !namesRegistry(name) {
			return nil, nil, usagef("have: %s is no layout directory or archive here; a registry repository is named REGISTRY/REPO (docker.io/library/busybox, or docker://…)", a)
		}
		r, err := sync.ParseRepository(name)
		if err != nil {
			return nil, nil, usagef("have: %v", err)
		}
		repos = append(repos, r)
		hosts = append(hosts, hostOf(r.Repo))
	}
	client, err := newClient(c, hosts)
	if err != nil {
		return nil, nil, err
	}
	return registryHave(c, client, repos, opts)
}

// namesRegistry reports whether s starts with a registry host, as docker
// tells one (a dot, a port or localhost): a bare word that names no file
// here is far likelier a mistyped path than a Docker Hub repository.
func namesRegistry(s string) bool {
	host, _, ok := strings.Cut(s, "/")
	return ok && (strings.ContainsAny(host, ".:") || host == "localhost")
}

func registryHave(c *cli.Context, client *remote.Client, repos []layout.Ref, opts sync.HaveOptions) (*layout.HaveList, *haveSummary, error) {
	h, rep, err := sync.RegistryHave(c.Context, client, repos, opts)
	if err != nil {
		return nil, nil, err
	}
	return h, &haveSummary{Repositories: rep.Repositories, Skipped: rep.Skipped}, nil
}

// localHave describes a layout directory or an archive, opened read-only:
// the far side's copy is not to be touched, not even by a lock file.
func localHave(c *cli.Context, path string) (*layout.HaveList, *haveSummary, error) {
	src, err := archive.Open(c.Context, path, archive.OpenOptions{})
	if err != nil {
		return nil, nil, err
	}
	defer src.Close()
	sum := &haveSummary{}
	var lister layout.Lister = src
	if src.Streamed() || c.Bool("verify") {
		lister = checkedBlobs{src, sum}
	}
	h, err := layout.HaveListOf(c.Context, lister)
	if err != nil {
		return nil, nil, err
	}
	return h, sum, nil
}

// checkedBlobs lists only the blobs of src whose bytes match their names.
// A streamed archive was hashed as it was read, so the check costs nothing
// there; elsewhere it reads every blob (--verify). A blob that fails is
// left out, so a delta carries it again rather than trusting a bad copy.
type checkedBlobs struct {
	*archive.Source
	sum *haveSummary
}

func (s checkedBlobs) Blobs(ctx context.Context) ([]layout.BlobInfo, error) {
	all, err := s.Source.Blobs(ctx)
	if err != nil {
		return nil, err
	}
	var out []layout.BlobInfo
	for _, b := range all {
		if b.Err == nil && b.Digest != "" {
			if err := s.Check(ctx, ocispec.Descriptor{Digest: b.Digest, Size: b.Size}); err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				s.sum.Skipped = append(s.sum.Skipped, err.Error())
				continue
			}
		}
		out = append(out, b)
	}
	return out, nil
}
