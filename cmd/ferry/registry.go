package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
	"github.com/oci-ferry/ferry/sync/web"
)

// registryFlags are shared by the commands that talk to registries.
func registryFlags() []cli.Flag {
	src := sourceFlags()
	out := []cli.Flag{&cli.StringSliceFlag{Name: "plain-http", Usage: "talk plain HTTP to this registry `HOST` (loopback hosts always may)"}}
	out = append(out, src[:4]...)
	out = append(out, &cli.IntFlag{Name: "concurrency", Usage: "blobs transferred at once; 0: a pull adapts it to the link (4 to 16 blobs, a large one in ranges when its stream is slow), other transfers take 4"})
	return append(out, src[4:]...)
}

// sourceFlags are what a command that only reads needs to read from a
// web server (import, ls): TLS, credentials and time-outs, shared with
// the registry commands so each flag means one thing everywhere.
func sourceFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "insecure", Usage: "do not verify the TLS certificates of registries and web servers"},
		&cli.StringFlag{Name: "ca-file", Usage: "trust the CA certificates in `FILE` as well as the system's"},
		&cli.StringFlag{Name: "username", Usage: "user `NAME` for the registries or web servers named on the command line (the password comes from --password-stdin)"},
		&cli.BoolFlag{Name: "password-stdin", Usage: "read the password for --username from stdin"},
		&cli.DurationFlag{Name: "idle-timeout", Value: remote.DefaultIdleTimeout,
			Usage: "give up on a transfer that moves no byte for `DURATION` (a blob download then resumes where it stopped)"},
		&cli.DurationFlag{Name: "retry-timeout", Value: remote.DefaultRetryTimeout,
			Usage: "give up on a request with no answer after `DURATION`, retries included (for a blob, counted from its last byte)"},
	}
}

// newClient builds the registry client from the flags; hosts are the
// registries the command line names, for --username.
func newClient(c *cli.Context, hosts []string) (*remote.Client, error) {
	static := map[string]remote.Credential{}
	if u := c.String("username"); u != "" {
		if !c.Bool("password-stdin") {
			return nil, usagef("--username needs --password-stdin (passwords on the command line leak into shell history)")
		}
		line, err := readLine(c.Context, c.App.Reader)
		if err != nil {
			return nil, err
		}
		for _, h := range hosts {
			static[h] = remote.Credential{Username: u, Password: strings.TrimRight(line, "\r\n")}
		}
	}
	plain := map[string]bool{}
	for _, h := range c.StringSlice("plain-http") {
		plain[h] = true
	}
	for _, f := range []string{"idle-timeout", "retry-timeout"} {
		if c.Duration(f) <= 0 {
			return nil, usagef("--%s must be a positive duration, such as 90s or 5m", f)
		}
	}
	return &remote.Client{Credentials: remote.DockerCredentials(static), PlainHTTP: plain, Insecure: c.Bool("insecure"), CAFile: c.String("ca-file"), Version: version,
		IdleTimeout: c.Duration("idle-timeout"), RetryTimeout: c.Duration("retry-timeout")}, nil
}

// hostOf is the API host of a reference, for --username.
func hostOf(s string) string {
	r, err := layout.ParseRef(s)
	if err != nil {
		return ""
	}
	h, _, _ := strings.Cut(r.Repo, "/")
	if h == "docker.io" {
		return "registry-1.docker.io"
	}
	return h
}

// readRefList reads -f FILE: one reference a line, # comments allowed.
func readRefList(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out, nil
}

func pullCommand() *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "save images from registries into a layout directory or an archive",
		ArgsUsage: "REF…",
		Description: "Pulls each REF (name[:tag][@digest], docker syntax) with all its platforms, or those of --platform,\n" +
			"into --to PATH: a layout directory, or an archive if PATH ends in .tar, .tar.gz or .tar.zst. Every blob\n" +
			"is verified; blobs shared between images are fetched once. Into a directory blobs are fetched in\n" +
			"parallel and a re-run fetches only what is missing; into an archive they stream straight into the file\n" +
			"(no staging copy), which is replaced only when complete; a re-run after an interruption keeps what\n" +
			"the stopped run wrote whole (checked again) and fetches the rest. Instead of REFs, one http:// or\n" +
			"https:// URL pulls the images of a layout published on a web server (URL#NAME for one of them),\n" +
			"verified the same way. --to s3://BUCKET/PREFIX writes them into a bucket.\n" +
			s3Help,
		Flags: append(append([]cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "destination `PATH`: layout directory, archive file or s3://BUCKET/PREFIX", Required: true},
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "read references from `FILE`, one a line"},
			&cli.BoolFlag{Name: "referrers", Usage: "also carry signatures, SBOMs and attestations (referrers API or tag fallback, cosign tags)"},
			platformFlag(),
			formatFlag(),
			haveFlag(),
			volumeSizeFlag(),
			jsonFlag(),
		}, registryFlags()...), s3Flags()...),
		Action: func(c *cli.Context) error {
			refs := c.Args().Slice()
			if c.IsSet("have") && !sync.IsArchivePath(c.String("to")) {
				return usagef("pull: --have cuts a delta archive; %s is a layout directory (a pull into a directory fetches only what it lacks anyway)", c.String("to"))
			}
			vsize, err := volumeSize(c, sync.IsArchivePath(c.String("to")))
			if err != nil {
				return err
			}
			if c.IsSet("format") && !sync.IsArchivePath(c.String("to")) {
				return usagef("pull: --format shapes an archive; %s is a layout directory (name it .tar, .tar.gz or .tar.zst for an archive)", c.String("to"))
			}
			if f := c.String("file"); f != "" {
				more, err := readRefList(f)
				if err != nil {
					return err
				}
				refs = append(refs, more...)
			}
			if len(refs) == 0 {
				return usagef("pull: name at least one image, or -f FILE")
			}
			from := sync.Endpoint{Kind: sync.Registry, Names: refs}
			for _, r := range refs {
				if web.IsURL(r) && len(refs) > 1 {
					return usagef("pull: a web layout (%s) is pulled alone; choose one of its images with URL#NAME", r)
				} else if web.IsURL(r) {
					from = sync.ParseEndpoint(r)
				}
			}
			plats, err := platforms(c)
			if err != nil {
				return err
			}
			hosts := hostsOf(from)
			client, err := newClient(c, hosts)
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
			p := startProgress(c.App.ErrWriter, "pull", 0)
			copied, err := sync.Copy(c.Context, client, from, sync.PathEndpoint(c.String("to")), sync.CopyOptions{Platforms: plats, Format: format, VolumeSize: vsize,
				Concurrency: c.Int("concurrency"), Progress: p.fn(), Total: p.totalFn(), Referrers: c.Bool("referrers"), Have: have, S3: s3Config(c)})
			var res []sync.Pulled
			if copied != nil {
				res = copied.Pulled
			}
			p.finish()
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c.App.Writer, res)
			}
			for _, r := range res {
				how := "all platforms"
				if r.Filtered {
					how = "index kept whole, other platforms left out"
				}
				hprintf(c.App.Writer, "pulled %s  %s  %s (%s)\n", r.Name, strings.Join(r.Platforms, ","), humanSize(r.Size), how)
				for _, d := range r.Repaired {
					hprintf(c.App.Writer, "  note: blob %s in %s was corrupt; replaced with the registry's verified copy\n", d, c.String("to"))
				}
				for _, b := range r.Resumed {
					hprintf(c.App.Writer, "  note: blob %s resumed: %s an interrupted pull had kept were checked again, only the rest fetched\n", b.Digest, humanSize(b.Kept))
				}
			}
			// Into an archive: what export says of the file it writes
			// (docker format's new digests, leftovers removed) holds here too.
			if copied.Written != nil {
				printNotes(c.App.Writer, copied.Written.Notes)
			}
			if len(copied.Cleaned) > 0 {
				printNotes(c.App.Writer, []string{archive.LeftoverNote(copied.Cleaned, "in "+c.String("to"), "removed")})
			}
			hprintf(c.App.Writer, "saved %d image(s) into %s, every blob verified\n", len(res), c.String("to"))
			if copied != nil && copied.Written != nil {
				printVolumes(c.App.Writer, copied.Written)
			}
			return nil
		},
	}
}

func pushCommand() *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "push the images of a layout or archive to registries",
		ArgsUsage: "SRC [NAME…]",
		Description: "Pushes every image of SRC (or the named ones) under the name it carries, or under --to REGISTRY[/PREFIX]\n" +
			"with repository paths kept. Blobs first, of all images at once (--concurrency in flight over all of\n" +
			"them), each skipped when the registry has it and verified as it is sent: a blob over 2 MiB\n" +
			"goes in PATCHes and is committed only once ferry's hash of every byte sent matched, so a source that\n" +
			"changes under the push is refused and never committed; then manifests, children before parents, byte\n" +
			"for byte; tags last. Prints the digest map.\n" +
			"A sparse index (platforms whose blobs the source lacks, as docker and ctr export them) or --platform\n" +
			"pushes a narrowed index holding the complete, chosen platforms; its new digest and what was left out\n" +
			"are printed. An image with no complete platform is refused: never a broken manifest.\n" +
			"SRC is a layout, a plain .tar or a set of plain volumes, read in place; a compressed archive or set is\n" +
			"refused before it is read (`ferry import` it into a layout first: that streams it, volume by volume).\n" +
			"A delta archive is pushed only if the target holds every blob it left out: each is looked for in the\n" +
			"target repository, then in the other repositories of the same registry (those this push writes to, and\n" +
			"with --have FILE those the have-list names), and mounted from there; nothing is written if any is absent.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "push under `REGISTRY[/PREFIX]` instead of the names carried"},
			&cli.BoolFlag{Name: "dry-run", Usage: "only show what would be sent"},
			&cli.StringFlag{Name: "have", Usage: "for a delta archive, the have-list `FILE` it was cut against: a left-out blob the target repository lacks is mounted from the other repositories of that registry it names"},
			platformFlag(),
			jsonFlag(),
		}, pushFlags()...),
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1, -1); err != nil {
				return err
			}
			have, err := readHave(c)
			if err != nil {
				return err
			}
			src, images, err := openImages(c, c.Args().First(), c.Args().Tail())
			if err != nil {
				return err
			}
			defer src.Close()
			var hosts []string
			for _, im := range images {
				if t, err := sync.Target(im, c.String("to")); err == nil {
					hosts = append(hosts, hostOf(t.String()))
				}
			}
			client, err := newClient(c, hosts)
			if err != nil {
				return err
			}
			if c.String("to") == "" {
				// The names come from the archive, which may not be the
				// user's own: say where they lead before anything is sent.
				hprintf(c.App.ErrWriter, "pushing %d image(s) under the names the source carries, to %s (use --to to choose the registry, --dry-run to review)\n",
					len(images), strings.Join(uniq(hosts), ", "))
			}
			plats, err := platforms(c)
			if err != nil {
				return err
			}
			p := startProgress(c.App.ErrWriter, "push", 0)
			res, err := sync.Push(c.Context, client, src, images, sync.PushOptions{To: c.String("to"), Platforms: plats, SkipUnnamed: c.Args().Len() == 1, DryRun: c.Bool("dry-run"), Concurrency: c.Int("concurrency"), Progress: p.fn(), Have: have})
			p.finish()
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c.App.Writer, res)
			}
			verb := "pushed"
			if c.Bool("dry-run") {
				verb = "would push"
			}
			for _, r := range res {
				if r.NotPushed != "" {
					hprintf(c.App.Writer, "not pushed %s: %s\n", r.Source, r.NotPushed)
					continue
				}
				hprintf(c.App.Writer, "%s %s -> %s  (%d sent, %d already there)\n", verb, r.Source, r.Target, r.Blobs, r.Skipped)
				if r.SourceDigest != "" {
					hprintf(c.App.Writer, "  index %s narrowed to the platforms it can carry whole, so its digest is new: %s\n", r.SourceDigest, r.Digest)
					for _, l := range r.LeftOut {
						hprintf(c.App.Writer, "  left out %s\n", l)
					}
				}
			}
			return nil
		},
	}
}

// uniq returns the distinct strings of s, sorted.
func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if x != "" && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// readLine reads the password line on a goroutine of its own, so SIGINT
// or SIGTERM ends the wait for it: a read of a terminal nobody answers or
// of a stalled pipe cannot itself be interrupted.
func readLine(ctx context.Context, r io.Reader) (string, error) {
	type read struct {
		line string
		err  error
	}
	ch := make(chan read, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		if err == io.EOF {
			err = nil
		}
		ch <- read{line, err}
	}()
	select {
	case r := <-ch:
		return r.line, r.err
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for the password on stdin: %w", ctx.Err())
	}
}
