#!/usr/bin/env bash
# `make demo`: the controller's reconcilers driving the AWS emulator, with no
# AWS account and no cluster. Starts the moto emulator on 127.0.0.1, seeds an
# Aurora MySQL cluster (a writer and readers at promotion tiers 0 and 2) and a
# Route 53 hosted zone, then runs `awsops plan` and `awsops apply` on
# examples/ (a failover, a static site with a custom domain), plans again
# (in sync), prints the results and stops the emulator.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/common.sh"
cd "$here/.."
log "building awsops"
cargo build --quiet
bin="${CARGO_TARGET_DIR:-target}/debug/awsops"

work="$(mktemp -d "${TMPDIR:-/tmp}/awsops-demo.XXXXXX")"
cleanup() { "$here/testenv.sh" stop "$work"; }
trap cleanup EXIT
"$here/testenv.sh" start-aws "$work"
. "$work/env"
moto_python="$(dirname "$("$here/install-moto.sh")")/python"
"$moto_python" "$here/seed_demo.py"
state="$work/state"
start=$(date +%s)

echo
echo "\$ awsops plan -f examples/"
code=0
"$bin" plan -f examples/ --state-dir "$state" || code=$?
[ "$code" = 2 ] || { echo "expected plan to exit 2 (changes), got $code" >&2; exit 1; }
echo "(exit 2: changes to make)"

echo
echo "\$ awsops apply -f examples/"
"$bin" apply -f examples/ --state-dir "$state"

echo
echo "\$ awsops plan -f examples/"
"$bin" plan -f examples/ --state-dir "$state"
echo "(exit 0: in sync)"

echo
promoted=$(sed -n 's/^ *newWriter: *//p' "$state/platform/aurorafailover/orders-db-2026-11-26.yaml")
url=$(sed -n 's/^ *url: *//p' "$state/web/staticsite/marketing.yaml")
echo "promoted reader: $promoted"
echo "site URL: $url"
echo "demo finished in $(( $(date +%s) - start )) s (plan, apply, plan)"
