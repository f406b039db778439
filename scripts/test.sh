#!/usr/bin/env bash
# The project's test command. README shows it and .ci/run calls it: installs the rig (apt
# packages, pcscd), then formatting, lints, and every test, including the integration tests that
# read simulated cards through the real pcscd.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || {
  echo "test.sh: cargo not found; install Rust >= 1.85 (rustup) first" >&2
  exit 1
}
bash scripts/setup-rig.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
