#!/usr/bin/env bash
# Benchmark for ferry pull and push (make bench): a generated image of
# BENCH_SIZE (default 1 GiB) over several layers, through the reference
# registry on loopback, side by side in one run with skopeo (Debian's
# package: copy --all into oci: and back) and crane (pull --format=oci,
# push). Every push goes to a fresh registry so no tool gets a mount or a
# skip. Prints wall times (best of BENCH_RUNS), ratios, peak RSS and the
# HTTP requests each tool sent, counted from the registry's access log.
set -euo pipefail
cd "$(dirname "$0")/.."
FERRY="${FERRY:-bin/ferry}"
dir="${BENCH_DIR:-out/bench}"
size="${BENCH_SIZE:-1GiB}"
blobs="${BENCH_BLOBS:-8}"
runs="${BENCH_RUNS:-3}"
mkdir -p "$dir" bin
[ -x "$FERRY" ] || go build -o "$FERRY" ./cmd/ferry
[ -x bin/registry ] || make -s registry
[ -x bin/crane ] || GOBIN="$PWD/bin" go install github.com/google/go-containerregistry/cmd/crane@v0.22.1
command -v skopeo >/dev/null || { apt-get update -qq && apt-get install -y -qq skopeo; } >/dev/null
go build -o bin/peakrss ./bench/peakrss
go run ./bench/genlayout -out "$dir/layout" -size "$size" -blobs "$blobs" >/dev/null
image=bench.example/big/image2:v1 # holds every layer
bytes=$(find "$dir/layout/blobs" -type f -size +1M -printf '%s\n' | awk '{s+=$1} END {print s}')

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
start_registry() { # start_registry NAME → sets $host
	rm -rf "$dir/reg-$1"
	host=$(scripts/registry.sh "$dir/reg-$1")
	pids+=("$(cat "$dir/reg-$1/pid")")
}
requests() { grep -cE '"(GET|HEAD|POST|PUT|PATCH|DELETE) /v2' "$1" || true; }
tck=$(getconf CLK_TCK)
regcpu() { awk -v t="$tck" '{ printf "%.3f", ($14+$15)/t }' "/proc/$1/stat"; } # CPU seconds a registry PID has used
json_field() { tail -n1 "$1" | sed "s/.*\"$2\":\([0-9.e-]*\).*/\1/"; }
now() { date +%s.%N; }

# measure LABEL LOG CMD…: best wall time of $runs runs (PREP runs before
# each), peak RSS of the last, and requests per run from LOG.
# C and G hold the tool's and the registry's CPU seconds in the best run.
declare -A T R Q C G
# keep LABEL T0 T1 REGCPU: record this run if it is the best so far.
keep() {
	local d
	d=$(awk -v a="$2" -v b="$3" 'BEGIN { print b-a }')
	if [ -z "${T[$1]:-}" ] || awk -v d="$d" -v c="${T[$1]}" 'BEGIN { exit !(d < c) }'; then
		T[$1]=$d C[$1]=$(json_field "$dir/rss.json" cpu) G[$1]=$4
	fi
}
measure() {
	local label=$1 log=$2 prep=$3
	shift 3
	local rss="" reqs="" pid
	pid=$(cat "$dir/reg-src/pid")
	for _ in $(seq "$runs"); do
		eval "$prep"
		sync # start every run with no dirty pages from the last one
		local before t0 t1 g0
		before=$(requests "$log")
		g0=$(regcpu "$pid")
		t0=$(now)
		bin/peakrss -json -- "$@" >/dev/null 2>"$dir/rss.json"
		t1=$(now)
		reqs=$(($(requests "$log") - before))
		rss=$(json_field "$dir/rss.json" maxrss_kib)
		keep "$label" "$t0" "$t1" "$(awk -v a="$g0" -v b="$(regcpu "$pid")" 'BEGIN { print b-a }')"
	done
	R[$label]=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k/1024 }') Q[$label]=$reqs
}

# Seed the source registry once with ferry.
start_registry src
src=$host
"$FERRY" push "$dir/layout" "$image" --to "$src" >/dev/null
ref="$src/big/image2:v1"
log="$dir/reg-src/registry.log"

measure "ferry pull" "$log" 'rm -rf "$dir/p-ferry"' "$FERRY" pull "$ref" --to "$dir/p-ferry"
measure "crane pull" "$log" 'rm -rf "$dir/p-crane"' bin/crane pull --format=oci "$ref" "$dir/p-crane"
measure "skopeo pull" "$log" 'rm -rf "$dir/p-skopeo"' skopeo copy -q --all --src-tls-verify=false "docker://$ref" "oci:$dir/p-skopeo:v1"
# Into one archive file, the shape carried across an air gap.
measure "ferry .tar" "$log" 'rm -f "$dir/a-ferry.tar"' "$FERRY" pull "$ref" --to "$dir/a-ferry.tar"
measure "crane .tar" "$log" 'rm -f "$dir/a-crane.tar"' bin/crane pull "$ref" "$dir/a-crane.tar"
measure "skopeo .tar" "$log" 'rm -f "$dir/a-skopeo.tar"' skopeo copy -q --all --src-tls-verify=false "docker://$ref" "oci-archive:$dir/a-skopeo.tar:v1"

measure_push() { # measure_push LABEL CMD-TEMPLATE (uses $dst)
	local label=$1 tmpl=$2 rss="" reqs=""
	for _ in $(seq "$runs"); do
		kill "${pids[@]}" 2>/dev/null || true
		pids=()
		start_registry push
		local dst=$host t0 t1 g0 pid
		pid=$(cat "$dir/reg-push/pid")
		sync
		g0=$(regcpu "$pid")
		t0=$(now)
		eval "bin/peakrss -json -- $tmpl" >/dev/null 2>"$dir/rss.json"
		t1=$(now)
		reqs=$(requests "$dir/reg-push/registry.log")
		rss=$(json_field "$dir/rss.json" maxrss_kib)
		keep "$label" "$t0" "$t1" "$(awk -v a="$g0" -v b="$(regcpu "$pid")" 'BEGIN { print b-a }')"
	done
	R[$label]=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k/1024 }') Q[$label]=$reqs
}
measure_push "ferry push" '"$FERRY" push "$dir/p-ferry" --to "$dst"'
measure_push "crane push" 'bin/crane push "$dir/p-crane" "$dst/big/image2:v1"'
measure_push "skopeo push" 'skopeo copy -q --all --dest-tls-verify=false "oci:$dir/p-skopeo:v1" "docker://$dst/big/image2:v1"'

printf '\nferry pull/push benchmark: %s bytes of layers in %s blobs, %s cores, best of %s\n' "$bytes" "$blobs" "$(nproc)" "$runs"
# The floor is the run's CPU seconds, tool's plus registry's, spread over
# every core: no schedule of that work can finish sooner on this machine.
cores=$(nproc)
floor() { awk -v c="${C[$1]}" -v g="${G[$1]}" -v n="$cores" 'BEGIN { printf "%.3f", (c+g)/n }'; }
printf '%-12s %9s %9s %10s %9s %9s %9s %9s\n' run seconds MiB/s "peak RSS" requests "tool CPU" "reg CPU" "floor"
for k in "ferry pull" "crane pull" "skopeo pull" "ferry .tar" "crane .tar" "skopeo .tar" "ferry push" "crane push" "skopeo push"; do
	printf '%-12s %9.3f %9.0f %9sM %9s %8.2fs %8.2fs %8.2fs\n' "$k" "${T[$k]}" "$(awk -v b="$bytes" -v s="${T[$k]}" 'BEGIN { print b/1048576/s }')" "${R[$k]}" "${Q[$k]}" "${C[$k]}" "${G[$k]}" "$(floor "$k")"
done
echo "(floor = (tool CPU + registry CPU) / $cores cores: the least wall time that work can take on this machine)"
awk -v f="${T["ferry .tar"]}" -v c="${T["crane .tar"]}" -v s="${T["skopeo .tar"]}" 'BEGIN { p = (c < s ? c : s); printf "pull into one archive: ferry is %.2fx the faster peer (crane %.3fs, skopeo %.3fs)\n", p/f, c, s }'
for op in pull push; do
	f=${T["ferry $op"]} c=${T["crane $op"]} s=${T["skopeo $op"]}
	peer=$(awk -v c="$c" -v s="$s" 'BEGIN { print (c < s ? c : s) }')
	ratio=$(awk -v p="$peer" -v f="$f" 'BEGIN { printf "%.2f", p/f }')
	printf '%s: ferry is %sx the faster peer (crane %.3fs, skopeo %.3fs) ' "$op" "$ratio" "$c" "$s"
	awk -v r="$ratio" 'BEGIN { print (r >= 1.3 ? "PASS" : "MISS") " target >= 1.3x" }'
	awk -v p="$peer" -v fl="$(floor "ferry $op")" -v op="$op" 'BEGIN { printf "%s: 1.3x needs ferry in %.3fs; its own CPU floor here is %.3fs, so the best reachable ratio on this machine is %.2fx\n", op, p/1.3, fl, p/fl }'
	fq=${Q["ferry $op"]} cq=${Q["crane $op"]} sq=${Q["skopeo $op"]}
	if [ "$fq" -le "$cq" ] && [ "$fq" -le "$sq" ]; then v=PASS; else v=MISS; fi
	printf '%s: requests ferry %s, crane %s, skopeo %s: %s target: never more than either\n' "$op" "$fq" "$cq" "$sq" "$v"
	awk -v m="${R["ferry $op"]}" -v op="$op" 'BEGIN { print op ": " (m < 100 ? "PASS" : "MISS") " target: peak RSS < 100 MiB (" m " MiB)" }'
done
