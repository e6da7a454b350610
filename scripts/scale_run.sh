#!/bin/bash
# The scale runs of docs/SCALING.md, on this machine.
#
#   scripts/scale_run.sh throughput [RUNS]   trivial 0-ms jobs through 8 `worker --no-data --jobs 16`:
#                                            jobs/s (end to end and between the first and last
#                                            commit), CPU per job, one line per run; with
#                                            BASE=another/thermosweep, each run runs it first (A/B)
#   scripts/scale_run.sh slots [WORKERS SLOTS SECONDS [STAGGER]]
#                                            simulated workers (scripts/swarm.py) × slots with 10-s jobs:
#                                            busy fraction, peak RSS, `status --connect` latency;
#                                            the workers join over STAGGER seconds (default 0: at once)
#
# Uses the release binary (BIN, default .build/release/thermosweep); writes into a temporary folder
# that it removes. Needs python3-zmq for `slots` (make test-deps installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/thermosweep}
[ -x "$BIN" ] || { echo "no $BIN: run make release first" >&2; exit 1; }
WORK=$(mktemp -d /tmp/thermosweep-scale.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# Starts a coordinator on a trivial grid: $1 = name, $2 = trivial ms, rest = grid flags.
start_coordinator() {
    local name=$1 ms=$2; shift 2
    /usr/bin/time -f "%U %S %M" -o "$WORK/$name.time" \
        "$BIN" sweep --db "$WORK/$name.sqlite" --trivial-ms "$ms" --synthetic \
        --endpoint-file "$WORK/$name.endpoint" "$@" > "$WORK/$name.log" 2>&1 &
    COORDINATOR=$!
    PIDS+=("$COORDINATOR")
    for _ in $(seq 200); do [ -s "$WORK/$name.endpoint" ] && return 0; sleep 0.05; done
    echo "the coordinator did not start:" >&2; cat "$WORK/$name.log" >&2; exit 1
}

throughput() {
    local runs=${1:-5}
    # BASE: another build's binary, run before BIN in each round (A/B on the same machine state).
    local builds=("$BIN") labels=(BIN)
    [ -n "${BASE:-}" ] && builds=("$BASE" "$BIN") labels=(BASE BIN)
    # steal_ms: time the hypervisor ran something else on this machine's vCPUs during the run
    # (/proc/stat); a run with much of it was not on a quiet machine.
    echo "run  build  wall_s  jobs/s  steady_jobs/s  start_s  tail_s  coordinator_us/job  workers_us/job  peak_rss_MB  steal_ms"
    for run in $(seq "$runs"); do
        for index in "${!builds[@]}"; do
            local build=${builds[$index]} label=${labels[$index]}
            # Each run on a settled machine: the last one's journal written back, its processes gone.
            sync
            sleep 1
            local name="t$run-$label" saved=$BIN
            BIN=$build
            start_coordinator "$name" 0 --lr 0.01:0.2:+0.01 --batch 8:160:+8 --seeds 50 --quiet
            BIN=$saved
            local endpoint t0 t1 steal0 steal workers=()
            endpoint=$(cat "$WORK/$name.endpoint")
            steal0=$(awk '/^cpu /{print $9}' /proc/stat)
            t0=$(date +%s.%N)
            for i in $(seq 8); do
                /usr/bin/time -f "%U %S" -o "$WORK/$name.w$i.time" \
                    "$build" worker --connect "$endpoint" --no-data --jobs 16 --quiet > "$WORK/$name.w$i.log" 2>&1 &
                workers+=($!); PIDS+=($!)
            done
            wait "$COORDINATOR"
            t1=$(date +%s.%N)
            steal=$(( ($(awk '/^cpu /{print $9}' /proc/stat) - steal0) * 1000 / $(getconf CLK_TCK) ))
            for pid in "${workers[@]}"; do wait "$pid" 2>/dev/null || true; done
            # wall: from the workers' start to the coordinator's exit; steady: the rate between the
            # first and the last result's commit; start and tail: the time before and after those.
            python3 - "$WORK" "$name" "$t0" "$t1" "$run" "$label" "$steal" <<'PY'
import sqlite3, sys
work, name, t0, t1, run, build = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]
steal = int(sys.argv[7])
jobs, first, last = sqlite3.connect(f"{work}/{name}.sqlite").execute(
    "SELECT count(*), min(committedAt), max(committedAt) FROM results").fetchone()
user, system, rss = open(f"{work}/{name}.time").read().split()[-3:]
workers = sum(sum(map(float, open(f"{work}/{name}.w{i}.time").read().split()[-2:])) for i in range(1, 9))
print(f"{run:>3}  {build}  {t1 - t0:6.2f}  {jobs / (t1 - t0):6.0f}  {jobs / (last - first):13.0f}  {first - t0:7.3f}  "
      f"{t1 - last:6.3f}  {(float(user) + float(system)) / jobs * 1e6:18.1f}  {workers / jobs * 1e6:14.1f}  {int(rss) / 1024:11.0f}"
      f"  {steal:8d}")
PY
        done
    done
}

slots() {
    local workers=${1:-1000} slots=${2:-64} seconds=${3:-60} stagger=${4:-0}
    # Enough 10-s jobs to keep every slot busy for the whole run, and a round more, within the
    # grid's limit of 100,000 jobs (400 per seed here).
    local seeds=$(( (workers * slots * (seconds / 10 + 1) + 399) / 400 ))
    [ "$seeds" -le 250 ] || seeds=250
    start_coordinator slots 10000 --lr 0.01:0.2:+0.01 --batch 8:160:+8 --seeds "$seeds" --heartbeat-ms 1000
    local endpoint version
    endpoint=$(cat "$WORK/slots.endpoint")
    version=$("$BIN" --version | cut -d' ' -f1)
    /usr/bin/time -f "%U %S" -o "$WORK/swarm.time" /usr/bin/python3 scripts/swarm.py "$endpoint" "$version" \
        --workers "$workers" --slots "$slots" --seconds "$seconds" --stagger "$stagger" > "$WORK/swarm.log" 2>&1 &
    local swarm=$!
    PIDS+=("$swarm")
    # status --connect while the swarm runs, every 2 s.
    sleep 2
    for _ in $(seq 30); do
        kill -0 "$swarm" 2>/dev/null || break
        local t0 t1
        t0=$(date +%s.%N)
        "$BIN" status --connect "$endpoint" > "$WORK/status.out" 2>&1 || true
        t1=$(date +%s.%N)
        python3 -c "print(f'status --connect answered in {$t1 - $t0:.3f} s: ' + open('$WORK/status.out').read().splitlines()[0])"
        sleep 2
    done
    wait "$swarm" || true
    cat "$WORK/swarm.log"
    # The sweep ends by itself when its last job is done; stop it if the swarm stopped first.
    pkill -INT -P "$COORDINATOR" 2>/dev/null || true  # COORDINATOR is /usr/bin/time
    wait "$COORDINATOR" 2>/dev/null || true
    local user sys rss
    read -r user sys rss < <(tail -1 "$WORK/slots.time")
    echo "coordinator: $user s user CPU, $sys s system CPU, peak RSS $((rss / 1024)) MB"
    read -r user sys < <(tail -1 "$WORK/swarm.time")
    echo "simulator (swarm.py, the same 2 cores): $user s user CPU, $sys s system CPU"
}

case "${1:-}" in
    throughput) shift; throughput "$@" ;;
    slots) shift; slots "$@" ;;
    *) sed -n '2,10p' "$0" >&2; exit 64 ;;
esac
