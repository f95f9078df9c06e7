package layout

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FSKind is what a file system's limits make of a destination.
type FSKind int

const (
	// FSOther is any file system ferry knows no file-size limit of.
	FSOther FSKind = iota
	// FSFAT is FAT12, FAT16 or FAT32: a file's size is a 32-bit field, so
	// no file reaches 4 GiB, and names are restricted (see PortableName).
	FSFAT
	// FSExFAT has FAT's name rules but 64-bit file sizes.
	FSExFAT
)

// FATMaxFile is the largest file FAT can hold: its directory entry keeps
// the size in 32 bits.
const FATMaxFile = 4<<30 - 1

// FileSystem is what ferry learned about the file system a directory is
// on, and how: a USB stick is worked with FAT32 more often than not, and
// a FUSE driver for it (fusefat) truncates a file at 4 GiB without an
// error, so ferry has to know before it writes.
type FileSystem struct {
	Kind   FSKind
	Type   string // as the mount table names it (vfat, fuse.fusefat, fuseblk, ext4), or the statfs magic
	Source string // the mount's source (a device, an image, or the driver's name)
	Mount  string // where it is mounted
}

// MaxFile is the largest file the file system holds; 0 means no limit
// ferry knows of.
func (f FileSystem) MaxFile() int64 {
	if f.Kind == FSFAT {
		return FATMaxFile
	}
	return 0
}

// String names the file system for messages: FAT (fuse.fusefat), ext4.
func (f FileSystem) String() string {
	what := map[FSKind]string{FSFAT: "FAT", FSExFAT: "exFAT"}[f.Kind]
	switch {
	case what == "":
		what = f.Type
	case f.Type != "" && !strings.EqualFold(f.Type, what):
		what += " (" + f.Type + ")"
	}
	if what == "" {
		what = "an unknown file system"
	}
	return what
}

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	dev    string // major:minor
	mount  string
	fstype string
	source string
}

// parseMountinfo reads the kernel's mount table (proc(5), mountinfo):
// fields up to a lone "-" are the mount's, then type, source and options.
// Paths have space, tab, newline and backslash escaped in octal.
func parseMountinfo(r io.Reader) []mountEntry {
	var out []mountEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || len(f) < sep+3 {
			continue
		}
		out = append(out, mountEntry{dev: f[2], mount: unescapeMount(f[4]), fstype: f[sep+1], source: unescapeMount(f[sep+2])})
	}
	return out
}

// unescapeMount undoes the kernel's \ooo escapes in a mount table field.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// findMount picks the mount that holds path: the one whose device is dev
// (the same superblock, whatever bind mounts or symlinks lead there),
// else the longest mount point above path. A later line of the same
// mount point hides an earlier one, as the kernel stacks them.
func findMount(entries []mountEntry, dev, path string) (mountEntry, bool) {
	best, found := mountEntry{}, false
	for _, e := range entries {
		if dev != "" && e.dev == dev && (!found || best.dev != dev || under(path, e.mount) && len(e.mount) >= len(best.mount)) {
			best, found = e, true
		}
	}
	if found {
		return best, true
	}
	for _, e := range entries {
		if under(path, e.mount) && (!found || len(e.mount) >= len(best.mount)) {
			best, found = e, true
		}
	}
	return best, found
}

func under(path, mount string) bool {
	return mount == "/" || path == mount || strings.HasPrefix(path, strings.TrimSuffix(mount, "/")+"/")
}

// kindOfType classifies a mount table type: the kernel's own drivers,
// and FUSE ones by their subtype (fuse.fusefat, fuse.exfat, fuseblk.X).
// A bare fuse or fuseblk says nothing; the source may (probeBootSector).
func kindOfType(t string) (FSKind, bool) {
	sub := strings.ToLower(t)
	for _, p := range []string{"fuseblk.", "fuse."} {
		sub = strings.TrimPrefix(sub, p)
	}
	switch sub {
	case "vfat", "msdos", "fat", "fat12", "fat16", "fat32", "umsdos", "fusefat", "dosfs":
		return FSFAT, true
	case "exfat", "fuse-exfat", "exfat-fuse":
		return FSExFAT, true
	case "fuse", "fuseblk":
		return FSOther, false
	}
	return FSOther, true
}

// probeBootSector reads the first sector of a FUSE mount's source, when
// it is a device or image ferry can read, and tells FAT and exFAT by the
// boot sector's signature: ntfs-3g and exfat-fuse both mount as fuseblk.
func probeBootSector(source string) (FSKind, bool) {
	if !filepath.IsAbs(source) {
		return FSOther, false
	}
	f, err := os.Open(source)
	if err != nil {
		return FSOther, false
	}
	defer f.Close()
	var b [512]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return FSOther, false
	}
	return bootSectorKind(b[:])
}

// bootSectorKind reads a volume boot record: exFAT names itself at byte
// 3; FAT32 puts its type label at 82, FAT12 and FAT16 at 54, and both end
// the sector with 55 AA.
func bootSectorKind(b []byte) (FSKind, bool) {
	if len(b) < 512 {
		return FSOther, false
	}
	if bytes.Equal(b[3:11], []byte("EXFAT   ")) {
		return FSExFAT, true
	}
	if b[510] != 0x55 || b[511] != 0xAA {
		return FSOther, false
	}
	if bytes.HasPrefix(b[82:90], []byte("FAT32")) || bytes.HasPrefix(b[54:62], []byte("FAT1")) || bytes.Equal(b[54:62], []byte("FAT     ")) {
		return FSFAT, true
	}
	if bytes.HasPrefix(b[3:11], []byte("NTFS")) {
		return FSOther, true
	}
	return FSOther, false
}

// devString is a device number as mountinfo writes it.
func devString(major, minor uint64) string { return fmt.Sprintf("%d:%d", major, minor) }
