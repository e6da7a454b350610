#!/usr/bin/env bash
# Measures the bars of the distributed sweep (issue 3) on real processes and prints the numbers:
# scheduling overhead (jobs/s through 8 workers), 500 idle heartbeating workers (coordinator CPU),
# coordinator peak memory with 10,000 jobs, efficiency of a training sweep on 2 local workers.
# Usage: scripts/sweep_bars.sh [PART-OF-A-TEST-NAME]  (schedulingOverhead, residentMemory, fiveHundredIdleWorkers, efficiency)
# Env: TS_BENCH_REPEATS (runs per measurement, default 3), TS_BENCH_EFFICIENCY_REPEATS, BUILD_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
CPU=skylake-avx512  # the flags of `make release` for its default CPU
BUILD_DIR="${BUILD_DIR:-.build}"
FLAGS=(-c release --scratch-path "$BUILD_DIR" -Xswiftc -target-cpu -Xswiftc "$CPU" -Xcc "-DTS_BUILD_CPU=$CPU"
       -Xswiftc -DTS_FMA -Xswiftc -DTS_AVX512)
filter="SweepBenchmarkTests"
if [ $# -gt 0 ]; then filter="SweepBenchmarkTests.*$1"; fi
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }
echo "$(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
TS_BENCH=1 swift test "${FLAGS[@]}" --filter "$filter" 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]|prohibited flag'
echo "$(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
