#!/usr/bin/env bash
# The comparative benchmark, one command: the release daemon beside the PC/SC floor, against
# pcscd + vpcd + the card simulator at 0 and 20 ms per APDU, inside a private pcscd (so it neither
# needs nor disturbs the machine's). Prints a table; writes target/bench/report.json.
# Knobs: NHI_BENCH_N (15), NHI_BENCH_IDLE_SECS (60), NHI_BENCH_CYCLES (1000). See BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-rig.sh --packages-only >/dev/null
# wrk drives the throughput figures (an epoll client; a threaded one would measure itself).
command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
exec bash scripts/private-rig.sh env \
  NHI_BENCH_N="${NHI_BENCH_N:-15}" NHI_BENCH_IDLE_SECS="${NHI_BENCH_IDLE_SECS:-60}" \
  NHI_BENCH_CYCLES="${NHI_BENCH_CYCLES:-1000}" cargo bench --bench compare
