package layout

import (
	"errors"
	"io/fs"
	"path"
)

// syncBlobDirs makes every rename into blobs/ durable at once, by syncing
// blobs/ and each of its algorithm directories, before index.json is
// written to name what they hold.
//
// Dir.Push renames each blob into place as soon as it is verified (so an
// interrupted pull keeps it), with the blob's own file synced first, but
// it no longer syncs the directory after every rename: with a thousand
// small images that was half of a pull's 6,000 fsyncs and much of its
// wall time (bench/scale.sh, docs/SCALE.md). A rename lost in a crash
// loses nothing: the blob is simply fetched again by the next run, and no
// index.json can name it before this sync. Syncing the directories
// rather than a list of this process's renames also covers blobs another
// process renamed in and this one found present and skipped.
func (d *Dir) syncBlobDirs() error {
	sync := d.syncDirFn
	if sync == nil {
		sync = syncDir
	}
	algs, err := fs.ReadDir(d.root.FS(), "blobs")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, a := range algs {
		if a.IsDir() {
			if err := sync(d.root, path.Join("blobs", a.Name())); err != nil {
				return err
			}
		}
	}
	return sync(d.root, "blobs")
}
