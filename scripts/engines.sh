#!/usr/bin/env bash
# Installs the current engines the interop suite drives beside Debian 12's
# own (scripts/interop-deps.sh): docker 29 (moby v2), docker 28 and
# containerd 2.4 built from source, and Debian 13's docker 26, containerd 1.7, podman 5
# and skopeo 1.18 unpacked from their packages. Everything goes under one
# directory (default bin/engines), one sub-directory per engine, each
# marked complete by a .done file written last: a second run is instant,
# and an interrupted one redoes only the engine it was on.
#
# Nothing is installed into the system: Debian 13's packages are fetched
# through a private apt configuration (its own sources list, lists and
# cache under the directory), never through the system's sources, and
# unpacked with dpkg-deb -x. Installing them with apt would upgrade libc6
# 2.36 → 2.41 and dozens of other packages; podman and skopeo instead get
# Debian 13's glibc and libraries unpacked beside them, patchelf'd to
# use those. /work/shared/docs/ENGINES.md has the measurements behind
# this (times, what failed).
#
# Without go, apt-get or dpkg-deb it says what it could not install and
# exits 0: the suite then skips those engines, or fails when CI is set.
set -euo pipefail

dir=${1:-$(cd "$(dirname "$0")/.." && pwd)/bin/engines}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

MOBY_VERSION=v2.0.0-beta.24
CONTAINERD_VERSION=v2.4.2
DOCKER28_VERSION=v28.5.2
# Debian 13's packages: whatever trixie holds (its point releases only
# bring fixes); the suite reports the versions it measured.
DEBIAN_SUITE=trixie

log() { echo "engines: $*"; }
failed=()

# go_engine NAME TAGS LDFLAGS PKG...: go install with CGO off into DIR/NAME.
# CGO off: the suite runs no container, so nothing needs libseccomp or
# btrfs headers, and static binaries run on any glibc.
go_engine() {
	local name=$1 tags=$2 ldflags=$3
	shift 3
	local out=$dir/$name
	[ -e "$out/.done" ] && return 0
	if ! command -v go >/dev/null 2>&1; then
		failed+=("$name (no go)")
		return 0
	fi
	log "building $name (go install; a few minutes on 2 cores the first time)"
	local start=$SECONDS
	rm -rf "$out"
	mkdir -p "$out"
	if ! GOBIN=$out CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install -trimpath ${tags:+-tags "$tags"} ${ldflags:+-ldflags "$ldflags"} "$@"; then
		failed+=("$name (go install failed)")
		return 0
	fi
	touch "$out/.done"
	log "$name built in $((SECONDS - start))s"
}

# Without the version stamped in, dockerd reports "library-import".
go_engine moby-$MOBY_VERSION "" "-X github.com/moby/moby/v2/dockerversion.Version=$MOBY_VERSION" github.com/moby/moby/v2/cmd/dockerd@$MOBY_VERSION
# no_btrfs: the btrfs snapshotter needs cgo headers; the suite uses native.
go_engine containerd-$CONTAINERD_VERSION no_btrfs "-X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
	github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION \
	github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION \
	github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION

# dockerd 28 lives in github.com/docker/docker, a module without a go.mod
# ("+incompatible": its requirements are in vendor.mod), which go install
# cannot build ("…containerd/v2@latest … does not contain package
# …/contrib/nvidia"): build its source with vendor.mod as go.mod instead.
docker28() {
	local name=docker-$DOCKER28_VERSION
	local out=$dir/$name
	[ -e "$out/.done" ] && return 0
	if ! command -v go >/dev/null 2>&1; then
		failed+=("$name (no go)")
		return 0
	fi
	log "building $name (go build of its source; 2–3 min on 2 cores the first time)"
	local start=$SECONDS src
	rm -rf "$out"
	mkdir -p "$out"
	src=$(cd / && go mod download -json "github.com/docker/docker@$DOCKER28_VERSION+incompatible" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
	if [ -z "$src" ] || ! cp -r "$src" "$out/src"; then
		failed+=("$name (go mod download failed)")
		return 0
	fi
	chmod -R u+w "$out/src"
	if ! (cd "$out/src" && mv vendor.mod go.mod && mv vendor.sum go.sum && rm -rf vendor &&
		CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -mod=mod \
			-ldflags "-X github.com/docker/docker/dockerversion.Version=${DOCKER28_VERSION#v}" -o "$out/dockerd" ./cmd/dockerd); then
		failed+=("$name (go build failed)")
		return 0
	fi
	rm -rf "$out/src"
	touch "$out/.done"
	log "$name built in $((SECONDS - start))s"
}
docker28

# ---- Debian 13 packages, fetched privately ---------------------------------

apt_dir=$dir/apt-$DEBIAN_SUITE
apt_opts=(
	-o "Dir::Etc::sourcelist=$apt_dir/sources.list"
	-o "Dir::Etc::sourceparts=-"
	-o "Dir::State::Lists=$apt_dir/lists"
	-o "Dir::State::status=/dev/null"
	-o "Dir::Cache=$apt_dir/cache"
	-o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
	# root downloads into a directory _apt cannot write: say so to apt.
	-o "APT::Sandbox::User=root"
)

# fetch PKG...: downloads Debian 13's .debs into the private cache and
# prints their paths. Names are checked against what apt resolved, so a
# package that vanished is an error, not a silent gap.
fetch() {
	if [ ! -e "$apt_dir/lists/.updated-$$" ]; then
		mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
		cat >"$apt_dir/sources.list" <<-EOF
			deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $DEBIAN_SUITE main
			deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security $DEBIAN_SUITE-security main
		EOF
		log "apt-get update (private lists for $DEBIAN_SUITE under $apt_dir)" >&2
		apt-get -qq "${apt_opts[@]}" update >&2
		rm -f "$apt_dir"/lists/.updated-*; touch "$apt_dir/lists/.updated-$$"
	fi
	(cd "$apt_dir/debs" && apt-get -qq "${apt_opts[@]}" download "$@" >&2)
	local p f
	for p in "$@"; do
		f=$(ls "$apt_dir/debs/${p}_"*.deb 2>/dev/null | head -1)
		[ -n "$f" ] || { echo "engines: apt-get download $p gave no .deb" >&2; return 1; }
		echo "$f"
	done
}

# deb_engine NAME PKG...: unpacks the packages into DIR/NAME (statically
# linked Go programs: they run on Debian 12 as they are).
deb_engine() {
	local name=$1
	shift
	local out=$dir/$name
	[ -e "$out/.done" ] && return 0
	log "unpacking $name from Debian $DEBIAN_SUITE's $*"
	rm -rf "$out"
	mkdir -p "$out"
	local debs f
	debs=$(fetch "$@") || { failed+=("$name (download)"); return 0; }
	for f in $debs; do
		dpkg-deb -x "$f" "$out"
		dpkg-deb -f "$f" Package Version | paste -sd' ' >>"$out/versions"
	done
	touch "$out/.done"
}

# Debian 13's glibc (and what podman and skopeo link) beside them: their
# binaries want GLIBC_2.38, Debian 12 has 2.36.
containers_libs=(libc6 libsubid5 libgpgme11t64 libassuan9 libgpg-error0 libseccomp2 libsqlite3-0
	libacl1 libattr1 libaudit1 libcap-ng0 libbsd0 libmd0 libcrypt1 libpam0g libselinux1
	libpcre2-8-0 libsemanage2 libsepol2 libbz2-1.0 libgcc-s1)

# patchelf is Debian 12's, unpacked beside the rest rather than installed.
patchelf_bin() {
	local pe=$dir/patchelf
	if [ ! -e "$pe/.done" ]; then
		rm -rf "$pe"
		mkdir -p "$pe"
		(cd "$pe" && apt-get -qq -o APT::Sandbox::User=root download patchelf >&2)
		dpkg-deb -x "$pe"/patchelf_*.deb "$pe"
		touch "$pe/.done"
	fi
	echo "$pe/usr/bin/patchelf"
}

containers_engine() {
	local name=$1
	local out=$dir/$name
	[ -e "$out/.done" ] && return 0
	# netavark: podman 5 refuses to start without its network helper,
	# even for commands that make no network.
	deb_engine "$name" podman skopeo netavark "${containers_libs[@]}"
	[ -e "$out/.done" ] || return 0
	rm "$out/.done"
	local pe lib=$out/usr/lib/x86_64-linux-gnu b
	pe=$(patchelf_bin) || { failed+=("$name (patchelf)"); return 0; }
	for b in "$out/usr/bin/podman" "$out/usr/bin/skopeo" "$out/usr/lib/podman/netavark"; do
		"$pe" --set-interpreter "$lib/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$lib:$out/lib/x86_64-linux-gnu" "$b"
		# Every library must resolve to the unpacked ones: a "not found"
		# here would surface later as a cryptic start-up failure.
		if "$lib/ld-linux-x86-64.so.2" --list "$b" | grep -q 'not found'; then
			"$lib/ld-linux-x86-64.so.2" --list "$b" | grep 'not found' >&2
			failed+=("$name ($(basename "$b") lacks libraries)")
			return 0
		fi
	done
	touch "$out/.done"
}

if command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1; then
	deb_engine docker-$DEBIAN_SUITE docker.io docker-cli
	deb_engine containerd-$DEBIAN_SUITE containerd
	containers_engine containers-$DEBIAN_SUITE
else
	failed+=("Debian $DEBIAN_SUITE's docker.io, containerd, podman, skopeo (no apt-get or dpkg-deb)")
fi

if [ ${#failed[@]} -gt 0 ]; then
	printf 'engines: could not install %s (the interop suite skips them, or fails under CI)\n' "${failed[@]}" >&2
	exit 0
fi
log "all present in $dir"
