#!/usr/bin/env bash
# Installs the pinned moto server (the AWS emulator) into a virtualenv under
# AWSOPS_CACHE with awsops' additions (scripts/moto_awsops.py) and prints the
# path of the server to start (same options as moto_server).
set -euo pipefail
. "$(dirname "$0")/common.sh"
venv="$AWSOPS_CACHE/venv-moto-$MOTO_VERSION"
if [ ! -x "$venv/bin/moto_server" ]; then
  log "installing moto[server]==$MOTO_VERSION into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
fi
# scripts/moto_awsops.py decodes CloudWatch's CBOR requests with cbor2.
if ! "$venv/bin/python" -c "import cbor2" 2>/dev/null; then
  "$venv/bin/pip" install -q --disable-pip-version-check "cbor2==$CBOR2_VERSION" >&2
fi
# moto 5.2.5 answers every ListOriginAccessControls with the first page (it
# drops the Marker): past 100 OACs a paginating client loops forever. Pass it on.
responses="$(echo "$venv"/lib/python3*/site-packages/moto/cloudfront/responses.py)"
sed -i 's/= self.backend.list_origin_access_controls()$/= self.backend.list_origin_access_controls(marker=marker, max_items=max_items)/' "$responses"
# CloudFront refuses a second OAC with a name already in use
# (409 OriginAccessControlAlreadyExists); moto 5.2.5 creates a duplicate. Model it.
models="$(echo "$venv"/lib/python3*/site-packages/moto/cloudfront/models.py)"
if ! grep -q OriginAccessControlAlreadyExists "$models"; then
  "$venv/bin/python" - "$models" <<'PY'
import sys
path = sys.argv[1]
src = open(path).read()
old = "        control = OriginAccessControl(config_dict)\n"
new = (
    "        if any(c.name == config_dict.get(\"Name\") for c in self.origin_access_controls.values()):\n"
    "            from .exceptions import CloudFrontException\n"
    "            raise CloudFrontException(\"OriginAccessControlAlreadyExists\", \"An origin access control with the name already exists.\")\n"
    + old
)
assert src.count(old) == 1, "moto's create_origin_access_control changed: revisit this patch"
open(path, "w").write(src.replace(old, new))
PY
fi
# CloudFront functions' stages, function associations and response headers
# policies: added at start-up by scripts/moto_awsops.py (copied on every run,
# so the venv always has this clone's version).
# Written aside and renamed: a test environment starting meanwhile sees the old or the new file.
cp "$(dirname "$0")/moto_awsops.py" "$venv/moto_awsops.py.$$"
mv -f "$venv/moto_awsops.py.$$" "$venv/moto_awsops.py"
cat >"$venv/bin/awsops-moto-server.$$" <<WRAPPER
#!/bin/sh
exec "$venv/bin/python" "$venv/moto_awsops.py" "\$@"
WRAPPER
chmod +x "$venv/bin/awsops-moto-server.$$"
mv -f "$venv/bin/awsops-moto-server.$$" "$venv/bin/awsops-moto-server"
echo "$venv/bin/awsops-moto-server"
