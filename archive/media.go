package archive

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"unicode/utf16"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// VolumeSizeAuto, as WriteOptions.VolumeSize, lets the destination's file
// system choose: volumes of FAT's largest file on FAT, one archive
// anywhere else (exFAT included: it has no 4 GiB limit).
const VolumeSizeAuto = -1

// medium is the destination of an archive as ferry sees it before the
// first byte: its file system, the largest file that takes, and what it
// has free. Air-gap media are mostly FAT32 sticks, whose drivers may cut
// a file at 4 GiB silently, so ferry keeps every file under the limit
// itself and says so before it starts rather than after gigabytes.
type medium struct {
	dir     string
	fs      layout.FileSystem
	maxFile int64 // 0: no limit
}

// detectMedium looks at the file system dest's directory is on.
func detectMedium(dest string) *medium {
	dir := filepath.Dir(dest)
	fs := layout.DetectFS(dir)
	return &medium{dir: dir, fs: fs, maxFile: fs.MaxFile()}
}

// autoVolumeSize is what --volume-size auto becomes here, and the note
// that says what was chosen and why.
func (m *medium) autoVolumeSize() (int64, string) {
	if m.maxFile > 0 {
		return m.maxFile, fmt.Sprintf("--volume-size auto: %s is %s, which holds no file of 4 GiB or more: volumes of at most %d bytes (fat32)", m.dir, m.fs, m.maxFile)
	}
	why := "no file size limit ferry knows of"
	if m.fs.Kind == layout.FSExFAT {
		why = "exFAT has no 4 GiB limit"
	}
	what := m.fs.String()
	return 0, fmt.Sprintf("--volume-size auto: %s is %s (%s): one archive, not cut", m.dir, what, why)
}

// checkFile refuses a file the file system cannot hold, before it is
// written. exact says size is the file's size; otherwise it is a bound (a
// compressed file, planned as if nothing compressed).
func (m *medium) checkFile(name string, size int64, exact bool) error {
	if m.maxFile == 0 || size <= m.maxFile {
		return nil
	}
	what := fmt.Sprintf("would be %d bytes", size)
	if !exact {
		what = fmt.Sprintf("may reach %d bytes (compressed output is planned as if nothing compressed)", size)
	}
	return fmt.Errorf("%s %s, and %s holds no file larger than %d bytes (4 GiB − 1): %w; use --volume-size fat32 to cut it into volumes that fit (or --volume-size auto)",
		name, what, m.fs, m.maxFile, layout.ErrTooLarge)
}

// checkRoom refuses a write the file system has no room for, before the
// first byte. exact says need is what the files take; otherwise it is
// the least they take (compressed output: its compressed layers).
func (m *medium) checkRoom(what string, need int64, exact bool) error {
	free, ok := layout.FreeSpace(m.dir)
	if !ok || free >= need {
		return nil
	}
	at := "needs"
	if strings.HasPrefix(what, "the ") {
		at = "need"
	}
	if !exact {
		at += " at least"
	}
	return fmt.Errorf("%w on %s, %s: %s %s %d bytes (%s), %d bytes (%s) are free",
		layout.ErrNoSpace, m.dir, m.fs, what, at, need, SizeWords(need), free, SizeWords(free))
}

// capped returns w that refuses to grow past the file system's limit: a
// driver that would drop bytes past 4 GiB without an error never gets
// them, whatever a plan got wrong.
func (m *medium) capped(w io.Writer, name string, written int64) io.Writer {
	if m == nil || m.maxFile == 0 {
		return w
	}
	return &capWriter{w: w, left: m.maxFile - written, name: name, m: m}
}

type capWriter struct {
	w    io.Writer
	left int64
	name string
	m    *medium
}

func (c *capWriter) Write(b []byte) (int, error) {
	if int64(len(b)) > c.left {
		return 0, fmt.Errorf("%s reached %s's largest file (%d bytes): %w; use --volume-size fat32", c.name, c.m.fs, c.m.maxFile, layout.ErrTooLarge)
	}
	n, err := c.w.Write(b)
	c.left -= int64(n)
	return n, err
}

// incompressible is the least a compressed archive of these blobs takes:
// its layers that are compressed already.
func incompressible(blobs []ocispec.Descriptor) int64 {
	var n int64
	for _, d := range blobs {
		mt := d.MediaType
		if strings.HasSuffix(mt, "+gzip") || strings.HasSuffix(mt, "+zstd") || strings.HasSuffix(mt, ".gzip") {
			n += d.Size
		}
	}
	return n
}

// SizeWords prints bytes in binary units, as docker and du -h do: the one
// way ferry words a size, in errors and in output alike.
func SizeWords(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// maxNameUnits is the longest file name FAT's long names and exFAT take
// (UTF-16 code units) and most other file systems (bytes).
const maxNameUnits = 255

// portableProblem says why name (one path element) is not a name every
// file system takes, or "" when it is: FAT and exFAT refuse control
// characters and " * / : < > ? \ |, drop a trailing dot or space (so the
// file is not found under its name again), and Windows reserves device
// names with any extension.
func portableProblem(name string) string {
	if n := len(utf16.Encode([]rune(name))); n > maxNameUnits || len(name) > maxNameUnits {
		return fmt.Sprintf("it is longer than %d characters", maxNameUnits)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`"*/:<>?\|`, r) {
			return fmt.Sprintf("it has %q, which FAT, exFAT and Windows refuse", r)
		}
	}
	if strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") {
		return "it ends in a dot or a space, which FAT and Windows drop"
	}
	stem, _, _ := strings.Cut(name, ".")
	switch s := strings.ToUpper(strings.TrimRight(stem, " ")); s {
	case "CON", "PRN", "AUX", "NUL":
		return fmt.Sprintf("%s is a device name Windows reserves", s)
	default:
		if len(s) == 4 && (strings.HasPrefix(s, "COM") || strings.HasPrefix(s, "LPT")) && s[3] >= '0' && s[3] <= '9' {
			return fmt.Sprintf("%s is a device name Windows reserves", s)
		}
	}
	return ""
}

// portableName suggests a name for one that is not portable: the same
// with every refused character as '_' and trailing dots and spaces gone.
func portableName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`"*/:<>?\|`, r) {
			r = '_'
		}
		b.WriteRune(r)
	}
	s := strings.TrimRight(b.String(), ". ")
	if portableProblem(s) != "" {
		return "" // reserved or too long: no simple fix to offer
	}
	return s
}

// checkNames looks at the file names a write of dest will use: the
// user's own, the volumes' and the temp files' that ferry derives from
// it. A name a file system refuses is refused before the first byte on
// FAT and exFAT, and noted elsewhere (the archive may be copied to a
// stick later). derived is the longest name ferry makes of dest.
func (m *medium) checkNames(dest string, derived []string) (string, error) {
	base := filepath.Base(dest)
	for _, n := range derived {
		if len(utf16.Encode([]rune(n))) > maxNameUnits || len(n) > maxNameUnits {
			return "", fmt.Errorf("%s: the name is too long: ferry writes it through %s (%d characters), and file systems take %d; choose a name of at most %d characters",
				dest, n, len(n), maxNameUnits, maxNameUnits-(len(n)-len(base)))
		}
	}
	why := portableProblem(base)
	if why == "" {
		return "", nil
	}
	advice := "choose another name"
	if s := portableName(base); s != "" {
		advice = fmt.Sprintf("name it %s", s)
	}
	if m.fs.Kind == layout.FSFAT || m.fs.Kind == layout.FSExFAT {
		return "", fmt.Errorf("%s: the name %q cannot be written to %s: %s; %s", dest, base, m.fs, why, advice)
	}
	return fmt.Sprintf("the name %q will not copy to a FAT or exFAT stick or to Windows: %s; %s to carry it on one", base, why, advice), nil
}

// CheckName holds another file ferry writes for carrying (a have-list,
// written through the same "."+NAME+".tmp-…" temp file as an archive) to
// the name rule of archive writes: a name FAT or exFAT refuses is refused
// there before anything is read, and noted elsewhere, since the file is
// bound for a stick.
func CheckName(dest string) (note string, err error) {
	return detectMedium(dest).checkNames(dest, derivedNames(dest, 0))
}

// derivedNames are the longest file names a write of dest makes: its
// temp file, and with volumes the last volume's and its temp file's.
func derivedNames(dest string, volumes int) []string {
	out := []string{filepath.Base(dest), tempPrefix(dest) + strings.Repeat("0", 16)}
	if volumes > 0 {
		v := filepath.Base(volumePath(dest, volumes, volumes))
		out = append(out, v, tempPrefix(v)+strings.Repeat("0", 16))
	}
	return out
}

// prepareMedium looks at dest's file system before anything is planned:
// it resolves --volume-size auto and checks the names a write of dest
// will use. The notes say what was chosen or what will not copy.
func prepareMedium(dest string, opts *WriteOptions) (*medium, []string, error) {
	detect := detectMedium
	if opts.medium != nil {
		detect = opts.medium
	}
	m := detect(dest)
	var notes []string
	if opts.VolumeSize == VolumeSizeAuto {
		n, note := m.autoVolumeSize()
		opts.VolumeSize = n
		notes = append(notes, note)
	}
	vols := 0
	if opts.VolumeSize > 0 {
		vols = 999 // three digits, as every set below a thousand volumes
	}
	note, err := m.checkNames(dest, derivedNames(dest, vols))
	if err != nil {
		return nil, nil, err
	}
	if note != "" {
		notes = append(notes, note)
	}
	return m, notes, nil
}

// checkArchive checks a single archive against the medium before its
// first byte: its size (exact for a plain tar, a bound when compressed)
// against the largest file, and the room it needs.
func (m *medium) checkArchive(dest string, comp Compression, format Format, p *plan, res *Result) error {
	head, err := headFiles(format, p, res)
	if err != nil {
		return err
	}
	_, size := volumeItems(head, p)
	return m.checkSizes(dest, []string{dest}, []int64{size}, comp, p)
}

// checkSet checks the files of a volume set the same way, all of them
// before the first: planned sizes of plain volumes are exact.
func (m *medium) checkSet(dest string, sizes []int64, comp Compression, p *plan) error {
	names := make([]string, len(sizes))
	for i := range sizes {
		names[i] = volumePath(dest, i+1, len(sizes))
	}
	what := names[0]
	if len(sizes) > 1 {
		what = fmt.Sprintf("the %d volumes of %s", len(sizes), dest)
	}
	return m.checkSizes(what, names, sizes, comp, p)
}

func (m *medium) checkSizes(what string, names []string, sizes []int64, comp Compression, p *plan) error {
	var total int64
	for i, n := range sizes {
		name := names[i]
		if comp != None {
			n = compressedBound(n)
		}
		if err := m.checkFile(name, n, comp == None); err != nil {
			return err
		}
		total += sizes[i]
	}
	if comp != None {
		total = incompressible(append(append([]ocispec.Descriptor(nil), p.meta...), p.layers...))
	}
	return m.checkRoom(what, total, comp == None)
}

// compressedBound is the most a compressed tar of n bytes takes: stored
// blocks add at most 1/128, and frames a few KiB (usableVolume inverts it).
func compressedBound(n int64) int64 { return (n+127)/128*129 + 4096 }
