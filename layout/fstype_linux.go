package layout

import (
	"os"
	"path/filepath"
	"syscall"
)

// Magic numbers statfs(2) reports for the kernel's own drivers.
const (
	msdosMagic = 0x4d44     // vfat and msdos alike
	exfatMagic = 0x2011bab0 // the kernel's exfat
	fuseMagic  = 0x65735546 // every FUSE mount, fuse and fuseblk alike
)

// DetectFS tells what file system dir is on: the kernel's FAT and exFAT
// by statfs's magic, FUSE mounts of them by the mount table's type, and a
// bare fuseblk by its source's boot sector. It never fails: what cannot
// be told is FSOther, and the mount table still names it for messages.
func DetectFS(dir string) FileSystem {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return FileSystem{}
	}
	fs := FileSystem{}
	var dev string
	var s syscall.Stat_t
	if syscall.Stat(dir, &s) == nil {
		dev = linuxDev(uint64(s.Dev))
	}
	path, err := filepath.Abs(dir)
	if err == nil {
		if p, err := filepath.EvalSymlinks(path); err == nil {
			path = p
		}
	}
	var m mountEntry
	var found bool
	if f, err := os.Open("/proc/self/mountinfo"); err == nil {
		m, found = findMount(parseMountinfo(f), dev, path)
		f.Close()
	}
	if found {
		fs.Type, fs.Source, fs.Mount = m.fstype, m.source, m.mount
	}
	fs.Kind = kindOf(int64(st.Type), fs.Type, fs.Source)
	return fs
}

// kindOf decides from statfs's magic and, for FUSE, the mount table.
func kindOf(magic int64, fstype, source string) FSKind {
	switch magic {
	case msdosMagic:
		return FSFAT
	case exfatMagic:
		return FSExFAT
	case fuseMagic:
		if k, ok := kindOfType(fstype); ok {
			return k
		}
		k, _ := probeBootSector(source)
		return k
	}
	return FSOther
}

// linuxDev splits a device number the way the kernel's new_encode_dev
// packs it, and writes it as mountinfo does.
func linuxDev(d uint64) string {
	major := (d>>8)&0xfff | (d>>32)&^0xfff
	minor := d&0xff | (d>>12)&^0xff
	return devString(major, minor)
}
