#!/usr/bin/env bash
# Runs every fuzz target in the module for FUZZTIME each (default 3s in
# `make test`; `make fuzz FUZZTIME=5m` for a real session). A crasher is
# saved under the package's testdata/fuzz and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-3s}"
status=0
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u || true)
	for t in $targets; do
		echo "fuzz $pkg $t ($fuzztime)"
		if ! go test -run='^$' -fuzz="^${t}\$" -fuzztime="$fuzztime" "$pkg" >/tmp/ferry-fuzz.log 2>&1; then
			cat /tmp/ferry-fuzz.log
			status=1
		fi
	done
done
exit $status
