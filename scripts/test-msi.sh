#!/usr/bin/env bash
# The Windows installer, inspected on Linux: the exe is a Windows program, the MSI's tables hold
# the files, the Start-menu entries, the autostart Run entry, the elevated hosts actions and the
# major upgrade. (Installing it and running the exe under Wine needs a Wine with a working
# winscard — Debian 13's; see docs/design.md "Windows".)
set -euo pipefail
cd "$(dirname "$0")/.."
msi=$(bash scripts/build-msi.sh)
fail() { echo "test-msi: FAIL: $*" >&2; exit 1; }

file target/windows/nhi-bridge.exe | grep -q "PE32+ executable (console) x86-64" || fail "nhi-bridge.exe is not a 64-bit console program"
file target/windows/nhi-bridgew.exe | grep -q "PE32+ executable (GUI) x86-64" || fail "nhi-bridgew.exe is not a windowless (GUI subsystem) program"
echo "test-msi: nhi-bridge.exe (console) and nhi-bridgew.exe (no window) built: $(du -h target/windows/nhi-bridge.exe | cut -f1)"

tables=$(msiinfo tables "$msi")
for t in File Shortcut Registry CustomAction Upgrade InstallExecuteSequence; do
  grep -qx "$t" <<<"$tables" || fail "no $t table"
done
msiinfo export "$msi" File | grep -q "nhi-bridge.exe" || fail "nhi-bridge.exe is not installed"
msiinfo export "$msi" File | grep -q "nhi-bridgew.exe" || fail "nhi-bridgew.exe is not installed"
msiinfo export "$msi" Registry | grep -q 'CurrentVersion\\Run.*nhi-bridgew.exe' || fail "no autostart Run entry"
msiinfo export "$msi" Shortcut | grep -q "open" || fail "no self-check shortcut"
ca=$(msiinfo export "$msi" CustomAction | tr -d '\r')
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
# Where Windows accepts each action (wixl's Before/After placed some outside the script once):
# deferred actions inside InstallInitialize..InstallFinalize, the removals before RemoveFiles,
# RemoveExistingProducts between InstallValidate and InstallInitialize, the launch after the end.
seq=$(msiinfo export "$msi" InstallExecuteSequence | tr -d '\r')
at() { awk -F'\t' -v a="$1" '$1 == a { print $3 }' <<<"$seq"; }
init=$(at InstallInitialize); fin=$(at InstallFinalize); rmf=$(at RemoveFiles); instf=$(at InstallFiles)
while IFS=$'\t' read -r a type _; do
  [[ "$type" =~ ^[0-9]+$ ]] && [ $((type & 1024)) = 1024 ] || continue
  n=$(at "$a")
  [ -n "$n" ] && [ "$n" -gt "$init" ] && [ "$n" -lt "$fin" ] || fail "deferred $a at $n, outside $init..$fin"
done <<<"$ca"
for a in StopComponent StoreRemove HostsRemove; do
  [ "$(at $a)" -lt "$rmf" ] || fail "$a at $(at $a), not before RemoveFiles ($rmf)"
done
[ "$(at StopComponent)" -lt "$(at StoreRemove)" ] || fail "the component must stop before its CA goes"
[ "$(at HostsAdd)" -gt "$instf" ] || fail "HostsAdd before InstallFiles"
rep=$(at RemoveExistingProducts)
[ "$rep" -gt "$(at InstallValidate)" ] && [ "$rep" -lt "$init" ] || fail "RemoveExistingProducts at $rep"
[ "$(at LaunchComponent)" -gt "$fin" ] || fail "the launch is not after InstallFinalize"
msiinfo export "$msi" Upgrade | grep -q "OLDERFOUND" || fail "no major upgrade"
msiinfo suminfo "$msi" | grep -q "x64" || fail "not an x64 package"
echo "test-msi: $msi: files, shortcuts, autostart, elevated hosts actions, stop and launch, every action where Windows runs it, major upgrade"
