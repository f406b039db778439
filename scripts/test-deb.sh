#!/usr/bin/env bash
# The installer test, as root on a Debian machine: build the .deb, install it, and as a normal
# user (created here) run the component the way the user unit does, with the simulated card in a
# private rig; then purge and prove nothing is left. /etc/hosts must come back byte-identical.
#
# It installs a real package and creates (then deletes) the users `nhitest` and `nhitest2`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test-deb: run as root" >&2; exit 1; }
# The listing is read whole before it is searched: `certutil | grep -q` could end certutil with
# SIGPIPE after the match, and pipefail would then report the match as missing. Status 2: the
# database could not be listed (so "not listed" proves nothing).
lists_ca() { local l; l=$(runuser -u nhitest -- certutil -L -d "sql:$1") || return 2; grep -q "nhi-bridge local CA" <<<"$l"; }

if [ "${NHI_PRIVATE_RIG:-}" = 1 ]; then
  # ---- inside the private rig: the user's component, browsers and checks ----
  fail() { echo "test-deb: FAIL: $*" >&2; cat "$work/daemon.log" >&2 2>/dev/null || true; exit 1; }
  work=$NHI_TEST_DEB_WORK
  home=/home/nhitest
  as_user() { runuser -u nhitest -- env HOME="$home" XDG_RUNTIME_DIR="$work/run" "$@"; }
  mkdir -p "$work/run"; chown nhitest: "$work/run"; chmod 700 "$work/run"

  target/debug/nhi-card-sim --port 35963 >/dev/null 2>&1 &
  # Before the first start: one failing row says so; the certificate rows wait for it.
  for _ in $(seq 1 100); do as_user /usr/bin/nhi-bridge readers --json 2>/dev/null | tr -d ' ' | grep -q '"card_present":true' && break; sleep 0.1; done
  set +e
  as_user /usr/bin/nhi-bridge check --json >"$work/first.json"
  code=$?
  set -e
  python3 - "$work/first.json" "$code" <<'PY' || fail "check before the first start: $(cat "$work/first.json")"
import json, sys
r = json.load(open(sys.argv[1])); code = int(sys.argv[2])
rows = {c["id"]: c for c in r["checks"]}
assert code == 51, code
assert "has not started yet" in rows["daemon"]["message_en"], rows["daemon"]
for i in ("tls.leaf", "tls.ca_key", "tls.key_mode", "trust.system"):
    assert rows[i].get("waiting_for") == "daemon", rows[i]
failing = [i for i, c in rows.items() if c["status"] == "fail" and not c.get("waiting_for")]
assert failing == ["daemon"], failing
PY
  echo "test-deb: before the first start, check says so in one row; the certificate rows wait for it"
  as_user /usr/bin/nhi-bridge run --trust-browsers --headless >"$work/daemon.log" 2>&1 &
  for _ in $(seq 1 200); do grep -q "listening on" "$work/daemon.log" && break; sleep 0.05; done
  grep -q "listening on" "$work/daemon.log" || fail "the user's component did not start"
  echo "test-deb: the user's component is serving"

  ca=$home/.local/share/nhi-bridge/tls/ca.pem
  [ "$(stat -c %U "$ca")" = nhitest ] || fail "the certificate pair is not the user's"
  [ "$(stat -c %a "$home/.local/share/nhi-bridge/tls/leaf.key")" = 600 ] || fail "the key is not 0600"
  lists_ca "$home/.pki/nssdb" || fail "Chrome's NSS database does not list the CA"
  lists_ca "$home/.mozilla/firefox/test.default-release" || fail "the Firefox profile does not list the CA"
  [ "$(stat -c %U "$home/.pki/nssdb/cert9.db")" = nhitest ] || fail "the NSS database changed owner"
  echo "test-deb: Chrome's and Firefox's databases trust the user's CA"

  for host in 127.0.0.1 iccert.nhi.gov.tw; do
    as_user curl -fsS --cacert "$ca" "https://$host:7777/v1/status" | grep -q '"pcsc":"up"' || fail "https://$host:7777/v1/status"
  done
  echo "test-deb: https://127.0.0.1:7777 and https://iccert.nhi.gov.tw:7777 answer with the user's certificate"

  # Chromium as the user: its own NSS database, no certificate flags.
  as_user node tests/browser/installed-page.mjs "$home/.cache/nhi-test-chromium" >"$work/chromium.log" 2>&1 || { cat "$work/chromium.log" >&2; fail "Chromium did not load the self-check page"; }
  echo "test-deb: $(tail -1 "$work/chromium.log")"

  # The self-check: green but for the system store, which this per-user design leaves alone.
  set +e
  as_user /usr/bin/nhi-bridge check --json >"$work/check.json"
  code=$?
  set -e
  python3 - "$work/check.json" "$code" <<'PY' || fail "check: $(cat "$work/check.json")"
import json, sys
r = json.load(open(sys.argv[1])); code = int(sys.argv[2])
bad = [c["id"] for c in r["checks"] if c["status"] != "ok"]
assert bad == [], bad
assert code == 0, code
PY
  echo "test-deb: check is all green for a correct per-user install (exit 0)"

  # Renewal after installation: a new pair, trusted on the next start, the old CA gone.
  old_ca=$(openssl x509 -in "$ca" -noout -fingerprint -sha256)
  pkill -TERM -u nhitest -x nhi-bridge
  for _ in $(seq 1 100); do pgrep -u nhitest -x nhi-bridge >/dev/null || break; sleep 0.05; done
  as_user /usr/bin/nhi-bridge cert renew >/dev/null
  new_ca=$(openssl x509 -in "$ca" -noout -fingerprint -sha256)
  [ "$old_ca" != "$new_ca" ] || fail "renew made no new CA"
  as_user /usr/bin/nhi-bridge run --trust-browsers --headless >"$work/daemon.log" 2>&1 &
  for _ in $(seq 1 200); do grep -q "listening on" "$work/daemon.log" && break; sleep 0.05; done
  grep -q "listening on" "$work/daemon.log" || fail "the component did not start after renewal"
  for db in "$home/.pki/nssdb" "$home/.mozilla/firefox/test.default-release"; do
    trusted=$(as_user certutil -L -d "sql:$db" -n "nhi-bridge local CA" -a | openssl x509 -noout -fingerprint -sha256)
    [ "$trusted" = "$new_ca" ] || fail "$db trusts $trusted, not the renewed CA"
    [ "$(as_user certutil -L -d "sql:$db" | grep -c "nhi-bridge local CA")" = 1 ] || fail "$db keeps an old CA of ours"
  done
  as_user curl -fsS --cacert "$ca" https://127.0.0.1:7777/v1/status >/dev/null || fail "the renewed certificate is not served"
  echo "test-deb: renewal: the new CA is trusted, the old one is gone"

  # One component per user; another user's gets the clear "port in use" answer.
  as_user /usr/bin/nhi-bridge run --headless >"$work/second.log" 2>&1 || fail "a second start for the same user failed"
  grep -q "already running" "$work/second.log" || fail "the second start did not say why it left"
  set +e
  runuser -u nhitest2 -- env HOME=/home/nhitest2 /usr/bin/nhi-bridge run --headless >"$work/other.log" 2>&1
  code=$?
  set -e
  [ "$code" = 69 ] || fail "another user's component exited $code"
  grep -q "port 7777 is already in use" "$work/other.log" || fail "no clear message: $(cat "$work/other.log")"
  echo "test-deb: a second copy leaves quietly; another user's copy says the port is taken (exit 69)"
  exit 0
fi

# ---- outside: install, run the part above in a private rig, purge, compare ----
# The package writes /etc (hosts, browser policies): all of it happens in a mount namespace whose
# /etc and /usr/local/share are overlays on a tmpfs, so the machine's files are never changed.
if [ "${NHI_TEST_DEB_NS:-}" != 1 ]; then
  export NHI_TEST_DEB_NS=1
  exec unshare -m --propagation private -- bash -c '
    set -euo pipefail
    bash scripts/private-etc.sh >/dev/null
    exec bash scripts/test-deb.sh'
fi
work=$(mktemp -d /tmp/nhi-test-deb.XXXXXX)
chmod 755 "$work"
cp -p /etc/hosts "$work/hosts.before"
cleanup() {
  if ! cmp -s /etc/hosts "$work/hosts.before"; then cp -p "$work/hosts.before" /etc/hosts; fi
  dpkg -s nhi-bridge >/dev/null 2>&1 && apt-get purge -y -qq nhi-bridge >/dev/null 2>&1 || true
  for u in nhitest nhitest2; do id "$u" >/dev/null 2>&1 && userdel -r "$u" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

had_chrome_dir=0; [ -e /etc/opt/chrome ] && had_chrome_dir=1
deb=$(bash scripts/build-deb.sh)
echo "test-deb: built $deb"
dpkg-deb -f "$deb" Depends | grep -q pcscd || { echo "test-deb: Depends lacks pcscd" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "./$deb" >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; exit 1; }
# No session user here: apt says how to start it, in zh-TW and English.
grep -q "log out and in again, or start" "$work/apt.log" || { echo "test-deb: apt said nothing about starting the component: $(cat "$work/apt.log")" >&2; exit 1; }
[ -f /usr/share/applications/nhi-bridge-start.desktop ] || { echo "test-deb: no menu entry to start the component" >&2; exit 1; }
for u in nhitest nhitest2; do id "$u" >/dev/null 2>&1 || useradd -m -s /bin/bash "$u"; done
# A Firefox profile that exists before the component's first start.
runuser -u nhitest -- mkdir -p /home/nhitest/.mozilla/firefox/test.default-release
runuser -u nhitest -- certutil -N --empty-password -d sql:/home/nhitest/.mozilla/firefox/test.default-release

grep -q '^127.0.0.1 iccert.nhi.gov.tw # nhi-bridge$' /etc/hosts || { echo "test-deb: postinst did not add the hosts line" >&2; exit 1; }
[ -L /etc/systemd/user/graphical-session.target.wants/nhi-bridge.service ] || { echo "test-deb: the user unit is not enabled for every user" >&2; exit 1; }
[ -f /etc/xdg/autostart/nhi-bridge.desktop ] || { echo "test-deb: no autostart entry" >&2; exit 1; }
policy=/etc/chromium/policies/managed/nhi-bridge.json
for p in "$policy" /etc/opt/chrome/policies/managed/nhi-bridge.json /etc/opt/edge/policies/managed/nhi-bridge.json; do
  grep -q 'https://\[\*\.\]nhi.gov.tw' "$p" || { echo "test-deb: postinst did not write the browser policy $p" >&2; exit 1; }
done
echo "test-deb: installed (hosts line, user unit enabled globally, autostart entry, browser policies for NHI origins)"

NHI_TEST_DEB_WORK=$work bash scripts/private-rig.sh bash scripts/test-deb.sh

# An unrelated program that happens to be called nhi-bridge must survive the removal.
mkdir -p "$work/other"
cp /bin/sleep "$work/other/nhi-bridge"
"$work/other/nhi-bridge" 600 &
other=$!
apt-get purge -y -qq nhi-bridge >/dev/null
kill -0 "$other" 2>/dev/null || { echo "test-deb: the removal stopped an unrelated program named nhi-bridge" >&2; exit 1; }
kill "$other"; wait "$other" 2>/dev/null || true
for f in /usr/bin/nhi-bridge /usr/lib/systemd/user/nhi-bridge.service /etc/xdg/autostart/nhi-bridge.desktop \
         /etc/systemd/user/graphical-session.target.wants/nhi-bridge.service /home/nhitest/.local/share/nhi-bridge; do
  [ ! -e "$f" ] || { echo "test-deb: left after purge: $f" >&2; exit 1; }
done
for db in /home/nhitest/.pki/nssdb /home/nhitest/.mozilla/firefox/test.default-release; do
  rc=0; lists_ca "$db" || rc=$?
  [ "$rc" != 2 ] || { echo "test-deb: cannot list $db after purge" >&2; exit 1; }
  [ "$rc" = 1 ] || { echo "test-deb: the CA is still trusted in $db after purge" >&2; exit 1; }
done
cmp /etc/hosts "$work/hosts.before" || { echo "test-deb: /etc/hosts differs after purge" >&2; exit 1; }
[ "$(stat -c %a:%U /etc/hosts)" = "$(stat -c %a:%U "$work/hosts.before")" ] || { echo "test-deb: /etc/hosts mode/owner changed" >&2; exit 1; }
[ ! -e "$policy" ] || { echo "test-deb: the browser policy is left after purge" >&2; exit 1; }
[ "$had_chrome_dir" = 1 ] || [ ! -e /etc/opt/chrome ] || { echo "test-deb: the purge left /etc/opt/chrome, made only for our policy" >&2; exit 1; }
echo "test-deb: purged: no file, no unit, no trust, no browser policy, and /etc/hosts is byte-identical"

# Opting out: no policy is written.
NHI_BROWSER_POLICY=0 apt-get install -y -qq "./$deb" >/dev/null
[ ! -e "$policy" ] || { echo "test-deb: NHI_BROWSER_POLICY=0 still wrote $policy" >&2; exit 1; }
apt-get purge -y -qq nhi-bridge >/dev/null
echo "test-deb: NHI_BROWSER_POLICY=0 installs without a browser policy"
