package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/serve"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve a layout, archive or volume set as a read-only registry",
		ArgsUsage: "PATH",
		Description: "Answers the pull half of the OCI distribution API (what docker, podman, containerd, skopeo and\n" +
			"ferry pull use) straight from PATH: a layout directory, an uncompressed .tar read in place, or a\n" +
			"directory of volumes. Nothing is copied or extracted first.\n\n" +
			"Names: an image named docker.io/library/busybox:1.36 is pulled as HOST:PORT/library/busybox:1.36\n" +
			"and as HOST:PORT/docker.io/library/busybox:1.36; ghcr.io/o/r:v1 as HOST:PORT/o/r:v1 and\n" +
			"HOST:PORT/ghcr.io/o/r:v1. --prefix FROM=TO rewrites a leading path (docker.io/library= serves\n" +
			"HOST:PORT/busybox:1.36, =mirror serves HOST:PORT/mirror/library/busybox:1.36); images that carry only\n" +
			"a tag are served under --repo. GET /v2/_catalog lists every name; the startup log says it too.\n\n" +
			"Every blob is hashed as it is sent and the final buffer is held back until its digest matches: a\n" +
			"corrupt blob reaches the client as a cut connection (a body shorter than Content-Length), never as\n" +
			"complete wrong bytes, and the log names the file, image and digest. A Range request is served once\n" +
			"the whole blob has been hashed (once per blob, remembered). Compressed archives (.tar.gz,\n" +
			".tar.zst) are refused: a compressed stream cannot be read at an offset, so serving one blob would\n" +
			"mean decompressing everything before it on every request; decompress it or `ferry import` it into\n" +
			"a directory and serve that.\n\n" +
			"Plain HTTP is served on loopback only, unless --insecure-listen; give --tls-cert/--tls-key otherwise.\n" +
			"SIGINT/SIGTERM stop taking connections and let requests in flight finish (up to 30s). See docs/SERVE.md.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:5000", Usage: "`HOST:PORT` to listen on"},
			&cli.StringFlag{Name: "prefix", Usage: "rewrite repository names: `FROM=TO` replaces a leading FROM path with TO; TO alone adds it"},
			&cli.StringFlag{Name: "repo", Usage: "repository `NAME` for images that carry only a tag or no name"},
			&cli.StringFlag{Name: "tls-cert", Usage: "TLS certificate `FILE` (PEM)"},
			&cli.StringFlag{Name: "tls-key", Usage: "TLS private key `FILE` (PEM)"},
			&cli.StringFlag{Name: "htpasswd", Usage: "require basic auth from the users of `FILE` (bcrypt entries, htpasswd -B)"},
			&cli.BoolFlag{Name: "insecure-listen", Usage: "allow plain HTTP on an address other than loopback"},
			&cli.BoolFlag{Name: "json", Usage: "log JSON events on stderr instead of text lines"},
		},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1, 1); err != nil {
				return err
			}
			if (c.String("tls-cert") == "") != (c.String("tls-key") == "") {
				return usagef("--tls-cert and --tls-key go together")
			}
			cfg := serve.Config{Options: serve.Options{Prefix: serve.ParsePrefix(c.String("prefix")), DefaultRepo: strings.Trim(c.String("repo"), "/")},
				Log: serve.NewLogger(c.App.ErrWriter, c.Bool("json")), Label: c.Args().First()}
			if p := c.String("htpasswd"); p != "" {
				h, err := serve.LoadHtpasswd(p)
				if err != nil {
					return err
				}
				cfg.Auth = h
			}
			src, err := archive.OpenInPlace(c.Context, c.Args().First())
			if err != nil {
				return err
			}
			defer src.Close()
			srv, err := serve.New(c.Context, src, cfg)
			if err != nil {
				return err
			}
			for _, n := range srv.Notes() {
				cfg.Log.Info("note", "", n)
			}
			for _, r := range srv.Repositories() {
				cfg.Log.Info("repository", "", fmt.Sprintf("%s (tags: %s)", r, strings.Join(srv.Tags(r), " ")))
			}
			return serve.Listen(c.Context, srv, cfg.Log, serve.ListenOptions{Addr: c.String("addr"), CertFile: c.String("tls-cert"),
				KeyFile: c.String("tls-key"), Insecure: c.Bool("insecure-listen")})
		},
	}
}
