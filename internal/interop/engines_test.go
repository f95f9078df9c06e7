//go:build interop

package interop

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// tool is one command line, set up to use this suite's private state.
type tool struct {
	name string   // for messages: docker, podman, ctr, skopeo, ferry
	path string   // the binary
	pre  []string // private arguments before the caller's (sockets, roots)
	env  []string
	// nsdir, for podman and skopeo: a private directory whose cache/ and
	// tmp/ are bound over containers/image's blob-info cache and over
	// /var/tmp, in a mount namespace of the command's own (there is no
	// option to move the cache, and podman load unpacks into /var/tmp
	// whatever TMPDIR says).
	nsdir string
}

// cmdTimeout bounds every single command: these images are tiny.
const cmdTimeout = 3 * time.Minute

// run runs the tool and returns its stdout. The error names the command
// (without the private arguments), its exit status and its stderr.
func (tl *tool) run(t testing.TB, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	argv := append(append([]string{}, tl.pre...), args...)
	var cmd *exec.Cmd
	if tl.nsdir != "" {
		script := `mount --bind "$0/cache" /var/lib/containers/cache && mount --bind "$0/tmp" /var/tmp && exec "$@"`
		cmd = exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", script, tl.nsdir, tl.path}, argv...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	} else {
		cmd = exec.CommandContext(ctx, tl.path, argv...)
	}
	cmd.Env = append(os.Environ(), tl.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	line := tl.name + " " + strings.Join(args, " ")
	t.Logf("$ %s  (%.2fs)", line, time.Since(start).Seconds())
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %v", cmdTimeout)
		}
		return stdout.String(), fmt.Errorf("`%s`: %v: %s", line, err, clip(strings.TrimSpace(stderr.String()), 1500))
	}
	return stdout.String(), nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// need finds an engine's binary, preferring the given paths (Debian's
// docker client over a newer one earlier in PATH). When it is missing, or
// the suite does not run as root, the test skips, or fails under CI.
func need(t testing.TB, name string, prefer ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "the interop suite needs root (private daemons, mount namespaces)")
	}
	for _, p := range prefer {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		skipOrFail(t, name+" is not installed (scripts/interop-deps.sh installs it)")
	}
	return p
}

func skipOrFail(t testing.TB, why string) {
	t.Helper()
	if suite.ci {
		t.Fatalf("%s; CI is set, so this fails instead of skipping", why)
	}
	t.Skip(why)
}

// lazily is a start-once value shared by every test of the binary.
type lazily[T any] struct {
	once sync.Once
	v    T
	err  error
}

func (l *lazily[T]) do(start func() (T, error)) (T, error) {
	l.once.Do(func() { l.v, l.err = start() })
	return l.v, l.err
}

func (l *lazily[T]) get(t testing.TB, start func() (T, error)) T {
	t.Helper()
	v, err := l.do(start)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// ---- containerd --------------------------------------------------------

var containerdD lazily[string] // its socket

// containerdConfig keeps every path private and disables the plugins
// that would need a kernel feature or touch the host (CRI, /opt, btrfs,
// overlayfs…): images unpack with the native snapshotter.
const containerdConfig = `version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.overlayfs", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = %[3]q
[ttrpc]
  address = %[4]q
[debug]
  address = %[5]q
`

func startContainerd() (string, error) {
	dir := filepath.Join(suite.root, "containerd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	sock := filepath.Join(dir, "containerd.sock")
	cfg := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf(containerdConfig, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc", filepath.Join(dir, "debug.sock"))
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		return "", err
	}
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return "", err
	}
	_, err = startDaemon("containerd", []string{bin, "--config", cfg}, nil, dialReady(sock))
	return sock, err
}

// ctr is the containerd client in namespace ns (one per purpose, so that
// loads of different archives do not mask each other).
func ctr(t testing.TB, ns string) *tool {
	t.Helper()
	need(t, "containerd")
	bin := need(t, "ctr")
	sock := containerdD.get(t, startContainerd)
	return &tool{name: "ctr", path: bin, pre: []string{"--address", sock, "--namespace", ns},
		env: []string{"CONTAINERD_SNAPSHOTTER=native"}}
}

// ---- dockerd -----------------------------------------------------------

// Two private dockerd: "load" for the load matrix and for docker save,
// whose images the tests delete between archive formats; "pull" for
// pulling back what ferry pushed, shared by every test at once.
var dockerDs = map[string]*lazily[string]{"load": {}, "pull": {}}

func startDockerd(purpose string) func() (string, error) {
	return func() (string, error) {
		ctrd, err := containerdD.do(startContainerd)
		if err != nil {
			return "", err
		}
		dir := filepath.Join(suite.root, "docker-"+purpose)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", err
		}
		cfg := filepath.Join(dir, "daemon.json")
		if err := os.WriteFile(cfg, []byte("{}\n"), 0o600); err != nil {
			return "", err
		}
		sock := filepath.Join(dir, "docker.sock")
		bin, err := exec.LookPath("dockerd")
		if err != nil {
			return "", err
		}
		// Flags checked against dockerd 20.10: no network set-up at all,
		// the vfs driver (no overlay mounts), our containerd under a
		// namespace of its own.
		_, err = startDaemon("dockerd-"+purpose, []string{bin,
			"--config-file", cfg,
			"--data-root", filepath.Join(dir, "data"),
			"--exec-root", filepath.Join(dir, "exec"),
			"--pidfile", filepath.Join(dir, "docker.pid"),
			"-H", "unix://" + sock,
			"--containerd", ctrd,
			"--containerd-namespace", "moby-" + purpose,
			"--containerd-plugins-namespace", "plugins-moby-" + purpose,
			"--storage-driver", "vfs",
			"--bridge", "none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
		}, nil, dockerReady(sock))
		return sock, err
	}
}

// docker is Debian's docker client (API 1.41, as dockerd 20.10 speaks),
// or $FERRY_INTEROP_DOCKER, talking to the private dockerd for purpose,
// with a private config.
func docker(t testing.TB, purpose string) *tool {
	t.Helper()
	need(t, "dockerd")
	need(t, "containerd")
	bin := need(t, "docker", os.Getenv("FERRY_INTEROP_DOCKER"), "/usr/bin/docker")
	sock := dockerDs[purpose].get(t, startDockerd(purpose))
	return &tool{name: "docker", path: bin, pre: []string{"-H", "unix://" + sock},
		env: []string{"DOCKER_CONFIG=" + filepath.Join(suite.root, "docker-client")}}
}

// ---- podman and skopeo -------------------------------------------------

var containersCfg lazily[string] // directory of private containers-* config

func writeContainersConfig() (string, error) {
	dir := filepath.Join(suite.root, "containers")
	for _, d := range []string{"tmp", "cache", "xdg"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return "", err
		}
	}
	// podman and skopeo write their blob-info cache here whatever the
	// options; the bind mount in each command's namespace needs the
	// mount point (podman creates the same directory on first use).
	if err := os.MkdirAll("/var/lib/containers/cache", 0o700); err != nil {
		return "", err
	}
	files := map[string]string{
		"registries.conf": "unqualified-search-registries = []\n",
		"storage.conf":    fmt.Sprintf("[storage]\ndriver = \"vfs\"\nrunroot = %q\ngraphroot = %q\n", filepath.Join(dir, "default-run"), filepath.Join(dir, "default-root")),
		"containers.conf": fmt.Sprintf("[engine]\nevents_logger = \"file\"\nevents_logfile_path = %q\ntmp_dir = %q\ncgroup_manager = \"cgroupfs\"\nvolume_path = %q\nimage_copy_tmp_dir = %q\n[network]\nnetwork_config_dir = %q\n",
			filepath.Join(dir, "events.log"), filepath.Join(dir, "libpod-tmp"), filepath.Join(dir, "volumes"), filepath.Join(dir, "tmp"), filepath.Join(dir, "networks")),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func containersEnv(dir string) []string {
	return []string{
		"CONTAINERS_CONF=" + filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF=" + filepath.Join(dir, "storage.conf"),
		"CONTAINERS_REGISTRIES_CONF=" + filepath.Join(dir, "registries.conf"),
		"TMPDIR=" + filepath.Join(dir, "tmp"),
		"XDG_RUNTIME_DIR=" + filepath.Join(dir, "xdg"),
	}
}

// podman uses the storage named store under the root (created on first
// use; one per purpose, so that loads of different archives, and pulls,
// do not mask each other).
func podman(t testing.TB, store string) *tool {
	t.Helper()
	bin := need(t, "podman")
	dir := containersCfg.get(t, writeContainersConfig)
	s := filepath.Join(suite.root, "podman", store)
	return &tool{name: "podman", path: bin, nsdir: dir, env: containersEnv(dir),
		pre: []string{"--root", filepath.Join(s, "root"), "--runroot", podmanRunroot(store), "--storage-driver", "vfs",
			"--cgroup-manager", "cgroupfs", "--events-backend", "file"}}
}

// podmanRunroot is a short path for store's run directory: podman 4.3
// refuses a runroot longer than 50 characters.
func podmanRunroot(store string) string {
	podmanRuns.Lock()
	defer podmanRuns.Unlock()
	n, ok := podmanRuns.m[store]
	if !ok {
		n = len(podmanRuns.m)
		podmanRuns.m[store] = n
	}
	return filepath.Join(suite.root, "run", fmt.Sprint(n))
}

var podmanRuns = struct {
	sync.Mutex
	m map[string]int
}{m: map[string]int{}}

// skopeo copies without a signature policy (loopback registry, our own
// images) and keeps its temporary files under the root.
func skopeo(t testing.TB) *tool {
	t.Helper()
	bin := need(t, "skopeo")
	dir := containersCfg.get(t, writeContainersConfig)
	return &tool{name: "skopeo", path: bin, nsdir: dir, env: containersEnv(dir),
		pre: []string{"--insecure-policy", "--tmpdir", filepath.Join(dir, "tmp")}}
}

// ferryTool runs the ferry binary under test.
func ferryTool() *tool { return &tool{name: "ferry", path: suite.ferry} }

// ---- versions, for the report ------------------------------------------

var versions = struct {
	sync.Mutex
	m map[string]string
}{m: map[string]string{}}

// noteVersion records prefix + the first line tl prints for args.
func noteVersion(t testing.TB, key, prefix string, tl *tool, args ...string) {
	out, err := tl.run(t, args...)
	if err != nil {
		return
	}
	v := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	if f := strings.Fields(v); len(f) > 2 && f[0] == "containerd" {
		v = f[0] + " " + f[2] // containerd github.com/containerd/containerd VERSION REVISION
	}
	versions.Lock()
	versions.m[key] = prefix + v
	versions.Unlock()
}
