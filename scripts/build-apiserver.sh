#!/usr/bin/env bash
# Builds kube-apiserver and kubectl v1.20.2 from Debian bookworm's
# `kubernetes` source package (offline, GOPATH mode) and prints the folder that
# holds both binaries. They are cached under AWSOPS_CACHE keyed by the Debian
# version; the Go build cache is kept there too, so a rebuild takes seconds.
# See shared/design/TESTING.md for why each step is needed.
set -euo pipefail
. "$(dirname "$0")/common.sh"
apt_install golang-go etcd-server golang-github-modern-go-reflect2-dev openssl dpkg-dev python3

bin="$AWSOPS_CACHE/kube-$KUBE_DEB_VERSION"
if [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kubectl" ]; then echo "$bin"; exit 0; fi
mkdir -p "$bin"

work="$AWSOPS_CACHE/apiserver-build"
export GOPATH="$work/gopath" GOCACHE="$AWSOPS_CACHE/go-build-cache"
export GO111MODULE=off GOPROXY=off CGO_ENABLED=0 GOFLAGS=
src="$GOPATH/src/k8s.io/kubernetes"

if [ ! -f "$src/.unpacked" ]; then
  log "fetching Debian source kubernetes=$KUBE_DEB_VERSION"
  aptdir="$work/apt"; mkdir -p "$aptdir/lists/partial" "$work/dl"
  apt-get indextargets --format '$(REPO_URI) $(RELEASE)' | sort -u |
    while read -r uri rel; do echo "deb-src $uri $rel main"; done > "$aptdir/sources.list"
  aptopts=(-o "Dir::Etc::SourceList=$aptdir/sources.list" -o "Dir::Etc::SourceParts=/dev/null" -o "Dir::State::Lists=$aptdir/lists")
  apt-get "${aptopts[@]}" update -qq
  (cd "$work/dl" && apt-get "${aptopts[@]}" source --download-only "kubernetes=$KUBE_DEB_VERSION" >/dev/null)
  rm -rf "$src"; mkdir -p "$(dirname "$src")"
  (cd "$work/dl" && dpkg-source --no-check -x kubernetes_*.dsc "$work/unpacked" >/dev/null)
  mv "$work/unpacked" "$src"
  touch "$src/.unpacked"
fi

cd "$src"
# Fix 2: vendored reflect2 1.0.1 segfaults under Go >= 1.18; use Debian's 1.0.2.
if ! grep -q 'unsafeType' vendor/github.com/modern-go/reflect2/go_above_118.go 2>/dev/null; then
  rm -rf vendor/github.com/modern-go/reflect2
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 vendor/github.com/modern-go/reflect2
  rm -rf vendor/github.com/modern-go/reflect2/.git* vendor/github.com/modern-go/reflect2/*_test.go
fi

# Fix 1: the generated OpenAPI definitions are not in the tarball.
gen="pkg/generated/openapi/zz_generated.openapi.go"
if [ ! -f "$gen" ] || ! grep -q "^func schema_.*_api_resource_Quantity(" "$gen"; then
  log "generating $gen"
  go build -o "$work/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
  # Every package with the tag in any file (upstream's rule), staging mapped to vendor/.
  pkgs=$(grep -rl --include='*.go' -e '+k8s:openapi-gen=' staging/src/k8s.io pkg 2>/dev/null |
    grep -v -e _test.go -e code-generator -e sample-apiserver |
    xargs -n1 dirname | sed -e 's#^staging/src/#vendor/#' | sort -u |
    sed -e 's#^vendor/#k8s.io/kubernetes/vendor/#' -e 's#^pkg/#k8s.io/kubernetes/pkg/#' | sort -u | paste -sd, -)
  "$work/openapi-gen" --input-dirs "$pkgs" \
    --output-package k8s.io/kubernetes/pkg/generated/openapi \
    -O zz_generated.openapi \
    --go-header-file hack/boilerplate/boilerplate.generatego.txt \
    --output-base "$GOPATH/src" --report-filename /dev/null >&2
fi

v=k8s.io/kubernetes/vendor/k8s.io
ld="-s -w"
for p in client-go/pkg component-base; do
  ld="$ld -X $v/$p/version.gitVersion=v1.20.2 -X $v/$p/version.gitMajor=1 -X $v/$p/version.gitMinor=20"
done
for cmd in kube-apiserver kubectl; do
  if [ ! -x "$bin/$cmd" ]; then
    if [ -x "$AWSOPS_CACHE/kube-apiserver-$KUBE_DEB_VERSION" ] && [ "$cmd" = kube-apiserver ]; then
      mv "$AWSOPS_CACHE/kube-apiserver-$KUBE_DEB_VERSION" "$bin/$cmd"; continue
    fi
    log "building $cmd (minutes on a cold cache)"
    go build -ldflags "$ld" -o "$bin/$cmd.tmp" "./cmd/$cmd"
    mv "$bin/$cmd.tmp" "$bin/$cmd"
  fi
done
echo "$bin"
