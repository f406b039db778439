#!/usr/bin/env bash
# Proves that a plain `cargo test --workspace` is safe on any machine (issue #24): run as root,
# beside a pcscd it did not start, it leaves that pcscd running and changes no file under /etc
# (hosts, trust stores, browser policies) or /usr/local/share (the system CA drop-in directory).
#
# The "machine" here is a namespace of this script's (a pcscd started before the tests, /etc and
# /usr/local/share as overlays whose upper layers record every write), so even a failing run
# changes nothing real. The rig tests are #[ignore]d and refuse to run outside private-rig.sh;
# this checks that nothing else reaches what is not the tests'.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test-cargo-safe: run as root (namespaces)" >&2; exit 1; }

if [ "${NHI_SAFE_CHECK_INSIDE:-}" != 1 ]; then
  export NHI_SAFE_CHECK_INSIDE=1 CARGO_NET_OFFLINE=true
  exec unshare -m -n -p -f --mount-proc --propagation private -- bash "$0"
fi

ip link set lo up
changes=$(bash scripts/private-etc.sh)
mkdir -p /run/pcscd
mount -t tmpfs tmpfs /run/pcscd
pcscd -f >/dev/null 2>&1 </dev/null &
pcscd_pid=$!
for _ in $(seq 1 100); do [ -S /run/pcscd/pcscd.comm ] && break; sleep 0.05; done
[ -S /run/pcscd/pcscd.comm ] || { echo "test-cargo-safe: pcscd did not start" >&2; exit 1; }

unset NHI_PRIVATE_RIG
log=$(mktemp)
cargo test --workspace 2>&1 | tee "$log" | grep -E '^test result:|FAILED|panicked' || true
status=${PIPESTATUS[0]}
[ "$status" = 0 ] || { tail -50 "$log" >&2; echo "test-cargo-safe: FAIL: cargo test failed" >&2; exit 1; }
grep -Eq '[1-9][0-9]* ignored' "$log" || { echo "test-cargo-safe: FAIL: the rig tests were not skipped" >&2; exit 1; }

kill -0 "$pcscd_pid" 2>/dev/null || { echo "test-cargo-safe: FAIL: cargo test stopped the machine's pcscd" >&2; exit 1; }
written=$(cd "$changes" && find _etc/upper _usr_local_share/upper -mindepth 1 | sort)
[ -z "$written" ] || { echo "test-cargo-safe: FAIL: cargo test wrote outside its temp directories:" >&2; echo "$written" >&2; exit 1; }
echo "test-cargo-safe: plain cargo test left the machine's pcscd running (pid $pcscd_pid) and /etc, /usr/local/share untouched"
