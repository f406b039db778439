#!/usr/bin/env bash
# The main job, with no hardware: installs the rig, builds nhi-bridge and the card simulator,
# inserts a simulated NHI card (fictitious holder) into the virtual reader, starts the daemon
# headless on https://127.0.0.1:7777/ and reads the card through it the way a page would.
# The daemon keeps running until Ctrl-C; with --once the script stops after the demonstration.
#
# It changes nothing on the machine beyond installing the rig's packages: the daemon's data (its
# CA among it) lives in a temporary directory removed on exit, and the CA is trusted only inside
# the demo — curl gets --cacert, the self-check a throwaway NSS profile, hosts file and CA bundle.
# `sudo nhi-bridge cert install` (or the installer) is what trusts it for real.
set -euo pipefail
cd "$(dirname "$0")/.."

once=0
[ "${1:-}" = "--once" ] && once=1

command -v cargo >/dev/null || {
  echo "demo.sh: cargo not found; install Rust >= 1.89 (rustup) first" >&2
  exit 1
}
bash scripts/setup-rig.sh
cargo build --quiet --workspace --bins

BRIDGE=$PWD/target/debug/nhi-bridge
SIM=$PWD/target/debug/nhi-card-sim
DEMO=$(mktemp -d -t nhi-bridge-demo.XXXXXX)
DATA_DIR=$DEMO/data
PORT=${NHI_BRIDGE_PORT:-7777}
CA=$DATA_DIR/tls/ca.pem
LOG=$DEMO/daemon.log

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$DEMO"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$SIM" --port 35963 --profile tests/sim/profiles/sample.toml 2>/dev/null &
pids+=($!)

# The certificate pair, in the demo's own data directory.
"$BRIDGE" --data-dir "$DATA_DIR" cert renew >/dev/null

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

# The self-check looks at the browsers' trust and the hosts file: give it the demo's own (a
# throwaway home with an NSS database, a hosts file and a CA bundle that include the demo CA),
# so it can be all green without touching the machine's.
mkdir -p "$DEMO/home/.pki/nssdb"
certutil -N --empty-password -d "sql:$DEMO/home/.pki/nssdb"
certutil -A -d "sql:$DEMO/home/.pki/nssdb" -n "nhi-bridge demo CA" -t "C,," -i "$CA"
{ cat /etc/hosts; echo "127.0.0.1 iccert.nhi.gov.tw # nhi-bridge demo"; } >"$DEMO/hosts"
cat /etc/ssl/certs/ca-certificates.crt "$CA" >"$DEMO/ca-bundle.crt"
demo_env=(HOME="$DEMO/home" NHI_BRIDGE_HOSTS_FILE="$DEMO/hosts" SSL_CERT_FILE="$DEMO/ca-bundle.crt")
echo "元件檢測 — self-check (all green with the simulated card; trust is the demo's own):"
echo "  env ${demo_env[*]} $BRIDGE --data-dir $DATA_DIR check --port $PORT"
env "${demo_env[@]}" "$BRIDGE" --data-dir "$DATA_DIR" check --port "$PORT" | tail -n 3 || true
echo
echo "離開時刪除 Removed on exit: $DEMO（本機的憑證庫與 hosts 檔未被修改 — the machine's trust stores and hosts file were not changed）"
echo

if [ "$once" = 1 ]; then
  exit 0
fi
echo "按 Ctrl-C 結束 — press Ctrl-C to stop."
wait "${pids[1]}"
