#!/usr/bin/env bash
# Signs Windows programs and installers (Authenticode, osslsigncode) in place, so SmartScreen and
# the UAC prompt name the publisher instead of "unknown". The certificate comes from the
# environment, never from the repository:
#   NHI_SIGN_PKCS12     a .p12/.pfx with the code-signing certificate, its chain and key
#   NHI_SIGN_PASSFILE   a file holding its password (read by osslsigncode; never on a command line)
#   NHI_SIGN_TIMESTAMP  optional RFC 3161 timestamp URL (keeps signatures valid after expiry)
#
#   bash scripts/sign-windows.sh FILE...     (exit 0 and nothing done when NHI_SIGN_PKCS12 is unset)
set -euo pipefail
if [ -z "${NHI_SIGN_PKCS12:-}" ]; then
  echo "sign-windows: NHI_SIGN_PKCS12 not set: left unsigned" >&2
  exit 0
fi
[ -r "$NHI_SIGN_PKCS12" ] || { echo "sign-windows: cannot read $NHI_SIGN_PKCS12" >&2; exit 66; }
[ -r "${NHI_SIGN_PASSFILE:-}" ] || { echo "sign-windows: NHI_SIGN_PASSFILE must name a readable file" >&2; exit 66; }
command -v osslsigncode >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends osslsigncode >/dev/null
for f in "$@"; do
  ts=()
  [ -n "${NHI_SIGN_TIMESTAMP:-}" ] && ts=(-ts "$NHI_SIGN_TIMESTAMP")
  timeout 120 osslsigncode sign -pkcs12 "$NHI_SIGN_PKCS12" -readpass "$NHI_SIGN_PASSFILE" \
    -h sha256 -n "nhi-bridge 健保卡讀卡機元件" "${ts[@]}" \
    -in "$f" -out "$f.signed" >/dev/null
  mv "$f.signed" "$f"
  echo "sign-windows: signed $f" >&2
done
