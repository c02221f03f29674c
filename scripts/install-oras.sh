#!/usr/bin/env bash
# Installs oras-py (the ORAS project's Python client, PyPI `oras`) and
# bcrypt (the registry's htpasswd) into a virtualenv under AWSOPS_CACHE and
# prints its python; scripts/oci-push.py runs with it.
set -euo pipefail
. "$(dirname "$0")/common.sh"
venv="$AWSOPS_CACHE/venv-oras-$ORAS_VERSION"
if ! "$venv/bin/python" -c "import oras.client, bcrypt" 2>/dev/null; then
  log "installing oras==$ORAS_VERSION and bcrypt==$BCRYPT_VERSION into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "oras==$ORAS_VERSION" "bcrypt==$BCRYPT_VERSION" >&2
fi
echo "$venv/bin/python"
