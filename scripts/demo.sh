#!/usr/bin/env bash
# The main job, with no hardware: installs the rig, builds nhi-bridge and the card simulator,
# inserts a simulated NHI card (fictitious holder) into the virtual reader, starts the daemon
# headless on https://127.0.0.1:7777/ and reads the card through it the way a page would.
# The daemon keeps running until Ctrl-C; with --once the script stops after the demonstration.
set -euo pipefail
cd "$(dirname "$0")/.."

once=0
[ "${1:-}" = "--once" ] && once=1

command -v cargo >/dev/null || {
  echo "demo.sh: cargo not found; install Rust >= 1.85 (rustup) first" >&2
  exit 1
}
bash scripts/setup-rig.sh
cargo build --quiet --workspace --bins

BRIDGE=$PWD/target/debug/nhi-bridge
SIM=$PWD/target/debug/nhi-card-sim
DATA_DIR=${NHI_BRIDGE_DATA_DIR:-$HOME/.local/share/nhi-bridge}
PORT=${NHI_BRIDGE_PORT:-7777}
CA=$DATA_DIR/tls/ca.pem
LOG=$(mktemp -t nhi-bridge-demo.XXXXXX.log)

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$SIM" --port 35963 --profile tests/sim/profiles/sample.toml 2>/dev/null &
pids+=($!)

# Trust the component's CA (system store, Chrome/Firefox NSS databases) and map
# iccert.nhi.gov.tw to 127.0.0.1, as the installer does.
"$BRIDGE" --data-dir "$DATA_DIR" cert install >/dev/null

"$BRIDGE" --data-dir "$DATA_DIR" run --headless --port "$PORT" 2>"$LOG" &
pids+=($!)

# Wait for the daemon's "listening" line (or its exit with an error).
for _ in $(seq 1 200); do
  grep -q "listening on" "$LOG" && break
  kill -0 "${pids[1]}" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
  sleep 0.05
done
grep -q "listening on" "$LOG" || { cat "$LOG" >&2; echo "demo.sh: the daemon did not start" >&2; exit 1; }
# And for the simulated card to be seen.
for _ in $(seq 1 100); do
  curl -s --cacert "$CA" "https://127.0.0.1:$PORT/v1/status" | grep -q '"card_present":true' && break
  sleep 0.1
done

cat <<MSG

nhi-bridge 已啟動 is running (simulated card, fictitious holder)
  自我檢測頁 Self-check page : https://127.0.0.1:$PORT/
  CA 憑證 CA certificate     : $CA
  Log                        : $LOG

讀取健保卡（以健保署網頁的身分）— read the card as an NHI page would:
  curl --cacert $CA https://127.0.0.1:$PORT/v1/card -H 'Origin: https://cloudicweb.nhi.gov.tw'

MSG
curl -s --cacert "$CA" "https://127.0.0.1:$PORT/v1/card" -H 'Origin: https://cloudicweb.nhi.gov.tw'
echo
echo
echo "其他網站會被拒絕 — any other site is refused:"
echo "  curl --cacert $CA https://127.0.0.1:$PORT/v1/card -H 'Origin: https://evil.example'"
curl -s --cacert "$CA" "https://127.0.0.1:$PORT/v1/card" -H 'Origin: https://evil.example'
echo
echo

echo "元件檢測 — self-check (all green with the simulated card):"
echo "  $BRIDGE --data-dir $DATA_DIR check --port $PORT"
"$BRIDGE" --data-dir "$DATA_DIR" check --port "$PORT" | tail -n 3 || true
echo

if [ "$once" = 1 ]; then
  exit 0
fi
echo "按 Ctrl-C 結束 — press Ctrl-C to stop."
wait "${pids[1]}"
