package layout

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// pinsName is the file in a session's staging directory that lists the
// digests the session relies on (one a line) until it commits its index
// entries: blobs it found already present, and blobs it has committed to
// blobs/ but not yet named in index.json. gc keeps them while the session
// lives; nothing else reads the file.
const pinsName = "pins"

// session returns this process's private staging directory. It holds a
// shared lock on a sibling .lock file while alive, which is how gc tells a
// live staging area from one a crashed process left behind.
func (d *Dir) session() (string, error) {
	d.sessOnce.Do(func() {
		if err := d.root.MkdirAll(stagePath, 0o755); err != nil {
			d.sessErr = err
			return
		}
		name := path.Join(stagePath, randomName("s-"))
		l, err := lockFile(context.Background(), d.root, name+".lock", false, true)
		if err != nil {
			d.sessErr = err
			return
		}
		if err := d.root.Mkdir(name, 0o755); err != nil {
			l.unlock()
			d.sessErr = err
			return
		}
		d.sess, d.sessLock = name, l
		d.holdDirs()
	})
	return d.sess, d.sessErr
}

// sessionInfo is one staging area under .ferry/tmp other than ours.
type sessionInfo struct {
	dir   string // relative to the layout root
	alive bool
}

// sessions lists the other staging areas, telling live ones (their lock is
// held) from dead ones. Probing takes each free lock for an instant only.
func (d *Dir) sessions() []sessionInfo {
	ents, err := fs.ReadDir(RootFS(d.root), stagePath)
	if err != nil {
		return nil
	}
	var out []sessionInfo
	locks := map[string]bool{}
	for _, e := range ents {
		locks[e.Name()] = strings.HasSuffix(e.Name(), ".lock")
	}
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), "s-") && !locks[e.Name()+".lock"] {
			// A session creates its lock before its directory and removes
			// it after: a directory without one is a dead session's.
			out = append(out, sessionInfo{dir: path.Join(stagePath, e.Name())})
			continue
		}
		if !strings.HasSuffix(e.Name(), ".lock") {
			continue
		}
		name := path.Join(stagePath, e.Name())
		sess := strings.TrimSuffix(name, ".lock")
		if sess == d.sess {
			continue
		}
		l, gone, err := probe(d.root, name)
		if gone {
			continue // its owner just closed it
		}
		out = append(out, sessionInfo{dir: sess, alive: err != nil})
		l.unlock()
	}
	return out
}

// probe takes the lock file name exclusively without waiting and without
// creating it: an error means its owner holds it; gone means it vanished.
// It opens read-only (flock needs no more), so it works on read-only media.
func probe(root *os.Root, name string) (l *fileLock, gone bool, err error) {
	f, err := root.OpenFile(name, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false, err
	}
	held, err1 := f.Stat()
	now, err2 := root.Lstat(name)
	if err1 != nil || err2 != nil || !os.SameFile(held, now) {
		f.Close()
		return nil, true, nil
	}
	return &fileLock{f: f}, false, nil
}

// Pin protects blobs this handle relies on from a concurrent gc until the
// handle is closed: a pull or import records every digest of its graph
// before it looks for what is already present, so nothing it counted on
// (or committed early) is deleted before its index.json entries name it.
// It takes the layout lock, so a gc is either done before the pin (and the
// caller then finds, and fetches, what it deleted) or sees it.
func (d *Dir) Pin(ctx context.Context, descs []ocispec.Descriptor) error {
	sess, err := d.session()
	if err != nil {
		return err
	}
	l, err := lockFile(ctx, d.root, lockName, true, true)
	if err != nil {
		return err
	}
	defer l.unlock()
	f, err := d.root.OpenFile(path.Join(sess, pinsName), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, desc := range descs {
		w.WriteString(desc.Digest.String())
		w.WriteByte('\n')
	}
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: pin blobs against gc: %w", d.path, err)
	}
	return nil
}

// pinned adds to live the digests a live session has pinned. A line that
// is not a valid digest is skipped: it can pin nothing.
func (d *Dir) pinned(sess string, live map[digest.Digest]bool) error {
	f, err := d.root.Open(path.Join(sess, pinsName))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		dg := digest.Digest(sc.Text())
		if ValidateDigest(dg) == nil {
			live[dg] = true
		}
	}
	return sc.Err()
}

// Descriptors lists every manifest, index and blob of the graph, the set a
// copy of it relies on (and pins).
func (g *Graph) Descriptors() []ocispec.Descriptor {
	out := make([]ocispec.Descriptor, 0, len(g.Nodes)+len(g.Blobs))
	for _, n := range g.Nodes {
		out = append(out, n.Desc)
	}
	return append(out, g.Blobs...)
}
