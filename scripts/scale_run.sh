#!/bin/bash
# The scale runs of docs/SCALING.md, on this machine.
#
#   scripts/scale_run.sh throughput [RUNS]   trivial 0-ms jobs through 8 `worker --no-data --jobs 16`:
#                                            jobs/s and coordinator CPU per job, one line per run
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
    echo "run  jobs  wall_s  jobs/s  coordinator_cpu_s  us/job  peak_rss_MB"
    for run in $(seq "$runs"); do
        start_coordinator "t$run" 0 --lr 0.01:0.2:+0.01 --batch 8:160:+8 --seeds 50
        local endpoint t0 t1 workers=()
        endpoint=$(cat "$WORK/t$run.endpoint")
        t0=$(date +%s.%N)
        for i in $(seq 8); do
            "$BIN" worker --connect "$endpoint" --no-data --jobs 16 > "$WORK/t$run.w$i.log" 2>&1 &
            workers+=($!); PIDS+=($!)
        done
        wait "$COORDINATOR"
        t1=$(date +%s.%N)
        for pid in "${workers[@]}"; do wait "$pid" 2>/dev/null || true; done
        read -r user sys rss < "$WORK/t$run.time"
        python3 -c "
jobs, wall, cpu = 20000, $t1 - $t0, $user + $sys
print(f'{$run:>3}  {jobs}  {wall:6.2f}  {jobs / wall:6.0f}  {cpu:17.2f}  {cpu / jobs * 1e6:6.0f}  {$rss / 1024:11.0f}')"
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
