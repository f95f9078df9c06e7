#!/usr/bin/env bash
# Starts the reference registry on a free loopback port with its storage
# under DIR, prints HOST:PORT, and leaves it running; its PID goes to
# DIR/pid so the caller can stop it. Usage: registry.sh DIR
set -euo pipefail
dir="$1"
bin="${REGISTRY:-bin/registry}"
mkdir -p "$dir"
for _ in $(seq 50); do
	port=$((20000 + RANDOM % 20000))
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
done
cat >"$dir/config.yml" <<CFG
version: 0.1
log: {level: info, accesslog: {disabled: false}}
storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port, secret: ferry-demo}
CFG
"$bin" serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
echo $! >"$dir/pid"
for _ in $(seq 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "127.0.0.1:$port"
		exit 0
	fi
	sleep 0.1
done
echo "registry did not start; see $dir/registry.log" >&2
exit 1
