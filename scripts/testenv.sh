#!/usr/bin/env bash
# Starts or stops the test environment on 127.0.0.1: etcd + kube-apiserver
# v1.20.2 (RBAC on, token auth), the moto AWS emulator, a DNS server for
# its RDS endpoint names and an OCI registry.
#
#   scripts/testenv.sh start DIR   installs what is missing, starts everything,
#                                  writes DIR/env (KUBECONFIG, AWS_ENDPOINT_URL, ...)
#   scripts/testenv.sh start-aws DIR   only the AWS emulator, DNS and the registry (awsops plan/apply)
#   scripts/testenv.sh restart-apiserver DIR   stop and start the API server again
#   scripts/testenv.sh stop DIR    stops what DIR/*.pid names, by PID
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/common.sh"

cmd="${1:?usage: testenv.sh start|stop DIR}"
CHART_NAMESPACE=awsops-system
dir="${2:?usage: testenv.sh start|stop DIR}"

stop() {
  # MariaDB servers of simulated clusters a killed test left behind (tests/support/simulated.rs).
  for f in "$dir"/simulated/*/*/mysqld.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  for f in "$dir"/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

start_moto() {
  local moto port
  moto="$("$here/install-moto.sh")"
  port=$(free_port)
  MOTO_ACM_VALIDATION_WAIT="${MOTO_ACM_VALIDATION_WAIT:-2}" \
    "$moto" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
  echo $! >"$dir/moto.pid"
  wait_for curl -sf "http://127.0.0.1:$port/moto-api/" || { log "moto did not start"; tail "$dir/moto.log" >&2; return 1; }
  echo "$port"
}

# write_ca: the test CA (pki/ca.crt, ca.key) and the SAN extension of
# certificates for this machine's loopback (pki/san.ext).
write_ca() {
  local pki="$dir/pki"
  mkdir -p "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=awsops-test-ca" \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$pki/san.ext"
}

write_certs() {
  local pki="$dir/pki"
  write_ca
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
    -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" 2>/dev/null
  openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 2 -extfile "$pki/san.ext" -out "$pki/apiserver.crt" 2>/dev/null
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
}

# write_kubeconfig FILE PORT TOKEN USER
write_kubeconfig() {
  cat >"$1" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:$2
    certificate-authority-data: $(base64 -w0 "$dir/pki/ca.crt")
users:
- name: $4
  user:
    token: $3
contexts:
- name: test
  context: {cluster: test, user: $4}
current-context: test
KUBECONFIG
}

# install_chart HELM: `helm install` of the chart with its defaults (RBAC,
# ServiceAccount, CRDs, Deployment, a policy/v1beta1 PDB as this 1.20 server
# serves; no pods run: there is no kubelet). This 1.20 server predates the
# CRDs' x-kubernetes-validations (CEL rules, 1.25), which it drops: Helm's
# check against its OpenAPI schema is skipped, and Helm 4's default
# server-side apply (beta in 1.20, whose typed patches refuse those fields)
# gives way to the client-side apply Helm 3 used.
install_chart() {
  "$1" install awsops "$here/../charts/awsops" --kubeconfig "$dir/kubeconfig" \
    --namespace "$CHART_NAMESPACE" --create-namespace \
    --disable-openapi-validation --server-side=false >"$dir/helm-install.log"
}

# run_apiserver: starts DIR/apiserver.sh and waits until it is ready.
run_apiserver() {
  local url token
  url=$(sed -n 1p "$dir/apiserver.ready"); token=$(sed -n 2p "$dir/apiserver.ready")
  "$dir/apiserver.sh" >>"$dir/apiserver.log" 2>&1 &
  echo $! >"$dir/apiserver.pid"
  wait_for curl -sf --cacert "$dir/pki/ca.crt" -H "Authorization: Bearer $token" "$url" ||
    { log "kube-apiserver did not start"; tail -20 "$dir/apiserver.log" >&2; return 1; }
}

# restart_apiserver: stops the API server by PID (as a crash or an upgrade
# would) and starts it again on the same port and etcd.
restart_apiserver() {
  local pid
  pid=$(cat "$dir/apiserver.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  sleep "${AWSOPS_APISERVER_DOWN_SECONDS:-3}"
  run_apiserver
}

start_kube() {
  local bin etcd_port peer_port port token pki="$dir/pki"
  bin="$("$here/build-apiserver.sh")"
  write_certs
  etcd_port=$(free_port); peer_port=$(free_port)
  etcd --name awsops-test --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "awsops-test=http://127.0.0.1:$peer_port" >"$dir/etcd.log" 2>&1 &
  echo $! >"$dir/etcd.pid"
  wait_for curl -sf "http://127.0.0.1:$etcd_port/health" || { log "etcd did not start"; tail "$dir/etcd.log" >&2; return 1; }

  token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  sa_token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  unbound_token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  printf '%s,admin,admin,"system:masters"\n' "$token" >"$pki/tokens.csv"
  # The controller authenticates as the chart's ServiceAccount (static token:
  # this API server runs no token controller), so RBAC is exactly the chart's.
  printf '%s,system:serviceaccount:%s:awsops,awsops-sa,"system:serviceaccounts,system:serviceaccounts:%s"\n' \
    "$sa_token" "$CHART_NAMESPACE" "$CHART_NAMESPACE" >>"$pki/tokens.csv"
  # A user no role binds (tests grant it what they need: a controller that may
  # not watch what it must is unready).
  printf '%s,awsops-unbound,awsops-unbound\n' "$unbound_token" >>"$pki/tokens.csv"
  port=$(free_port)
  # Kept as a script so `restart-apiserver` can start the same server again.
  cat >"$dir/apiserver.sh" <<APISERVER
#!/bin/sh
exec "$bin/kube-apiserver" \\
    --etcd-servers "http://127.0.0.1:$etcd_port" \\
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$port" \\
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \\
    --client-ca-file "$pki/ca.crt" --token-auth-file "$pki/tokens.csv" \\
    --authorization-mode RBAC \\
    --service-account-issuer https://kubernetes.default.svc \\
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \\
    --service-cluster-ip-range 10.96.0.0/16 \\
    --disable-admission-plugins ServiceAccount
APISERVER
  chmod +x "$dir/apiserver.sh"
  printf 'https://127.0.0.1:%s/readyz\n%s\n' "$port" "$token" >"$dir/apiserver.ready"
  run_apiserver

  write_kubeconfig "$dir/kubeconfig" "$port" "$token" admin
  write_kubeconfig "$dir/kubeconfig-controller" "$port" "$sa_token" awsops
  write_kubeconfig "$dir/kubeconfig-unbound" "$port" "$unbound_token" awsops-unbound
  echo "$bin"
}

# start_dns: the DNS server for the emulator's RDS endpoint names
# (examples/dataplane.rs: cluster endpoints follow the writer moto holds);
# every controller and `awsops apply` started from DIR/env resolves through it.
start_dns() {
  local bin addr
  (cd "$here/.." && cargo build --quiet --example dataplane)
  bin="${CARGO_TARGET_DIR:-$here/../target}/debug/examples/dataplane"
  (. "$dir/env" && exec "$bin") >"$dir/dns.out" 2>"$dir/dns.log" &
  echo $! >"$dir/dns.pid"
  wait_for test -s "$dir/dns.out" || { log "the DNS server did not start"; tail "$dir/dns.log" >&2; return 1; }
  addr=$(head -1 "$dir/dns.out")
  echo "export AWSOPS_DNS_SERVER=$addr" >>"$dir/env"
}

# start_registry: Debian's docker-registry (the CNCF distribution registry
# 2.8) on 127.0.0.1 over TLS (a certificate for localhost from the test CA)
# with one htpasswd user, for StaticSite's spec.content.oci; tests push
# artifacts with oras-py (scripts/oci-push.py).
start_registry() {
  local reg="$dir/registry" pki="$dir/pki" python port
  apt_install docker-registry python3-venv
  # Under systemd, Debian's package also starts its own registry on :5000
  # (all interfaces, no auth): the tests run theirs, so that one is stopped.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
  python="$("$here/install-oras.sh")"
  rm -rf "$reg" && mkdir -p "$reg/data"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$reg/tls.key" -out "$reg/tls.csr" 2>/dev/null
  openssl x509 -req -in "$reg/tls.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 2 -extfile "$pki/san.ext" -out "$reg/tls.crt" 2>/dev/null
  "$python" -c 'import bcrypt; print("site:" + bcrypt.hashpw(b"site-pass-1", bcrypt.gensalt()).decode())' >"$reg/htpasswd"
  port=$(free_port)
  cat >"$reg/config.yml" <<YML
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $reg/data}}
http: {addr: "127.0.0.1:$port", tls: {certificate: $reg/tls.crt, key: $reg/tls.key}}
auth: {htpasswd: {realm: awsops-test, path: $reg/htpasswd}}
YML
  /usr/bin/docker-registry serve "$reg/config.yml" >"$dir/registry.log" 2>&1 &
  echo $! >"$dir/registry.pid"
  wait_for curl -s -o /dev/null --cacert "$pki/ca.crt" "https://localhost:$port/v2/" ||
    { log "docker-registry did not start"; tail "$dir/registry.log" >&2; return 1; }
  cat >>"$dir/env" <<ENV
export AWSOPS_TEST_REGISTRY="localhost:$port"
export AWSOPS_TEST_REGISTRY_USER=site
export AWSOPS_TEST_REGISTRY_PASSWORD=site-pass-1
export AWSOPS_TEST_ORAS_PYTHON="$python"
ENV
}

# write_aws_env PORT: DIR/env pointing the SDK at the emulator, with dummy credentials.
write_aws_env() {
  cat >"$dir/env" <<ENV
export AWS_ENDPOINT_URL="http://127.0.0.1:$1"
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
ENV
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    stop
    rm -rf "$dir/etcd" "$dir/pki" "$dir/aws-operations.txt"
    apt_install curl openssl etcd-server python3-venv
    kube_bin=$(start_kube)
    helm=$("$here/install-helm.sh")
    install_chart "$helm"
    moto_port=$(start_moto)
    write_aws_env "$moto_port"
    start_dns
    start_registry
    cat >>"$dir/env" <<ENV
export KUBECONFIG="$dir/kubeconfig"
export AWSOPS_TEST_KUBECTL="$kube_bin/kubectl"
export AWSOPS_TEST_HELM="$helm"
export AWSOPS_TEST_CONTROLLER_KUBECONFIG="$dir/kubeconfig-controller"
export AWSOPS_TEST_UNBOUND_KUBECONFIG="$dir/kubeconfig-unbound"
export AWSOPS_TEST_CHART_NAMESPACE="$CHART_NAMESPACE"
ENV
    log "test environment up: $dir/env"
    ;;
  start-aws)
    mkdir -p "$dir"
    stop
    apt_install curl openssl python3-venv
    write_aws_env "$(start_moto)"
    start_dns
    write_ca
    start_registry
    log "AWS emulator and registry up: $dir/env"
    ;;
  restart-apiserver) restart_apiserver; log "kube-apiserver restarted" ;;
  stop) stop ;;
  *) echo "usage: testenv.sh start|start-aws|restart-apiserver|stop DIR" >&2; exit 2 ;;
esac
