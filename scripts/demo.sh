#!/usr/bin/env bash
# `make demo`: the controller's reconcilers driving the AWS emulator, with no
# AWS account and no cluster. Starts the moto emulator on 127.0.0.1, seeds an
# Aurora MySQL cluster (a writer and readers at promotion tiers 0 and 2) and a
# Route 53 hosted zone, simulates the cluster's data plane (one MariaDB server
# per instance on loopback, DNS for its endpoints, AWS's failover sequence
# played in about 10 s: examples/dataplane.rs), then runs `awsops plan` and
# `awsops apply` on examples/ (a failover proven by a write probe, a static
# site with a custom domain served from an OCI artifact pushed to a local
# registry), plans again (in sync), prints the results with
# the write outage awsops measured, and stops everything.
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
apt_install mariadb-server-core mariadb-client-core
(cd "$here/.." && cargo build --quiet --example dataplane)
dataplane="${CARGO_TARGET_DIR:-target}/debug/examples/dataplane"
"$dataplane" simulate orders-aurora orders-aurora-r1 >"$work/simulated.out" 2>"$work/simulated.log" &
echo $! >"$work/simulated.pid"
wait_for test -s "$work/simulated.out" || { tail "$work/simulated.log" >&2; exit 1; }
# The simulated cluster's DNS answers for its endpoints (TTL 5 s, as on RDS).
export AWSOPS_DNS_SERVER="$(head -1 "$work/simulated.out")"
log "simulated data plane of orders-aurora: MariaDB per instance, DNS at $AWSOPS_DNS_SERVER"
# The site's build output as an OCI artifact in the registry start-aws runs
# (docker-registry on loopback, TLS from the demo's CA, one htpasswd user),
# pushed with oras-py; examples/ are applied with the ref pointing there.
tar -czf "$work/site.tar.gz" -C examples/site public
REQUESTS_CA_BUNDLE="$work/pki/ca.crt" "$AWSOPS_TEST_ORAS_PYTHON" "$here/oci-push.py" \
  "$AWSOPS_TEST_REGISTRY/web/marketing:1.0" "$work/site.tar.gz" \
  "$AWSOPS_TEST_REGISTRY_USER" "$AWSOPS_TEST_REGISTRY_PASSWORD" >/dev/null
mkdir -p "$work/examples"
for f in examples/*.yaml; do sed "s#localhost:5000#$AWSOPS_TEST_REGISTRY#g" "$f" >"$work/examples/$(basename "$f")"; done
export AWSOPS_SOURCE_CA_FILE="$work/pki/ca.crt"
log "site artifact pushed to $AWSOPS_TEST_REGISTRY/web/marketing:1.0"
state="$work/state"
start=$(date +%s)

echo
echo "\$ awsops plan -f examples/"
code=0
"$bin" plan -f "$work/examples/" --state-dir "$state" || code=$?
[ "$code" = 2 ] || { echo "expected plan to exit 2 (changes), got $code" >&2; exit 1; }
echo "(exit 2: changes to make)"

echo
echo "\$ awsops apply -f examples/"
"$bin" apply -f "$work/examples/" --state-dir "$state"

echo
echo "\$ awsops plan -f examples/"
"$bin" plan -f "$work/examples/" --state-dir "$state"
echo "(exit 0: in sync)"

echo
promoted=$(sed -n 's/^ *newWriter: *//p' "$state/platform/aurorafailover/orders-db-2026-11-26.yaml")
url=$(sed -n 's/^ *url: *//p' "$state/web/staticsite/marketing.yaml")
outage=$(sed -n 's/^ *writeOutageSeconds: *//p' "$state/platform/aurorafailover/orders-db-2026-11-26.yaml")
scripted=$(sed -n 's/^scripted outage: *//p' "$work/simulated.out")
echo "promoted reader: $promoted"
echo "write outage measured by awsops: ${outage:-?} s (the simulated cluster refused writes for ${scripted:-?} s; clients caching the endpoint's DNS answer (TTL 5 s) wait up to 5 s more)"
source=$(sed -n 's/^ *source: *//p' "$state/web/staticsite/marketing.yaml")
files=$(sed -n 's/^ *files: *//p' "$state/web/staticsite/marketing.yaml")
echo "site URL: $url"
echo "site content: ${files:-?} files from ${source:-?}"
echo "demo finished in $(( $(date +%s) - start )) s (plan, apply, plan)"
