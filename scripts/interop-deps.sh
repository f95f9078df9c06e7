#!/usr/bin/env bash
# Installs the engines the interop suite (internal/interop) drives: skopeo,
# podman, containerd (with ctr) and docker.io, from Debian's repositories.
# Quick and silent when they are all present; `apt-get update` runs only
# when something is missing. Without root or apt-get it says why and exits
# 0: the suite then skips the missing tools, or fails when CI is set.
#
# What they need, measured on Debian 12 with
#   apt-get -s -o Dir::State::status=/dev/null install --no-install-recommends …
# is pulled in by apt itself (runc, tini, iptables, conmon, crun,
# containernetworking-plugins, golang-github-containers-common, …). The
# Recommends (uidmap, slirp4netns, fuse-overlayfs, buildah, …) serve
# rootless podman and running containers; the suite runs as root, uses the
# vfs/native storage and runs no container, so it installs none of them.
set -euo pipefail

# command → package providing it
declare -A pkg_of=(
	[skopeo]=skopeo
	[podman]=podman
	[containerd]=containerd
	[ctr]=containerd
	[dockerd]=docker.io
)
# docker's client: the package's own, not a newer one earlier in PATH.
docker_client=/usr/bin/docker

missing=()
for cmd in "${!pkg_of[@]}"; do
	command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg_of[$cmd]}")
done
[ -x "$docker_client" ] || missing+=(docker.io)
if [ ${#missing[@]} -eq 0 ]; then
	echo "interop-deps: skopeo, podman, containerd, docker.io present"
	exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

if [ "$(id -u)" != 0 ]; then
	echo "interop-deps: missing ${missing[*]}; not root, so not installing (the interop suite skips them, or fails under CI)" >&2
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "interop-deps: missing ${missing[*]}; no apt-get on this machine (the interop suite skips them, or fails under CI)" >&2
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# Installing docker.io or containerd would start the system daemons; the
# suite runs its own private ones, so keep the init scripts from starting
# anything while we install (policy-rc.d exit 101 = "action forbidden"),
# unless the machine already has a policy of its own.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi

echo "interop-deps: installing ${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
