#!/usr/bin/env bash
# Runs a command with a PC/SC rig of its own: new mount, network and PID namespaces (as root), a
# tmpfs on /run/pcscd and a pcscd that only this command sees, with vpcd's ports on a private
# loopback. Tests may then stop and restart pcscd, use both vpcd slots and open many sockets
# without touching the machine's pcscd or anyone else's tests. Everything started inside (pcscd,
# simulators, daemons, Chromium) ends with the command.
#
#   bash scripts/private-rig.sh cargo test --workspace
#
# Where no namespace can be made (not root), it says so and runs the command against the
# machine's pcscd instead (starting it if needed), as the tests did before.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${NHI_PRIVATE_RIG:-}" = 1 ]; then
  exec "$@"
fi
if [ "$(id -u)" -ne 0 ] || ! unshare -m -n -p -f --mount-proc true 2>/dev/null; then
  echo "private-rig: cannot make private namespaces here (root needed); using the machine's pcscd" >&2
  bash scripts/setup-rig.sh --start-pcscd-only
  exec "$@"
fi

mkdir -p /run/pcscd
log_dir=$(mktemp -d /tmp/nhi-private-rig.XXXXXX)
export NHI_PRIVATE_RIG=1 CARGO_NET_OFFLINE=true NHI_RIG_LOG_DIR="$log_dir"
exec unshare -m -n -p -f --mount-proc --propagation private -- bash -c '
  set -euo pipefail
  ip link set lo up
  mount -t tmpfs tmpfs /run/pcscd
  pcscd -f >"$NHI_RIG_LOG_DIR/pcscd.log" 2>&1 </dev/null &
  for _ in $(seq 1 100); do
    [ -S /run/pcscd/pcscd.comm ] && break
    sleep 0.05
  done
  [ -S /run/pcscd/pcscd.comm ] || { echo "private-rig: pcscd did not start" >&2; cat "$NHI_RIG_LOG_DIR/pcscd.log" >&2; exit 1; }
  echo "private-rig: private pcscd running (logs in $NHI_RIG_LOG_DIR)" >&2
  "$@"
' private-rig "$@"
