#!/usr/bin/env bash
# The Windows nhi-bridge.exe reading the simulated card, on Linux: Debian 12's Wine cannot start a
# current Rust exe and its winscard is a stub, so this runs Debian 13's Wine (10, whose winscard
# forwards to pcsc-lite) in a cached trixie userland (~/.cache/nhi-bridge/trixie, built once with
# debootstrap, ~1.5 GB, about a minute), with trixie's own pcscd + vpcd, everything in private
# mount/network/pid namespaces so nothing on the machine is seen or disturbed. The card is our
# simulator (a Linux program, outside the chroot, same network namespace).
#
# Checks: `readers`; `read --json` field by field; `run` serving /v1/card over HTTPS to curl;
# `cert install|uninstall --only system` against the Windows certificate store (CurrentUser\Root)
# and `check`'s trust.system reading it; the MSI installed and removed with msiexec; the library's
# unit tests run under Wine (scripts/wine-runner.sh as cargo's runner).
#
#   bash scripts/test-wine.sh [EXE_DIR]   (default: target/windows, from scripts/build-msi.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
exe_dir=$(realpath "${1:-target/windows}")
cache=${NHI_TRIXIE_DIR:-$HOME/.cache/nhi-bridge/trixie}
fail() { echo "test-wine: FAIL: $*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ] || ! unshare -m -n -p -f --mount-proc true 2>/dev/null; then
  echo "test-wine: needs root and namespaces (unshare); skipped" >&2
  exit 0
fi
[ -f "$exe_dir/nhi-bridge.exe" ] || fail "no $exe_dir/nhi-bridge.exe (run scripts/build-msi.sh)"

# The trixie userland, built once; the stamp names what is installed, so a change rebuilds it.
packages="wine wine64 libwine libpcsclite1 pcscd vsmartcard-vpcd iproute2 ca-certificates curl"
if [ "$(cat "$cache/.nhi-stamp" 2>/dev/null)" != "$packages" ]; then
  command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  rm -rf "$cache.wip"
  echo "test-wine: building the Debian 13 userland in $cache (once)" >&2
  debootstrap --variant=minbase trixie "$cache.wip" http://deb.debian.org/debian >/dev/null
  chroot "$cache.wip" bash -c "export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends $packages >/dev/null"
  echo "$packages" >"$cache.wip/.nhi-stamp"
  rm -rf "$cache" && mv "$cache.wip" "$cache"
fi

sim=$root/target/release/nhi-card-sim
[ -x "$sim" ] || cargo build --release --quiet -p nhi-sim --bin nhi-card-sim
work=$(mktemp -d /tmp/nhi-wine.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$exe_dir"/*.exe "$work"/
msi=$(ls "$exe_dir"/*.msi 2>/dev/null | head -1 || true)
[ -n "$msi" ] && cp "$msi" "$work/nhi-bridge.msi"
# The next version's package, from the same programs, for the major-upgrade check.
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
next=${version%.*}.$((${version##*.} + 1))
if [ -n "$msi" ] && command -v wixl >/dev/null; then
  # wixl resolves sources against the .wxs file's directory, relative paths only.
  wixl -a x64 -D Version="$next" -D BinDir="$(realpath --relative-to=installer/windows "$exe_dir")" -D SrcDir=../.. \
    -o "$work/nhi-bridge-next.msi" installer/windows/nhi-bridge.wxs
fi
export NHI_NEXT=$next

export NHI_SIM=$sim NHI_WORK=$work NHI_ROOT=$cache NHI_TESTS=$root/tests
unshare -m -n -p -f --mount-proc --propagation private -- bash -c '
  set -euo pipefail
  fail() { echo "test-wine: FAIL: $*" >&2; exit 1; }
  ip link set lo up
  r=$NHI_ROOT
  mount -t proc proc "$r/proc"
  mount --rbind /dev "$r/dev"
  mount -t tmpfs tmpfs "$r/run"
  mount -t tmpfs tmpfs "$r/tmp"
  mkdir -p "$r/opt/nhi" && mount --bind "$NHI_WORK" "$r/opt/nhi"
  # A display for the whole Wine session, as every Windows session has a desktop (Wine makes
  # its desktop once, with the first program; without a display no program could make a window).
  Xvfb -displayfd 1 -screen 0 1024x768x24 -nolisten tcp >"$NHI_WORK/display" 2>/dev/null &
  for _ in $(seq 1 100); do [ -s "$NHI_WORK/display" ] && break; sleep 0.05; done
  [ -s "$NHI_WORK/display" ] || fail "Xvfb did not start"
  export DISPLAY=:$(head -1 "$NHI_WORK/display")
  inside() { chroot "$r" env HOME=/root WINEDEBUG=-all WINEPREFIX=/root/.wine DISPLAY=$DISPLAY "$@"; }
  mkdir -p "$r/run/pcscd"
  inside pcscd -f --disable-polkit >"$NHI_WORK/pcscd.log" 2>&1 </dev/null &
  for _ in $(seq 1 100); do [ -S "$r/run/pcscd/pcscd.comm" ] && break; sleep 0.05; done
  [ -S "$r/run/pcscd/pcscd.comm" ] || { cat "$NHI_WORK/pcscd.log" >&2; fail "trixie pcscd did not start"; }
  "$NHI_SIM" --port 35963 --apdu-log "$NHI_WORK/apdu.log" >/dev/null 2>&1 &
  sim=$!
  # A fresh Wine prefix each run (certificate store, registry, drive_c), copied from a pristine
  # one made once (wineboot takes tens of seconds).
  if [ ! -f "$r/root/.wine-pristine/system.reg" ]; then
    rm -rf "$r/root/.wine-pristine"
    timeout 300 chroot "$r" env HOME=/root WINEDEBUG=-all WINEPREFIX=/root/.wine-pristine wineboot -i >/dev/null 2>&1 || true
    timeout 60 chroot "$r" env HOME=/root WINEPREFIX=/root/.wine-pristine wineserver -w || true
  fi
  mount -t tmpfs tmpfs "$r/root/.wine" 2>/dev/null || { mkdir -p "$r/root/.wine"; mount -t tmpfs tmpfs "$r/root/.wine"; }
  cp -a "$r/root/.wine-pristine/." "$r/root/.wine/"
  exe="timeout 120 chroot $r env HOME=/root WINEDEBUG=-all WINEPREFIX=/root/.wine DISPLAY=$DISPLAY wine /opt/nhi/nhi-bridge.exe"
  data="--data-dir C:\\nhi-data"

  # Readers and the card, through Wine'"'"'s winscard and trixie'"'"'s pcscd.
  for _ in $(seq 1 40); do
    out=$($exe readers 2>&1 || true)
    grep -q "Virtual PCD 00 00" <<<"$out" && grep -qi "card" <<<"$out" && break
    sleep 0.25
  done
  grep -q "Virtual PCD 00 00" <<<"$out" || fail "readers under Wine: $out"
  echo "test-wine: readers under Wine: ok" >&2

  json=$($exe $data read --json 2>&1) || fail "read --json under Wine: $json"
  for pair in "card_no=000012345678" "id_no=A123456789" "birth_date=1981-03-15" "sex=M"; do
    k=${pair%%=*}; v=${pair#*=}
    grep -q "\"$k\":\"$v\"" <<<"$(tr -d " \n\r" <<<"$json")" || fail "read --json: $k is not $v: $json"
  done
  grep -q "\"name\":\"王小明\"" <<<"$(tr -d " \n\r" <<<"$json")" || fail "read --json: name: $json"
  echo "test-wine: read --json under Wine: ok" >&2

  # The daemon under Wine serving /v1/card over HTTPS to curl (in the chroot).
  printf "legacy_http_port = 0\nlegacy_https_port = 0\nprefetch = false\n" >"$NHI_WORK/config.toml"
  $exe $data run --headless --trust-browsers --port 47777 --config "Z:\\opt\\nhi\\config.toml" >"$NHI_WORK/run.log" 2>&1 &
  daemon=$!
  for _ in $(seq 1 200); do
    grep -q "listening on https://127.0.0.1:47777" "$NHI_WORK/run.log" && break
    sleep 0.1
  done
  grep -q "listening on https://127.0.0.1:47777" "$NHI_WORK/run.log" || { cat "$NHI_WORK/run.log" >&2; fail "the daemon did not start under Wine"; }
  ca=$(find "$r/root/.wine/drive_c/nhi-data" -name ca.pem | head -1)
  [ -n "$ca" ] || fail "no CA written under the Wine data directory"
  body=$(inside curl -sS --max-time 20 --cacert "${ca#$r}" -H "Origin: https://cloudicweb.nhi.gov.tw" https://127.0.0.1:47777/v1/card) || fail "curl /v1/card"
  grep -q "000012345678" <<<"$body" || fail "/v1/card under Wine: $body"
  echo "test-wine: run under Wine served /v1/card over HTTPS: ok" >&2

  # Trust in the Windows certificate store (CurrentUser\Root): the daemon started with
  # --trust-browsers (as the Run entry of the MSI starts it) put its CA there, and check reads it.
  trusted() { local out; out=$($exe $data check --json --port 47777 2>/dev/null || true); grep -q "\"id\":\"trust.system\",\"status\":\"ok\"" <<<"$(tr -d " \n\r" <<<"$out")"; }
  trusted || fail "trust.system is not ok after run --trust-browsers"
  kill "$daemon" 2>/dev/null || true
  $exe $data cert uninstall --only system >"$NHI_WORK/cert.log" 2>&1 || { echo "exit $?" >&2; cat "$NHI_WORK/cert.log" >&2; fail "cert uninstall --only system under Wine"; }
  grep -q "\[ OK \]" "$NHI_WORK/cert.log" || fail "cert uninstall did not report the store step: $(cat "$NHI_WORK/cert.log")"
  # The removal is verified inside the process (uninstall fails if the certificate is still
  # enumerated after deleting it). Wine 10 does not persist a deletion from a registry-backed
  # system store (checked: gone in-process, back when the store is reopened), so whether it stays
  # gone is on the real-Windows checklist (docs/design.md).
  $exe $data cert install --only system >"$NHI_WORK/cert.log" 2>&1 || { echo "exit $?" >&2; cat "$NHI_WORK/cert.log" >&2; fail "cert install --only system under Wine"; }
  trusted || fail "trust.system is not ok after cert install"
  echo "test-wine: Windows certificate store (run --trust-browsers, cert install/uninstall, trust.system): ok" >&2
  # Firefox reads the Windows store unless it is older than 120 or the user turned that off:
  # check says which profile and how to fix it.
  ff="$r/root/.wine/drive_c/users/root/AppData/Roaming/Mozilla/Firefox/Profiles"
  mkdir -p "$ff/a.default" "$ff/b.off"
  printf "[Compatibility]\r\nLastVersion=133.0_20241120135321/20241120135321\r\n" >"$ff/a.default/compatibility.ini"
  printf "user_pref(\"security.enterprise_roots.enabled\", false);\n" >"$ff/b.off/prefs.js"
  rows=$($exe $data check --json --port 47777 2>/dev/null | tr -d " \n\r" || true)
  grep -q "\"id\":\"trust.firefox\",\"status\":\"ok\"[^}]*\"target\":\"Firefoxa.default\"" <<<"$rows" || fail "trust.firefox for a current Firefox: $rows"
  grep -q "\"id\":\"trust.firefox\",\"status\":\"warn\"[^}]*\"target\":\"Firefoxb.off\"" <<<"$rows" || fail "trust.firefox for a Firefox that ignores the store: $rows"
  rm -rf "$r/root/.wine/drive_c/users/root/AppData/Roaming/Mozilla"
  echo "test-wine: check names the Firefox profile that ignores the Windows store: ok" >&2

  # The component as Windows starts it at login (nhi-bridgew.exe: no console) on a display: its
  # window and tray icon are made; `nhi-bridge stop` and a session end (wineboot --end-session
  # sends WM_QUERYENDSESSION and WM_ENDSESSION to every window) each stop it cleanly.
  gui="timeout 120 chroot $r env HOME=/root WINEDEBUG=-all WINEPREFIX=/root/.wine DISPLAY=$DISPLAY wine"
  log="$r/root/.wine/drive_c/nhi-data/logs/nhi-bridge_rCURRENT.log"
  running() { # WHICH: a port or a path in the command line of a running nhi-bridge.exe
    local p
    # A Wine process'"'"'s command line is its Windows one (Z:\opt\nhi\nhi-bridge.exe run …); anchored,
    # so that this script'"'"'s own text (bash -c …) never matches.
    for p in $(pgrep -f "^[A-Z]:.*nhi-bridge[.]exe run"); do grep -qa -- "$1" "/proc/$p/cmdline" 2>/dev/null && return 0; done
    return 1
  }
  served() { # PORT CA
    for _ in $(seq 1 300); do
      inside curl -s --max-time 2 --cacert "$2" -H "Origin: https://cloudicweb.nhi.gov.tw" "https://127.0.0.1:$1/v1/card" 2>/dev/null | grep -q 000012345678 && return 0
      sleep 0.1
    done
    return 1
  }
  gone() { for _ in $(seq 1 200); do running "$1" || return 0; sleep 0.05; done; return 1; }
  printf "legacy_http_port = 0\nlegacy_https_port = 0\nlog_level = \"info\"\n" >"$NHI_WORK/gui.toml"
  $gui /opt/nhi/nhi-bridgew.exe $data --port 47778 --config "Z:\\opt\\nhi\\gui.toml" >/dev/null 2>&1 || fail "nhi-bridgew.exe"
  served 47778 "${ca#$r}" || { cat "$log" >&2; fail "the component started by nhi-bridgew.exe does not serve"; }
  running 47778 || fail "cannot see the component'"'"'s process (the checks below would prove nothing)"
  grep -q "tray icon shown" "$log" || { cat "$log" >&2; fail "no tray icon under Wine"; }
  # The icon in Wine'"'"'s notification area (top left of the screen) follows the card: green with
  # the card in, amber when it is pulled, green again when it is back — counted in the screen'"'"'s
  # pixels. (Its menu cannot be opened under Wine: Shell_NotifyIconGetRect is missing there, and
  # tray-icon opens the menu only with the icon'"'"'s rectangle. The menu is tested on Linux.)
  shows() { # RRGGBB
    for _ in $(seq 1 100); do
      [ "$(/usr/bin/python3 "$NHI_TESTS/tray/screen_colour.py" "$1")" -gt 20 ] && return 0
      sleep 0.1
    done
    return 1
  }
  shows 2e7d32 || fail "the tray icon does not show the card as ready (green)"
  kill "$sim"; wait "$sim" 2>/dev/null || true
  shows f9a825 || fail "the tray icon does not show the card pulled (amber)"
  shows 2e7d32 && fail "the ready colour stays on screen with the card out"
  "$NHI_SIM" --port 35963 --apdu-log "$NHI_WORK/apdu.log" >/dev/null 2>&1 &
  sim=$!
  shows 2e7d32 || fail "the tray icon does not show the card back (green)"
  served 47778 "${ca#$r}" || fail "the card is not served after it came back"
  echo "test-wine: the tray icon follows the card (ready, pulled, back): ok" >&2
  out=$($gui /opt/nhi/nhi-bridge.exe stop 2>&1) || fail "nhi-bridge stop: $out"
  grep -q "已停止元件" <<<"$out" || fail "nhi-bridge stop did not stop it: $out"
  gone 47778 || { pgrep -a nhi-bridge >&2; fail "the component still runs after nhi-bridge stop"; }
  # Its icon left the tray with it (no ghost icon until the mouse passes over).
  for _ in $(seq 1 50); do [ "$(/usr/bin/python3 "$NHI_TESTS/tray/screen_colour.py" 2e7d32)" = 0 ] && break; sleep 0.1; done
  [ "$(/usr/bin/python3 "$NHI_TESTS/tray/screen_colour.py" 2e7d32)" = 0 ] || fail "the tray icon stayed after the component stopped"
  grep -q "asked to stop (nhi-bridge stop)" "$log" || fail "the stop did not come through the window: $(cat "$log")"
  [ "$(grep -c "INFO.*\] stopped$" "$log")" = 1 ] || fail "no clean stop after nhi-bridge stop: $(cat "$log")"
  out=$($gui /opt/nhi/nhi-bridge.exe stop 2>&1) || fail "nhi-bridge stop, nothing running: $out"
  grep -q "元件未在執行" <<<"$out" || fail "nhi-bridge stop with nothing running: $out"
  echo "test-wine: nhi-bridgew.exe: tray icon, served; nhi-bridge stop stopped it cleanly: ok" >&2
  $gui /opt/nhi/nhi-bridgew.exe $data --port 47778 --config "Z:\\opt\\nhi\\gui.toml" >/dev/null 2>&1 || fail "nhi-bridgew.exe (2)"
  served 47778 "${ca#$r}" || fail "the component did not start again"
  $gui wineboot --end-session >/dev/null 2>&1 || true
  gone 47778 || fail "the component still runs after the session ended"
  grep -q "the session is ending" "$log" || fail "the session end did not reach the window: $(cat "$log")"
  [ "$(grep -c "INFO.*\] stopped$" "$log")" = 2 ] || fail "no clean stop at the session end: $(cat "$log")"
  echo "test-wine: a session end (WM_ENDSESSION) stopped it cleanly: ok" >&2

  # The MSI, installed and removed by msiexec: the install starts the component for the installing
  # user at once; the removal stops it before removing its files.
  if [ -f "$NHI_WORK/nhi-bridge.msi" ]; then
    # Browser access: another product'"'"'s entry in Chrome'"'"'s list policy, and a Chrome profile
    # whose user blocked the NHI page; check reads both through the registry and the profile.
    lna="HKLM\\SOFTWARE\\Policies\\Google\\Chrome\\LocalNetworkAccessAllowedForUrls"
    inside wine reg add "$lna" /v 1 /t REG_SZ /d https://corp.example /f >/dev/null 2>&1 || fail "reg add (another product)"
    prefs="$r/root/.wine/drive_c/users/root/AppData/Local/Google/Chrome/User Data/Default"
    mkdir -p "$prefs"
    printf "%s" "{\"profile\":{\"content_settings\":{\"exceptions\":{\"loopback_network\":{\"https://cloudicweb.nhi.gov.tw:443,*\":{\"setting\":2}}}}}}" >"$prefs/Preferences"
    chrome_row() { local out; out=$($exe $data check --json --port 1 2>/dev/null || true); tr -d " \n\r" <<<"$out" | grep -o "\"id\":\"browser.chrome.Default\",\"status\":\"[a-z]*\"" || true; }
    lna_list() { inside wine reg query "$lna" 2>/dev/null | tr -d "\r" || true; }
    [ "$(chrome_row)" = "\"id\":\"browser.chrome.Default\",\"status\":\"fail\"" ] || fail "check under Wine does not fail the blocked Chrome profile: $(chrome_row)"
    inside wine msiexec /i "Z:\\opt\\nhi\\nhi-bridge.msi" /qn >/dev/null 2>&1 || fail "msiexec /i"
    list=$(lna_list)
    grep -q "1 *REG_SZ *https://corp.example" <<<"$list" || fail "the install changed the other product'"'"'s entry: $list"
    grep -q "REG_SZ *https://\[\*\.\]nhi.gov.tw" <<<"$list" || fail "the install did not add the NHI origins to Chrome'"'"'s policy: $list"
    [ "$(chrome_row)" = "\"id\":\"browser.chrome.Default\",\"status\":\"ok\"" ] || fail "check under Wine does not read the policy: $(chrome_row)"
    echo "test-wine: MSI: browser policy written beside another product'"'"'s entry; check reads it: ok" >&2
    pf="$r/root/.wine/drive_c/Program Files/nhi-bridge"
    [ -f "$pf/nhi-bridge.exe" ] || fail "msiexec /i did not install nhi-bridge.exe under Program Files"
    grep -q "iccert.nhi.gov.tw" "$r/root/.wine/drive_c/windows/system32/drivers/etc/hosts" || fail "the install did not add the hosts line"
    # The Start-menu entries, zh-TW first (Wine puts a per-machine package'"'"'s in the user'"'"'s menu).
    lnk=$(find "$r/root/.wine/drive_c" -path "*Start Menu/Programs/nhi-bridge/*" -name "*.lnk" 2>/dev/null)
    grep -q "/健保卡元件檢測 Self-check.lnk$" <<<"$lnk" || fail "no zh-TW Start-menu entry: $lnk"
    for _ in $(seq 1 200); do
      uca=$(find "$r/root/.wine/drive_c/users" -path "*AppData/Local/nhi-bridge*" -name ca.pem 2>/dev/null | head -1)
      [ -n "$uca" ] && break; sleep 0.1
    done
    [ -n "$uca" ] || fail "the install did not start the component (no CA in %LOCALAPPDATA%)"
    served 7777 "${uca#$r}" || fail "the component started by the install does not serve on 7777"
    running "Program Files" || fail "cannot see the process the install started"
    ulog="$(dirname "$(dirname "$uca")")/logs/nhi-bridge_rCURRENT.log"
    installed=nhi-bridge.msi
    # A major upgrade: the next version replaces this one (the old one'"'"'s removal stops the
    # running component first), starts itself, and is the only one registered.
    if [ -f "$NHI_WORK/nhi-bridge-next.msi" ]; then
      # Wine runs the old package'"'"'s removal without UPGRADINGPRODUCTCODE (Windows sets it), so
      # the removing user'"'"'s data goes here, the log among it: follow the log from here.
      tail -n +1 -F "$ulog" >"$NHI_WORK/ulog.upgrade" 2>/dev/null &
      follower=$!
      inside wine msiexec /i "Z:\\opt\\nhi\\nhi-bridge-next.msi" /qn >/dev/null 2>&1 || fail "msiexec /i of the next version"
      for _ in $(seq 1 100); do [ "$(grep -c "asked to stop (nhi-bridge stop)" "$NHI_WORK/ulog.upgrade")" = 1 ] && break; sleep 0.1; done
      kill "$follower" 2>/dev/null || true
      [ "$(grep -c "asked to stop (nhi-bridge stop)" "$NHI_WORK/ulog.upgrade")" = 1 ] || fail "the upgrade did not stop the running component: $(cat "$NHI_WORK/ulog.upgrade")"
      served 7777 "${uca#$r}" || fail "the upgrade did not start the new component"
      running "Program Files" || fail "no component running after the upgrade"
      products=$(inside wine reg query "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall" /s 2>/dev/null | tr -d "\r")
      [ "$(grep -c "DisplayName.*nhi-bridge" <<<"$products")" = 1 ] || fail "not exactly one nhi-bridge registered after the upgrade: $(grep -A3 -B3 nhi-bridge <<<"$products")"
      grep -q "DisplayVersion.*$NHI_NEXT" <<<"$products" || fail "the registered version is not $NHI_NEXT"
      installed=nhi-bridge-next.msi
      echo "test-wine: MSI: the next version replaced the running one (stopped, upgraded, started): ok" >&2
    fi
    before=$(grep -c "asked to stop (nhi-bridge stop)" "$ulog" 2>/dev/null || true)
    # The removal deletes the user'"'"'s data, the log among it: follow the log from here.
    tail -n +1 -F "$ulog" >"$NHI_WORK/ulog.copy" 2>/dev/null &
    follower=$!
    inside wine msiexec /x "Z:\\opt\\nhi\\$installed" /qn >/dev/null 2>&1 || fail "msiexec /x"
    gone "Program Files" || fail "msiexec /x left the component running"
    for _ in $(seq 1 100); do [ "$(grep -c "asked to stop (nhi-bridge stop)" "$NHI_WORK/ulog.copy")" -gt "$before" ] && break; sleep 0.1; done
    kill "$follower" 2>/dev/null || true
    [ "$(grep -c "asked to stop (nhi-bridge stop)" "$NHI_WORK/ulog.copy")" -gt "$before" ] || fail "the removal did not stop the component through its window"
    [ ! -e "$pf/nhi-bridge.exe" ] || fail "msiexec /x left nhi-bridge.exe"
    [ -z "$(find "$r/root/.wine/drive_c" -path "*Start Menu/Programs/nhi-bridge*" 2>/dev/null)" ] || fail "msiexec /x left the Start-menu entries"
    grep -q "iccert.nhi.gov.tw" "$r/root/.wine/drive_c/windows/system32/drivers/etc/hosts" && fail "the removal left the hosts line"
    [ -z "$(find "$r/root/.wine/drive_c/users" -path "*AppData/Local/nhi-bridge" 2>/dev/null)" ] || fail "the removal left the user'"'"'s %LOCALAPPDATA%\\nhi-bridge: $(find "$r/root/.wine/drive_c/users" -path "*AppData/Local/nhi-bridge*" | head)"
    list=$(lna_list)
    grep -q "1 *REG_SZ *https://corp.example" <<<"$list" || fail "the removal changed the other product'"'"'s entry: $list"
    ! grep -q "nhi.gov.tw" <<<"$list" || fail "the removal left our browser policy: $list"
    [ "$(chrome_row)" = "\"id\":\"browser.chrome.Default\",\"status\":\"fail\"" ] || fail "after removal the blocked profile is not told again: $(chrome_row)"
    echo "test-wine: MSI: installed and started, stopped and removed under Wine: ok" >&2
  fi
'

# The library's unit tests, cross-built and run under the same Wine through a cargo runner.
[ "${NHI_WINE_UNIT:-1}" = 1 ] || { echo "test-wine: ok (unit tests skipped)" >&2; exit 0; }
CARGO_TARGET_DIR=${NHI_WINDOWS_TARGET_DIR:-$HOME/.cache/nhi-bridge/windows-target} \
  CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$root/scripts/wine-runner.sh \
  cargo test --release --locked --target x86_64-pc-windows-gnu -p nhi-bridge -p nhi-winsession --lib -- --test-threads 2 >"$work/unit.log" 2>&1 \
  || { tail -40 "$work/unit.log" >&2; fail "the library's unit tests under Wine"; }
grep "^test result:" "$work/unit.log" | sed "s/^/test-wine: unit tests under Wine: /" >&2
echo "test-wine: ok" >&2
