#!/usr/bin/env bash
# Renders charts/awsops (arguments as for scripts/render-chart/main.go: -f
# values files, -name, -namespace) with Go's text/template and Debian's sprig;
# builds the renderer under AWSOPS_CACHE on first use.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/common.sh"
apt_install golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev
bin="$AWSOPS_CACHE/render-chart"
src="$here/render-chart/main.go"
if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
  GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOCACHE="$AWSOPS_CACHE/go-build-cache" go build -o "$bin" "$src"
fi
exec "$bin" "$@" "$here/../charts/awsops"
