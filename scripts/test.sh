#!/usr/bin/env bash
# The test command: installs what the tests need (scripts/setup.sh; nothing when it is there
# already), then `cargo test --release` with any arguments given (a filter, `--test integrity`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
exec cargo test --release "$@"
