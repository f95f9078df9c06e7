#!/usr/bin/env bash
# WAN benchmark (make bench; runnable alone): ferry against skopeo, crane,
# regctl and oras, in one run, pulling and pushing through the reference
# registry over emulated wide-area links, because that is where an air
# gap's save side pulls from, and where the ranking differs from loopback.
#
# Two image sets, generated once by bench/genlayout and seeded once with
# ferry push: a many-image set (WAN_SET_IMAGES images of WAN_IMAGE_SIZE,
# one repository each, so no tool gains from blobs the images share) and
# one big image of one layer (WAN_BIG_SIZE). The issue's figures are 12
# images of 96MiB and a 1GiB image; the defaults are smaller so the whole
# bench stays near 15 minutes on 2 cores.
#
# Links (WAN_LINKS picks and orders them):
#   loopback   no proxy
#   cap25      toxiproxy: 25 ms each way, 25 MB/s per connection
#   cap50      toxiproxy: 50 ms each way, 12.5 MB/s per connection
#   shared25   bench/wanlink: 25 ms each way, 25 MB/s shared by all
#              connections (toxiproxy cannot share one budget)
# toxiproxy's bandwidth toxic goes downstream for pulls and upstream for
# pushes; wanlink limits both directions alike, as a full-duplex line.
#
# Every tool pulls into an OCI layout (ferry all images into one, the
# others one layout per image, in a shell loop: they take one image per
# command) and pushes from the layout it pulled on loopback. Every push
# goes to a freshly wiped registry, so no tool is handed a skip or a mount.
# Runs are interleaved across tools, WAN_RUNS (3) times; the median is
# printed with requests (from the registry's access log; 206 answers are
# ranged GETs, counted apart), peak RSS (bin/peakrss), tool and registry
# CPU, the CPU floor and the 1-minute load average when the run started.
# Then the issue's targets as PASS/MISS lines: a MISS is a finding, not a
# failure; a tool that fails a run is reported, and the bench goes on.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${BENCH_DIR:-out/bench}/wan"
runs="${WAN_RUNS:-3}"
nimg="${WAN_SET_IMAGES:-8}"
isize="${WAN_IMAGE_SIZE:-4MiB}"
bsize="${WAN_BIG_SIZE:-48MiB}"
read -r -a links <<<"${WAN_LINKS:-loopback cap25 cap50 shared25}"
read -r -a tools <<<"${WAN_TOOLS:-ferry skopeo crane regctl oras}"
# WAN_OPS and WAN_SETS narrow a run to some scenarios, to measure one
# change without the whole hour and a half (a push still needs its
# loopback pull, which runs, once and unreported, whatever they say).
read -r -a ops <<<"${WAN_OPS:-pull push}"
read -r -a sets <<<"${WAN_SETS:-set big}"
mkdir -p "$dir" bin
# make bench builds ferry and passes FERRY; run by hand, build it here so a
# stale bin/ferry is never the one measured.
if [ -z "${FERRY:-}" ]; then
	FERRY=bin/ferry
	go build -trimpath -o "$FERRY" ./cmd/ferry
fi
FERRY=$(realpath "$FERRY")
make -s registry wantools
command -v skopeo >/dev/null || { apt-get update -qq && apt-get install -y -qq skopeo; } >/dev/null
go build -o bin/peakrss ./bench/peakrss
go build -o bin/genlayout ./bench/genlayout
go build -o bin/wanlink ./bench/wanlink

# Link parameters: kind, one-way delay in ms, bytes per second.
declare -A KIND=([loopback]=none [cap25]=toxi [cap50]=toxi [shared25]=shared)
declare -A DELAY=([loopback]=0 [cap25]=25 [cap50]=50 [shared25]=25)
declare -A RATE=([loopback]=0 [cap25]=25000000 [cap50]=12500000 [shared25]=25000000)
for l in "${links[@]}"; do
	[ -n "${KIND[$l]:-}" ] || { echo "wan: unknown link $l (WAN_LINKS: loopback cap25 cap50 shared25)" >&2; exit 2; }
done

bin/genlayout -out "$dir/set" -images "$nimg" -repos "$nimg" -size "$isize" >/dev/null
bin/genlayout -out "$dir/big" -size "$bsize" -blobs 1 >/dev/null
blobbytes() { find "$1/blobs" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }'; }
declare -A BYTES=([set]=$(blobbytes "$dir/set") [big]=$(blobbytes "$dir/big"))
# Repository paths as pushed: the set's names, and the big image's.
mapfile -t setnames < <(sed 's|^bench\.example/||' "$dir/set.refs")
bignames=(big/image2:v1)

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
freeport() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 20000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
	echo "wan: no free port" >&2
	exit 1
}
waitport() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "wan: nothing listens on port $1" >&2
	exit 1
}

# The source registry, seeded once; the push registry, wiped before
# every push run and restarted on the same port the proxies point at.
rm -rf "$dir/reg-src" "$dir/reg-dst"
src=$(scripts/registry.sh "$dir/reg-src")
pids+=("$(cat "$dir/reg-src/pid")")
"$FERRY" push "$dir/set" --to "$src" >/dev/null
"$FERRY" push "$dir/big" bench.example/big/image2:v1 --to "$src" >/dev/null
dst=$(scripts/registry.sh "$dir/reg-dst")
dstpid=$(cat "$dir/reg-dst/pid")
pids+=("$dstpid")
restart_dst() {
	kill "$dstpid" 2>/dev/null || true
	while kill -0 "$dstpid" 2>/dev/null; do sleep 0.05; done
	rm -rf "$dir/reg-dst/data"
	bin/registry serve "$dir/reg-dst/config.yml" >"$dir/reg-dst/registry.log" 2>&1 &
	dstpid=$!
	pids+=("$dstpid")
	waitport "${dst##*:}"
}

# The proxies: for each link, one in front of each registry.
declare -A PULLHOST PUSHHOST
toxi=""
for l in "${links[@]}"; do
	case ${KIND[$l]} in
	none) PULLHOST[$l]=$src PUSHHOST[$l]=$dst ;;
	toxi)
		if [ -z "$toxi" ]; then
			toxi=127.0.0.1:$(freeport)
			bin/toxiproxy-server -host 127.0.0.1 -port "${toxi##*:}" >"$dir/toxiproxy.log" 2>&1 &
			pids+=($!)
			waitport "${toxi##*:}"
		fi
		for op in pull push; do
			up=$src stream=downstream
			[ "$op" = push ] && up=$dst stream=upstream
			addr=127.0.0.1:$(freeport)
			api() { curl -fsS -o /dev/null -X POST "http://$toxi$1" -d "$2"; }
			api /proxies "{\"name\":\"$l-$op\",\"listen\":\"$addr\",\"upstream\":\"$up\"}"
			for s in upstream downstream; do
				api "/proxies/$l-$op/toxics" "{\"name\":\"lat-$s\",\"type\":\"latency\",\"stream\":\"$s\",\"attributes\":{\"latency\":${DELAY[$l]}}}"
			done
			api "/proxies/$l-$op/toxics" "{\"name\":\"bw\",\"type\":\"bandwidth\",\"stream\":\"$stream\",\"attributes\":{\"rate\":$((RATE[$l] / 1000))}}"
			if [ "$op" = pull ]; then PULLHOST[$l]=$addr; else PUSHHOST[$l]=$addr; fi
		done
		;;
	shared)
		for op in pull push; do
			up=$src
			[ "$op" = push ] && up=$dst
			bin/wanlink -to "$up" -rate "${RATE[$l]}" -delay "${DELAY[$l]}ms" >"$dir/wanlink-$l-$op.addr" 2>"$dir/wanlink-$l-$op.log" &
			pids+=($!)
			for _ in $(seq 50); do [ -s "$dir/wanlink-$l-$op.addr" ] && break; sleep 0.1; done
			addr=$(head -n1 "$dir/wanlink-$l-$op.addr")
			if [ "$op" = pull ]; then PULLHOST[$l]=$addr; else PUSHHOST[$l]=$addr; fi
		done
		;;
	esac
done

# script TOOL OP SET HOST OUT: writes the commands of one run to a file,
# the exact lines each tool is measured on. Pulls read from HOST into
# OUT; pushes read the layout(s) the tool pulled on loopback.
script() {
	local tool=$1 op=$2 set=$3 host=$4 out=$5 names i n
	if [ "$set" = set ]; then names=("${setnames[@]}"); else names=("${bignames[@]}"); fi
	local from="$dir/src-$tool-$set"
	{
		echo "set -e"
		# Every tool is told the registry speaks plain HTTP, as the peers
		# must be (ferry would otherwise try TLS first on a loopback
		# address, a round trip the peers are spared).
		if [ "$tool" = ferry ] && [ "$op" = pull ]; then
			printf '%q pull --plain-http %s' "$FERRY" "$host"
			for n in "${names[@]}"; do printf ' %s' "$host/$n"; done
			printf ' --to %q\n' "$out"
		elif [ "$tool" = ferry ]; then
			printf '%q push --plain-http %s %q --to %s\n' "$FERRY" "$host" "$from" "$host"
		else
			i=0
			for n in "${names[@]}"; do
				case $tool-$op in
				skopeo-pull) echo "skopeo copy -q --all --src-tls-verify=false docker://$host/$n oci:$out/$i:v1" ;;
				skopeo-push) echo "skopeo copy -q --all --dest-tls-verify=false oci:$from/$i:v1 docker://$host/$n" ;;
				crane-pull) echo "bin/crane pull --format=oci $host/$n $out/$i" ;;
				crane-push) echo "bin/crane push $from/$i $host/$n" ;;
				regctl-pull) echo "bin/regctl --host reg=$host,tls=disabled image copy $host/$n ocidir://$out/$i:v1" ;;
				regctl-push) echo "bin/regctl --host reg=$host,tls=disabled image copy ocidir://$from/$i:v1 $host/$n" ;;
				oras-pull) echo "bin/oras copy --from-plain-http $host/$n --to-oci-layout $out/$i:v1" ;;
				oras-push) echo "bin/oras copy --from-oci-layout $from/$i:v1 --to-plain-http $host/$n" ;;
				*) echo "wan: no command for $tool $op" >&2; exit 2 ;;
				esac
				i=$((i + 1))
			done
		fi
	} >"$dir/cmd.sh"
}

tck=$(getconf CLK_TCK)
regcpu() { awk -v t="$tck" '{ printf "%.3f", ($14+$15)/t }' "/proc/$1/stat" 2>/dev/null || echo 0; }
json_field() { tail -n1 "$1" | sed "s/.*\"$2\":\([0-9.e+-]*\).*/\1/"; }
load() { cut -d' ' -f1 /proc/loadavg; }
now() { date +%s.%N; }
# Requests to /v2 in a registry log, and those answered 206 (ranged GETs).
requests() { grep -cE '"(GET|HEAD|POST|PUT|PATCH|DELETE) /v2' "$1" || true; }
ranged() { grep -cE '"GET /v2[^"]*" 206 ' "$1" || true; }

# run KEY TOOL OP SET LINK: one measured run; appends
# "seconds cpu regcpu rss_kib requests ranged load" to RUNS[KEY], or
# marks KEY failed with the tool's stderr kept in $dir/fail-*.log.
declare -A RUNS FAILED
run() {
	local key=$1 tool=$2 op=$3 set=$4 link=$5 host out log pid t0 t1 g0 q0 r0 l0 n0
	if [ "$op" = pull ]; then
		host=${PULLHOST[$link]} log=$dir/reg-src/registry.log pid=$(cat "$dir/reg-src/pid")
		out=$dir/out-$tool-$set
		[ "$link" = loopback ] && out=$dir/src-$tool-$set # what this tool pushes later
		rm -rf "$out"
		[ "$tool" = ferry ] || mkdir -p "$out"
	else
		restart_dst
		host=${PUSHHOST[$link]} log=$dir/reg-dst/registry.log pid=$dstpid out=""
	fi
	script "$tool" "$op" "$set" "$host" "$out"
	cp "$dir/cmd.sh" "$dir/cmd-$tool-$op-$set-$link.sh"
	sync # no dirty pages of the last run are written back during this one
	q0=$(requests "$log") r0=$(ranged "$log") g0=$(regcpu "$pid") l0=$(load) n0=$(wc -l <"$log")
	t0=$(now)
	if ! bin/peakrss -json -- bash "$dir/cmd.sh" >"$dir/run.out" 2>"$dir/run.err"; then
		FAILED[$key]=1
		cp "$dir/run.err" "$dir/fail-$tool-$op-$set-$link.log"
		echo "wan: $tool $op $set over $link failed; see $dir/fail-$tool-$op-$set-$link.log" >&2
		tail -n3 "$dir/run.err" >&2
		return
	fi
	t1=$(now)
	# The run's own access-log lines, for whoever wants to know which
	# requests a tool sent, not only how many (the last run's is kept).
	tail -n +"$((n0 + 1))" "$log" | grep -E '"(GET|HEAD|POST|PUT|PATCH|DELETE) /v2' >"$dir/reqs-$tool-$op-$set-$link.log" || true
	RUNS[$key]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b-a }') $(json_field "$dir/run.err" cpu) $(awk -v a="$g0" -v b="$(regcpu "$pid")" 'BEGIN { printf "%.3f", b-a }') $(json_field "$dir/run.err" maxrss_kib) $(($(requests "$log") - q0)) $(($(ranged "$log") - r0)) $l0;"
}

# The loopback pulls come first whatever WAN_LINKS says: every push reads
# what its tool pulled there.
order=(loopback)
for l in "${links[@]}"; do [ "$l" = loopback ] || order+=("$l"); done
declare -A SHOWN HIDE
for l in "${order[@]}"; do SHOWN[$l]=0; done
for l in "${links[@]}"; do SHOWN[$l]=1; done
[ -n "${PULLHOST[loopback]:-}" ] || PULLHOST[loopback]=$src PUSHHOST[loopback]=$dst
has() { [[ " $1 " == *" $2 "* ]]; }
scenarios=()
for l in "${order[@]}"; do
	for op in pull push; do
		for set in "${sets[@]}"; do
			if [ "${SHOWN[$l]}" = 1 ] && has "${ops[*]}" "$op"; then
				scenarios+=("$l $op $set")
			elif [ "$l" = loopback ] && [ "$op" = pull ] && has "${ops[*]}" push; then
				scenarios+=("$l $op $set") HIDE["$l $op $set"]=1
			fi
		done
	done
done
t_start=$(now)
for sc in "${scenarios[@]}"; do
	read -r l op set <<<"$sc"
	r=$runs
	[ -z "${HIDE[$sc]:-}" ] || r=1 # loopback only to have something to push
	for i in $(seq "$r"); do
		printf 'wan: %s %s %s, run %s of %s (%ss in)\n' "$l" "$op" "$set" "$i" "$r" "$(awk -v a="$t_start" -v b="$(now)" 'BEGIN { printf "%.0f", b-a }')" >&2
		for tool in "${tools[@]}"; do
			run "$l $op $set $tool" "$tool" "$op" "$set" "$l"
		done
	done
done
elapsed=$(awk -v a="$t_start" -v b="$(now)" 'BEGIN { printf "%.0f", b-a }')

# median KEY FIELD: FIELD (1-based) of the median run by wall time.
median() {
	tr ';' '\n' <<<"${RUNS[$1]:-}" | awk 'NF' | sort -n -k1,1 | awk -v f="$2" '{ v[NR] = $f } END { if (NR) print v[int((NR + 1) / 2)] }'
}
maxrss() { tr ';' '\n' <<<"${RUNS[$1]:-}" | awk 'NF { if ($4 > m) m = $4 } END { printf "%.1f", m / 1024 }'; }

cores=$(nproc)
echo
echo "ferry WAN benchmark: $(uname -m), $cores cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(date -u +%Y-%m-%dT%H:%MZ), ${elapsed}s"
echo "tools: ferry $("$FERRY" --version 2>/dev/null | awk '{ print $NF }'), skopeo $(skopeo --version | awk '{ print $3 }'), crane $(bin/crane version), regctl $(bin/regctl version --format '{{.VCSTag}}' 2>/dev/null || echo v0.11.7), oras $(bin/oras version | awk '/^Version/ { print $2 }'), registry $(bin/registry --version | awk '{ print $3 }'), toxiproxy $(awk '/^TOXIPROXY_VERSION/ { print $3 }' Makefile) (its binary says only \"git\"), wanlink (bench/wanlink)"
printf 'sets: many = %s images of %s (%s bytes of blobs); big = one image of one %s layer (%s bytes); median of %s runs\n' "$nimg" "$isize" "${BYTES[set]}" "$bsize" "${BYTES[big]}" "$runs"
echo "links: loopback; cap25 = toxiproxy 25 ms each way, 25 MB/s per connection; cap50 = 50 ms, 12.5 MB/s per connection; shared25 = wanlink 25 ms each way, 25 MB/s shared by all connections (MB = 10^6 bytes)"
printf '\n%-22s %-7s %8s %7s %9s %7s %9s %8s %8s %7s %5s\n' scenario tool seconds ratio requests ranged "peak RSS" "tool CPU" "reg CPU" floor load
# RATIO[scenario] = fastest peer's seconds / ferry's; PEER[scenario] its name.
declare -A RATIO PEER FT PT LIMIT
for sc in "${scenarios[@]}"; do
	read -r l op set <<<"$sc"
	[ -z "${HIDE[$sc]:-}" ] || continue
	best="" bestt=""
	for tool in "${tools[@]}"; do
		[ "$tool" = ferry ] && continue
		t=$(median "$sc $tool" 1)
		[ -n "$t" ] && [ -z "${FAILED[$sc $tool]:-}" ] || continue
		if [ -z "$bestt" ] || awk -v a="$t" -v b="$bestt" 'BEGIN { exit !(a < b) }'; then best=$tool bestt=$t; fi
	done
	ft=$(median "$sc ferry" 1)
	[ -n "${FAILED[$sc ferry]:-}" ] && ft=""
	FT[$sc]=$ft PT[$sc]=$bestt PEER[$sc]=$best
	[ -n "$ft" ] && [ -n "$bestt" ] && RATIO[$sc]=$(awk -v p="$bestt" -v f="$ft" 'BEGIN { printf "%.3f", p/f }')
	if [ "${KIND[$l]}" = shared ]; then
		LIMIT[$sc]=$(awk -v b="${BYTES[$set]}" -v r="${RATE[$l]}" 'BEGIN { printf "%.3f", b/r }')
	fi
	for tool in "${tools[@]}"; do
		k="$sc $tool"
		if [ -n "${FAILED[$k]:-}" ] || [ -z "${RUNS[$k]:-}" ]; then
			printf '%-22s %-7s %8s\n' "$l $op $set" "$tool" FAILED
			continue
		fi
		ratio="" mark=""
		[ "$tool" = ferry ] && ratio=${RATIO[$sc]:-}
		[ "$tool" = "$best" ] && mark="*"
		c=$(median "$k" 2) g=$(median "$k" 3)
		printf '%-22s %-7s %8.2f %7s %9s %7s %8sM %7.2fs %7.2fs %6.2fs %5s\n' "$l $op $set" "$tool$mark" "$(median "$k" 1)" "${ratio:+${ratio}x}" "$(median "$k" 5)" "$(median "$k" 6)" "$(maxrss "$k")" "$c" "$g" "$(awk -v c="$c" -v g="$g" -v n="$cores" 'BEGIN { printf "%.2f", (c+g)/n }')" "$(median "$k" 7)"
	done
	if [ -n "${LIMIT[$sc]:-}" ]; then
		printf '%-22s %-7s %8.2f %7s  (the link'"'"'s limit: %s bytes / %s B/s; ferry at %sx of it)\n' "$l $op $set" limit "${LIMIT[$sc]}" "" "${BYTES[$set]}" "${RATE[$l]}" "$(awk -v l="${LIMIT[$sc]}" -v f="${ft:-0}" 'BEGIN { if (f > 0) printf "%.2f", l/f; else print "-" }')"
	fi
done
echo "(* = fastest peer; ratio = fastest peer's seconds / ferry's; ranged = GETs answered 206, counted in requests too;"
echo " floor = (tool CPU + registry CPU) / $cores cores: the least wall time that work can take on this machine; load = 1-minute load average when the median run started)"

# The targets of issue 12, as it states them.
echo
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { exit !(v != "" && v + 0 >= t + 0) }' && echo PASS || echo MISS; }
for sc in "${scenarios[@]}"; do
	read -r l op set <<<"$sc"
	[ -z "${HIDE[$sc]:-}" ] || continue
	r=${RATIO[$sc]:-} what="$l $op $set"
	case ${KIND[$l]}-$op in
	toxi-pull) echo "$(verdict "$r" 1.3) capped connections, $what: pull >= 1.3x the fastest peer (${r:-?}x, ${PEER[$sc]:-none} ${PT[$sc]:-?}s, ferry ${FT[$sc]:-?}s)" ;;
	toxi-push)
		echo "$(verdict "$r" 1.2) capped connections, $what: push >= 1.2x the fastest peer (${r:-?}x, ${PEER[$sc]:-none} ${PT[$sc]:-?}s, ferry ${FT[$sc]:-?}s)"
		if [ "$set" = big ]; then
			# One blob's chunks go in order on one connection (the
			# distribution spec), so its bytes over one connection's
			# cap bound every client.
			awk -v b="${BYTES[big]}" -v r="${RATE[$l]}" -v p="${PT[$sc]:-0}" -v f="${FT[$sc]:-0}" 'BEGIN { printf "  (one blob goes over one connection, its chunks in order by the spec: no client pushes it in less than %s bytes / %s B/s = %.2fs; 1.2x the fastest peer would need %.2fs; ferry took %.2fs, %.3fx that bound)\n", b, r, b/r, p/1.2, f, (f > 0 ? (b/r)/f : 0) }'
		fi
		;;
	shared-*)
		lr=$(awk -v l="${LIMIT[$sc]}" -v f="${FT[$sc]:-0}" 'BEGIN { if (f > 0) printf "%.3f", l/f }')
		echo "$(verdict "$lr" 0.98) shared link, $what: >= 0.98x the link's limit (${lr:-?}x: limit ${LIMIT[$sc]}s, ferry ${FT[$sc]:-?}s)"
		echo "$(verdict "$r" 1.0) shared link, $what: never behind a peer (${r:-?}x, ${PEER[$sc]:-none} ${PT[$sc]:-?}s)"
		;;
	none-*)
		if [ "$set" = set ]; then
			echo "$(verdict "$r" 1.3) loopback, many-image set $op >= 1.3x the fastest peer (${r:-?}x, ${PEER[$sc]:-none} ${PT[$sc]:-?}s, ferry ${FT[$sc]:-?}s)"
		elif [ "$op" = push ]; then
			ct=$(median "$sc crane" 1)
			cr=$(awk -v c="$ct" -v f="${FT[$sc]:-0}" 'BEGIN { if (c != "" && f > 0) printf "%.2f", c/f }')
			cts=${ct:+${ct}s}
			echo "$(verdict "$cr" 1.0) loopback, one big image push >= 1.0x crane (${cr:-?}x, crane ${cts:-not measured}, ferry ${FT[$sc]:-?}s)"
		fi
		;;
	esac
done
# Requests besides ranged GETs: ferry's against each peer's, in every
# scenario; and ferry's peak RSS, the highest of any run.
rq=PASS rqmiss="" rss=0
for sc in "${scenarios[@]}"; do
	read -r l op set <<<"$sc"
	[ -z "${HIDE[$sc]:-}" ] || continue
	fq=$(($(median "$sc ferry" 5) - $(median "$sc ferry" 6)))
	for tool in "${tools[@]}"; do
		[ "$tool" = ferry ] || [ -z "${RUNS[$sc $tool]:-}" ] && continue
		pq=$(($(median "$sc $tool" 5) - $(median "$sc $tool" 6)))
		if [ "$fq" -gt "$pq" ]; then rq=MISS rqmiss+=" $l $op $set: ferry $fq > $tool $pq;"; fi
	done
	rss=$(awk -v a="$rss" -v b="$(maxrss "$sc ferry")" 'BEGIN { print (b > a ? b : a) }')
done
echo "$rq requests other than ranged GETs the fewest in every scenario${rqmiss:+ (}${rqmiss%;}${rqmiss:+)}"
echo "$(awk -v m="$rss" 'BEGIN { print (m < 64 ? "PASS" : "MISS") }') peak RSS < 64 MiB in every scenario (ferry's highest: $rss MiB)"
echo
echo "commands (as run for the last scenario of each kind; $dir/cmd-TOOL-OP-SET-LINK.sh holds every one, $dir/reqs-TOOL-OP-SET-LINK.log the requests of its last run):"
for tool in "${tools[@]}"; do
	for op in pull push; do
		f=$(ls -t "$dir"/cmd-"$tool"-"$op"-big-*.sh 2>/dev/null | head -n1)
		[ -n "$f" ] && printf '  %-6s %s: %s\n' "$tool" "$op" "$(sed -n 2p "$f" | sed "s|$PWD/||g")"
	done
done
