package layout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Ferry keeps its own bookkeeping under .ferry/ inside a layout: the lock
// that serialises index.json updates and the staging area for blobs not yet
// verified. The OCI spec tells readers to ignore unknown files, and ferry
// never puts .ferry/ into an archive.
const (
	ferryDir  = ".ferry"
	lockName  = ".ferry/lock"
	stagePath = ".ferry/tmp"
)

// Dir is a writable OCI image layout directory holding any number of
// repositories. Blobs are committed atomically (temp, verify, fsync,
// rename, and their directories synced before index.json names them);
// index.json is the last write of every change and is updated under a
// lock, so concurrent ferry processes and crashes leave it valid.
type Dir struct {
	*FS
	root *os.Root
	path string

	fresh bool // this handle created the layout

	mu       sync.Mutex
	repaired []Repair
	resumed  []Resumed  // blobs completed from a partial an interrupted pull kept
	cleaned  []Leftover // what killed runs had left, removed on opening
	pool     pool       // their staged blobs, for this handle to reuse

	sessOnce sync.Once
	sess     string // this process's staging directory under .ferry/tmp
	sessLock *fileLock
	sessErr  error
	held     heldDirs // the session's directory and blobs/sha256, open

	syncDirFn func(root *os.Root, dir string) error // syncDir; tests count through it
	fits      fileLimit                             // fits.go
}

var _ Store = (*Dir)(nil)

// OpenDir opens an existing layout for reading and writing.
func OpenDir(dir string) (*Dir, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open layout: %w", err)
	}
	d := newDir(root, dir)
	if err := d.CheckLayout(); err != nil {
		root.Close()
		return nil, err
	}
	return d, nil
}

// newDir is a handle on the layout at root whose blob lookups go through
// its held blobs/sha256 once it has one (see heldDirs).
func newDir(root *os.Root, dir string) *Dir {
	d := &Dir{FS: NewFS(RootFS(root), dir), root: root, path: dir}
	d.FS.lstat, d.FS.open = d.lstat, d.open
	return d
}

// CreateDir opens the layout at dir, creating an empty one if dir does not
// exist or is an empty directory. The handle registers its session (see
// session) before it returns, so a concurrent Undo of a layout that another
// process has just created sees this one and leaves the layout alone.
func CreateDir(ctx context.Context, dir string) (*Dir, error) {
	for attempt := 0; ; attempt++ {
		d, err := createDir(ctx, dir)
		// A failed command that created dir may remove it (Undo) between
		// our mkdir and our lock; starting over creates it anew.
		if err != nil && errors.Is(err, fs.ErrNotExist) && attempt < 3 {
			continue
		}
		return d, err
	}
}

func createDir(ctx context.Context, dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		_, serr := os.Stat(dir)
		if to, lerr := os.Readlink(dir); lerr == nil && errors.Is(serr, fs.ErrNotExist) {
			return nil, fmt.Errorf("create layout: %s is a dangling symlink (to %s): create the directory it points to, or remove the link", dir, to)
		}
		return nil, fmt.Errorf("create layout: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("create layout: %w", err)
	}
	d := newDir(root, dir)
	ok := false
	defer func() {
		if !ok {
			d.endSession()
			root.Close()
		}
	}()
	// Refuse a foreign directory before writing anything into it.
	if _, err := root.Lstat(ocispec.ImageLayoutFile); err != nil {
		ents, err := fs.ReadDir(root.FS(), ".")
		if err != nil {
			return nil, err
		}
		if !onlyOurs(ents) {
			return nil, fmt.Errorf("%s exists, is not empty and is not an OCI layout (no %s): refusing to write into it", dir, ocispec.ImageLayoutFile)
		}
	}
	if err := root.MkdirAll(stagePath, 0o755); err != nil {
		return nil, err
	}
	// An existing layout may be locked by a long import of another
	// process: the wait ends when the command is cancelled.
	l, err := lockFile(ctx, root, lockName, true, true)
	if err != nil {
		return nil, err
	}
	defer l.unlock()
	if _, err := root.Lstat(ocispec.ImageLayoutFile); err == nil {
		if err := d.CheckLayout(); err != nil {
			return nil, err
		}
	} else {
		if err := d.init(); err != nil {
			return nil, err
		}
		d.fresh = true
	}
	if _, err := d.session(); err != nil {
		return nil, err
	}
	// Every import and pull comes through here, under the lock: the
	// staging of runs that were killed goes now, not only at the next gc,
	// but what they had staged is kept for this run to reuse (Txn.Adopt).
	d.cleaned = d.claimStale()
	ok = true
	return d, nil
}

// onlyOurs reports whether a directory holds nothing but what an
// interrupted or concurrent CreateDir leaves, which init may complete.
func onlyOurs(ents []os.DirEntry) bool {
	for _, e := range ents {
		switch e.Name() {
		case "blobs", ferryDir, ocispec.ImageIndexFile:
		default:
			return false
		}
	}
	return true
}

// init writes an empty layout; the caller holds the layout lock.
func (d *Dir) init() error {
	if err := d.root.MkdirAll("blobs/sha256", 0o755); err != nil {
		return err
	}
	// index.json first, oci-layout last: a directory is only a layout once
	// both exist, and a crash in between leaves one CreateDir can finish.
	if _, err := d.root.Lstat(ocispec.ImageIndexFile); err != nil {
		if err := d.writeFileAtomic(ocispec.ImageIndexFile, emptyIndex()); err != nil {
			return err
		}
	}
	return d.writeFileAtomic(ocispec.ImageLayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`))
}

func emptyIndex() []byte {
	b, _ := json.Marshal(ocispec.Index{Versioned: specsV2, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}})
	return b
}

// Undo removes a layout this handle created and nothing has used yet, so a
// command that failed leaves no empty layout behind. It runs under the
// layout lock and does nothing to a layout that existed before, that holds
// blobs or images, or that another live process has open (a second import
// into the same new directory): what it removes is only what this handle
// created and nobody else relies on.
func (d *Dir) Undo() {
	if !d.fresh {
		return
	}
	// A clean-up after a failure: it must run even when the command was
	// cancelled, and it waits only on short critical sections.
	l, err := lockFile(context.Background(), d.root, lockName, true, true)
	if err != nil {
		return
	}
	if !d.undoable() {
		l.unlock()
		return
	}
	d.endSession()
	// oci-layout first: from then on the directory is no layout, and a
	// CreateDir that comes next starts it afresh.
	for _, n := range []string{ocispec.ImageLayoutFile, ocispec.ImageIndexFile, "blobs/sha256", "blobs", stagePath} {
		d.root.Remove(n)
	}
	// The lock file goes while we hold it; a waiter notices (lockFile) and
	// locks whatever is at the path by then.
	d.root.Remove(lockName)
	// A FUSE file system (fusefat) keeps a file removed while open as a
	// hidden one until it is closed, so .ferry empties only once the
	// lock is released; a waiter that made a new lock file meanwhile
	// keeps the directory, as it should.
	l.unlock()
	removeReleased(d.root, ferryDir)
	d.fresh = false
}

// removeReleased removes the directory name, waiting a moment while
// nothing but a FUSE driver's hidden files (.fuse_hidden*) keep it: the
// kernel tells the driver a file was closed only after close returned,
// so the hidden file of the lock just released can outlive it briefly
// (seen under load on fusefat). Anything else in it keeps it at once.
func removeReleased(root *os.Root, name string) {
	for try := 0; ; try++ {
		err := root.Remove(name)
		if err == nil || try == 50 || !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
			return
		}
		f, err := root.Open(name)
		if err != nil {
			return
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return
		}
		for _, n := range names {
			if !strings.HasPrefix(n, ".fuse_hidden") {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// undoable reports whether the layout this handle made is still empty and
// nobody else is in it: only then may Undo take it away.
func (d *Dir) undoable() bool {
	if ims, err := d.Images(); err != nil || len(ims) > 0 {
		return false
	}
	if blobs, err := d.Blobs(context.Background()); err != nil || len(blobs) > 0 {
		return false
	}
	return !d.othersAlive()
}

// othersAlive reports whether a session other than this handle's is live.
func (d *Dir) othersAlive() bool {
	for _, s := range d.sessions() {
		if s.alive {
			return true
		}
	}
	return false
}

// Cleaned is what killed runs had left in the layout, removed when this
// handle opened it.
func (d *Dir) Cleaned() []Leftover { return d.cleaned }

// Path is the directory of the layout.
func (d *Dir) Path() string { return d.path }

// Close releases the directory and this process's staging area.
func (d *Dir) Close() error {
	d.endSession()
	return d.root.Close()
}

// endSession drops this handle's staging area. The lock file is removed
// before it is released, so gc never takes a live session for a dead one.
func (d *Dir) endSession() {
	if d.sess != "" {
		d.held.close()
		d.root.RemoveAll(d.sess)
		d.root.Remove(d.sess + ".lock")
		d.sessLock.unlock()
		d.sess, d.sessLock = "", nil
	}
}

func randomName(prefix string) string {
	var b [8]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Push implements Store: the blob is streamed into a private temp file
// through a VerifyReader, synced, and renamed into blobs/ only once it
// verified. A blob already present is still read and verified, so a corrupt
// source is reported even when the destination has a good copy.
func (d *Dir) Push(ctx context.Context, desc ocispec.Descriptor, r io.Reader) error {
	target, err := BlobPath(desc.Digest)
	if err != nil {
		return err
	}
	st, err := d.writeTemp(ctx, desc, r)
	if err != nil || st == nil {
		return err
	}
	return d.publish(st, target)
}

// publish makes a verified staged blob durable and renames it to target.
// The directory is synced once, before index.json names the blob
// (syncBlobDirs), not after every rename: see blobdirs.go.
func (d *Dir) publish(st *Staged, target string) error {
	if err := st.Keep(); err != nil {
		return err
	}
	if err := d.rename(st.Name(), target); err != nil {
		d.remove(st.Name())
		return err
	}
	return nil
}

// writeTemp stores r, verified against desc, in the staging area, for the
// caller to Commit or Keep. It returns nil with no error when an intact
// copy is already in place (after verifying r all the same).
func (d *Dir) writeTemp(ctx context.Context, desc ocispec.Descriptor, r io.Reader) (*Staged, error) {
	vr, err := NewVerifyReader(r, desc)
	if err != nil {
		return nil, err
	}
	var bad error
	if ok, _ := d.FS.Exists(ctx, desc); ok {
		// A present copy of the right size may still be corrupt (a flipped
		// bit on a stick): hashing it costs a read, which measured cheaper
		// than writing and syncing the source's copy every time, and a bad
		// one is replaced from the source below.
		if bad = d.checkPresent(ctx, desc); bad == nil {
			return nil, vr.Drain()
		}
	}
	st, err := d.stage("b-")
	if err != nil {
		return nil, err
	}
	if _, err := st.CopyFrom(ctx, vr); err != nil {
		st.Abort()
		return nil, err
	}
	if bad != nil {
		d.mu.Lock()
		d.repaired = append(d.repaired, Repair{Desc: desc, Err: bad})
		d.mu.Unlock()
	}
	return st, nil
}

// contextReader stops a long copy promptly when the context is cancelled.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// writeFileAtomic replaces name with b through a Staged file in the
// staging area. Index writes happen under the layout lock, so the temp
// file of one that crashed is known dead and gc removes it.
func (d *Dir) writeFileAtomic(name string, b []byte) error {
	if err := d.root.MkdirAll(stagePath, 0o755); err != nil {
		return err
	}
	st, err := Stage(d.root, stagePath, "f-")
	if err != nil {
		return err
	}
	if _, err := st.Write(b); err != nil {
		st.Abort()
		return err
	}
	return st.Commit(name)
}

// UpdateIndex changes index.json under the layout lock: it reads the
// current entries, lets fn change them and writes the result atomically.
// Entries are sorted by name so the file is deterministic.
func (d *Dir) UpdateIndex(ctx context.Context, fn func([]Image) ([]Image, error)) error {
	l, err := lockFile(ctx, d.root, lockName, true, true)
	if err != nil {
		return err
	}
	defer l.unlock()
	ims, err := d.Images()
	if err != nil {
		return err
	}
	ims, err = fn(ims)
	if err != nil {
		return err
	}
	b, err := EncodeIndex(ims, nil, d.path)
	if err != nil {
		return err
	}
	if err := d.syncBlobDirs(); err != nil {
		return err
	}
	return d.writeFileAtomic(ocispec.ImageIndexFile, b)
}

// entryKey identifies an index entry for merging: its full name, or its tag,
// or for an unnamed entry its digest.
func entryKey(im Image) string {
	if im.Ref.Repo != "" || im.Ref.Tag != "" {
		return im.Name()
	}
	return "@" + im.Desc.Digest.String()
}

// MergeImages adds images to the entries, replacing an entry of the same
// name: a tag moves, as on a registry.
func MergeImages(cur, add []Image) []Image {
	pos := map[string]int{}
	out := append([]Image(nil), cur...)
	for i, im := range out {
		pos[entryKey(im)] = i
	}
	for _, im := range add {
		k := entryKey(im)
		if i, ok := pos[k]; ok {
			out[i] = im
			continue
		}
		pos[k] = len(out)
		out = append(out, im)
	}
	return out
}
