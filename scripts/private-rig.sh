#!/usr/bin/env bash
# Runs a command with a PC/SC rig of its own: new mount, network and PID namespaces (as root), a
# tmpfs on /run/pcscd and a pcscd that only this command sees, with vpcd's ports on a private
# loopback. Tests may then stop and restart pcscd, use both vpcd slots and open many sockets
# without touching the machine's pcscd or anyone else's tests. Everything started inside (pcscd,
# simulators, daemons, Chromium) ends with the command.
#
# What the product writes as administrator — the hosts file, the system trust stores (and the
# stores update-ca-certificates feeds: Java's cacerts among them), the browsers' managed policy
# directories — is under /etc and /usr/local/share: inside, both are overlays whose changes live
# in a tmpfs and vanish with the command. The machine's files are never written.
#
#   bash scripts/private-rig.sh cargo test --workspace -- --include-ignored
#
# The rig tests are #[ignore]d so that a plain `cargo test` never runs them against the
# machine's pcscd; this script is how they run. It needs root (namespaces): without it, it says
# so and stops — it never falls back to the machine's pcscd.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${NHI_PRIVATE_RIG:-}" = 1 ]; then
  exec "$@"
fi
if [ "$(id -u)" -ne 0 ] || ! unshare -m -n -p -f --mount-proc true 2>/dev/null; then
  echo "private-rig: cannot make private namespaces here (run as root); the rig never uses the machine's pcscd" >&2
  exit 1
fi

mkdir -p /run/pcscd
log_dir=$(mktemp -d /tmp/nhi-private-rig.XXXXXX)
export NHI_PRIVATE_RIG=1 CARGO_NET_OFFLINE=true NHI_RIG_LOG_DIR="$log_dir"
exec unshare -m -n -p -f --mount-proc --propagation private -- bash -c '
  set -euo pipefail
  ip link set lo up
  # Private /etc and /usr/local/share: writes land in a tmpfs (see the top of this script).
  NHI_RIG_OVERLAY=$(TMPDIR=$NHI_RIG_LOG_DIR bash scripts/private-etc.sh)
  export NHI_RIG_OVERLAY
  mount -t tmpfs tmpfs /run/pcscd
  pcscd -f >"$NHI_RIG_LOG_DIR/pcscd.log" 2>&1 </dev/null &
  for _ in $(seq 1 100); do
    [ -S /run/pcscd/pcscd.comm ] && break
    sleep 0.05
  done
  [ -S /run/pcscd/pcscd.comm ] || { echo "private-rig: pcscd did not start" >&2; cat "$NHI_RIG_LOG_DIR/pcscd.log" >&2; exit 1; }
  echo "private-rig: private pcscd running, /etc and /usr/local/share private (logs in $NHI_RIG_LOG_DIR)" >&2
  "$@"
' private-rig "$@"
