#!/usr/bin/env bash
# Makes /etc and /usr/local/share private to the calling mount namespace: overlays whose writes
# (hosts, trust stores, browser policies, users) land in a tmpfs under a new directory and vanish
# with the namespace. Prints that directory (its `_etc/upper` and `_usr_local_share/upper` hold
# what was written). Only for use inside `unshare -m --propagation private`: private-rig.sh,
# test-cargo-safe.sh and test-deb.sh call it there.
set -euo pipefail
changes=$(mktemp -d "${TMPDIR:-/tmp}/nhi-private-etc.XXXXXX")
mount -t tmpfs tmpfs "$changes"
for dir in /etc /usr/local/share; do
  name=$(echo "$dir" | tr / _)
  mkdir -p "$changes/$name/upper" "$changes/$name/work"
  mount -t overlay overlay -o "lowerdir=$dir,upperdir=$changes/$name/upper,workdir=$changes/$name/work" "$dir"
done
echo "$changes"
