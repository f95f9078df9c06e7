package layout

import (
	"os"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/internal/fattest"
)

// A mount table as /proc/self/mountinfo has it: a stick mounted by the
// kernel under a name with a space, one by fusefat, one by a bare
// fuseblk (exfat-fuse and ntfs-3g alike), and one mount over another.
const mountinfo = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 8:17 / /media/USB\040STICK rw,nosuid - vfat /dev/sdb1 rw,fmask=0022
31 22 0:40 / /tmp/fat/m rw,nosuid,nodev,relatime - fuse.fusefat fusefat rw,user_id=0,group_id=0
32 22 0:41 / /media/blk rw - fuseblk /dev/sdc1 rw,user_id=0
33 22 0:50 / /mnt rw - tmpfs tmpfs rw
34 33 0:51 / /mnt rw - exfat /dev/sdd1 rw
35 22 0:52 / /opt/data rw shared:9 master:3 - xfs /dev/sde1 rw
bad line
`

func TestParseMountinfo(t *testing.T) {
	es := parseMountinfo(strings.NewReader(mountinfo))
	if len(es) != 7 {
		t.Fatalf("%d entries: %+v", len(es), es)
	}
	if e := es[1]; e.mount != "/media/USB STICK" || e.fstype != "vfat" || e.source != "/dev/sdb1" || e.dev != "8:17" {
		t.Fatalf("escaped mount point: %+v", e)
	}
	if e := es[6]; e.fstype != "xfs" || e.source != "/dev/sde1" {
		t.Fatalf("optional fields before the separator: %+v", e)
	}
	for in, want := range map[string]string{`a\040b`: "a b", `a\011b\012`: "a\tb\n", `a\134b`: `a\b`, `a\9`: `a\9`, `a\`: `a\`} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescape %q = %q, want %q", in, got, want)
		}
	}
}

func TestFindMount(t *testing.T) {
	es := parseMountinfo(strings.NewReader(mountinfo))
	for _, c := range []struct{ dev, path, want string }{
		{"8:17", "/whatever/a symlink led here", "/media/USB STICK"}, // by device first
		{"", "/media/USB STICK/out", "/media/USB STICK"},
		{"", "/media/USB STICKER", "/"},
		{"", "/tmp/fat/m", "/tmp/fat/m"},
		{"", "/mnt/x", "/mnt"},
		{"9:9", "/opt/data/x", "/opt/data"}, // an unknown device falls back to the path
	} {
		m, ok := findMount(es, c.dev, c.path)
		if !ok || m.mount != c.want {
			t.Errorf("findMount(%q, %q) = %+v, want %s", c.dev, c.path, m, c.want)
		}
	}
	if m, _ := findMount(es, "", "/mnt/x"); m.fstype != "exfat" {
		t.Errorf("the mount stacked last on /mnt is not the one found: %+v", m)
	}
}

func TestKindOf(t *testing.T) {
	for _, c := range []struct {
		magic          int64
		fstype, source string
		want           FSKind
	}{
		{msdosMagic, "", "", FSFAT},
		{exfatMagic, "", "", FSExFAT},
		{0xef53, "ext4", "/dev/sda1", FSOther},
		{fuseMagic, "fuse.fusefat", "fusefat", FSFAT},
		{fuseMagic, "fuse.exfat", "/dev/sdb1", FSExFAT},
		{fuseMagic, "fuseblk.vfat", "/dev/sdb1", FSFAT},
		{fuseMagic, "fuse.sshfs", "host:/", FSOther},
		{fuseMagic, "fuseblk", "/nonexistent/device", FSOther},
		{fuseMagic, "fuseblk", "relative", FSOther},
		{0x01021994, "vfat", "", FSOther}, // tmpfs says so itself; the table's name is not trusted over it
	} {
		if got := kindOf(c.magic, c.fstype, c.source); got != c.want {
			t.Errorf("kindOf(%#x, %q, %q) = %v, want %v", c.magic, c.fstype, c.source, got, c.want)
		}
	}
}

// TestBootSectorOfARealImage: a bare fuseblk is told for FAT by its
// source's boot sector, here one mkfs.vfat -F 32 wrote.
func TestBootSectorOfARealImage(t *testing.T) {
	img := fattest.Image(t, fattest.Options{SizeMiB: 40})
	if got := kindOf(fuseMagic, "fuseblk", img); got != FSFAT {
		t.Fatalf("a FAT32 image as a fuseblk source: %v", got)
	}
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	sector := append([]byte(nil), b[:512]...)
	exfat := make([]byte, 512)
	copy(exfat[3:], "EXFAT   ")
	ntfs := make([]byte, 512)
	copy(ntfs[3:], "NTFS    ")
	ntfs[510], ntfs[511] = 0x55, 0xAA
	fat16 := make([]byte, 512)
	copy(fat16[54:], "FAT16   ")
	fat16[510], fat16[511] = 0x55, 0xAA
	unsigned := append([]byte(nil), sector...)
	unsigned[511] = 0
	for _, c := range []struct {
		name string
		b    []byte
		want FSKind
		ok   bool
	}{
		{"mkfs.vfat", sector, FSFAT, true},
		{"exfat", exfat, FSExFAT, true},
		{"ntfs", ntfs, FSOther, true},
		{"fat16", fat16, FSFAT, true},
		{"no signature", unsigned, FSOther, false},
		{"short", sector[:100], FSOther, false},
	} {
		if k, ok := bootSectorKind(c.b); k != c.want || ok != c.ok {
			t.Errorf("%s: %v %v", c.name, k, ok)
		}
	}
}
