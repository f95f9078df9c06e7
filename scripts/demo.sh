#!/usr/bin/env bash
# ferry's main job end to end on built-in test images: collect images that
# docker, podman and containerd wrote into one layout; push them to a real
# registry on loopback; pull them back into the archive to carry; audit it;
# watch a corrupted copy get caught; and on the far side push the archive
# into a second registry under a new prefix and import it, with every name
# and digest intact; then a monthly update as a delta against what the far
# side holds (DEMO_VOLUME_SIZE=fat32, dvd or 64KiB cuts it into volumes);
# last, the carried archive served in place as a registry and pulled from.
set -euo pipefail
cd "$(dirname "$0")/.."
FERRY="${FERRY:-bin/ferry}"
out=out/demo
rm -rf "$out"
mkdir -p "$out/usb"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ ferry %s\n' "$*"; "$FERRY" "$@"; }
fixture() { ls -d "$out/fixtures/$1"* | sed -n 1p; }

step "Built-in test images, in the shapes docker, podman, crane and containerd write"
go run ./testdata/mkfixtures "$out/fixtures" >/dev/null
ls "$out/fixtures"

step "Collect them into one layout; every blob is verified on the way in"
run import "$(fixture ferry-layout)" --into "$out/stock"
run import "$(fixture docker-save-legacy)" --into "$out/stock"
run import "$(fixture podman-oci-archive)" --into "$out/stock"
run import "$(fixture containerd-export.)" --into "$out/stock"
run ls "$out/stock"

step "Start two reference registries (CNCF Distribution v3) on loopback"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
src=$(scripts/registry.sh "$out/registry-src"); pids+=("$(cat "$out/registry-src/pid")")
dst=$(scripts/registry.sh "$out/registry-dst"); pids+=("$(cat "$out/registry-dst/pid")")
echo "source registry $src, target registry $dst"
run push "$out/stock" docker.io/library/busybox:1.36 example.com/team/app:v2 quay.io/org/legacy:1 --to "$src"

step "Save: pull them from the registry into the archive to carry (OCI layout and docker-save in one file)"
run pull "$src/library/busybox:1.36" "$src/team/app:v2" "$src/org/legacy:1" --to "$out/usb/images.tar.zst" --json > "$out/pulled.json"
cat "$out/pulled.json"
run export "$out/stock" --to "$out/usb/appliance-arm64.tar" --platform linux/arm64 example.com/team/app:v2

step "Audit it without importing"
run verify "$out/usb/images.tar.zst"

step "A corrupted copy is caught and refused"
cp -r "$out/stock" "$out/corrupt"
victim=$(ls -S "$out"/corrupt/blobs/sha256/* | sed -n 1p) # sed reads it all: head would leave ls a SIGPIPE, fatal under pipefail
printf 'X' | dd of="$victim" bs=1 seek=100 conv=notrunc status=none
if run verify "$out/corrupt"; then echo "demo: corruption was not detected" >&2; exit 1; fi
mkdir -p "$out/far"
if run import "$out/corrupt" --into "$out/far"; then echo "demo: corrupt import succeeded" >&2; exit 1; fi
echo "(the far side is untouched: $(ls -A "$out/far" | wc -l) entries)"

step "Far side: push the archive into another registry under a new prefix"
run import "$out/usb/images.tar.zst" --into "$out/far"
run export "$out/far" --to "$out/far.tar"
run push "$out/far.tar" --to "$dst/airgap" --json > "$out/pushed.json"
cat "$out/pushed.json"
digests() { grep -o '"digest": "sha256:[0-9a-f]*"' "$1" | sort; }
if ! diff <(digests "$out/pulled.json") <(digests "$out/pushed.json"); then echo "demo: digests changed in transit" >&2; exit 1; fi
echo "digests match: $(digests "$out/pushed.json" | wc -l) images, byte for byte"
run ls "$out/far"

step "Next month's update: the far side says what it holds, the near side carries only the rest"
run have "$out/far" --to "$out/usb/far-have.json"
run push "$out/stock" docker.io/acme/tool:2 docker.io/library/golang:1.22 --to "$src"
release2=("$src/library/busybox:1.36" "$src/team/app:v2" "$src/org/legacy:1" "$src/acme/tool:2" "$src/library/golang:1.22")
run pull "${release2[@]}" --to "$out/usb/release2-full.tar"
run pull "${release2[@]}" --to "$out/usb/release2-delta.tar" --have "$out/usb/far-have.json"
echo "full release 2: $(wc -c <"$out/usb/release2-full.tar") bytes; the delta for this far side: $(wc -c <"$out/usb/release2-delta.tar") bytes"
delta="$out/usb/release2-delta.tar"
if [ -n "${DEMO_VOLUME_SIZE:-}" ]; then # e.g. DEMO_VOLUME_SIZE=fat32 make demo
	mkdir -p "$out/usb/release2"
	run pull "${release2[@]}" --to "$out/usb/release2/delta.tar" --have "$out/usb/far-have.json" --volume-size "$DEMO_VOLUME_SIZE"
	delta="$out/usb/release2"
fi
run verify "$delta" --against "$out/far"
run import "$delta" --into "$out/far"
run verify "$out/far"

step "The one-platform archive: its index is sparse, so push sends the complete platform under a narrowed index"
run verify "$out/usb/appliance-arm64.tar"
run push "$out/usb/appliance-arm64.tar" --to "$dst/appliance"
step "A sealed LAN with no registry: serve the carried archive in place, and pull from it"
for _ in $(seq 50); do
	port=$((20000 + RANDOM % 20000))
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
done
printf '$ ferry serve %s --addr 127.0.0.1:%s &\n' "$out/usb/release2-full.tar" "$port"
"$FERRY" serve "$out/usb/release2-full.tar" --addr "127.0.0.1:$port" 2>"$out/serve.log" &
pids+=("$!")
for _ in $(seq 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
	sleep 0.1
done
served=127.0.0.1:$port
run pull "$served/library/busybox:1.36" "$served/team/app:v2" --to "$out/served" --json >"$out/served.json"
for name in library/busybox:1.36 team/app:v2; do
	want=$(grep -A1 "\"source\": \"$src/$name\"" "$out/pulled.json" | grep -o 'sha256:[0-9a-f]*' | sed -n 1p || true)
	got=$(grep -A1 "\"source\": \"$served/$name\"" "$out/served.json" | grep -o 'sha256:[0-9a-f]*' | sed -n 1p || true)
	if [ -z "$want" ] || [ "$want" != "$got" ]; then echo "demo: $name came out of the served archive as '$got', not '$want'" >&2; exit 1; fi
	echo "$name: $got, the digest it was saved with"
done
if docker info >/dev/null 2>&1 && docker pull "$served/library/busybox:1.36" >/dev/null 2>&1; then
	echo "docker pulled $served/library/busybox:1.36 too"
elif command -v podman >/dev/null && podman pull --tls-verify=false "$served/library/busybox:1.36" >/dev/null 2>&1; then
	echo "podman pulled $served/library/busybox:1.36 too"
else
	echo "(no docker daemon or podman here to pull with as well; make interop pulls from ferry serve with each engine)"
fi
grep repository "$out/serve.log" | head -3 || true

printf '\n\033[1mdemo OK:\033[0m every image arrived with its name and digest; corruption was refused; the update carried only what the far side lacked; the archive served in place gave the same digests.\n'
