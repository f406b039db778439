#!/usr/bin/env bash
# Builds the Windows installer on Linux: nhi-bridge.exe and nhi-bridgew.exe cross-built for
# x86_64-pc-windows-gnu (mingw-w64; OpenSSL vendored), then the MSI with wixl (msitools).
# The Windows build directory — with the slow vendored OpenSSL — is kept outside the clone
# (~/.cache/nhi-bridge/windows-target). Prints the .msi's path last.
#
#   bash scripts/build-msi.sh      → target/windows/nhi-bridge-<version>-x64.msi
#   (signed when NHI_SIGN_PKCS12 and NHI_SIGN_PASSFILE name a code-signing certificate)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for p in mingw-w64 wixl msitools; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
grep -qx x86_64-pc-windows-gnu <<<"$(rustup target list --installed)" || rustup target add x86_64-pc-windows-gnu >&2

target=${NHI_WINDOWS_TARGET_DIR:-$HOME/.cache/nhi-bridge/windows-target}
CARGO_TARGET_DIR=$target cargo build --release --locked --target x86_64-pc-windows-gnu \
  --features tray --bin nhi-bridge --bin nhi-bridgew >&2
bin=$target/x86_64-pc-windows-gnu/release
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
mkdir -p target/windows
cp "$bin/nhi-bridge.exe" "$bin/nhi-bridgew.exe" target/windows/
# Signed (when a certificate is configured, see scripts/sign-windows.sh) before they go into the
# package, so that the installed programs carry the signature too.
bash scripts/sign-windows.sh target/windows/nhi-bridge.exe target/windows/nhi-bridgew.exe
out=target/windows/nhi-bridge-$version-x64.msi
# wixl resolves sources against the .wxs file's directory.
wixl -a x64 -D Version="$version" -D BinDir=../../target/windows -D SrcDir=../.. \
  -o "$out.wip" installer/windows/nhi-bridge.wxs >&2
# zh-TW first: wixl drops non-ASCII text, so the names users see (Start menu, Apps & features, the
# refusal to downgrade) are set afterwards with msibuild, in the Traditional Chinese codepage (950,
# Big5; Windows Installer has no UTF-8 codepage). installer/windows/zh-TW.sql holds them.
printf '\r\n\r\n950\t_ForceCodepage\r\n' >"$out.cp.idt"
msibuild "$out.wip" -i "$out.cp.idt" >&2
while IFS= read -r sql; do
  case "$sql" in ''|'--'*) continue ;; esac
  msibuild "$out.wip" -q "$sql" >&2
done <installer/windows/zh-TW.sql
rm -f "$out.cp.idt"
mv "$out.wip" "$out"
# The package last: any change after signing would break the signature.
bash scripts/sign-windows.sh "$out"
echo "$out"
