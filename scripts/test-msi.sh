#!/usr/bin/env bash
# The Windows installer, inspected on Linux: the exe is a Windows program, the MSI's tables hold
# the files, the Start-menu entries, the autostart Run entry, the elevated hosts actions and the
# major upgrade. (Installing it and running the exe under Wine needs a Wine with a working
# winscard — Debian 13's; see docs/design.md "Windows".)
set -euo pipefail
cd "$(dirname "$0")/.."
msi=$(bash scripts/build-msi.sh)
# Lints of the Windows-only code (tray::windows, crates/winsession, tls::winstore), which the
# Linux clippy never sees.
CARGO_TARGET_DIR=${NHI_WINDOWS_TARGET_DIR:-$HOME/.cache/nhi-bridge/windows-target} \
  cargo clippy --release --locked --target x86_64-pc-windows-gnu --workspace --all-targets \
  --features tray -- -D warnings
fail() { echo "test-msi: FAIL: $*" >&2; exit 1; }
# A table is read whole before it is searched: msiinfo writes field by field, so `msiinfo | grep -q`
# can end msiinfo with SIGPIPE after the match, and pipefail then reports the match as missing.
table() { msiinfo export "$msi" "$1" | tr -d '\r\0'; }
has() { local t; t=$(table "$1"); grep -q -- "$2" <<<"$t"; }

file target/windows/nhi-bridge.exe | grep -q "PE32+ executable (console) x86-64" || fail "nhi-bridge.exe is not a 64-bit console program"
file target/windows/nhi-bridgew.exe | grep -q "PE32+ executable (GUI) x86-64" || fail "nhi-bridgew.exe is not a windowless (GUI subsystem) program"
echo "test-msi: nhi-bridge.exe (console) and nhi-bridgew.exe (no window) built: $(du -h target/windows/nhi-bridge.exe | cut -f1)"

tables=$(msiinfo tables "$msi")
for t in File Shortcut Registry CustomAction Upgrade InstallExecuteSequence; do
  grep -qx "$t" <<<"$tables" || fail "no $t table"
done
has File "nhi-bridge.exe" || fail "nhi-bridge.exe is not installed"
has File "nhi-bridgew.exe" || fail "nhi-bridgew.exe is not installed"
has Registry 'CurrentVersion\\Run.*nhi-bridgew.exe' || fail "no autostart Run entry"
has Shortcut "open" || fail "no self-check shortcut"
ca=$(table CustomAction)
grep -q "HostsAdd.*cert install --only hosts" <<<"$ca" || fail "no hosts action: $ca"
grep -q "HostsRemove.*cert uninstall --only hosts" <<<"$ca" || fail "no hosts removal: $ca"
# 3072 = deferred (1024) + no impersonation (2048): elevated, as SYSTEM.
type=$(awk -F'\t' '$1 == "HostsAdd" { print $2 }' <<<"$ca")
[ -n "$type" ] && [ $((type & 3072)) = 3072 ] || fail "the hosts action is not deferred and elevated: $ca"
# The uninstalling user's CA leaves their Root store: deferred (1024), impersonating (no 2048).
grep -q "StoreRemove.*cert uninstall --only system" <<<"$ca" || fail "no store removal: $ca"
type=$(awk -F'\t' '$1 == "StoreRemove" { print $2 }' <<<"$ca")
[ -n "$type" ] && [ $((type & 1024)) = 1024 ] && [ $((type & 2048)) = 0 ] || fail "the store removal is not deferred as the user: $ca"
# The removing user's running component is asked to stop (deferred, as the user) before the files
# go; after installing, the component is started for the installing user.
grep -q "StopComponent.*NhiBridgeExe.*stop" <<<"$ca" || fail "no stop action: $ca"
type=$(awk -F'\t' '$1 == "StopComponent" { print $2 }' <<<"$ca")
[ -n "$type" ] && [ $((type & 1024)) = 1024 ] && [ $((type & 2048)) = 0 ] || fail "the stop action is not deferred as the user: $ca"
grep -q "LaunchComponent.*NhiBridgeWExe" <<<"$ca" || fail "no launch after install: $ca"
# Browser policy: deferred and elevated after the files, removed on uninstall; NHI_BROWSER_POLICY=0
# opts out (the condition names it). The removing user's data goes (deferred, as that user).
grep -q "BrowserAllow.*browser allow" <<<"$ca" || fail "no browser policy action: $ca"
type=$(awk -F'\t' '$1 == "BrowserAllow" { print $2 }' <<<"$ca")
[ -n "$type" ] && [ $((type & 3072)) = 3072 ] || fail "the browser policy action is not deferred and elevated: $ca"
grep -q "BrowserRevoke.*browser revoke" <<<"$ca" || fail "no browser policy removal: $ca"
grep -q "PurgeUserData.*purge" <<<"$ca" || fail "no removal of the user's data: $ca"
type=$(awk -F'\t' '$1 == "PurgeUserData" { print $2 }' <<<"$ca")
[ -n "$type" ] && [ $((type & 1024)) = 1024 ] && [ $((type & 2048)) = 0 ] || fail "the data removal is not deferred as the user: $ca"
grep -q "OpenSelfCheck.*open" <<<"$ca" || fail "no self-check after an interactive install: $ca"
# Where Windows accepts each action (wixl's Before/After placed some outside the script once):
# deferred actions inside InstallInitialize..InstallFinalize, the removals before RemoveFiles,
# RemoveExistingProducts between InstallValidate and InstallInitialize, the launch after the end.
seq=$(table InstallExecuteSequence)
at() { awk -F'\t' -v a="$1" '$1 == a { print $3 }' <<<"$seq"; }
init=$(at InstallInitialize); fin=$(at InstallFinalize); rmf=$(at RemoveFiles); instf=$(at InstallFiles)
while IFS=$'\t' read -r a type _; do
  [[ "$type" =~ ^[0-9]+$ ]] && [ $((type & 1024)) = 1024 ] || continue
  n=$(at "$a")
  [ -n "$n" ] && [ "$n" -gt "$init" ] && [ "$n" -lt "$fin" ] || fail "deferred $a at $n, outside $init..$fin"
done <<<"$ca"
grep -q "BrowserAllow.*NHI_BROWSER_POLICY" <<<"$seq" || fail "the browser policy cannot be opted out of: $seq"
grep -q "OpenSelfCheck.*UILevel" <<<"$seq" || fail "the self-check would open in silent installs: $seq"
for a in StopComponent StoreRemove PurgeUserData HostsRemove BrowserRevoke; do
  [ "$(at $a)" -lt "$rmf" ] || fail "$a at $(at $a), not before RemoveFiles ($rmf)"
done
[ "$(at StopComponent)" -lt "$(at StoreRemove)" ] || fail "the component must stop before its CA goes"
[ "$(at StopComponent)" -lt "$(at PurgeUserData)" ] || fail "the component must stop before its data goes"
[ "$(at BrowserAllow)" -gt "$instf" ] || fail "BrowserAllow before InstallFiles"
[ "$(at HostsAdd)" -gt "$instf" ] || fail "HostsAdd before InstallFiles"
rep=$(at RemoveExistingProducts)
[ "$rep" -gt "$(at InstallValidate)" ] && [ "$rep" -lt "$init" ] || fail "RemoveExistingProducts at $rep"
[ "$(at LaunchComponent)" -gt "$fin" ] || fail "the launch is not after InstallFinalize"
# zh-TW first in what users see (Big5 codepage; wixl alone would have dropped it).
grep -qx "950.*_ForceCodepage" <<<"$(table _ForceCodepage)" || fail "the database codepage is not 950"
has Shortcut "健保卡元件檢測" || fail "no zh-TW self-check shortcut name"
has Property "ProductName.*健保卡讀卡機元件" || fail "no zh-TW product name"
has Upgrade "OLDERFOUND" || fail "no major upgrade"
grep -q "x64" <<<"$(msiinfo suminfo "$msi")" || fail "not an x64 package"
echo "test-msi: $msi: files, shortcuts, autostart, elevated hosts actions, stop and launch, every action where Windows runs it, zh-TW names, major upgrade"

# Signing (scripts/sign-windows.sh), with a throwaway code-signing certificate: the exe and the
# MSI verify against its CA, and a changed byte breaks the signature.
command -v osslsigncode >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends osslsigncode >/dev/null
sign=$(mktemp -d)
trap 'rm -rf "$sign"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$sign/ca.key" -out "$sign/ca.pem" -days 2 \
  -subj "/CN=nhi-bridge test signing CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$sign/cs.key" -out "$sign/cs.csr" -subj "/CN=nhi-bridge test publisher" 2>/dev/null
printf "extendedKeyUsage=codeSigning\nkeyUsage=critical,digitalSignature\n" >"$sign/ext"
openssl x509 -req -in "$sign/cs.csr" -CA "$sign/ca.pem" -CAkey "$sign/ca.key" -CAcreateserial \
  -days 2 -extfile "$sign/ext" -out "$sign/cs.pem" 2>/dev/null
head -c 24 /dev/urandom | base64 >"$sign/pass"
openssl pkcs12 -export -inkey "$sign/cs.key" -in "$sign/cs.pem" -certfile "$sign/ca.pem" \
  -passout "file:$sign/pass" -out "$sign/cs.p12"
cp target/windows/nhi-bridge.exe "$msi" "$sign/"
NHI_SIGN_PKCS12=$sign/cs.p12 NHI_SIGN_PASSFILE=$sign/pass \
  bash scripts/sign-windows.sh "$sign/nhi-bridge.exe" "$sign/$(basename "$msi")" 2>/dev/null
for f in "$sign/nhi-bridge.exe" "$sign/$(basename "$msi")"; do
  osslsigncode verify -CAfile "$sign/ca.pem" -in "$f" >"$sign/verify.log" 2>&1 \
    || { cat "$sign/verify.log" >&2; fail "$(basename "$f") does not verify after signing"; }
done
osslsigncode verify -CAfile "$sign/ca.pem" -in "$msi" >/dev/null 2>&1 && fail "the unsigned MSI verifies (the check proves nothing)"
printf "\x00" | dd of="$sign/nhi-bridge.exe" bs=1 seek=4096 conv=notrunc 2>/dev/null
osslsigncode verify -CAfile "$sign/ca.pem" -in "$sign/nhi-bridge.exe" >/dev/null 2>&1 && fail "a changed exe still verifies"
echo "test-msi: Authenticode signing of the exe and the MSI verifies; a changed byte does not"

