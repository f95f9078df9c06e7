package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/opencontainers/go-digest"

	"github.com/oci-ferry/ferry/layout"
)

// errNotVolume is a file whose first entry is not a volume index;
// errNoVolumes a directory that holds none.
var (
	errNotVolume = errors.New("not a volume of a ferry volume set")
	errNoVolumes = errors.New("neither an OCI layout nor a directory of ferry volumes")
)

// probeVolume reads the volume index at the head of the file at path:
// decompressing only as far as the first entry, so finding the volumes of
// a set among big files costs a few kilobytes each.
func probeVolume(path string) (*volumeIndex, Compression, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, None, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	comp := detect(br)
	zr, err := decompress(br, comp)
	if err != nil {
		return nil, comp, fmt.Errorf("%w: %v", errNotVolume, err)
	}
	defer zr.Close()
	return readVolumeHead(tar.NewReader(zr), path, comp)
}

// readVolumeHead reads the first entry of a volume's tar: its index.
func readVolumeHead(tr *tar.Reader, label string, comp Compression) (*volumeIndex, Compression, error) {
	h, err := tr.Next()
	if err != nil {
		return nil, comp, fmt.Errorf("%w: %v", errNotVolume, err)
	}
	if h.Name != volumeIndexName || h.Typeflag != tar.TypeReg {
		return nil, comp, errNotVolume
	}
	if h.Size > maxVolumeIndex {
		return nil, comp, fmt.Errorf("%s: %s: %w: %d bytes, more than the %d MiB a volume index may have", label, volumeIndexName, layout.ErrTooLarge, h.Size, maxVolumeIndex>>20)
	}
	b, err := io.ReadAll(io.LimitReader(tr, h.Size))
	if err != nil || int64(len(b)) != h.Size {
		return nil, comp, fmt.Errorf("%s: %s: the volume ends inside its own index: it is truncated: %w", label, volumeIndexName, io.ErrUnexpectedEOF)
	}
	idx, err := parseVolumeIndex(b, label)
	return idx, comp, err
}

// volumeFile is one volume found on disk.
type volumeFile struct {
	path string
	idx  *volumeIndex
	comp Compression
}

func (v volumeFile) label() string {
	return fmt.Sprintf("%s (volume %d of %d of set %s)", v.path, v.idx.Volume, v.idx.Volumes, v.idx.Set)
}

// findVolumes gathers the set that dir holds, or that the volume first
// (a path in dir) belongs to. Every file with an archive's suffix is
// looked at, so volumes are found whatever they were renamed or copied as;
// volumes of other sets, a volume twice and a volume missing are refused
// with the files named.
func findVolumes(dir string, first *volumeFile) ([]volumeFile, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	bySet := map[string][]volumeFile{}
	entries := 0
	unreadable := map[string]string{} // volume-like names that do not read as volumes
	for _, de := range des {
		name := de.Name()
		if !de.Type().IsRegular() || strings.HasPrefix(name, ".") {
			continue
		}
		if _, suffix := volumeNames(name); !strings.HasSuffix(name, suffix) {
			continue
		}
		p := filepath.Join(dir, name)
		idx, comp, err := probeVolume(p)
		if errors.Is(err, errNotVolume) {
			if volumeNameRE.MatchString(name) && err != errNotVolume {
				unreadable[name] = err.Error()
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		// Every index found is held until the set is chosen: their sum is
		// bounded, not only each one.
		if entries += len(idx.Entries) + 1; entries > maxSetEntries {
			return nil, fmt.Errorf("%s: %w: the volume indexes here list more than %d entries in all", dir, layout.ErrTooLarge, maxSetEntries)
		}
		bySet[idx.Set] = append(bySet[idx.Set], volumeFile{path: p, idx: idx, comp: comp})
	}
	var set string
	switch {
	case first != nil:
		set = first.idx.Set
	case len(bySet) == 0:
		return nil, fmt.Errorf("%s: %w", dir, errNoVolumes)
	case len(bySet) > 1:
		var sets []string
		for s, vs := range bySet {
			var names []string
			for _, v := range vs {
				names = append(names, filepath.Base(v.path))
			}
			sort.Strings(names)
			sets = append(sets, fmt.Sprintf("set %s (%s)", s, strings.Join(names, ", ")))
		}
		sort.Strings(sets)
		return nil, fmt.Errorf("%s: %w: volumes of %d different sets are mixed here: %s; keep one set per directory, or name the first volume of the one you mean", dir, layout.ErrInvalid, len(bySet), strings.Join(sets, "; "))
	default:
		for s := range bySet {
			set = s
		}
	}
	vols := bySet[set]
	if first != nil && len(vols) == 0 {
		vols = []volumeFile{*first} // its disc is out of the drive
	}
	m := vols[0].idx.Volumes
	at := make([]*volumeFile, m+1)
	for i := range vols {
		v := &vols[i]
		if v.idx.Volumes != m {
			return nil, fmt.Errorf("%s: %w: says its set %s has %d volumes, %s says %d", v.path, layout.ErrInvalid, set, v.idx.Volumes, vols[0].path, m)
		}
		if o := at[v.idx.Volume]; o != nil {
			return nil, fmt.Errorf("%w: volume %d of set %s is here twice, as %s and %s: remove one", layout.ErrInvalid, v.idx.Volume, set, o.path, v.path)
		}
		at[v.idx.Volume] = v
	}
	var missing []string
	for n := 1; n <= m; n++ {
		if at[n] == nil {
			want := volumePath(setDest(vols[0].path), n, m)
			msg := fmt.Sprintf("volume %d (%s)", n, filepath.Base(want))
			if why, ok := unreadable[filepath.Base(want)]; ok {
				msg += fmt.Sprintf("; %s is there but does not read as a volume (%s): it is truncated or damaged, copy it again", filepath.Base(want), why)
			}
			for s, others := range bySet {
				for _, o := range others {
					if s != set && o.idx.Volume == n {
						msg += fmt.Sprintf("; %s there is volume %d of another set, %s", filepath.Base(o.path), n, s)
					}
				}
			}
			missing = append(missing, msg)
		}
	}
	if len(missing) > 0 {
		return nil, &missingVolumes{dir: dir, set: set, m: m, at: at, first: vols[0],
			msg: fmt.Sprintf("%s: volume set %s of %d volumes is incomplete: missing %s", dir, set, m, strings.Join(missing, ", "))}
	}
	out := make([]volumeFile, 0, m)
	for n := 1; n <= m; n++ {
		out = append(out, *at[n])
	}
	return out, nil
}

// missingVolumes is a set of which only some volumes are present: an
// error, unless someone at a terminal can feed the rest (VolumePrompt).
type missingVolumes struct {
	dir, set, msg string
	m             int
	at            []*volumeFile
	first         volumeFile
}

func (e *missingVolumes) Error() string { return e.msg + ": " + layout.ErrNotFound.Error() }
func (e *missingVolumes) Unwrap() error { return layout.ErrNotFound }

// VolumePrompt asks a person to make volume n of m (named want) readable
// beside the others, typically by changing the disc in a drive, and
// returns once they say it is; an error stops the read.
type VolumePrompt func(ctx context.Context, n, m int, want string) error

// feed returns volume n of the set, asking for it until it is there.
// The directory is looked at again each time: a drive's mount point shows
// one disc at a time, so what was seen before may be gone.
func (e *missingVolumes) feed(ctx context.Context, prompt VolumePrompt) func(n int) (volumeFile, error) {
	return func(n int) (volumeFile, error) {
		want := filepath.Base(volumePath(setDest(e.first.path), n, e.m))
		for {
			vols, err := findVolumes(e.dir, &e.first)
			var mv *missingVolumes
			switch {
			case err == nil:
				return vols[n-1], nil
			case !errors.As(err, &mv):
				return volumeFile{}, err
			case mv.at[n] != nil:
				return *mv.at[n], nil
			}
			if err := prompt(ctx, n, e.m, want); err != nil {
				return volumeFile{}, err
			}
		}
	}
}

// volumeNameRE matches the names ferry gives volumes: NAME.NNN.tar….
var volumeNameRE = regexp.MustCompile(`\.[0-9]{3,}\.(tar|tgz|tzst|tar\.gz|tar\.zst|tar\.zstd)$`)

// setDest is the archive name a volume's name was made from (out.002.tar
// gives out.tar), so the name a missing volume should have can be said.
func setDest(p string) string {
	stem, suffix := volumeNames(p)
	if i := strings.LastIndexByte(stem, '.'); i >= 0 {
		stem = stem[:i]
	}
	return stem + suffix
}

// setFS serves a volume set in place: each volume is indexed as its own
// tar, and the set is one file system in which a split blob is one file
// read across its chunks. Nothing is joined on disk.
type setFS struct {
	tree
	whole  map[*entry]wholeLoc
	chunks map[*entry][]chunkLoc
	// where says which volume holds a member, for messages.
	where map[string]string
	// hashed counts the chunk bytes the set's files hashed themselves:
	// what a verifier's running hash (HashedBy) spares shows here.
	hashed atomic.Int64
}

type wholeLoc struct {
	r   io.ReaderAt
	off int64
}

type chunkLoc struct {
	r      io.ReaderAt
	off    int64 // where the chunk's data starts in its volume
	size   int64
	digest digest.Digest
	part   int
	label  string // the volume, for messages
}

// openSetInPlace indexes every (uncompressed) volume of a set and checks
// that each holds exactly what its index says and that the chunks of
// every split blob join up.
func openSetInPlace(ctx context.Context, vols []volumeFile, label string) (*setFS, []io.Closer, error) {
	s := &setFS{tree: newTree(label), whole: map[*entry]wholeLoc{}, chunks: map[*entry][]chunkLoc{}, where: map[string]string{}}
	var closers []io.Closer
	fail := func(err error) (*setFS, []io.Closer, error) {
		for _, c := range closers {
			c.Close()
		}
		return nil, nil, err
	}
	type split struct {
		size  int64
		parts []chunkLoc
		first string
	}
	splits := map[digest.Digest]*split{}
	for _, v := range vols {
		f, err := os.Open(v.path)
		if err != nil {
			return fail(err)
		}
		closers = append(closers, f)
		fi, err := f.Stat()
		if err != nil {
			return fail(err)
		}
		t, err := indexTar(ctx, f, fi.Size(), v.label())
		if err != nil {
			if ve, ok := firstLost(v, t); ok && errors.Is(err, io.ErrUnexpectedEOF) {
				err = lostAt(ve, err)
			}
			return fail(err)
		}
		listed := map[string]bool{volumeIndexName: true}
		for _, ve := range v.idx.Entries {
			listed[ve.Name] = true
			e := t.entry(ve.Name)
			if e == nil || e.kind != kindFile {
				return fail(lostAt(ve, fmt.Errorf("%s: %q, listed in its index, is missing: the volume is truncated or was altered: %w", v.label(), ve.Name, io.ErrUnexpectedEOF)))
			}
			if e.size != ve.Size {
				return fail(fmt.Errorf("%s: %q is %d bytes, its index says %d: %w", v.label(), ve.Name, e.size, ve.Size, layout.ErrSizeMismatch))
			}
			if !ve.chunk() {
				if was, ok := s.where[ve.Name]; ok {
					return fail(fmt.Errorf("%s: %w: %q is also in %s", v.label(), layout.ErrInvalid, ve.Name, was))
				}
				ne := &entry{name: ve.Name, kind: kindFile, size: ve.Size}
				if err := s.add(ne, notSame); err != nil {
					return fail(err)
				}
				s.whole[ne] = wholeLoc{r: f, off: e.off}
				s.where[ve.Name] = v.label()
				continue
			}
			_, part, _ := parseChunkName(ve.Name)
			sp := splits[ve.Blob]
			if sp == nil {
				sp = &split{size: ve.BlobSize, first: v.label()}
				splits[ve.Blob] = sp
			}
			if sp.size != ve.BlobSize {
				return fail(fmt.Errorf("%s: %w: blob %s is %d bytes here and %d bytes in %s", v.label(), layout.ErrInvalid, ve.Blob, ve.BlobSize, sp.size, sp.first))
			}
			sp.parts = append(sp.parts, chunkLoc{r: f, off: e.off, size: ve.Size, digest: ve.Digest, part: part, label: v.label()})
			if len(sp.parts) != part {
				return fail(fmt.Errorf("%s: %w: chunk %d of blob %s comes after chunk %d", v.label(), layout.ErrInvalid, part, ve.Blob, len(sp.parts)-1))
			}
			var at int64
			for _, c := range sp.parts[:part-1] {
				at += c.size
			}
			if at != ve.Offset {
				return fail(fmt.Errorf("%s: %w: chunk %d of blob %s starts at %d, the chunks before it end at %d", v.label(), layout.ErrInvalid, part, ve.Blob, ve.Offset, at))
			}
		}
		var extra []string
		eachFile(t.root, func(e *entry) {
			if !listed[e.name] {
				extra = append(extra, e.name)
			}
		})
		if len(extra) > 0 {
			sort.Strings(extra)
			return fail(fmt.Errorf("%s: %w: %q is not in the volume's index", v.label(), layout.ErrUnsafe, extra[0]))
		}
	}
	for _, b := range slices.Sorted(maps.Keys(splits)) {
		sp := splits[b]
		var sum int64
		for _, c := range sp.parts {
			sum += c.size
		}
		if sum != sp.size {
			return fail(fmt.Errorf("%s: %w: the chunks of blob %s add up to %d of its %d bytes (last chunk %d, in %s)", label, io.ErrUnexpectedEOF, b, sum, sp.size, len(sp.parts), sp.parts[len(sp.parts)-1].label))
		}
		name := blobName(b)
		if was, ok := s.where[name]; ok {
			return fail(fmt.Errorf("%s: %w: blob %s is both whole in %s and in chunks", label, layout.ErrInvalid, b, was))
		}
		ne := &entry{name: name, kind: kindFile, size: sp.size}
		if err := s.add(ne, notSame); err != nil {
			return fail(err)
		}
		s.chunks[ne] = sp.parts
		var in []string
		for _, c := range sp.parts {
			in = append(in, fmt.Sprintf("chunk %d in %s", c.part, c.label))
		}
		s.where[name] = strings.Join(in, ", ")
	}
	return s, closers, nil
}

func eachFile(n *node, fn func(*entry)) {
	for _, c := range n.kids {
		if c.e.kind != kindDir {
			fn(c.e)
		}
		eachFile(c, fn)
	}
}

// Open implements fs.FS.
func (s *setFS) Open(name string) (fs.File, error) {
	e, dir, err := s.openCheck(name)
	if err != nil || dir != nil {
		return dir, err
	}
	if l, ok := s.whole[e]; ok {
		return &sectionFile{e: e, SectionReader: io.NewSectionReader(l.r, l.off, e.size)}, nil
	}
	return &chunkedFile{e: e, chunks: s.chunks[e], hashed: &s.hashed}, nil
}

// chunkedFile reads a split blob across its volumes. Each chunk read from
// its first byte to its last is checked against its own digest, so a bad
// copy is named by the volume that holds it; the blob as a whole is
// checked by whoever reads it, as every blob is.
type chunkedFile struct {
	e      *entry
	chunks []chunkLoc
	pos    int64
	// The chunk being read in order from its start, and its hash so far.
	cur   int
	h     digest.Digester
	hpos  int64
	valid bool
	// vr, given by HashedBy, is the blob's verifier reading this file:
	// the first chunk is a prefix of the blob, so its digest is vr's
	// running hash at the chunk's end, and it is not hashed here too.
	// firstDue: the first chunk was read whole, unchecked yet.
	vr       *layout.VerifyReader
	firstDue bool
	bad      error         // chunk 1 found corrupt at a Seek: every read fails
	hashed   *atomic.Int64 // the set's count of chunk bytes hashed here
}

func (f *chunkedFile) Stat() (fs.FileInfo, error) { return entryInfo{f.e}, nil }
func (f *chunkedFile) Close() error               { return nil }

// HashedBy implements layout.PrefixHashed. It counts only before the
// first read (the verifier must see every byte from the start) and for
// a verifier of the chunks' own algorithm: a sha512 blob's running hash
// is no sha256 of its first chunk.
func (f *chunkedFile) HashedBy(vr *layout.VerifyReader) {
	if vr == nil || f.pos != 0 || f.hpos != 0 {
		return
	}
	if d, _ := vr.SoFar(); d.Algorithm() == chunkAlg {
		f.vr = vr
	}
}

// checkFirst compares the first chunk with its digest, at the first read
// after its last byte went out. A verifier reading this file directly
// has hashed exactly that chunk by then (it hashes what a read returned
// before it reads again). One that has not (a buffer or a read-ahead
// between the two, a verifier of some other reader) cannot stand for
// the chunk's hash, so the chunk is read again from its volume and
// hashed here: it is checked, and named, either way.
func (f *chunkedFile) checkFirst() error {
	c := f.chunks[0]
	f.firstDue = false
	got, n := f.vr.SoFar()
	if n != c.size {
		h := chunkAlg.Digester()
		if _, err := layout.CopyBuffer(h.Hash(), io.NewSectionReader(c.r, c.off, c.size)); err != nil {
			return fmt.Errorf("%s: chunk %d of blob %s: %w", c.label, c.part, f.e.name, err)
		}
		f.hashed.Add(c.size)
		got = h.Digest()
	}
	if got != c.digest {
		return fmt.Errorf("%s: chunk %d of %s is corrupt (copy that volume again): %w", c.label, c.part, f.e.name, &layout.MismatchError{Want: c.digest, Got: got})
	}
	return nil
}

func (f *chunkedFile) Read(b []byte) (int, error) {
	if f.bad != nil {
		return 0, f.bad
	}
	if f.firstDue {
		if err := f.checkFirst(); err != nil {
			return 0, err
		}
	}
	if f.pos >= f.e.size {
		return 0, io.EOF
	}
	i, start := 0, int64(0)
	for start+f.chunks[i].size <= f.pos {
		start += f.chunks[i].size
		i++
	}
	c := f.chunks[i]
	in := f.pos - start
	if in == 0 {
		f.cur, f.h, f.hpos, f.valid = i, chunkAlg.Digester(), 0, true
	} else if !f.valid || f.cur != i || f.hpos != in {
		f.valid = false
	}
	byVR := i == 0 && f.vr != nil // read in order from 0: vr saw it all
	if rest := c.size - in; int64(len(b)) > rest {
		b = b[:rest]
	}
	n, err := c.r.ReadAt(b, c.off+in)
	if err == io.EOF && int64(n) == int64(len(b)) {
		err = nil
	}
	if f.valid && !byVR {
		f.h.Hash().Write(b[:n])
		f.hashed.Add(int64(n))
	}
	if f.valid {
		f.hpos += int64(n)
	}
	f.pos += int64(n)
	if err != nil {
		return n, fmt.Errorf("%s: chunk %d of blob %s: %w", c.label, c.part, f.e.name, err)
	}
	if f.valid && f.hpos == c.size && byVR {
		f.valid, f.firstDue = false, true // vr has it once this read is in
	} else if f.valid && f.hpos == c.size {
		f.valid = false
		if got := f.h.Digest(); got != c.digest {
			return n, fmt.Errorf("%s: chunk %d of %s is corrupt (copy that volume again): %w", c.label, c.part, f.e.name, &layout.MismatchError{Want: c.digest, Got: got})
		}
	}
	return n, nil
}

// Seek lets docker-format readers hash a member twice.
func (f *chunkedFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += f.pos
	case io.SeekEnd:
		off += f.e.size
	}
	if off < 0 {
		return 0, errors.New("seek: negative position")
	}
	if f.vr != nil {
		// Reads out of order from here: each chunk hashes itself, and
		// the first, if read whole already, is checked now; a bad one
		// fails the next read.
		if f.firstDue {
			f.bad = f.checkFirst()
		}
		f.vr, f.valid = nil, false
	}
	f.pos = off
	return off, nil
}

// openVolumeSet opens the set that dir holds, or that the volume first
// belongs to, as one Source.
func openVolumeSet(ctx context.Context, dir string, first *volumeFile, opts OpenOptions) (*Source, error) {
	vols, err := findVolumes(dir, first)
	var mv *missingVolumes
	if errors.As(err, &mv) && opts.Prompt != nil && !opts.InPlace {
		label := fmt.Sprintf("%s (volume set %s, %d volumes, fed one at a time)", mv.first.path, mv.set, mv.m)
		return openSetStream(ctx, mv.m, mv.feed(ctx, opts.Prompt), label, opts)
	}
	if err != nil {
		return nil, err
	}
	label := fmt.Sprintf("%s (volume set %s, %d volumes)", vols[0].path, vols[0].idx.Set, len(vols))
	for _, v := range vols {
		if v.comp != None && opts.InPlace {
			return nil, setNotInPlace(vols)
		}
		if v.comp != None || opts.Stream {
			return openSetStream(ctx, len(vols), func(n int) (volumeFile, error) { return vols[n-1], nil }, label, opts)
		}
	}
	sfs, closers, err := openSetInPlace(ctx, vols, label)
	if err != nil {
		if _, cut := err.(*cutVolume); cut {
			intact, cs := intactEntries(ctx, vols, label)
			err = withImages(ctx, err, intact, label)
			for _, c := range cs {
				c.Close()
			}
		}
		return nil, err
	}
	src := &Source{Mode: fmt.Sprintf("volume set of %d (read in place)", len(vols)), closers: closers, volumes: sfs.where}
	if err := src.load(ctx, layout.NewFS(sfs, label), hashMember); err != nil {
		src.Close()
		return nil, err
	}
	return src, nil
}

// openSetStream reads a set in one pass, volume by volume in order, as
// a compressed volume or a drive fed one disc at a time must be read.
// With a transaction every blob is staged in the destination, a split one
// as it arrives chunk by chunk, so nothing is joined on disk and nothing
// is visible until the import commits.
func openSetStream(ctx context.Context, m int, next func(int) (volumeFile, error), label string, opts OpenOptions) (*Source, error) {
	sfs, err := readSetStream(ctx, m, next, label, opts.Stage)
	if err != nil {
		return nil, err
	}
	return streamSource(ctx, sfs, label, fmt.Sprintf("volume set of %d (streamed)", m))
}

// joiner is a split blob in flight: its chunks go into a pipe that one
// ingest reads as the whole blob.
type joiner struct {
	e    *entry
	pw   *io.PipeWriter
	done chan error
	part int
	at   int64 // bytes of the blob its chunks so far carried
}

func (s *streamFS) startJoin(ctx context.Context, blob digest.Digest, size int64, txn *layout.Txn) *joiner {
	pr, pw := io.Pipe()
	j := &joiner{e: &entry{name: blobName(blob), kind: kindFile, size: size}, pw: pw, done: make(chan error, 1)}
	go func() {
		err := s.ingest(ctx, j.e, bufio.NewReaderSize(pr, 64<<10), txn)
		if err == nil && j.e.size != size {
			err = fmt.Errorf("blob %s: %d bytes, its chunks promise %d: %w", blob, j.e.size, size, layout.ErrSizeMismatch)
		}
		pr.CloseWithError(err)
		j.done <- err
	}()
	return j
}

func readSetStream(ctx context.Context, m int, next func(int) (volumeFile, error), label string, txn *layout.Txn) (*streamFS, error) {
	s := &streamFS{tree: newTree(label)}
	if txn != nil {
		s.root = txn.Root()
	}
	var j *joiner
	defer func() {
		if j != nil {
			j.pw.CloseWithError(context.Canceled)
			<-j.done
		}
	}()
	same := func(a, b *entry) (bool, error) { return false, nil }
	for n := 1; n <= m; n++ {
		v, err := next(n)
		if err != nil {
			return nil, err
		}
		if err := s.readVolume(ctx, v, txn, &j, same); err != nil {
			return nil, withImages(ctx, err, s, label)
		}
	}
	if j != nil {
		return nil, fmt.Errorf("%s: %w: blob %s ends after chunk %d, short of its %d bytes", label, io.ErrUnexpectedEOF, j.e.name, j.part, j.e.size)
	}
	return s, nil
}

// readVolume streams one volume: its index, then exactly the entries it
// lists, in that order.
func (s *streamFS) readVolume(ctx context.Context, v volumeFile, txn *layout.Txn, jp **joiner, same func(a, b *entry) (bool, error)) error {
	f, err := os.Open(v.path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	zr, err := decompress(br, detect(br))
	if err != nil {
		return fmt.Errorf("%s: %w", v.label(), err)
	}
	defer zr.Close()
	tr := tar.NewReader(ctxReader{ctx, zr})
	idx, _, err := readVolumeHead(tr, v.label(), None)
	if err != nil {
		return fmt.Errorf("%s: its index cannot be read again (%v): was the volume changed or truncated while read?", v.label(), err)
	}
	if idx.Set != v.idx.Set || idx.Volume != v.idx.Volume {
		return fmt.Errorf("%s: %w: the file changed while read: it is now volume %d of set %s", v.label(), layout.ErrInvalid, idx.Volume, idx.Set)
	}
	truncated := func(what string, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return fmt.Errorf("%s: %s: %v: the volume is truncated or not what its index says (copy it again): %w", v.label(), what, err, io.ErrUnexpectedEOF)
	}
	lost := func(ve volumeEntry, what string, err error) error {
		err = truncated(what, err)
		if ctx.Err() != nil {
			return err
		}
		return lostAt(ve, err)
	}
	body := bufio.NewReaderSize(nil, 64<<10)
	for _, ve := range v.idx.Entries {
		h, err := tr.Next()
		if err != nil {
			if err == io.EOF {
				err = errors.New("the tar ends here")
			}
			return lost(ve, fmt.Sprintf("%q, listed in its index, is missing", ve.Name), err)
		}
		if h.Name != ve.Name || h.Size != ve.Size || h.Typeflag != tar.TypeReg {
			return fmt.Errorf("%s: %w: entry %q (%d bytes) where its index lists %q (%d bytes)", v.label(), layout.ErrInvalid, h.Name, h.Size, ve.Name, ve.Size)
		}
		j := *jp
		if !ve.chunk() {
			if j != nil {
				return fmt.Errorf("%s: %w: %q comes before the last chunk of blob %s", v.label(), layout.ErrInvalid, ve.Name, j.e.name)
			}
			e := &entry{name: ve.Name, kind: kindFile, size: ve.Size}
			body.Reset(tr)
			if err := s.ingest(ctx, e, body, txn); err != nil {
				if errors.Is(err, io.ErrUnexpectedEOF) {
					return lost(ve, fmt.Sprintf("%q", ve.Name), err)
				}
				return fmt.Errorf("%s: %w", v.label(), err)
			}
			s.blame(e, v.label())
			if err := s.add(e, same); err != nil {
				return fmt.Errorf("%s: %w", v.label(), err)
			}
			continue
		}
		_, part, _ := parseChunkName(ve.Name)
		if part == 1 {
			if j != nil {
				return fmt.Errorf("%s: %w: blob %s begins before blob %s ends", v.label(), layout.ErrInvalid, ve.Blob, j.e.name)
			}
			if ve.Offset != 0 {
				return fmt.Errorf("%s: %w: chunk 1 of blob %s starts at %d", v.label(), layout.ErrInvalid, ve.Blob, ve.Offset)
			}
			j = s.startJoin(ctx, ve.Blob, ve.BlobSize, txn)
			*jp = j
		} else if j == nil || j.e.name != blobName(ve.Blob) || j.part+1 != part || j.e.size != ve.BlobSize {
			return fmt.Errorf("%s: %w: chunk %d of blob %s is out of place (a volume of the set may be out of order or from elsewhere)", v.label(), layout.ErrInvalid, part, ve.Blob)
		} else if ve.Offset != j.at {
			return fmt.Errorf("%s: %w: chunk %d of blob %s starts at %d, the chunks before it end at %d", v.label(), layout.ErrInvalid, part, ve.Blob, ve.Offset, j.at)
		}
		hd := chunkAlg.Digester()
		n, err := io.Copy(j.pw, io.TeeReader(io.LimitReader(tr, ve.Size), hd.Hash()))
		if err != nil || n != ve.Size {
			j.pw.CloseWithError(errors.New("chunk cut short"))
			if jerr := <-j.done; jerr != nil && err == nil {
				*jp = nil
				return fmt.Errorf("%s: %w", v.label(), jerr)
			}
			*jp = nil
			return lost(ve, fmt.Sprintf("chunk %d of blob %s", part, ve.Blob), err)
		}
		if got := hd.Digest(); got != ve.Digest {
			j.pw.CloseWithError(errors.New("corrupt chunk"))
			<-j.done
			*jp = nil
			return fmt.Errorf("%s: chunk %d of %s is corrupt (copy that volume again): %w", v.label(), part, j.e.name, &layout.MismatchError{Want: ve.Digest, Got: got})
		}
		j.part, j.at = part, j.at+ve.Size
		if ve.Offset+ve.Size == ve.BlobSize {
			j.pw.Close()
			err := <-j.done
			*jp = nil
			if err != nil {
				return fmt.Errorf("%s: %w", v.label(), err)
			}
			s.blame(j.e, v.label())
			if err := s.add(j.e, same); err != nil {
				return fmt.Errorf("%s: %w", v.label(), err)
			}
		}
	}
	h, err := tr.Next()
	switch {
	case err == nil:
		return fmt.Errorf("%s: %w: %q is not in the volume's index", v.label(), layout.ErrUnsafe, h.Name)
	case err != io.EOF:
		return truncated("after its last entry", err)
	}
	return nil
}

// blame names the volume in the problem a verify recorded for e.
func (s *streamFS) blame(e *entry, volume string) {
	if e.err == nil || len(s.problems) == 0 || s.problems[len(s.problems)-1] != e.err {
		return
	}
	e.err = fmt.Errorf("%s: %w", volume, e.err)
	s.problems[len(s.problems)-1] = e.err
}

// notSame refuses a member seen twice: a set names each file once.
func notSame(*entry, *entry) (bool, error) { return false, nil }

// singleVolume finds the one volume of a set of one in dir: the only
// file named like a volume, numbered 001.
func singleVolume(dir string) (string, bool) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return "", false
	}
	var found []string
	for _, de := range des {
		if de.Type().IsRegular() && volumeNameRE.MatchString(de.Name()) {
			found = append(found, de.Name())
		}
	}
	if len(found) != 1 || !strings.Contains(found[0], ".001.") {
		return "", false
	}
	return filepath.Join(dir, found[0]), true
}
