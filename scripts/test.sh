#!/usr/bin/env bash
# The project's test command. README shows it and .ci/run calls it: installs the rig (apt
# packages, npm driver), then formatting, lints, fuzzing (a short pass per target), schemathesis
# against the running daemon, and every test — the integration tests read simulated cards through
# a real pcscd of their own, in private namespaces (scripts/private-rig.sh), so the machine's
# pcscd is never stopped or touched.
#
#   NHI_FUZZ_SECS=0 bash scripts/test.sh    skips the fuzz pass (quick local runs)
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || {
  echo "test.sh: cargo not found; install Rust >= 1.89 (rustup) first" >&2
  exit 1
}
bash scripts/setup-rig.sh --packages-only

cargo fmt --all -- --check
# The shell that stays (namespace and package glue): shellcheck, warnings and errors.
shellcheck -S warning scripts/*.sh .ci/run installer/linux/postinst installer/linux/prerm installer/linux/postrm
cargo clippy --workspace --all-targets -- -D warnings
# The tray's code too (feature `tray`, as the packages are built), and the Windows build's.
cargo clippy --workspace --all-targets --features tray -- -D warnings
# macOS is not built here (no SDK), but its code is type-checked and linted.
bash scripts/check-macos.sh
# Built here, with the network: the private namespaces have none.
cargo build --workspace --all-targets
# A plain `cargo test` is safe anywhere: the rig tests skip, the machine's pcscd keeps running,
# nothing under /etc or /usr/local/share changes (checked in a namespace of its own).
bash scripts/test-cargo-safe.sh

bash scripts/schemathesis.sh
# The Linux installer: build the .deb, install it, use it as a new user, purge it; then the
# tray icon of the same release binary under Xvfb with a StatusNotifier host.
bash scripts/test-deb.sh
bash scripts/test-tray.sh target/release/nhi-bridge
# Windows: the cross-built programs, the MSI's tables and signing; then, under Wine 10 in a cached
# Debian 13 userland, the exe reading the simulated card, serving HTTPS and trusting through the
# Windows store, its tray icon following the card, stop and session end, the MSI installed,
# upgraded and removed, and the unit tests.
bash scripts/test-msi.sh
bash scripts/test-wine.sh
fuzz_secs=${NHI_FUZZ_SECS:-30}
if [ "$fuzz_secs" != 0 ]; then
  bash scripts/fuzz.sh "$fuzz_secs"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
bash scripts/private-rig.sh cargo test --workspace -- --include-ignored 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "total: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
