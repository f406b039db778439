#!/usr/bin/env bash
# Installs what the test rig needs on Debian 12 (idempotent) and starts the machine's pcscd when it
# is not running. Used by README's set-up commands and by .ci/run, so a fresh machine needs
# nothing else.
#
#   (no option)         install, then make sure the machine's pcscd runs (the demo uses it)
#   --packages-only     install, leave pcscd alone (the tests run their own: private-rig.sh)
#   --start-pcscd-only  only make sure the machine's pcscd runs
#
# It never stops or restarts a pcscd that is already there: the machine's pcscd may be shared.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}

APT_PACKAGES=(pcscd libpcsclite-dev vsmartcard-vpcd pcsc-tools libssl-dev pkg-config procps iproute2
  util-linux curl ca-certificates chromium libnss3-tools python3-venv shellcheck
  # the tray icon: build (GTK 3, AppIndicator) and its test (Xvfb, a session bus, a D-Bus host)
  libgtk-3-dev libayatana-appindicator3-dev libayatana-appindicator3-1 xvfb xauth dbus-daemon
  python3-dbus python3-gi
  # the Windows tray test: the screen's pixels under Wine (tests/tray/screen_colour.py)
  python3-xlib)

install_packages() {
  local need=() p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
  done
  # Node.js for the browser tests' driver, from Debian only when the machine has none.
  command -v node >/dev/null 2>&1 || need+=(nodejs npm)
  if [ "${#need[@]}" -gt 0 ]; then
    echo "setup-rig: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  # The browser tests' driver: playwright-core only (it never downloads a browser; Debian's
  # chromium is used).
  if [ ! -d tests/browser/node_modules/playwright-core ]; then
    echo "setup-rig: installing playwright-core for the browser tests"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

# No systemd here: run pcscd in the foreground mode, detached, and wait for its socket. A pcscd
# that is shutting down still shows in pgrep but has removed its socket: wait it out.
start_pcscd() {
  running() { pgrep -x pcscd >/dev/null 2>&1 && [ -S /run/pcscd/pcscd.comm ]; }
  if ! running; then
    for _ in $(seq 1 100); do pgrep -x pcscd >/dev/null 2>&1 || break; sleep 0.1; done
    if pgrep -x pcscd >/dev/null 2>&1; then
      echo "setup-rig: a pcscd is running without its socket; not touching it (see its logs)" >&2
      exit 1
    fi
    echo "setup-rig: starting pcscd"
    mkdir -p /run/pcscd
    nohup pcscd -f >/tmp/pcscd.log 2>&1 </dev/null &
    for _ in $(seq 1 50); do
      [ -S /run/pcscd/pcscd.comm ] && break
      sleep 0.1
    done
    [ -S /run/pcscd/pcscd.comm ] || { echo "setup-rig: pcscd did not start (see /tmp/pcscd.log)" >&2; exit 1; }
  fi
  echo "setup-rig: pcscd running (pid $(pgrep -x pcscd | head -1))"
}

case "$mode" in
  --packages-only) install_packages ;;
  --start-pcscd-only) start_pcscd ;;
  all) install_packages; start_pcscd ;;
  *) echo "setup-rig: unknown option $mode" >&2; exit 2 ;;
esac
