package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/layout"
)

// jsonFlag is the --json switch every reporting command has.
func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print the result as JSON on stdout, for scripts"}
}

// printJSON writes v for scripts: the values exactly as they are, with
// what a terminal would act on escaped (see escapeJSON).
func printJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(escapeJSON(buf.Bytes()))
	return err
}

// humanSize prints bytes as archive's errors word them.
func humanSize(n int64) string { return archive.SizeWords(n) }

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

// isTerminal reports whether w is a terminal: progress is drawn only
// there, so logs and pipes stay clean.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress draws "verb: done / total" on stderr about five times a second.
type progress struct {
	w     io.Writer
	verb  string
	total atomic.Int64
	done  atomic.Int64
	stop  chan struct{}
	wg    sync.WaitGroup
}

// startProgress returns nil (a no-op) unless w is a terminal.
func startProgress(w io.Writer, verb string, total int64) *progress {
	if !isTerminal(w) {
		return nil
	}
	p := &progress{w: w, verb: verb, stop: make(chan struct{})}
	p.total.Store(total)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				fmt.Fprint(p.w, "\r\033[K")
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
	return p
}

func (p *progress) draw() {
	d, total := p.done.Load(), p.total.Load()
	if total > 0 {
		fmt.Fprintf(p.w, "\r\033[K%s: %s / %s (%d%%)", p.verb, humanSize(d), humanSize(total), min(d*100/total, 100))
	} else {
		fmt.Fprintf(p.w, "\r\033[K%s: %s", p.verb, humanSize(d))
	}
}

// add is the callback handed to the library; safe on a nil progress.
func (p *progress) add(n int64) {
	if p != nil {
		p.done.Add(n)
	}
}

// setTotal is handed to the library, which learns the size once it has
// planned the work; safe on a nil progress.
func (p *progress) setTotal(n int64) {
	if p != nil {
		p.total.Store(n)
	}
}

// totalFn returns setTotal, or nil when not drawing.
func (p *progress) totalFn() func(int64) {
	if p == nil {
		return nil
	}
	return p.setTotal
}

// fn returns the callback, or nil when not drawing.
func (p *progress) fn() func(int64) {
	if p == nil {
		return nil
	}
	return p.add
}

func (p *progress) finish() {
	if p != nil {
		close(p.stop)
		p.wg.Wait()
	}
}

// platforms reads --platform; a malformed value is a usage error.
func platforms(c *cli.Context) ([]ocispec.Platform, error) {
	p, err := layout.ParsePlatforms(c.String("platform"))
	if err != nil {
		return nil, usageError{err.Error()}
	}
	return p, nil
}

// openSource opens the layout or archive named by the first argument.
func openSource(c *cli.Context) (*archive.Source, error) {
	return archive.Open(c.Context, c.Args().First(), archive.OpenOptions{Prompt: volumePrompt(c)})
}

// openImages opens path for reading in place (a directory, a plain tar or
// a set of plain volumes; export and push need random access) and selects
// the named images, or all. A compressed archive or set is refused from
// its first bytes, not after a pass over all of it. The caller closes the
// source.
func openImages(c *cli.Context, path string, names []string) (*archive.Source, []layout.Image, error) {
	src, err := archive.Open(c.Context, path, archive.OpenOptions{InPlace: true})
	if err != nil {
		return nil, nil, err
	}
	images, err := archive.Select(src.Images, names)
	if err != nil {
		src.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return src, images, nil
}
