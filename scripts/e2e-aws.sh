#!/usr/bin/env bash
# `make e2e-aws`: the opt-in suite against a real AWS sandbox account
# (tests/e2e_aws.rs). Skipped, exit 0, unless AWSOPS_E2E_AWS=1: it creates
# billable resources. Needs AWS credentials (any the SDK finds), AWS_REGION,
# AWSOPS_E2E_ACCOUNT (the sandbox account's id, checked against the
# credentials) and AWSOPS_E2E_ZONE (a public hosted zone of that account);
# fails an Aurora cluster over only when AWSOPS_E2E_AURORA_CLUSTER names one.
# The kube-apiserver is the local one `make test` uses; the emulator it also
# starts is not used: its endpoint and fake credentials are dropped here.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ "${AWSOPS_E2E_AWS:-}" != 1 ]; then
  echo "e2e-aws skipped: set AWSOPS_E2E_AWS=1, AWS credentials, AWS_REGION and AWSOPS_E2E_ZONE to run it against a sandbox account (see README)"
  exit 0
fi
: "${AWSOPS_E2E_ZONE:?AWSOPS_E2E_ZONE: name a public Route 53 hosted zone of the account for the test site}"
: "${AWSOPS_E2E_ACCOUNT:?AWSOPS_E2E_ACCOUNT: the sandbox account id (12 digits), checked against the credentials}"
: "${AWS_REGION:?AWS_REGION: the region of the bucket of the test site}"
. "$here/common.sh"
apt_install curl openssl
saved="$(export -p | grep -E '^declare -x AWS_' | grep -v '^declare -x AWS_ENDPOINT_URL' || true)"
env_dir="$(mktemp -d "${TMPDIR:-/tmp}/awsops-e2e.XXXXXX")"
trap '"$here/testenv.sh" stop "$env_dir"' EXIT
"$here/testenv.sh" start "$env_dir"
. "$env_dir/env"
unset AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION AWS_EC2_METADATA_DISABLED
eval "$saved"
export AWSOPS_TEST_ENV="$env_dir"
cd "$here/.."
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --test e2e_aws --no-capture -E 'test(/in_a_real_account/)' "$@"
else
  cargo test --test e2e_aws -- --nocapture in_a_real_account "$@"
fi
