#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (default 30 s each; `bash scripts/fuzz.sh 300`
# for a longer hunt). Needs the nightly toolchain; installs cargo-fuzz when missing. The fuzz build
# is cached outside the clone (~/.cache/nhi-bridge/fuzz-target) because it is slow and stable.
# A crash stops the script with the target's artifact path: turn it into a regression test (the
# input goes into a unit test of the module that failed) before fixing it.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-30}

command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
grep -q '^nightly' <<<"$(rustup toolchain list)" || rustup toolchain install nightly --profile minimal

export CARGO_TARGET_DIR=${NHI_FUZZ_TARGET_DIR:-$HOME/.cache/nhi-bridge/fuzz-target}
targets=$(cargo +nightly fuzz list)
cargo +nightly fuzz build
for t in $targets; do
  mkdir -p "corpus/$t"
  cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
  echo "fuzz: $t for ${secs}s"
  cargo +nightly fuzz run "$t" -- -max_total_time="$secs" -print_final_stats=0 2>&1 | grep -E "^Done|SUMMARY|panicked|Test unit written" || true
  if compgen -G "artifacts/$t/crash-*" >/dev/null || compgen -G "artifacts/$t/leak-*" >/dev/null; then
    echo "fuzz: $t found a failing input: $(ls artifacts/$t/)" >&2
    exit 1
  fi
done
echo "fuzz: every target ran ${secs}s without a failure"
