package layout

import (
	"context"
	"io/fs"
	"path"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// poolDir is where, inside this process's session, the staged blobs of
// killed runs wait to be reused. Being inside a live session is what
// keeps them from gc and from every other process: only the session
// that moved them here may touch them.
const poolDir = "adopt"

// pool is the staged blobs a killed import or pull left, claimed by this
// session. Staged files are named at random, not by digest (a temp name
// must exist before the content is known), so a file is hashed before it
// is used: only one whose size some needed blob has, and only once.
type pool struct {
	mu      sync.Mutex
	files   []*pooled
	bytes   int64 // reused so far
	count   int
	dropped int64 // removed unused
}

type pooled struct {
	name string // relative to the layout root
	size int64
	sum  digest.Digest // sha256 of the content once hashed, "" before
	used bool
}

// claimStale takes what dead sessions left: their staged blobs move into
// this session's pool, the rest goes as removeStale removes it. The
// caller holds the layout lock, so two processes never claim the same
// session, and the dead session's own lock is held while its files move,
// so nothing can come to life under our feet.
func (d *Dir) claimStale() []Leftover {
	var out []Leftover
	poolPath := path.Join(d.sess, poolDir)
	for _, s := range d.sessions() {
		if s.alive {
			continue
		}
		l, gone, err := probe(d.root, s.dir+".lock")
		if err != nil {
			continue
		}
		lo := Leftover{Path: s.dir, Size: treeSize(d.root, s.dir)}
		// A large blob a killed pull was fetching is kept as a partial,
		// for the same pull to take up (mark.go).
		lo.Size -= d.keepMarked(s.dir)
		before := len(d.pool.files)
		// A session killed while it reused a pool has blobs there too.
		for _, dir := range []string{s.dir, path.Join(s.dir, poolDir)} {
			ents, err := fs.ReadDir(d.root.FS(), dir)
			if err != nil {
				continue
			}
			for _, e := range ents {
				if !e.Type().IsRegular() || !isTempName(e.Name(), "b-") {
					continue
				}
				fi, err := e.Info()
				if err != nil || fi.Size() == 0 {
					continue
				}
				if d.root.MkdirAll(poolPath, 0o755) != nil {
					continue
				}
				to := path.Join(poolPath, e.Name())
				if d.root.Rename(path.Join(dir, e.Name()), to) == nil {
					d.pool.files = append(d.pool.files, &pooled{name: to, size: fi.Size()})
				}
			}
		}
		// What moved to the pool is not removed (yet): the note of what
		// was says so, and the import's note says what it reused.
		for _, f := range d.pool.files[before:] {
			lo.Size -= f.size
		}
		d.root.RemoveAll(s.dir)
		if !gone {
			d.root.Remove(s.dir + ".lock")
			l.unlock()
		}
		out = append(out, lo)
	}
	return append(out, StaleTemps(d.root, stagePath, "f-", true)...)
}

// take finds, among the pooled files, one holding exactly desc's content
// and hands it over (it is then no longer in the pool). Every candidate
// is hashed here, whatever its name or a dead process said of it: a
// file killed mid-write, or flipped on the medium, simply matches nothing.
func (p *pool) take(ctx context.Context, d *Dir, desc ocispec.Descriptor) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.files {
		if f.used || f.size != desc.Size {
			continue
		}
		if f.sum == "" || desc.Digest.Algorithm() != digest.Canonical {
			got, err := hashFile(ctx, d, f.name, desc.Digest.Algorithm())
			if err != nil {
				if ctx.Err() != nil {
					return "", false
				}
				f.used = true // unreadable: never offered again
				continue
			}
			if desc.Digest.Algorithm() != digest.Canonical {
				if got != desc.Digest {
					continue
				}
			} else {
				f.sum = got
			}
		}
		if desc.Digest.Algorithm() == digest.Canonical && f.sum != desc.Digest {
			continue
		}
		f.used = true
		p.bytes += f.size
		p.count++
		return f.name, true
	}
	return "", false
}

// drop removes what nobody took.
func (p *pool) drop(d *Dir) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.files {
		if !f.used {
			d.root.Remove(f.name)
			f.used = true
			p.dropped += f.size
		}
	}
}

// hashFile hashes a file under the layout root with alg.
func hashFile(ctx context.Context, d *Dir, name string, alg digest.Algorithm) (digest.Digest, error) {
	if !alg.Available() {
		return "", digest.ErrDigestUnsupported
	}
	f, err := RootFS(d.root).Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := alg.Digester()
	if _, err := CopyBuffer(h.Hash(), contextReader{ctx, f}); err != nil {
		return "", err
	}
	return h.Digest(), nil
}

// Reused says how many staged blobs of killed runs, and how many bytes,
// this handle took over instead of reading them from the source again,
// and how many bytes of theirs it removed as not needed.
func (d *Dir) Reused() (blobs int, bytes, dropped int64) {
	d.pool.mu.Lock()
	defer d.pool.mu.Unlock()
	return d.pool.count, d.pool.bytes, d.pool.dropped
}

// CheckRoomFor is Dir.CheckRoomFor for a resumed import: blobs a killed
// run staged are adopted first (hashed, so the check does work the copy
// would do anyway), the rest of what it staged is removed, and only what
// is then still missing needs room.
func (t *Txn) CheckRoomFor(ctx context.Context, blobs []ocispec.Descriptor) error {
	var need int64
	for _, b := range blobs {
		if ok, _ := t.Exists(ctx, b); !ok {
			if err := t.CheckFits(b); err != nil {
				return err
			}
			need += b.Size
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t.d.pool.drop(t.d)
	return CheckSpace(t.d.path, need)
}

// Adopt stages for the transaction a copy of desc that a killed run left,
// if one is in this session's pool, and reports whether it did (or desc
// is staged already). The copy was hashed against desc on the way.
func (t *Txn) Adopt(ctx context.Context, desc ocispec.Descriptor) bool {
	t.mu.Lock()
	_, ok := t.staged[desc.Digest]
	t.mu.Unlock()
	if ok {
		return true
	}
	if ValidateDigest(desc.Digest) != nil || desc.Size <= 0 {
		return false
	}
	name, ok := t.d.pool.take(ctx, t.d, desc)
	if !ok {
		return false
	}
	// Out of the pool directory into the session's own staging, where a
	// commit expects what it publishes.
	to := path.Join(t.d.sess, path.Base(name))
	if err := t.d.root.Rename(name, to); err != nil {
		t.d.root.Remove(name)
		return false
	}
	t.mu.Lock()
	if t.hashed == nil {
		t.hashed = map[digest.Digest]bool{}
	}
	t.hashed[desc.Digest] = true
	t.mu.Unlock()
	t.record(desc.Digest, desc.Size, to)
	return true
}

// isHashed reports whether the staged copy of dg was hashed by this
// process (adopted ones are, on adoption), so a copy need not read it
// back again.
func (t *Txn) isHashed(dg digest.Digest) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.hashed[dg]
}
