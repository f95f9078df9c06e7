#!/usr/bin/env bash
# Scale benchmark (make bench): many small images against one big image of
# the same bytes, in one run. For each count of SCALE_COUNTS (default
# 10 100 1000) genlayout writes that many images of SCALE_IMAGE_SIZE
# (default 1MiB) over SCALE_REPOS (default 50) repositories; beside them
# one image of 8 layers holding as many bytes as the largest set. Each set
# goes through the steps an air gap takes, each under bin/peakrss:
#   push    seed the reference registry (timed once: a second push skips)
#   pull    ferry pull -f LIST --to DIR
#   crane-pull  the peer: crane pull --format=oci of the same list
#   pull-serve  the same from `ferry serve` of the set: a server of less
#           CPU an image than the reference registry, so the client's
#           own scaling shows
#   export  ferry export DIR --to X.tar
#   verify  ferry verify X.tar
#   import  ferry import X.tar --into DIR2
# pull to import run SCALE_RUNS times (default 2, interleaved across the
# sets so background load hits them alike); the best wall time is kept,
# with the highest peak RSS. Nothing of many files is deleted before a
# step is measured: every run writes into directories of its own and all
# are removed at the end (see docs/SCALE.md: on an ext4 without a journal
# every file created in a block group scans the inodes deleted there in
# the last minutes, which made the previous run's rm -rf the largest cost
# of a 1,000-image pull). Prints seconds, MiB/s, seconds per GiB against
# the big image's (the ratio the target bounds: <= 2x), peak RSS (< 64
# MiB), ferry's CPU time and the registry's beside the wall time (the load
# of other jobs stretches wall time far more than CPU time) and the
# 1-minute load average beside each figure (these 2 cores are shared),
# then PASS/MISS and the pull's time split into ferry's CPU, the
# registry's and waiting. Writes the figures to $dir/scale.tsv and, with
# bench/plot, the plot to $dir/scale.svg (SCALE_SVG=docs/scale.svg to
# refresh the one in the docs).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${BENCH_DIR:-out/bench}/scale"
read -r -a counts <<<"${SCALE_COUNTS:-10 100 1000}"
repos="${SCALE_REPOS:-50}"
isize="${SCALE_IMAGE_SIZE:-1MiB}"
runs="${SCALE_RUNS:-2}"
svg="${SCALE_SVG:-$dir/scale.svg}"
mkdir -p "$dir" bin
# make bench builds ferry and passes FERRY; run by hand, build it here so a
# stale bin/ferry is never the one measured.
if [ -z "${FERRY:-}" ]; then
	FERRY=bin/ferry
	go build -trimpath -o "$FERRY" ./cmd/ferry
fi
[ -x bin/registry ] || make -s registry
[ -x bin/crane ] || make -s "$PWD/bin/crane"
go build -o bin/peakrss ./bench/peakrss
go build -o bin/genlayout ./bench/genlayout
go build -o bin/plot ./bench/plot

largest=0
for n in "${counts[@]}"; do
	[ "$n" -gt "$largest" ] || continue
	largest=$n
done
for n in "${counts[@]}"; do
	bin/genlayout -out "$dir/gen-$n" -images "$n" -repos "$repos" -size "$isize" >/dev/null
done
# The big image: as many layer bytes as the largest set, in 8 layers.
isize_b=$(awk -v s="$isize" 'BEGIN { m = 1; if (s ~ /KiB$/) m = 1024; if (s ~ /MiB$/) m = 1048576; if (s ~ /GiB$/) m = 1073741824; sub(/[KMG]iB$/, "", s); printf "%d", s * m }')
bigsize=$((largest * isize_b / 1024))KiB
bin/genlayout -out "$dir/gen-big" -size "$bigsize" -blobs 8 >/dev/null

# What an earlier bench left is moved aside, not deleted, until this one
# has measured everything; each run's trees go under runs/.
trash="$dir/trash.$$"
mkdir -p "$trash"
for old in "$dir"/reg "$dir"/runs "$dir"/pull-* "$dir"/import-* "$dir"/*.tar; do
	[ ! -e "$old" ] || mv "$old" "$trash/"
done
runs_dir="$dir/runs"
mkdir -p "$runs_dir"
pid=""
declare -A spid=() shost=()
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null || true; for p in "${spid[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$trash" "$runs_dir"' EXIT
host=$(scripts/registry.sh "$dir/reg")
pid=$(cat "$dir/reg/pid")

load() { cut -d' ' -f1 /proc/loadavg; }
# regcpu: the registry's CPU seconds so far (user+system, /proc/PID/stat).
# It serves pull and push on the same cores as ferry, so a step's wall
# time is bound below by (ferry's CPU + the registry's) / cores, which the
# load of other jobs cannot lower; CPU time is what that load distorts
# least, so it is printed beside the wall time.
tck=$(getconf CLK_TCK)
srvpid="" # the server of the step being measured: the registry, or ferry serve
regcpu() { awk -v t="$tck" '{ print ($14 + $15) / t }' "/proc/${srvpid:-$pid}/stat"; }
min() { awk -v c="$1" -v d="$2" 'BEGIN { print (c == "" || d < c) ? d : c }'; }
declare -A T R L C G # best seconds, highest peak RSS (KiB), load beside the best, least ferry CPU, least registry CPU
# measure KEY CMD…: one run under peakrss; a failure ends the bench.
measure() {
	local key=$1 line wall kib cpu l r0 r1
	shift
	l=$(load)
	r0=$(regcpu)
	if ! bin/peakrss -json -- "$@" >"$dir/out" 2>"$dir/err"; then
		tail -n 20 "$dir/out" "$dir/err" >&2
		echo "bench: failed: $*" >&2
		exit 1
	fi
	r1=$(regcpu)
	line=$(tail -n1 "$dir/err")
	wall=$(sed 's/.*"wall":\([0-9.e+-]*\).*/\1/' <<<"$line")
	kib=$(sed 's/.*"maxrss_kib":\([0-9]*\).*/\1/' <<<"$line")
	cpu=$(sed 's/.*"cpu":\([0-9.e+-]*\).*/\1/' <<<"$line")
	if [ -z "${T[$key]:-}" ] || awk -v d="$wall" -v c="${T[$key]}" 'BEGIN { exit !(d < c) }'; then
		T[$key]=$wall L[$key]=$l
	fi
	R[$key]=$(awk -v c="${R[$key]:-0}" -v k="$kib" 'BEGIN { print (k > c) ? k : c }')
	C[$key]=$(min "${C[$key]:-}" "$cpu")
	G[$key]=$(min "${G[$key]:-}" "$(awk -v a="$r0" -v b="$r1" 'BEGIN { print b - a }')")
}

sets=("${counts[@]}" big)
declare -A list
for s in "${sets[@]}"; do
	if [ "$s" = big ]; then
		measure "$s push" "$FERRY" push "$dir/gen-big" bench.example/big/image2:v1 --to "$host"
		echo "$host/big/image2:v1" >"$dir/list-big"
	else
		measure "$s push" "$FERRY" push "$dir/gen-$s" --to "$host"
		# push --to keeps the repository path below the registry.
		sed "s|^bench.example/|$host/|" "$dir/gen-$s.refs" >"$dir/list-$s"
	fi
done
# The same sets served by ferry serve: the reference registry's own CPU
# per request (its 4 MiB read buffer per blob GET keeps its GC busy) is
# most of a 1,000-image pull's on these shared cores, so the pull is also
# timed against a server of far less CPU an image. What is left is the
# client's own scaling. Its CPU is counted as the registry's is.
for s in "${sets[@]}"; do
	sport=""
	for _ in $(seq 50); do
		sport=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$sport") 2>/dev/null; then break; fi
	done
	"$FERRY" serve --addr "127.0.0.1:$sport" "$dir/gen-$s" >"$dir/serve-$s.log" 2>&1 &
	spid[$s]=$!
	shost[$s]=127.0.0.1:$sport
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$sport") 2>/dev/null; then break; fi
		sleep 0.1
	done
	if [ "$s" = big ]; then
		echo "${shost[$s]}/big/image2:v1" >"$dir/slist-$s"
	else
		sed "s|^bench.example/|${shost[$s]}/|" "$dir/gen-$s.refs" >"$dir/slist-$s"
	fi
done
for r in $(seq "$runs"); do
	for s in "${sets[@]}"; do
		w="$runs_dir/$s.$r"
		mkdir -p "$w"
		sync # no dirty pages of the last run in this one's time
		measure "$s pull" "$FERRY" pull -f "$dir/list-$s" --to "$w/pull"
		sync
		# The peer, side by side: crane pulls every image of the list into
		# one OCI layout, as ferry does.
		# shellcheck disable=SC2046
		measure "$s crane-pull" bin/crane pull --insecure --format=oci $(cat "$dir/list-$s") "$w/cpull"
		sync
		srvpid=${spid[$s]}
		measure "$s pull-serve" "$FERRY" pull -f "$dir/slist-$s" --to "$w/spull"
		srvpid=""
		measure "$s export" "$FERRY" export "$w/pull" --to "$w/x.tar"
		measure "$s verify" "$FERRY" verify "$w/x.tar"
		measure "$s import" "$FERRY" import "$w/x.tar" --into "$w/import"
		rm -f "$w/x.tar" # one file: no inodes to scan past
	done
done

# Bytes are every blob of the pulled layout (layers, configs, manifests):
# what each step moves. Images are what index.json names.
declare -A B N
for s in "${sets[@]}"; do
	B[$s]=$(find "$runs_dir/$s.1/pull/blobs" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
	N[$s]=$(wc -l <"$dir/list-$s")
done
steps=(push pull crane-pull pull-serve export verify import)
tsv="$dir/scale.tsv"
printf 'set\timages\trepos\tbytes\tstep\tseconds\tpeak_rss_kib\tload1\tferry_cpu\tregistry_cpu\n' >"$tsv"
printf '\nferry scale benchmark: %s-byte images over %s repositories against one %s-byte image of 8 layers, %s cores, best of %s (push: once)\n' \
	"$isize_b" "$repos" "${B[big]}" "$(nproc)" "$runs"
printf '%-7s %6s %11s %-10s %8s %8s %8s %6s %8s %6s %8s %9s %6s\n' set images bytes step seconds MiB/s s/GiB "x big" "cpu s" "cpu xb" "reg cpu" "peak RSS" load
for s in "${sets[@]}"; do
	for st in "${steps[@]}"; do
		k="$s $st"
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "${N[$s]}" "$([ "$s" = big ] && echo 1 || echo $((s < repos ? s : repos)))" "${B[$s]}" "$st" "${T[$k]}" "${R[$k]}" "${L[$k]}" "${C[$k]}" "${G[$k]}" >>"$tsv"
		awk -v s="$s" -v n="${N[$s]}" -v b="${B[$s]}" -v st="$st" -v t="${T[$k]}" -v bb="${B[big]}" -v tb="${T["big $st"]}" -v k="${R[$k]}" -v l="${L[$k]}" \
			-v c="${C[$k]}" -v cb="${C["big $st"]}" -v g="${G[$k]}" 'BEGIN {
			x = (t / b) / (tb / bb)
			xc = (c / b) / (cb / bb)
			printf "%-7s %6d %11d %-10s %8.3f %8.1f %8.2f %6.2f %8.3f %6.2f %8.3f %8.1fM %6s\n", s, n, b, st, t, b / 1048576 / t, t / b * 1073741824, x, c, xc, g, k / 1024, l
		}'
	done
done
echo "(x big = seconds per byte over the big image's in the same step; cpu s = the client's CPU (ferry's; crane's for crane-pull), user+system; cpu xb = that per byte over the big image's; reg cpu = the server's CPU in the step (the registry's; for pull-serve, ferry serve's), on the same cores; both the least of the runs; load = 1-minute load average when the best run started, on $(nproc) cores)"
n=$largest
for st in pull crane-pull pull-serve export verify import push; do
	awk -v n="$n" -v st="$st" -v t="${T["$n $st"]}" -v b="${B[$n]}" -v tb="${T["big $st"]}" -v bb="${B[big]}" -v c="${C["$n $st"]}" -v cb="${C["big $st"]}" 'BEGIN {
		x = (t / b) / (tb / bb)
		xc = (c / b) / (cb / bb)
		v = (x <= 2 ? "PASS" : "MISS")
		if (st == "push") v = "(seeding, no target)"
		if (st == "pull-serve") v = "(the client against a lighter server, no target)"
		if (st == "crane-pull") v = "(the peer, no target)"
		printf "%s %s: %d images take %.2fx the big image'"'"'s time per byte (%.3fs vs %.3fs), target <= 2x; ferry CPU per byte %.2fx (%.3fs vs %.3fs)\n", v, st, n, x, t, tb, xc, c, cb
	}'
done
for s in "$n" big; do
	awk -v s="$s" -v f="${T["$s pull"]}" -v c="${T["$s crane-pull"]}" 'BEGIN {
		printf "pull against the peer (%s): ferry %.3fs, crane %.3fs: ferry %.2fx as fast\n", s, f, c, c / f
	}'
done
# The pull's wall time split: with the server on the same cores, no run
# can be faster than both processes' CPU spread over every core.
for st in pull pull-serve; do
	srv=registry
	[ "$st" = pull ] || srv="ferry serve"
	for s in "$n" big; do
		k="$s $st"
		awk -v st="$st" -v srv="$srv" -v s="$s" -v n="${N[$s]}" -v t="${T[$k]}" -v c="${C[$k]}" -v g="${G[$k]}" -v p="$(nproc)" 'BEGIN {
			f = (c + g) / p
			printf "%s split (%s): wall %.3fs; ferry CPU %.3fs; %s CPU %.3fs (%.2f ms an image); CPU floor (ferry + server) / %d cores = %.3fs, the rest (%.3fs) waits\n", st, s, t, c, srv, g, g * 1000 / n, p, f, (t > f ? t - f : 0)
		}'
	done
done
max=0
for k in "${!R[@]}"; do
	[ "${R[$k]}" -le "$max" ] || max=${R[$k]}
done
awk -v m="$max" 'BEGIN { m /= 1024; printf "%s target: peak RSS < 64 MiB in every step at every count (max %.1f MiB)\n", (m < 64 ? "PASS" : "MISS"), m }'
bin/plot -in "$tsv" -out "$svg"
echo "plot: $svg"
