#!/usr/bin/env bash
# Keeps docs/COMPATIBILITY.md's measured tables equal to what the interop
# suite last measured (out/interop.md, written by `make interop`).
#   compat-docs.sh check   exit 1 if they differ (a warning only without CI)
#   compat-docs.sh update  rewrite the measured part of the doc
set -euo pipefail
cd "$(dirname "$0")/.."
doc=docs/COMPATIBILITY.md
report=out/interop.md
[ -f "$report" ] || { echo "compat-docs: no $report; run make interop" >&2; exit 1; }

# The measured part: engine versions (ferry's own version and the run time
# dropped, they change every run), then the tables and their legend, up to
# the clean-up line.
measured() {
	awk '
		/^ferry version / { n = split($0, f, "; "); line = "Measured with"; for (i = 2; i < n; i++) line = line (i > 2 ? ";" : "") " " f[i]; print line "."; print ""; next }
		/^## / { on = 1 }
		/^Clean-up:/ { on = 0 }
		on { sub(/^## /, "### "); print }
	' "$report" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}
current() { awk '/<!-- measured:end -->/ { on = 0 } on { print } /<!-- measured:begin -->/ { on = 1 }' "$doc"; }

case "${1:-check}" in
update)
	tmp=$(mktemp)
	{
		awk '{ print } /<!-- measured:begin -->/ { exit }' "$doc"
		measured
		awk '/<!-- measured:end -->/ { on = 1 } on { print }' "$doc"
	} >"$tmp"
	mv "$tmp" "$doc"
	echo "compat-docs: $doc updated from $report"
	;;
check)
	if diff -u <(current) <(measured) >out/compat-docs.diff; then
		echo "compat-docs: $doc matches what the suite measured"
	else
		echo "compat-docs: $doc differs from what the suite measured (out/compat-docs.diff); run make compat-docs if the change is expected" >&2
		[ -z "${CI:-}" ] || exit 1
	fi
	;;
*) echo "usage: compat-docs.sh check|update" >&2; exit 2 ;;
esac
