#!/usr/bin/env bash
# ferry's main job end to end on built-in test images: collect images that
# docker, podman and containerd wrote into one layout, write the archive to
# carry, audit it, watch a corrupted copy get caught, and import it on the
# far side with every name and digest intact.
set -euo pipefail
cd "$(dirname "$0")/.."
FERRY="${FERRY:-bin/ferry}"
out=out/demo
rm -rf "$out"
mkdir -p "$out/usb"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ ferry %s\n' "$*"; "$FERRY" "$@"; }
fixture() { ls -d "$out/fixtures/$1"* | head -n1; }

step "Built-in test images, in the shapes docker, podman, crane and containerd write"
go run ./testdata/gen "$out/fixtures" >/dev/null
ls "$out/fixtures"

step "Collect them into one layout; every blob is verified on the way in"
run import "$(fixture ferry-layout)" --into "$out/stock"
run import "$(fixture docker-save-legacy)" --into "$out/stock"
run import "$(fixture podman-oci-archive)" --into "$out/stock"
run import "$(fixture containerd-export.)" --into "$out/stock"
run ls "$out/stock"

step "Write the archive to carry: OCI layout and docker-save in one file"
run export "$out/stock" --to "$out/usb/images.tar.zst"
run export "$out/stock" --to "$out/usb/appliance-arm64.tar" --platform linux/arm64 example.com/team/app:v2

step "Audit it without importing"
run verify "$out/usb/images.tar.zst"

step "A corrupted copy is caught and refused"
cp -r "$out/stock" "$out/corrupt"
victim=$(ls -S "$out"/corrupt/blobs/sha256/* | head -n1)
printf 'X' | dd of="$victim" bs=1 seek=100 conv=notrunc status=none
if run verify "$out/corrupt"; then echo "demo: corruption was not detected" >&2; exit 1; fi
mkdir -p "$out/far"
if run import "$out/corrupt" --into "$out/far"; then echo "demo: corrupt import succeeded" >&2; exit 1; fi
echo "(the far side is untouched: $(ls -A "$out/far" | wc -l) entries)"

step "Far side: import the archive and compare names and digests"
run import "$out/usb/images.tar.zst" --into "$out/far"
"$FERRY" ls --json "$out/stock" > "$out/stock.json"
"$FERRY" ls --json "$out/far" > "$out/far.json"
if ! diff -u "$out/stock.json" "$out/far.json"; then echo "demo: names or digests changed in transit" >&2; exit 1; fi
run ls "$out/far"
printf '\n\033[1mdemo OK:\033[0m every image arrived with its name and digest; corruption was refused.\n'
