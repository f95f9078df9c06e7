#!/usr/bin/env bash
# Benchmark for `ferry verify` (make bench): a generated layout of
# BENCH_SIZE (default 1 GiB) over several blobs, hashed by ferry and, in the
# same run, by the hardware limit: `openssl dgst -sha256` (SHA-NI) over the
# same blob files, one process per core in parallel. Prints throughput, the
# ratio, ferry's peak RSS, and the same measurement on an uncompressed
# archive (read in place) and on its .tar.zst (streamed). Targets are
# reported, not asserted: timing is no unit test. A failed verify fails.
set -euo pipefail
cd "$(dirname "$0")/.."
FERRY="${FERRY:-bin/ferry}"
dir="${BENCH_DIR:-out/bench}"
size="${BENCH_SIZE:-1GiB}"
blobs="${BENCH_BLOBS:-8}"
runs="${BENCH_RUNS:-3}"
mkdir -p "$dir" bin
command -v openssl >/dev/null || { echo "bench: openssl is required" >&2; exit 1; }
[ -x "$FERRY" ] || go build -o "$FERRY" ./cmd/ferry
go build -o bin/peakrss ./bench/peakrss
go run ./bench/genlayout -out "$dir/layout" -size "$size" -blobs "$blobs"

bytes=$(find "$dir/layout/blobs" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
cat "$dir"/layout/blobs/sha256/* >/dev/null # warm the page cache for both sides

now() { date +%s.%N; }
best=""
# time_best CMD…: runs CMD $runs times, sets $best to the fastest seconds.
time_best() {
	best=""
	for _ in $(seq "$runs"); do
		local t0 t1
		t0=$(now)
		"$@" >/dev/null
		t1=$(now)
		best=$(awk -v a="$t0" -v b="$t1" -v cur="$best" 'BEGIN { d=b-a; if (cur=="" || d<cur) print d; else print cur }')
	done
}
# ferry_run ARGS…: best time of ferry ARGS, plus its peak RSS in MiB.
rss=""
ferry_run() {
	time_best "$FERRY" "$@"
	rss=$(bin/peakrss -json -- "$FERRY" "$@" 2>&1 >/dev/null | tail -n1 | sed 's/.*"maxrss_kib":\([0-9]*\).*/\1/' | awk '{printf "%.1f", $1/1024}')
	"$FERRY" "$@" >/dev/null # exit status checked by set -e
}
mibs() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.0f", b/1048576/s }'; }

openssl_all() { ls -S "$dir"/layout/blobs/sha256/* | xargs -P "$(nproc)" -n 1 openssl dgst -sha256 >/dev/null; }
time_best openssl_all
t_ssl=$best
ferry_run verify "$dir/layout"
t_dir=$best rss_dir=$rss

[ -f "$dir/images.tar" ] || "$FERRY" export "$dir/layout" --to "$dir/images.tar" >/dev/null
[ -f "$dir/images.tar.zst" ] || "$FERRY" export "$dir/layout" --to "$dir/images.tar.zst" >/dev/null
cat "$dir/images.tar" >/dev/null
ferry_run verify "$dir/images.tar"
t_tar=$best rss_tar=$rss
ferry_run verify "$dir/images.tar.zst"
t_zst=$best rss_zst=$rss

ratio=$(awk -v a="$t_ssl" -v b="$t_dir" 'BEGIN { printf "%.2f", a/b }')
printf '\nferry verify benchmark: %s bytes in %s blobs, %s cores, best of %s\n' "$bytes" "$blobs" "$(nproc)" "$runs"
printf '%-44s %8s %9s %9s\n' "run" "seconds" "MiB/s" "peak RSS"
printf '%-44s %8.3f %9s %9s\n' "openssl dgst -sha256, $(nproc) in parallel" "$t_ssl" "$(mibs "$t_ssl")" "-"
printf '%-44s %8.3f %9s %8sM\n' "ferry verify DIR" "$t_dir" "$(mibs "$t_dir")" "$rss_dir"
printf '%-44s %8.3f %9s %8sM\n' "ferry verify images.tar (read in place)" "$t_tar" "$(mibs "$t_tar")" "$rss_tar"
printf '%-44s %8.3f %9s %8sM\n' "ferry verify images.tar.zst (streamed)" "$t_zst" "$(mibs "$t_zst")" "$rss_zst"
printf 'ratio ferry/openssl throughput (directory): %s\n' "$ratio"
awk -v r="$ratio" 'BEGIN { print (r >= 0.9 ? "PASS" : "MISS") " target: ferry verify >= 0.9x parallel openssl" }'
maxrss=$(printf '%s\n' "$rss_dir" "$rss_tar" "$rss_zst" | sort -n | tail -n1)
awk -v m="$maxrss" 'BEGIN { print (m < 64 ? "PASS" : "MISS") " target: peak RSS < 64 MiB (max " m " MiB)" }'
