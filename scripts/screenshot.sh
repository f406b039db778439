#!/usr/bin/env bash
# Regenerates the pictures of the self-check page in docs/: ready with the simulated card
# (self-check.png), a card that is not an NHI card, the component stopped, pcscd down — taken by
# headless Chromium in the page tests, in the private rig. Installs a CJK font first, so the
# Traditional Chinese text renders.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-rig.sh --packages-only
dpkg-query -W -f='${Status}' fonts-wqy-zenhei 2>/dev/null | grep -q 'install ok installed' || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-wqy-zenhei >/dev/null
}
NHI_BRIDGE_SCREENSHOT="$PWD/docs/self-check.png" NHI_BRIDGE_SCREENSHOT_DIR="$PWD/docs" \
  bash scripts/private-rig.sh cargo test --test rig -- --include-ignored self_check_page selfcheck_page
echo "docs/self-check*.png updated"
