#!/usr/bin/env bash
# The main job, with no hardware: installs the rig, builds nhi-bridge and the card simulator,
# inserts the simulated NHI card (fictitious sample holder) into the virtual reader, and reads it.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || {
  echo "demo.sh: cargo not found; install Rust >= 1.85 (rustup) first" >&2
  exit 1
}
bash scripts/setup-rig.sh
cargo build --quiet --workspace --bins

BRIDGE=target/debug/nhi-bridge
SIM=target/debug/nhi-card-sim

"$SIM" --port 35963 --profile tests/sim/profiles/sample.toml &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true' EXIT

# pcscd notices a new vpcd card within about half a second; give it up to 10 s.
for _ in $(seq 1 100); do
  "$BRIDGE" readers --json 2>/dev/null | grep -q '"card_present": true' && break
  sleep 0.1
done

echo
echo "== nhi-bridge readers =="
"$BRIDGE" readers
echo
echo "== nhi-bridge read (simulated card, fictitious holder) =="
"$BRIDGE" read
