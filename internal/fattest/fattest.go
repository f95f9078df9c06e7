// Package fattest mounts real FAT32 file systems for tests: an image made
// by mkfs.vfat -F 32 (dosfstools) and mounted by fusefat in user space,
// since this kind of machine's kernel has no vfat module but /dev/fuse
// works. What ferry detects on it is what it detects on a USB stick
// mounted by the same driver; nothing is simulated.
package fattest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var deps struct {
	once sync.Once
	err  error
}

// tools finds mkfs.vfat and fusefat, installing them first through
// scripts/fat-deps.sh when they are missing (it installs as root only).
func tools(t testing.TB) (mkfs, fusefat string) {
	t.Helper()
	find := func() (string, string) {
		m, _ := exec.LookPath("mkfs.vfat")
		for _, p := range []string{"/usr/sbin/mkfs.vfat", "/sbin/mkfs.vfat"} {
			if _, err := os.Stat(p); m == "" && err == nil {
				m = p
			}
		}
		f, _ := exec.LookPath("fusefat")
		return m, f
	}
	if mkfs, fusefat = find(); mkfs != "" && fusefat != "" {
		return mkfs, fusefat
	}
	deps.once.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "fat-deps.sh")
		if out, err := exec.Command(script).CombinedOutput(); err != nil {
			deps.err = fmt.Errorf("%s: %v: %s", script, err, out)
		}
	})
	if mkfs, fusefat = find(); mkfs != "" && fusefat != "" {
		return mkfs, fusefat
	}
	missing(t, fmt.Sprintf("mkfs.vfat (dosfstools) and fusefat are needed to test on FAT32 (scripts/fat-deps.sh installs them as root): %v", deps.err))
	return "", ""
}

func missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI must not skip the FAT32 tests)", why)
	}
	t.Skip(why)
}

// Options shape the file system.
type Options struct {
	// Size of the image in MiB; FAT32 needs 65,525 clusters at least.
	SizeMiB int
	// SectorsPerCluster (mkfs.vfat -s); 0 lets mkfs.vfat choose.
	SectorsPerCluster int
}

// Mount makes a FAT32 image of o.SizeMiB (sparse: it costs only what is
// written) and mounts it read-write with fusefat, until the test ends.
// It returns the mount point. The unmount is checked: nothing is left
// mounted, or the test fails.
func Mount(t testing.TB, o Options) string {
	t.Helper()
	if os.Getuid() != 0 {
		missing(t, "mounting FAT32 with fusefat needs root here (/dev/fuse is root's)")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		missing(t, "no /dev/fuse: "+err.Error())
	}
	_, fusefat := tools(t)
	img := Image(t, o)
	base := filepath.Dir(img)
	dir := filepath.Join(base, "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// fusefat forks into the background once mounted; its chatter on
	// stdout is of no interest.
	// Its stderr goes to a file, not a pipe: the daemon could hold a
	// pipe open and Run would wait on it.
	logf, err := os.Create(filepath.Join(base, "fusefat.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(fusefat, "-o", "rw+", img, dir)
	cmd.Stderr = logf
	log := func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }
	if err := cmd.Run(); err != nil {
		t.Fatalf("fusefat -o rw+ %s %s: %v: %s", img, dir, err, log())
	}
	t.Cleanup(func() { unmount(t, dir) })
	deadline := time.Now().Add(10 * time.Second)
	for !Mounted(dir) {
		if time.Now().After(deadline) {
			t.Fatalf("fusefat did not mount %s: %s", dir, log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return dir
}

// Image makes a FAT32 image file of o.SizeMiB with mkfs.vfat -F 32,
// sparse, and returns its path.
func Image(t testing.TB, o Options) string {
	t.Helper()
	mkfs, _ := tools(t)
	img := filepath.Join(t.TempDir(), "fat32.img")
	if err := os.Truncate(createEmpty(t, img), int64(o.SizeMiB)<<20); err != nil {
		t.Fatal(err)
	}
	args := []string{"-F", "32"}
	if o.SectorsPerCluster > 0 {
		args = append(args, "-s", fmt.Sprint(o.SectorsPerCluster))
	}
	if out, err := exec.Command(mkfs, append(args, img)...).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.vfat: %v: %s", err, out)
	}
	return img
}

func createEmpty(t testing.TB, p string) string {
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// Mounted reports whether dir is a mount point in the mount table.
func Mounted(dir string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

// unmount takes the file system down; a busy one is retried, then
// detached, and the test fails if it is still in the mount table.
func unmount(t testing.TB, dir string) {
	for i := 0; i < 50 && Mounted(dir); i++ {
		if exec.Command("fusermount", "-u", dir).Run() != nil {
			syscall.Unmount(dir, 0)
		}
		if Mounted(dir) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if Mounted(dir) {
		syscall.Unmount(dir, syscall.MNT_DETACH)
	}
	if Mounted(dir) {
		t.Errorf("%s is still mounted after the test", dir)
	}
}
