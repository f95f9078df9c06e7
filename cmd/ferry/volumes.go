package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/archive"
)

func volumeSizeFlag() cli.Flag {
	return &cli.StringFlag{Name: "volume-size", Usage: "cut the archive into volumes NAME.001.tar, NAME.002.tar, … of at most `SIZE` each: bytes with " +
		"K, M, G (powers of 1024) or KB, MB, GB (powers of 1000), or fat32 (4 GiB − 1), dvd (4.7 GB), dvd-dl, bd25, bd50, " +
		"or auto (fat32 on a FAT file system, one archive elsewhere)"}
}

// volumeSize reads --volume-size; 0 when it is not given. isArchive says
// whether the destination is an archive, the only thing volumes cut.
func volumeSize(c *cli.Context, isArchive bool) (int64, error) {
	if !c.IsSet("volume-size") {
		return 0, nil
	}
	if !isArchive {
		return 0, usagef("%s: --volume-size cuts an archive; the destination is not one (name it .tar, .tar.gz or .tar.zst)", c.Command.Name)
	}
	n, err := archive.ParseVolumeSize(c.String("volume-size"))
	if err != nil {
		return 0, usagef("%v", err)
	}
	return n, nil
}

// printVolumes lists the files of a volume set as they were written.
func printVolumes(w io.Writer, r *archive.Result) {
	if len(r.Volumes) < 2 {
		if len(r.Volumes) == 1 {
			hprintf(w, "  one volume: %s (a plain archive: everything fit)\n", r.Volumes[0])
		}
		return
	}
	hprintf(w, "  %d volumes; import, push, verify and ls take their directory or the first:\n", len(r.Volumes))
	for _, v := range r.Volumes {
		hprintf(w, "    %s\n", v)
	}
}

// volumePrompt lets a volume set be fed one volume at a time, as from one
// DVD drive: when ferry runs at a terminal and only some volumes of a set
// are present, the set is streamed and each missing volume asked for when
// it is needed. Anywhere else a partial set is an error naming what is
// missing, since no one could answer.
func volumePrompt(c *cli.Context) archive.VolumePrompt {
	if !isTerminal(os.Stdin) || !isTerminal(c.App.ErrWriter) {
		return nil
	}
	lines := make(chan error)
	return func(ctx context.Context, n, m int, want string) error {
		hprintf(c.App.ErrWriter, "ferry: volume %d of %d (%s) is not here: put it in place (insert its disc) and press Enter, or Ctrl-C to stop: ", n, m, want)
		go func() {
			_, err := bufio.NewReader(os.Stdin).ReadString('\n')
			lines <- err
		}()
		select {
		case err := <-lines:
			if err != nil {
				return fmt.Errorf("waiting for volume %d of %d (%s): %w", n, m, want, err)
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
