#!/usr/bin/env bash
# Keeps the macOS sources buildable from Linux: the library and programs (with the tray) are
# type-checked and linted for aarch64-apple-darwin. Nothing is linked or run — there is no macOS
# SDK here — so two build scripts are helped along: openssl-sys reads this machine's OpenSSL
# headers instead of building the vendored copy (OPENSSL_NO_VENDOR: only its version macros are
# needed to check), and its header probe runs the host C compiler without Apple's flags.
#
#   bash scripts/check-macos.sh
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx aarch64-apple-darwin <<<"$(rustup target list --installed)" || rustup target add aarch64-apple-darwin >&2
dpkg-query -W -f='${Status}' libssl-dev 2>/dev/null | grep -q 'install ok installed' \
  || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libssl-dev >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The host compiler, minus the flags only Apple's clang knows.
cat >"$work/cc" <<'CC'
#!/usr/bin/env bash
args=(); skip=0
for a in "$@"; do
  if [ "$skip" = 1 ]; then skip=0; continue; fi
  case "$a" in -arch|-isysroot) skip=1 ;; -mmacosx-version-min=*) ;; *) args+=("$a") ;; esac
done
exec cc "${args[@]}"
CC
chmod +x "$work/cc"
mkdir -p "$work/sdk"
CARGO_TARGET_DIR=${NHI_MACOS_TARGET_DIR:-$HOME/.cache/nhi-bridge/macos-target} \
  CC_aarch64_apple_darwin=$work/cc SDKROOT=$work/sdk \
  OPENSSL_NO_VENDOR=1 OPENSSL_INCLUDE_DIR=/usr/include OPENSSL_LIB_DIR=/usr/lib/x86_64-linux-gnu \
  cargo clippy --locked --target aarch64-apple-darwin --features tray --lib --bins -- -D warnings
echo "check-macos: the library and programs type-check and lint clean for aarch64-apple-darwin" >&2
