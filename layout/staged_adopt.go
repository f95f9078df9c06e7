package layout

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"syscall"
)

// AdoptTemps takes over the temp files that dead writers (their flock is
// free) left in dir under root with this prefix, each locked and open for
// reading and writing: a killed archive write is resumed from what it
// had written instead of starting over. The caller checks each one's
// bytes against what it is about to write, keeps one (Truncate, then go
// on writing) and Aborts the rest. A live writer's file is left alone,
// and only names of the exact shape Stage makes are considered.
func AdoptTemps(root *os.Root, dir, prefix string) []*Staged {
	ents, err := fs.ReadDir(RootFS(root), dir)
	if err != nil {
		return nil
	}
	var out []*Staged
	for _, e := range ents {
		if !isTempName(e.Name(), prefix) || !e.Type().IsRegular() {
			continue
		}
		if s, err := adopt(root, path.Join(dir, e.Name())); err == nil {
			out = append(out, s)
		}
	}
	return out
}

// adopt opens name and takes its lock without waiting: a lock held means
// its writer is alive. The file at the name must still be the one locked
// (a cleaner may have removed it meanwhile), a regular file, and have no
// other name.
func adopt(root *os.Root, name string) (*Staged, error) {
	f, err := root.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	held, err1 := f.Stat()
	now, err2 := root.Lstat(name)
	if err1 != nil || err2 != nil || !os.SameFile(held, now) || !held.Mode().IsRegular() {
		f.Close()
		return nil, errors.New("temp file changed while adopted")
	}
	// A temp file has one name. One with more is someone's file linked
	// in (a hostile layout): truncating or writing it would change the
	// other name's content too.
	if st, ok := held.Sys().(*syscall.Stat_t); ok && st.Nlink != 1 {
		f.Close()
		return nil, errors.New("temp file has other links")
	}
	s := &Staged{root: root, name: name, f: f}
	if err := s.Truncate(held.Size()); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// ReadAt reads bytes already in the file: an adopted temp file is checked
// before anything of it is kept.
func (s *Staged) ReadAt(p []byte, off int64) (int, error) { return s.f.ReadAt(p, off) }

// Truncate keeps the first n bytes (those checked good) and makes the next
// Write go right after them.
func (s *Staged) Truncate(n int64) error {
	if err := s.f.Truncate(n); err != nil {
		return err
	}
	if _, err := s.f.Seek(n, 0); err != nil {
		return err
	}
	s.n = n
	s.w = &Writeback{f: s.f, done: n, queued: n}
	return nil
}

// Sync makes what is written so far durable without closing the file: a
// volume set syncs each volume while the next one is written, so its
// commit finds nothing left to wait for.
func (s *Staged) Sync() error { return s.f.Sync() }

// CommitAll commits temp files that belong together (the volumes of a
// set) under their targets in dir: each is synced and renamed, and the
// directory is synced once for all.
func CommitAll(root *os.Root, dir string, staged []*Staged, targets []string) error {
	for i, s := range staged {
		if err := s.commitNoDirSync(path.Join(dir, targets[i])); err != nil {
			return err
		}
	}
	return syncDir(root, dir)
}
