#!/usr/bin/env bash
# README's test command: installs what the tests need (the set-up part of .ci/run; nothing when
# it is there already), then `cargo test --release` with any arguments given (a filter,
# `structure`).
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/run --setup-only
exec cargo test --release "$@"
