#!/usr/bin/env bash
# Installs the tools `make test` counts with or mounts with, when missing:
# strace (the layout tests count a blob's system calls with it) and, through
# fat-deps.sh, what the FAT32 tests need. Quiet when all are present;
# without root or apt-get it says why and exits 0, and the tests then skip,
# or fail when CI is set.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/fat-deps.sh
command -v strace >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "test-deps: strace missing and cannot be installed here (the syscall-counting tests skip, or fail under CI)" >&2
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "test-deps: installing strace" >&2
apt-get install -y -qq --no-install-recommends strace >&2 || { apt-get update -qq && apt-get install -y -qq --no-install-recommends strace >&2; }
