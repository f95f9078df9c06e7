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

// locate finds an engine's binary: the first candidate that exists. A
// candidate with a slash but not absolute is under the engines directory
// (scripts/engines.sh installs there), a bare name is looked up in PATH
// (Debian 12's, from scripts/interop-deps.sh), an empty one is skipped.
// When none exists, or the suite does not run as root, the test skips,
// or fails under CI.
func locate(t testing.TB, candidates ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "the interop suite needs root (private daemons, mount namespaces)")
	}
	var tried []string
	for _, c := range candidates {
		switch {
		case c == "":
			continue
		case filepath.IsAbs(c):
		case strings.Contains(c, "/"):
			c = filepath.Join(suite.engines, c)
		default:
			if p, err := exec.LookPath(c); err == nil {
				return p
			}
			tried = append(tried, c+" in PATH")
			continue
		}
		if _, err := os.Stat(c); err == nil {
			return c
		}
		tried = append(tried, c)
	}
	skipOrFail(t, "not installed: "+strings.Join(tried, ", ")+" (make interop installs them: scripts/interop-deps.sh, scripts/engines.sh)")
	return ""
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

// containerdBuild is one containerd the suite runs: Debian 12's, or one
// under the engines directory. Each runs once, privately, for the ctr
// of its version and the docker that uses it.
type containerdBuild struct {
	slug     string // its state directory under the root
	bin, ctr string // see locate
	v3       bool   // containerd 2: a version-3 config and its plugin IDs
	sock     lazily[string]
}

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

// containerdConfigV3 is the same for containerd 2, whose CRI is two
// plugins and which adds NRI and erofs (they want the host's /opt, /run
// and kernel modules) and listens for metrics unless told not to. Its
// transfer service, which ctr 2 imports through, unpacks into overlayfs
// unless told otherwise (and is missing altogether when it cannot).
const containerdConfigV3 = `version = 3
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime", "io.containerd.grpc.v1.cri", "io.containerd.nri.v1.nri", "io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.erofs", "io.containerd.differ.v1.erofs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.overlayfs", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = %[3]q
[ttrpc]
  address = %[4]q
[debug]
  address = %[5]q
[metrics]
  address = ""
[plugins."io.containerd.transfer.v1.local"]
  [[plugins."io.containerd.transfer.v1.local".unpack_config]]
    platform = "linux/amd64"
    snapshotter = "native"
`

func (cb *containerdBuild) start(bin string) func() (string, error) {
	return func() (string, error) {
		dir := filepath.Join(suite.root, cb.slug)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", err
		}
		sock := filepath.Join(dir, "containerd.sock")
		cfg := filepath.Join(dir, "config.toml")
		tmpl := containerdConfig
		if cb.v3 {
			tmpl = containerdConfigV3
		}
		body := fmt.Sprintf(tmpl, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc", filepath.Join(dir, "debug.sock"))
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			return "", err
		}
		_, err := startDaemon(cb.slug, []string{bin, "--config", cfg}, nil, dialReady(sock))
		return sock, err
	}
}

// socket starts the containerd (or skips the test when it is missing)
// and returns its socket.
func (cb *containerdBuild) socket(t testing.TB) string {
	t.Helper()
	bin := locate(t, cb.bin)
	return cb.sock.get(t, cb.start(bin))
}

// ctr is engine e's containerd client in namespace ns (one per purpose,
// so that loads of different archives do not mask each other).
func ctr(t testing.TB, e *engine, ns string) *tool {
	t.Helper()
	bin := locate(t, e.ctrd.ctr)
	sock := e.ctrd.socket(t)
	return &tool{name: e.name, path: bin, pre: []string{"--address", sock, "--namespace", ns},
		env: []string{"CONTAINERD_SNAPSHOTTER=native"}}
}

// ---- dockerd -----------------------------------------------------------

// Private dockerds, each under a namespace of its own in its engine's
// containerd: "load" for the load matrix and for docker save, whose
// images the tests delete between archive formats; "pull" for pulling
// back what ferry pushed, shared by every test at once.
var dockerDs = struct {
	sync.Mutex
	m map[string]*lazily[string] // engine slug + "/" + purpose → socket
}{m: map[string]*lazily[string]{}}

// daemonJSONContainerd turns on the containerd image store, as docker 29
// does by default and docker 26–28 offer. vfs does not exist there
// ("configured driver vfs not available"); native, like vfs, copies
// instead of mounting overlays. The network settings live here rather
// than in flags, since dockerd refuses the same setting in both.
const daemonJSONContainerd = `{"features": {"containerd-snapshotter": true}, "storage-driver": "native",
 "bridge": "none", "iptables": false, "ip6tables": false, "ip-forward": false, "ip-masq": false, "userland-proxy": false}
`

func startDockerd(e *engine, bin, ctrd, purpose string) func() (string, error) {
	return func() (string, error) {
		dir := filepath.Join(suite.root, e.slug+"-"+purpose)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", err
		}
		cfg := filepath.Join(dir, "daemon.json")
		body := "{}\n"
		if e.containerdStore {
			body = daemonJSONContainerd
		}
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			return "", err
		}
		sock := filepath.Join(dir, "docker.sock")
		ns := "moby-" + e.slug + "-" + purpose
		argv := []string{bin,
			"--config-file", cfg,
			"--data-root", filepath.Join(dir, "data"),
			"--exec-root", filepath.Join(dir, "exec"),
			"--pidfile", filepath.Join(dir, "docker.pid"),
			"-H", "unix://" + sock,
			"--containerd", ctrd,
			"--containerd-namespace", ns,
			"--containerd-plugins-namespace", "plugins-" + ns,
		}
		if !e.containerdStore {
			// Flags checked against dockerd 20.10: no network set-up at
			// all, the vfs driver (no overlay mounts).
			argv = append(argv, "--storage-driver", "vfs",
				"--bridge", "none", "--iptables=false", "--ip6tables=false", "--ip-masq=false")
		}
		_, err := startDaemon(e.slug+"-"+purpose, argv, nil, dockerReady(sock))
		return sock, err
	}
}

// docker is engine e's docker client talking to its private dockerd for
// purpose, with a private config. The client is the first of e.client
// that exists: Debian 12's (API 1.41, as dockerd 20.10 speaks) for
// docker 20.10, a newer one for the newer daemons.
func docker(t testing.TB, e *engine, purpose string) *tool {
	t.Helper()
	bin := locate(t, e.bin)
	cli := locate(t, e.client...)
	ctrd := e.ctrd.socket(t)
	dockerDs.Lock()
	l := dockerDs.m[e.slug+"/"+purpose]
	if l == nil {
		l = &lazily[string]{}
		dockerDs.m[e.slug+"/"+purpose] = l
	}
	dockerDs.Unlock()
	sock := l.get(t, startDockerd(e, bin, ctrd, purpose))
	return &tool{name: e.name, path: cli, pre: []string{"-H", "unix://" + sock},
		env: []string{"DOCKER_CONFIG=" + filepath.Join(suite.root, "docker-client")}}
}

// ---- podman and skopeo -------------------------------------------------

// containersCfgs: per containers/image generation (podman and skopeo of
// one Debian release share one), a directory of private containers-*
// configuration.
var containersCfgs = struct {
	sync.Mutex
	m map[string]*lazily[string]
}{m: map[string]*lazily[string]{}}

func containersCfg(t testing.TB, e *engine) string {
	t.Helper()
	containersCfgs.Lock()
	l := containersCfgs.m[e.containers]
	if l == nil {
		l = &lazily[string]{}
		containersCfgs.m[e.containers] = l
	}
	containersCfgs.Unlock()
	return l.get(t, func() (string, error) { return writeContainersConfig(e.containers) })
}

// writeContainersConfig writes the configuration of one containers/image
// generation. Podman 5 gets file locks (its shared-memory lock segment
// would otherwise be /dev/shm/libpod_lock, the one podman 4 uses, in
// another layout) and the sqlite database it defaults to.
func writeContainersConfig(gen string) (string, error) {
	dir := filepath.Join(suite.root, "containers-"+gen)
	for _, d := range []string{"tmp", "cache", "xdg", "locks"} {
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
	engine := fmt.Sprintf("[engine]\nevents_logger = \"file\"\nevents_logfile_path = %q\ntmp_dir = %q\ncgroup_manager = \"cgroupfs\"\nvolume_path = %q\nimage_copy_tmp_dir = %q\n",
		filepath.Join(dir, "events.log"), filepath.Join(dir, "libpod-tmp"), filepath.Join(dir, "volumes"), filepath.Join(dir, "tmp"))
	if gen != "debian12" {
		engine += "lock_type = \"file\"\ndatabase_backend = \"sqlite\"\n" +
			fmt.Sprintf("helper_binaries_dir = [%q]\n", filepath.Join(suite.engines, "containers-trixie/usr/lib/podman"))
	}
	files := map[string]string{
		"registries.conf": "unqualified-search-registries = []\n",
		"storage.conf":    fmt.Sprintf("[storage]\ndriver = \"vfs\"\nrunroot = %q\ngraphroot = %q\n", filepath.Join(dir, "default-run"), filepath.Join(dir, "default-root")),
		"containers.conf": engine + fmt.Sprintf("[network]\nnetwork_config_dir = %q\n", filepath.Join(dir, "networks")),
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
		"PODMAN_IGNORE_CGROUPSV1_WARNING=1", // podman 5, on this cgroup v1 host
		"CONTAINERS_CONF=" + filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF=" + filepath.Join(dir, "storage.conf"),
		"CONTAINERS_REGISTRIES_CONF=" + filepath.Join(dir, "registries.conf"),
		"TMPDIR=" + filepath.Join(dir, "tmp"),
		"XDG_RUNTIME_DIR=" + filepath.Join(dir, "xdg"),
	}
}

// podman is engine e using the storage named store under the root
// (created on first use; one per purpose, so that loads of different
// archives, and pulls, do not mask each other).
func podman(t testing.TB, e *engine, store string) *tool {
	t.Helper()
	bin := locate(t, e.bin)
	dir := containersCfg(t, e)
	store = e.slug + "-" + store
	s := filepath.Join(suite.root, "podman", store)
	return &tool{name: e.name, path: bin, nsdir: dir, env: containersEnv(dir),
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

// skopeo is engine e, copying without a signature policy (loopback
// registry, our own images) and keeping its temporary files under the
// root.
func skopeo(t testing.TB, e *engine) *tool {
	t.Helper()
	bin := locate(t, e.bin)
	dir := containersCfg(t, e)
	return &tool{name: e.name, path: bin, nsdir: dir, env: containersEnv(dir),
		pre: []string{"--insecure-policy", "--tmpdir", filepath.Join(dir, "tmp")}}
}

// ferryTool runs the ferry binary under test.
func ferryTool() *tool { return &tool{name: "ferry", path: suite.ferry} }

// ---- versions, for the report ------------------------------------------

var versions = struct {
	sync.Mutex
	m map[string]string
}{m: map[string]string{}}

// noteVersion records, for e, prefix + the first line tl prints for args.
func noteVersion(t testing.TB, e *engine, prefix string, tl *tool, args ...string) {
	out, err := tl.run(t, args...)
	if err != nil {
		return
	}
	v := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	if f := strings.Fields(v); len(f) > 2 && f[0] == "containerd" {
		v = f[0] + " " + f[2] // containerd github.com/containerd/containerd VERSION REVISION
	}
	versions.Lock()
	versions.m[e.name] = prefix + v
	versions.Unlock()
}
