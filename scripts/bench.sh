#!/usr/bin/env bash
# `make bench`: speed and AWS cost, side by side with what users do instead,
# printed and written to docs/BENCHMARKS.md. Installs what it needs into
# $AWSOPS_CACHE: the AWS CLI v1 from PyPI and the s3s-fs S3 server from
# crates.io (both pinned), then starts the test environment on 127.0.0.1.
#   BENCH_FLEET="100 300 1000"   fleet sizes (sites without a domain; a tenth more with one)
#   BENCH_PROFILE=DIR            `perf record` each awsops content pass into DIR (to find where
#                                its CPU goes; the figures then include perf's own cost)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/common.sh"
cd "$here/.."
AWSCLI_VERSION=1.46.3
S3S_FS_VERSION=0.11.1
fleet_sizes="${BENCH_FLEET:-100 300 1000}"
apt_install curl openssl time etcd-server python3-venv mariadb-server-core mariadb-client-core

cli_venv="$AWSOPS_CACHE/venv-awscli-$AWSCLI_VERSION"
if [ ! -x "$cli_venv/bin/aws" ]; then
  log "installing awscli $AWSCLI_VERSION"
  python3 -m venv "$cli_venv"
  "$cli_venv/bin/pip" install --quiet "awscli==$AWSCLI_VERSION"
fi
s3s_root="$AWSOPS_CACHE/s3s-fs-$S3S_FS_VERSION"
if [ ! -x "$s3s_root/bin/s3s-fs" ]; then
  log "building s3s-fs $S3S_FS_VERSION"
  cargo install --quiet --locked s3s-fs --version "$S3S_FS_VERSION" --features binary --root "$s3s_root"
fi
log "building the benchmarks (release)"
cargo bench --no-run --bench bench 2>/dev/null || cargo bench --no-run --bench bench

env_dir="$(mktemp -d "${TMPDIR:-/tmp}/awsops-bench.XXXXXX")"
# s3s-fs keeps its objects in memory where there is a tmpfs: the content
# bench measures the clients, not this machine's disk under the server.
s3s_data="$env_dir/s3s-data"
if [ "$(df --output=avail -k /dev/shm 2>/dev/null | tail -1)" -gt $((4 * 1024 * 1024)) ] 2>/dev/null; then
  s3s_data="$(mktemp -d /dev/shm/awsops-s3s.XXXXXX)"
fi
mkdir -p "$s3s_data"
trap '"$here/testenv.sh" stop "$env_dir"; rm -rf "$s3s_data"' EXIT
"$here/testenv.sh" start "$env_dir"
. "$env_dir/env"
export AWSOPS_TEST_ENV="$env_dir"
s3s_port=$(free_port)
"$s3s_root/bin/s3s-fs" --host 127.0.0.1 --port "$s3s_port" --access-key "$AWS_ACCESS_KEY_ID" \
  --secret-key "$AWS_SECRET_ACCESS_KEY" "$s3s_data" >"$env_dir/s3s.log" 2>&1 &
echo $! >"$env_dir/s3s.pid"
wait_for curl -s -o /dev/null "http://127.0.0.1:$s3s_port/" || { log "s3s-fs did not start"; exit 1; }
export AWS_CLI="$cli_venv/bin/aws"
export BENCH_S3_SERVERS="moto=$AWS_ENDPOINT_URL,s3s-fs=http://127.0.0.1:$s3s_port"

out="$env_dir/BENCHMARKS.md"
bench() { cargo bench --quiet --bench bench -- "$@"; }
{
  echo "# Benchmarks"
  echo
  echo "Made by \`make bench\` (scripts/bench.sh, benches/bench.rs) on $(date -u +%Y-%m-%d):"
  echo "$(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(free -g | awk '/Mem:/ {print $2}') GiB;"
  echo "awsops $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1) (release build), $(rustc --version | cut -d' ' -f1-2),"
  echo "awscli $AWSCLI_VERSION, s3s-fs $S3S_FS_VERSION, moto $(basename "$(dirname "$(dirname "$("$here/install-moto.sh")")")" | sed 's/venv-moto-//'),"
  echo "kube-apiserver $(basename "$(dirname "$("$here/build-apiserver.sh")/kube-apiserver")" | sed 's/kube-//')."
  echo "Everything (servers, clients, controller) shares the same machine."
  echo
  bench content
  bench failover 5
  bench outage 10
  echo "## Fleet"
  echo
  echo "N sites without a domain and N/10 with one (certificate, DNS) created at once on the test API server; the controller at its defaults (600 s resync, 8 reconciles per kind at a time). Then one look at every site in sync, as a resync makes it (an annotation wakes each site once), and one idle minute. Calls counted at a proxy in front of the emulator; CPU and RSS of the controller from /proc."
  echo
  echo "| sites | s to all Ready | peak RSS MiB | controller CPU s to converge | AWS calls per site to create | writes per site to create | AWS calls per site per look in sync | writes in that look | s for that look at every site | RSS MiB idle | CPU s in the idle minute | AWS calls in the idle minute |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  for n in $fleet_sizes; do bench fleet "$n"; done
  cat <<'NOTES'

## Reading the figures

- "Unchanged" comes from the manifest awsops keeps in the bucket (`.awsops/manifest.json`: key, size,
  checksum, the ETag and time S3 answered), so a re-sync uploads nothing on a server that lists no ETags
  (s3s-fs) or lists ETags that are not MD5s (SSE-KMS, multipart); a re-sync whose artifact digest the
  manifest records downloads nothing either. The AWS CLI compares size and modification time instead, and would miss a
  same-size edit made within the same second.
- The CLI syncs a folder that is already unpacked; awsops pulls the artifact, checks its digest and unpacks
  it in every pass that changes something, which is why it is slower on the 10% round. The extra PUT in
  each awsops row that writes is the manifest.
- The SDK's default CRC32 on uploads is off: a file body would go as aws-chunked with a trailing checksum,
  which s3s-fs (and older MinIO, Ceph) refuse. Every upload carries a checksum computed while unpacking,
  which S3 checks: the SHA-256 (`x-amz-checksum-sha256`) for artifact files, Content-MD5 for ConfigMap
  files and the manifest. MD5 of 1 GiB was a fifth of the cold pass's CPU; SHA-256 with the CPU's SHA
  instructions costs a third of that. (A CRC64NVME would cost almost nothing, but anyone can make a changed
  file share a CRC with the one the manifest records, and it would then never be uploaded.) The payload is not signed as well (a second pass over every body for nothing).
  The ceiling's loop sends the same headers.
- s3s-fs lists all 10,000 keys in one page (it ignores max-keys); S3 would answer 10 pages of 1,000.
- The emulator swaps the writer inside the FailoverDBCluster call; on Aurora the swap takes 10 to 15 s and the
  controller's looks back off from 0.1 s to 1 s, so its detection latency there is under 1 s.
- AWS calls per site are flat with the fleet (24 to create, 9.5 per look in sync): a new site creates its
  OAC and distribution without listing first (names and caller references are unique, so a create whose
  response was lost is answered "already exists" and only then searched for), and later looks read what
  status recorded, by id. A site's own status writes do not wake it again (a generation, finalizer and
  annotation predicate on the watch), so each wait costs one look, not two.
- Time to all Ready grows with the fleet at the emulator's pace (moto answers one request at a time). One
  look at every site in sync ran at about 10 sites a second with the default 8 workers, so at that pace the
  default 600 s resync has room for about 6,000 sites per instance; keep `sites x look time / concurrency`
  well under the resync, or shard the fleet across instances with `--label-selector`.
- Idle means idle: between resyncs the controller makes no AWS call and uses no measurable CPU.
NOTES
} | tee "$out"
cp "$out" docs/BENCHMARKS.md
log "wrote docs/BENCHMARKS.md"
