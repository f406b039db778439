#!/usr/bin/env bash
# The tray icon, tested as a desktop would meet it (in a private rig, for the simulated card):
#  - no display: the daemon starts headless, serves, and says so once at info level;
#  - under Xvfb with a StatusNotifier host (tests/tray/sni_host.py on a private session bus):
#    the item registers, its menu has every entry, the status line follows the card, and
#    結束 (Quit) stops the daemon cleanly.
#
#   bash scripts/test-tray.sh [BINARY]     (default: the release build with the tray feature)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/release/nhi-bridge}")
if [ "${NHI_PRIVATE_RIG:-}" != 1 ]; then
  exec bash scripts/private-rig.sh bash scripts/test-tray.sh "$bin"
fi

work=$(mktemp -d /tmp/nhi-test-tray.XXXXXX)
trap 'rm -rf "$work"' EXIT
printf 'legacy_http_port = 0\nlegacy_https_port = 0\nlog_level = "info"\n' >"$work/config.toml"
fail() { echo "test-tray: FAIL: $*" >&2; cat "$work"/*.log >&2 2>/dev/null || true; exit 1; }
wait_for() { # FILE TEXT
  for _ in $(seq 1 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

# No display: headless, serving, said once.
env -u DISPLAY -u WAYLAND_DISPLAY "$bin" --data-dir "$work/d1" run --port 0 --config "$work/config.toml" 2>"$work/headless.log" &
pid=$!
wait_for "$work/headless.log" "listening on" || fail "no-display daemon did not start"
[ "$(grep -c "running without the tray icon" "$work/headless.log")" = 1 ] || fail "the missing display is not said exactly once"
kill -TERM "$pid"; wait "$pid" || fail "the headless daemon did not stop cleanly"
echo "test-tray: no display → headless, serving, said once"

# A desktop: Xvfb, a session bus, a StatusNotifier host.
export NHI_TRAY_BIN=$bin NHI_TRAY_WORK=$work
xvfb-run -a -s "-screen 0 800x600x24" dbus-run-session -- bash -c '
  set -euo pipefail
  work=$NHI_TRAY_WORK
  fail() { echo "test-tray: FAIL: $*" >&2; cat "$work/tray.log" >&2 2>/dev/null || true; exit 1; }
  coproc HOST { /usr/bin/python3 -u tests/tray/sni_host.py 2>"$work/host.log"; }
  "$NHI_TRAY_BIN" --data-dir "$work/d2" run --port 0 --config "$work/config.toml" 2>"$work/tray.log" &
  daemon=$!
  ask() { echo "$1" >&"${HOST[1]}"; read -r -t 30 -u "${HOST[0]}" reply || fail "no answer from the host to: $1"; echo "$reply"; }
  read -r -t 30 -u "${HOST[0]}" first || fail "the tray never registered"
  case "$first" in registered*) ;; *) fail "host: $first" ;; esac
  labels=$(ask labels)
  for want in "開啟元件檢測" "匯出診斷資料" "開機時自動啟動" "關於" "結束" "請插入健保卡"; do
    case "$labels" in *"$want"*) ;; *) fail "menu lacks $want: $labels" ;; esac
  done
  echo "test-tray: menu: $labels"
  target/debug/nhi-card-sim --port 35963 >/dev/null 2>&1 &
  sim=$!
  labels=$(ask "wait-label 健保卡已就緒")
  case "$labels" in *"健保卡已就緒"*) ;; *) fail "the status did not follow the card: $labels" ;; esac
  kill "$sim"; wait "$sim" 2>/dev/null || true
  labels=$(ask "wait-label 請插入健保卡")
  case "$labels" in *"請插入健保卡"*) ;; *) fail "the status did not follow the removal: $labels" ;; esac
  echo "test-tray: the status line follows the card in and out"
  [ "$(ask "click 結束")" = "clicked True" ] || fail "no Quit item to click"
  for _ in $(seq 1 200); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$daemon" 2>/dev/null && fail "Quit did not stop the daemon"
  wait "$daemon" || fail "the daemon exited with $? after Quit"
  grep -q "quit from the tray" "$work/tray.log" || fail "no quit in the log"
  echo "test-tray: 結束 (Quit) stops the daemon cleanly"
'
