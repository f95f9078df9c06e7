#!/usr/bin/env bash
# Benchmark for `ferry verify` (make bench): a generated layout of
# BENCH_SIZE (default 1 GiB) over several blobs, hashed by ferry and, in the
# same run, by the hardware limit: `openssl dgst -sha256` (SHA-NI) over the
# same blob files, one process per core in parallel. Prints throughput, the
# ratio, ferry's peak RSS, and the same measurement on an uncompressed
# archive (read in place) and on its .tar.zst (streamed). Targets are
# reported, not asserted: timing is no unit test. A failed verify, or an
# openssl digest that does not match its file name, fails the bench.
#
# Runs are interleaved (openssl, dir, tar, tar.zst, then again), best of
# BENCH_RUNS, so background load on a shared machine hits every contender
# alike instead of skewing the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${BENCH_DIR:-out/bench}"
size="${BENCH_SIZE:-1GiB}"
blobs="${BENCH_BLOBS:-8}"
runs="${BENCH_RUNS:-3}"
mkdir -p "$dir" bin
command -v openssl >/dev/null || { echo "bench: openssl is required" >&2; exit 1; }
ssl_version=$(openssl version)
# make bench builds ferry and passes FERRY; run by hand, build it here so a
# stale bin/ferry is never the one measured.
if [ -z "${FERRY:-}" ]; then
	FERRY=bin/ferry
	go build -trimpath -o "$FERRY" ./cmd/ferry
fi
go build -o bin/peakrss ./bench/peakrss
go run ./bench/genlayout -out "$dir/layout" -size "$size" -blobs "$blobs"
# Archives are exported once per generated layout: again only when the
# layout (its stamp) is newer, so a changed BENCH_SIZE never times old ones.
for a in images.tar images.tar.zst; do
	[ "$dir/$a" -nt "$dir/layout.stamp" ] || "$FERRY" export "$dir/layout" --to "$dir/$a" >/dev/null
done

blobdir="$dir/layout/blobs/sha256"
nblobs=$(find "$blobdir" -type f | wc -l)
declare -A bytes=(
	[ssl]=$(find "$blobdir" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
	[tar]=$(stat -c %s "$dir/images.tar")
	[zst]=$(stat -c %s "$dir/images.tar.zst")
)
bytes[dir]=${bytes[ssl]}
# Warm the page cache for every contender: this measures hashing, not disk.
cat "$blobdir"/* "$dir/images.tar" "$dir/images.tar.zst" >/dev/null

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
declare -A best rss
# measure KEY CMD…: one run through peakrss, keeping the best wall time and
# the highest peak RSS under KEY. peakrss exits with the command's status;
# a failure shows the command's stderr and ends the bench.
measure() {
	local key=$1 line wall kib
	shift
	if ! bin/peakrss -json -- "$@" >"$tmp/out" 2>"$tmp/err"; then
		cat "$tmp/out" "$tmp/err" >&2
		echo "bench: failed: $*" >&2
		exit 1
	fi
	line=$(tail -n1 "$tmp/err")
	wall=$(sed 's/.*"wall":\([0-9.e+-]*\).*/\1/' <<<"$line")
	kib=$(sed 's/.*"maxrss_kib":\([0-9]*\).*/\1/' <<<"$line")
	best[$key]=$(awk -v c="${best[$key]:-}" -v d="$wall" 'BEGIN { print (c == "" || d + 0 < c + 0) ? d : c }')
	rss[$key]=$(awk -v c="${rss[$key]:-0}" -v k="$kib" 'BEGIN { print (k + 0 > c + 0) ? k : c }')
}
# openssl over every blob, largest first so the big one does not start last.
ssl_cmd=(sh -c 'ls -S "$0"/* | xargs -P "$1" -n 1 openssl dgst -sha256' "$blobdir" "$(nproc)")

# Other jobs on these cores skew every timing; the load average would
# count this script's own export, so sample the CPU over one idle second.
cpu() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }
read -r b0 i0 < <(cpu)
sleep 1
read -r b1 i1 < <(cpu)
busy=$(awk -v b=$((b1 - b0)) -v i=$((i1 - i0)) 'BEGIN { printf "%.0f", 100 * b / (b + i) }')
for _ in $(seq "$runs"); do
	measure ssl "${ssl_cmd[@]}"
	# The yardstick must really have read every blob: each digest it
	# printed must equal its file's name.
	sed -E 's|^[A-Z0-9-]+\(.*/([0-9a-f]+)\)= ([0-9a-f]+)$|\1 \2|' "$tmp/out" |
		awk -v n="$nblobs" '$1 == $2 { ok++ } END { if (ok != n) { print "bench: openssl matched " ok + 0 " of " n " blobs" > "/dev/stderr"; exit 1 } }'
	measure dir "$FERRY" verify "$dir/layout"
	measure tar "$FERRY" verify "$dir/images.tar"
	measure zst "$FERRY" verify "$dir/images.tar.zst"
done

# row KEY LABEL: bytes read, best seconds, MiB/s, throughput relative to
# openssl (bytes[ssl] / best[ssl]), peak RSS.
row() {
	awk -v b="${bytes[$1]}" -v s="${best[$1]}" -v sb="${bytes[ssl]}" -v ss="${best[ssl]}" -v k="${rss[$1]}" -v key="$1" -v l="$2" 'BEGIN {
		r = (b / s) / (sb / ss)
		m = key == "ssl" ? "-" : sprintf("%.1fM", k / 1024)
		printf "%-42s %11d %8.3f %8.0f %6.2f %9s\n", l, b, s, b / 1048576 / s, r, m
	}'
}
printf '\nferry verify benchmark: %s blob files (%s layers), %s cores, %s, best of %s interleaved runs, CPU %s%% busy before\n' \
	"$nblobs" "$blobs" "$(nproc)" "$ssl_version" "$runs" "$busy"
printf '%-42s %11s %8s %8s %6s %9s\n' "run" "bytes" "seconds" "MiB/s" "ratio" "peak RSS"
row ssl "openssl dgst -sha256, $(nproc) in parallel"
row dir "ferry verify DIR"
row tar "ferry verify images.tar (read in place)"
row zst "ferry verify images.tar.zst (streamed)"
ratio=$(awk -v b="${best[dir]}" -v s="${best[ssl]}" 'BEGIN { printf "%.2f", s / b }')
maxrss=$(printf '%s\n' "${rss[dir]}" "${rss[tar]}" "${rss[zst]}" | sort -n | tail -n1)
awk -v r="$ratio" 'BEGIN { print (r >= 0.9 ? "PASS" : "MISS") " target: ferry verify DIR >= 0.9x parallel openssl (ratio " r ")" }'
awk -v m="$maxrss" 'BEGIN { m /= 1024; printf "%s target: peak RSS < 64 MiB (max %.1f MiB)\n", (m < 64 ? "PASS" : "MISS"), m }'
[ "$busy" -lt 10 ] || echo "note: CPU was $busy% busy before the runs: another job shares these cores, timings are noisy"
