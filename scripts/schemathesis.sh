#!/usr/bin/env bash
# Property-based conformance of the running daemon to docs/openapi.yaml with schemathesis (PyPI):
# a simulated card and SAM, the daemon on a free port with its own data directory, requests from
# an allowed origin; every response must conform and none may be a server error. The event stream
# (`/v1/events`) never ends, so it is left to the rig tests. Needs the debug build; installs
# schemathesis in a cached virtualenv, then runs itself inside a private rig (private-rig.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${NHI_SCHEMATHESIS_VENV:-$HOME/.cache/nhi-bridge/schemathesis-venv}
if [ "${NHI_PRIVATE_RIG:-}" != 1 ]; then
  if [ ! -x "$venv/bin/schemathesis" ]; then
    echo "schemathesis: installing into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'schemathesis>=4,<5'
  fi
  exec bash scripts/private-rig.sh bash scripts/schemathesis.sh
fi

bin=target/debug
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/nhi-card-sim" --port 35963 >"$work/card.log" 2>&1 &
pids+=($!)
"$bin/nhi-sam-sim" >"$work/sam.out" 2>"$work/sam.log" &
pids+=($!)
for _ in $(seq 1 100); do grep -q ':' "$work/sam.out" 2>/dev/null && break; sleep 0.05; done
sam=$(head -1 "$work/sam.out" | awk '{print $NF}')
cat >"$work/config.toml" <<CFG
legacy_http_port = 0
legacy_https_port = 0
sam_endpoint = "$sam"
CFG
"$bin/nhi-bridge" --data-dir "$work/data" run --headless --port 0 --config "$work/config.toml" 2>"$work/daemon.log" &
pids+=($!)
port=
for _ in $(seq 1 200); do
  port=$(sed -n 's#.*listening on https://127.0.0.1:\([0-9]*\)/.*#\1#p' "$work/daemon.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "schemathesis: the daemon did not start" >&2; cat "$work/daemon.log" >&2; exit 1; }

echo "schemathesis: daemon on port $port"
"$venv/bin/schemathesis" run docs/openapi.yaml \
  --url "https://127.0.0.1:$port" \
  --tls-verify "$work/data/tls/ca.pem" \
  --header "Origin: https://cloudicweb.nhi.gov.tw" \
  --exclude-path /v1/events \
  --checks all \
  --max-examples "${NHI_SCHEMATHESIS_EXAMPLES:-100}" \
  --workers 1 \
  --no-color
# The daemon survived all of it.
curl -fsS --cacert "$work/data/tls/ca.pem" "https://127.0.0.1:$port/v1/status" >/dev/null
echo "schemathesis: the daemon is still serving"
