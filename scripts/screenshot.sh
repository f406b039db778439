#!/usr/bin/env bash
# Regenerates docs/self-check.png: the browser test of the self-check page saves its screenshot
# (taken by headless Chromium with the simulated card inserted). Installs a CJK font first, so the
# Traditional Chinese text renders.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-rig.sh
dpkg-query -W -f='${Status}' fonts-wqy-zenhei 2>/dev/null | grep -q 'install ok installed' || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-wqy-zenhei >/dev/null
}
NHI_BRIDGE_SCREENSHOT="$PWD/docs/self-check.png" cargo test --test rig self_check_page
echo "docs/self-check.png updated"
