#!/usr/bin/env bash
# A cargo runner for x86_64-pc-windows-gnu: runs a Windows test program under Debian 13's Wine 10
# (the cached userland that scripts/test-wine.sh builds), in private namespaces with a fresh Wine
# prefix, so nothing on the machine is touched. scripts/test-wine.sh uses it as
#   CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=scripts/wine-runner.sh cargo test --target … --lib
# Usage: wine-runner.sh PROGRAM.exe [ARGS...]
set -euo pipefail
root=${NHI_TRIXIE_DIR:-$HOME/.cache/nhi-bridge/trixie}
[ -f "$root/root/.wine-pristine/system.reg" ] || { echo "wine-runner: run scripts/test-wine.sh once first" >&2; exit 2; }
exe=$(realpath "$1"); shift
exe_dir=$(dirname "$exe")
exe_name=$(basename "$exe")
export NHI_ROOT=$root NHI_EXE_DIR=$exe_dir NHI_EXE=$exe_name
exec unshare -m -n -p -f --mount-proc --propagation private -- bash -c '
  set -euo pipefail
  r=$NHI_ROOT
  ip link set lo up
  mount -t proc proc "$r/proc"
  mount --rbind /dev "$r/dev"
  mount -t tmpfs tmpfs "$r/run"
  mount -t tmpfs tmpfs "$r/tmp"
  mkdir -p "$r/opt/nhi" && mount --bind "$NHI_EXE_DIR" "$r/opt/nhi"
  mkdir -p "$r/root/.wine" && mount -t tmpfs tmpfs "$r/root/.wine"
  cp -a "$r/root/.wine-pristine/." "$r/root/.wine/"
  # A display, so that tests can make windows (Wine has no desktop without one).
  Xvfb -displayfd 1 -screen 0 800x600x24 -nolisten tcp >"$r/tmp/display" 2>/dev/null &
  for _ in $(seq 1 100); do [ -s "$r/tmp/display" ] && break; sleep 0.05; done
  timeout 600 chroot "$r" env HOME=/root WINEDEBUG=-all WINEPREFIX=/root/.wine DISPLAY=:$(head -1 "$r/tmp/display") wine "/opt/nhi/$NHI_EXE" "$@"
' wine-runner "$@"
