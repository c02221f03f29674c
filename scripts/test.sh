#!/usr/bin/env bash
# `make test`: starts the test environment (kube-apiserver + etcd + moto,
# installing what is missing), runs every test against it, and stops the
# environment by PID whatever the outcome.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/common.sh"
apt_install curl openssl lua5.4 prometheus docker-registry nodejs mariadb-server-core mariadb-client-core python3-venv
env_dir="$(mktemp -d "${TMPDIR:-/tmp}/awsops-test.XXXXXX")"
trap '"$here/testenv.sh" stop "$env_dir"' EXIT
"$here/testenv.sh" start "$env_dir"
. "$env_dir/env"
export AWSOPS_TEST_ENV="$env_dir"
# The real-account tests run only through `make e2e-aws`.
unset AWSOPS_E2E_AWS
cd "$here/.."
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --no-fail-fast "$@"
  # Alone after the suite: it restarts the API server the others use.
  cargo nextest run --test restart --run-ignored only
  # After the suite: every AWS operation it recorded is in docs/iam-policy.json.
  cargo nextest run --test iam_policy --run-ignored only
  # Last and alone: it uninstalls (and installs again) the release the others run as.
  cargo nextest run --test chart_lifecycle --run-ignored only
else
  cargo test --no-fail-fast "$@"
  cargo test --test restart -- --ignored
  cargo test --test iam_policy -- --ignored
  cargo test --test chart_lifecycle -- --ignored
fi
