#!/usr/bin/env bash
# Builds the Debian package a citizen downloads: the release binary and `cargo deb` (installed
# when missing). Prints the .deb's path last.
#
#   bash scripts/build-deb.sh          → target/debian/nhi-bridge_<version>-1_amd64.deb
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-deb >/dev/null 2>&1 || cargo install --locked cargo-deb
# The package users download has the tray icon.
cargo build --release --locked --features tray --bin nhi-bridge >&2
cargo deb --no-build --locked >&2
ls -t target/debian/nhi-bridge_*.deb | head -1
