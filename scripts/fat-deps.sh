#!/usr/bin/env bash
# Installs what the FAT32 tests (internal/fattest) need: mkfs.vfat from
# dosfstools to make a FAT32 image, and fusefat to mount it in user space
# (this kind of machine's kernel has no vfat module, but /dev/fuse works).
# Quick and silent when both are present; `apt-get update` runs only when
# something is missing. Without root or apt-get it says why and exits 0:
# the tests then skip, or fail when CI is set.
set -euo pipefail

# Test packages run in parallel and may each ask: one install at a time.
exec 9>"${TMPDIR:-/tmp}/ferry-fat-deps.lock"
flock 9

missing=()
command -v mkfs.vfat >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.vfat ] || [ -x /sbin/mkfs.vfat ] || missing+=(dosfstools)
command -v fusefat >/dev/null 2>&1 || missing+=(fusefat)
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "fat-deps: missing ${missing[*]}; not root, so not installing (the FAT tests skip, or fail under CI)" >&2
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "fat-deps: missing ${missing[*]}; no apt-get on this machine (the FAT tests skip, or fail under CI)" >&2
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "fat-deps: installing ${missing[*]}" >&2
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
