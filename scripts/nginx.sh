#!/usr/bin/env bash
# Installs nginx from Debian when missing: the static-route tests
# (sync/web) serve an exported layout with the real web server rather
# than Go's file server, so what they prove holds for what users publish
# with. Quiet when present; without root or apt-get it says why and exits
# 0, and the tests then skip, or fail when CI is set.
set -euo pipefail
command -v nginx >/dev/null 2>&1 && exit 0
[ -x /usr/sbin/nginx ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "nginx.sh: nginx missing and cannot be installed here (the web-server tests skip, or fail under CI)" >&2
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "nginx.sh: installing nginx" >&2
# nginx-light was folded into nginx in newer Debian; try the small one first.
for pkg in nginx-light nginx; do
	apt-get install -y -qq --no-install-recommends "$pkg" >&2 && exit 0
done
apt-get update -qq >&2
for pkg in nginx-light nginx; do
	apt-get install -y -qq --no-install-recommends "$pkg" >&2 && exit 0
done
echo "nginx.sh: could not install nginx" >&2
exit 1
