# The README's commands. Builds and caches go under $(AWSOPS_CACHE)
# (default ~/.cache/awsops), outside the clone.
AWSOPS_CACHE ?= $(HOME)/.cache/awsops
export AWSOPS_CACHE
export CARGO_TARGET_DIR ?= $(AWSOPS_CACHE)/target

.PHONY: test demo bench crds lint build e2e-aws

## demo: the reconcilers driving the AWS emulator (no AWS account, no cluster)
demo:
	scripts/demo.sh

## test: every test, against a real kube-apiserver and the moto AWS emulator
test:
	scripts/test.sh

## e2e-aws: opt-in, against a real AWS sandbox account (skipped unless AWSOPS_E2E_AWS=1; see README)
e2e-aws:
	scripts/e2e-aws.sh

## bench: speed and AWS cost side by side with the alternatives (writes docs/BENCHMARKS.md)
bench:
	scripts/bench.sh

## crds: regenerate crds/ from the Rust types
crds:
	cargo run --quiet -- crds > crds/awsops.yaml
	cp crds/awsops.yaml charts/awsops/files/crds.yaml

## lint: formatting and clippy, as CI runs them
lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

build:
	cargo build
