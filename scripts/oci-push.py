"""Pushes a site archive as an OCI artifact the way `flux push artifact`
lays it out (one tar+gzip layer, Flux's media types), with oras-py, the
ORAS project's client: python oci-push.py REF ARCHIVE [USER PASSWORD].
Trusts REQUESTS_CA_BUNDLE for the registry's TLS; OCI_LAYER_MEDIA_TYPE
names another layer media type (a zip, say). Prints the manifest digest.
"""
import base64
import json
import os
import sys
import tempfile

import oras.client

LAYER = os.environ.get("OCI_LAYER_MEDIA_TYPE", "application/vnd.cncf.flux.content.v1.tar+gzip")
CONFIG = "application/vnd.cncf.flux.config.v1+json"


def main():
    ref, archive = sys.argv[1], sys.argv[2]
    host = ref.split("/", 1)[0]
    verify = os.environ.get("REQUESTS_CA_BUNDLE", True)
    # The distribution registry with htpasswd answers a Basic challenge.
    client = oras.client.OrasClient(hostname=host, tls_verify=verify, auth_backend="basic")
    if len(sys.argv) > 4:
        client.login(hostname=host, username=sys.argv[3], password=sys.argv[4], tls_verify=verify)
        # oras-py sends each request without credentials first and retries on
        # 401; the registry answers a large blob's PUT before reading it and
        # closes the connection, so the login also goes on every request.
        token = base64.b64encode(f"{sys.argv[3]}:{sys.argv[4]}".encode()).decode()
        client.session.headers["Authorization"] = f"Basic {token}"
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "config.json")
        with open(config, "w") as f:
            json.dump({}, f)
        os.chdir(os.path.dirname(os.path.abspath(archive)))
        response = client.push(
            target=ref,
            files=[f"{os.path.basename(archive)}:{LAYER}"],
            manifest_config=f"{config}:{CONFIG}",
            disable_path_validation=True,
        )
    print(response.headers.get("Docker-Content-Digest", ""))


if __name__ == "__main__":
    main()
