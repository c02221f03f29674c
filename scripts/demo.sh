#!/usr/bin/env bash
# `make demo`: the controller's reconcilers driving the AWS emulator, with no
# AWS account and no cluster of yours. Starts a private kube-apiserver and the
# moto emulator on 127.0.0.1, seeds an Aurora MySQL cluster and a hosted zone,
# applies examples/ and runs `awsops controller` until the failover has
# succeeded and the site is ready, then prints the results and stops it all.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/common.sh"
cd "$here/.."
log "building awsops"
cargo build --quiet
bin="${CARGO_TARGET_DIR:-target}/debug/awsops"

env_dir="$(mktemp -d "${TMPDIR:-/tmp}/awsops-demo.XXXXXX")"
controller_pid=""
cleanup() {
  [ -n "$controller_pid" ] && kill "$controller_pid" 2>/dev/null && wait "$controller_pid" 2>/dev/null
  "$here/testenv.sh" stop "$env_dir"
}
trap cleanup EXIT
"$here/testenv.sh" start "$env_dir"
. "$env_dir/env"
kubectl="$AWSOPS_TEST_KUBECTL"
moto_python="$(dirname "$("$here/install-moto.sh")")/python"
"$moto_python" "$here/seed_demo.py"

# testenv.sh installed the Helm chart, CRDs included, as `helm install` would.
"$kubectl" wait --for condition=established --timeout=30s crd/aurorafailovers.awsops.dev crd/staticsites.awsops.dev >/dev/null
"$kubectl" create namespace platform >/dev/null
"$kubectl" create namespace web >/dev/null
"$kubectl" apply -f examples/ >/dev/null
log "applied examples/: an AuroraFailover (platform/orders-db-2026-11-26) and a StaticSite (web/marketing)"

start=$(date +%s)
"$bin" controller --leader-election=false --metrics-addr 127.0.0.1:0 >"$env_dir/controller.log" 2>&1 &
controller_pid=$!
last=""
while :; do
  af=$("$kubectl" get aurorafailover -n platform orders-db-2026-11-26 -o jsonpath='{.status.phase}' 2>/dev/null || true)
  site=$("$kubectl" get staticsite -n web marketing -o jsonpath='{.status.phase}' 2>/dev/null || true)
  now="failover: ${af:-Pending}  site: ${site:-Pending}"
  [ "$now" != "$last" ] && printf '[%3ss] %s\n' "$(( $(date +%s) - start ))" "$now" && last="$now"
  case "$af" in Succeeded|Failed) af_done=1 ;; *) af_done=0 ;; esac
  if [ "$af_done" = 1 ] && [ "$site" = Ready ]; then break; fi
  if [ $(( $(date +%s) - start )) -gt 150 ]; then
    echo "demo timed out; controller log:" >&2; tail -30 "$env_dir/controller.log" >&2; exit 1
  fi
  sleep 1
done

echo
"$kubectl" get aurorafailovers,staticsites -A
echo
echo "--- kubectl get aurorafailover -n platform orders-db-2026-11-26 -o yaml"
"$kubectl" get aurorafailover -n platform orders-db-2026-11-26 -o yaml
echo "--- kubectl get staticsite -n web marketing -o yaml"
"$kubectl" get staticsite -n web marketing -o yaml
promoted=$("$kubectl" get aurorafailover -n platform orders-db-2026-11-26 -o jsonpath='{.status.newWriter}')
url=$("$kubectl" get staticsite -n web marketing -o jsonpath='{.status.url}')
echo "promoted reader: $promoted"
echo "site URL: $url"
echo "demo finished in $(( $(date +%s) - start )) s"
