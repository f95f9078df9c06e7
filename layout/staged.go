package layout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"
)

// Staged is the one way ferry writes a file, whether a blob, index.json or
// a whole archive: into a temp file of a recognisable name, through the
// tuned writeback, then fsync, rename over the target and fsync of its
// directory. Readers see the old file or the new one, never a part; a
// crash leaves only a temp file. While open, the temp file is locked
// (flock), so a later run can tell a dead writer's leftover (lock free)
// from a live writer's file and remove only the former.
type Staged struct {
	root *os.Root
	name string // the temp file, relative to root
	dir  string // where root is, relative to the caller's root (Dir.stage)
	f    *os.File
	w    io.Writer
	n    int64
	done bool
}

// Stage creates a temp file in dir under root named prefix followed by
// random characters, mode 0666 less the umask like any file a user writes
// (an archive must not come out 0600 for the people it is carried to). The caller writes it (Write, CopyFrom) and then
// Commits, Keeps or Aborts it.
func Stage(root *os.Root, dir, prefix string) (*Staged, error) {
	for {
		name := path.Join(dir, randomName(prefix))
		f, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
		if err != nil {
			return nil, err
		}
		// A cleaner may take the new file for a dead writer's between the
		// create and the lock (StaleTemps); it holds the lock only while
		// it removes the file, so wait for it, then make sure the file at
		// the name is still ours.
		if err := flock(f, syscall.LOCK_EX); err != nil {
			f.Close()
			root.Remove(name)
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		held, err := f.Stat()
		if err != nil {
			f.Close()
			root.Remove(name)
			return nil, err
		}
		now, err := root.Lstat(name)
		if err == nil && os.SameFile(held, now) {
			return &Staged{root: root, name: name, f: f, w: NewWriteback(f)}, nil
		}
		f.Close()
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
}

// Name is the temp file's path relative to the root (the layout's, when
// a Dir staged it in its held session directory).
func (s *Staged) Name() string {
	if s.dir != "" {
		return path.Join(s.dir, s.name)
	}
	return s.name
}

// Write implements io.Writer.
func (s *Staged) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	s.n += int64(n)
	return n, err
}

// WriteAt rewrites bytes already written, in place: a volume's index at
// its head is completed once the chunks it describes have been hashed on
// their way out, so nothing is read twice.
func (s *Staged) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > s.n {
		return 0, fmt.Errorf("%s: rewrite of bytes %d to %d, past the %d written", s.name, off, off+int64(len(p)), s.n)
	}
	return s.f.WriteAt(p, off)
}

// Size is the bytes written so far.
func (s *Staged) Size() int64 { return s.n }

// CopyFrom copies r into the file until EOF, stopping promptly when ctx is
// cancelled. Verifying is r's job: a VerifyReader fails the copy on the
// last read if the content is not what its descriptor says.
func (s *Staged) CopyFrom(ctx context.Context, r io.Reader) (int64, error) {
	return CopyBuffer(s, contextReader{ctx, r})
}

// Keep makes the file durable and closes it, leaving it under its temp
// name for a later rename (a transaction publishes many at once).
func (s *Staged) Keep() error {
	err := s.f.Sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.root.Remove(s.name)
	}
	s.done = true
	return err
}

// Commit makes the file durable and renames it over target (relative to
// the root), creating target's directory if needed.
func (s *Staged) Commit(target string) error {
	if err := s.commitNoDirSync(target); err != nil {
		return err
	}
	return syncDir(s.root, path.Dir(target))
}

// commitNoDirSync is Commit up to the rename: the caller syncs the
// directory (dirSyncs.commit, which shares that fsync between commits).
func (s *Staged) commitNoDirSync(target string) error {
	if err := s.Keep(); err != nil {
		return err
	}
	if err := s.root.MkdirAll(path.Dir(target), 0o755); err != nil {
		s.root.Remove(s.name)
		return err
	}
	if err := s.root.Rename(s.name, target); err != nil {
		s.root.Remove(s.name)
		return err
	}
	return nil
}

// Abort removes the temp file; after Commit or Keep it does nothing, so it
// can be deferred.
func (s *Staged) Abort() {
	if s.done {
		return
	}
	s.done = true
	s.f.Close()
	s.root.Remove(s.name)
}

func syncDir(root *os.Root, dir string) error {
	f, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return err
	}
	return nil
}
