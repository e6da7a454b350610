#!/usr/bin/env bash
# CI test of the Slurm path across nodes: a real Slurm of one controller and three compute nodes
# (root, Debian 12), each slurmd in its own network namespace with its own address and node name:
#
#   cluster/slurm/multinode-test.sh PATH/TO/thermosweep
#
# Starts the cluster (slurm.sh up --nodes 3), submits sweep.sbatch as a batch job on n1 (the
# coordinator binds there, at 10.77.0.11) whose 4-task worker array runs on n2 and n3 (excluded
# from n1) and connects to n1 across the namespaces by TCP. The grid is a tiny real synthetic one.
# Mid-sweep, while n2's workers hold jobs, it fails n2 (SIGKILL of its slurmd and of every process
# in its namespace), waits for Slurm to call n2 down and requeue its tasks, and brings n2 back.
# Then it checks in the database that every job ended exactly once (all done, one result each, of
# the job's last attempt, one `done` event each), that n2's jobs were declared lost, re-queued and
# finished by workers that were not killed, and that the exports (cells.csv, filters.csv,
# fits.json) equal those of the same grid run undisturbed on the host (`sweep --local-workers 4`,
# run at the same time), the volatile columns of cells.csv (samples_per_s, wall_s, worker) aside.
# Stops Slurm, the namespaces and everything it started on any exit; every wait is bounded and
# the whole test is bounded to 285 s. Set KEEP=1 to keep the temporary folder.
set -euo pipefail

if [ -z "${TS_SLURM_MN_TEST_INNER:-}" ]; then
    # One bound for the whole test; the trap below still cleans up when it fires, and gets
    # 90 s for it (its waits for the reference sweep and for Slurm's queue to drain) before KILL.
    TS_SLURM_MN_TEST_INNER=1 exec timeout -k 90 285 bash "$0" "$@"
fi

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
log_tag="slurm multinode test"
test_binary "it starts Slurm and namespaces" "$@"

WORKERS=4 HEARTBEAT_MS=200 LIVENESS=3 COORD_NODE=n1 COORD_ADDR=10.77.0.11 VICTIM=n2
# A tiny real grid: 2 warm starts and 27 measurements of about a second each.
GRID=(--lr 0.05,0.1,0.2 --batch 8,16,32 --seeds 3 --synthetic --synthetic-count 1000
      --burn-in-steps 300 --measure-steps 300 --warm-epochs 0.5 --calibration-probes 2)
DATA=(--synthetic --synthetic-count 1000)
start=$(date +%s.%N)
tmp=$(mktemp -d /tmp/thermosweep-slurm-mn-test.XXXXXX)
chmod 0755 "$tmp"
slurm_dir=$tmp/slurm run=$tmp/run db=$tmp/sweep.db ref=$tmp/ref
ref_pid="" coord_job=""
failed=1

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ $failed -ne 0 ]; then
        log "failed (exit $rc); logs follow"
        [ -n "${SLURM_CONF:-}" ] && { echo "----- sinfo / squeue" >&2; sinfo -N -o '%N %t' >&2 2>&1; squeue >&2 2>&1; } || true
        show_logs "$run"/coordinator.log "$slurm_dir"/log/slurmctld.log "$slurm_dir"/nodes/*/slurmd.log \
                  "$run"/logs/*.log "$ref"/sweep.log
    fi
    # The undisturbed reference sweep (by pid, if it still runs this binary).
    stop_process "$ref_pid" "$bin"
    # Cancels the coordinator's job and the array, waits, stops the daemons, kills what is left in
    # the namespaces, deletes them and the bridge.
    bash "$here/slurm.sh" down --dir "$slurm_dir" || log "slurm.sh down failed"
    kill_leftover_workers "$run/workers" || [ $rc -ne 0 ] || rc=1
    remove_tmp
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

apt_install sqlite3 iproute2

coordinator_running() {
    case $(squeue -h -j "$coord_job" -o %T 2>/dev/null) in
        PENDING|CONFIGURING|RUNNING|COMPLETING|SUSPENDED|REQUEUED|RESIZING) return 0 ;;
        *) return 1 ;;
    esac
}
check_alive() {
    [ -z "$coord_job" ] || coordinator_running || fail "the coordinator's job ended while waiting for $1"
}

# The same grid undisturbed, on the host, at the same time: its exports are the reference.
mkdir -p "$ref" "$run"
(cd "$ref" && exec "$bin" sweep --db "$ref/sweep.db" --local-workers 4 "${GRID[@]}") >"$ref/sweep.log" 2>&1 &
ref_pid=$!
log "reference sweep (undisturbed, 4 local workers on the host) started as pid $ref_pid"

log "starting Slurm: controller on the host, nodes n1 n2 n3 in network namespaces"
bash "$here/slurm.sh" up --dir "$slurm_dir" --nodes 3
export SLURM_CONF=$slurm_dir/etc/slurm.conf
log "Slurm is up: $(sinfo -h -N -o '%N=%t' | tr '\n' ' ')"

# The coordinator as a batch job on n1, bound to all its addresses; workers reach it at n1's.
coord_job=$(sbatch --parsable --nodelist=$COORD_NODE --chdir="$run" --output="$run/coordinator.log" \
    "$here/sweep.sbatch" --bin "$bin" --db "$db" --run-dir "$run" --workers $WORKERS --cores 1 \
    --time 10:00 --host $COORD_ADDR --sbatch-arg --exclude=$COORD_NODE \
    --worker-arg "${DATA[0]}" --worker-arg "${DATA[1]}" --worker-arg "${DATA[2]}" -- \
    "${GRID[@]}" --heartbeat-ms $HEARTBEAT_MS --liveness $LIVENESS)
coord_job=${coord_job%%;*}
log "coordinator job $coord_job submitted to $COORD_NODE"

wait_until 60 "worker array" test -s "$run/array-job-id"
array=$(cat "$run/array-job-id")
[ "$(squeue -h -j "$coord_job" -o %N)" = $COORD_NODE ] || fail "the coordinator runs on '$(squeue -h -j "$coord_job" -o %N)', not $COORD_NODE"
log "worker array $array submitted from $COORD_NODE; workers connect to $(cat "$run/connect-url")"

# Every task's first worker process: where it runs (its pid file names the node's host name).
all_started() { [ "$(ls "$run"/workers/task-*-r0.pid 2>/dev/null | wc -l)" -eq $WORKERS ]; }
wait_until 60 "$WORKERS worker processes" all_started
placement=$(cat "$run"/workers/task-*-r0.pid | awk '{print $2}' | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}')
log "workers started: $placement"
victim_pids=$(awk -v n=$VICTIM '$2 == n {print $1}' "$run"/workers/task-*-r0.pid | tr '\n' ' ')
grep -q "$COORD_NODE×" <<<"$placement" && fail "a worker runs on the coordinator's node $COORD_NODE: $placement"
[ -n "${victim_pids// /}" ] || fail "no worker runs on $VICTIM: $placement"

# Mid-sweep: some jobs done, and a worker of n2 inside a job.
done_count() { q "SELECT count(*) FROM jobs WHERE state = 'done';"; }
total=0
wait_until 60 "database" test -s "$db"
wait_until 60 "jobs in the database" sh -c "[ \"\$(sqlite3 'file:$db?mode=ro' 'SELECT count(*) FROM jobs;')\" -gt 0 ]"
total=$(q "SELECT count(*) FROM jobs;")
victim_jobs_q() { q "SELECT group_concat(id, ' ') FROM jobs WHERE state = 'running' AND leaseWorker LIKE '$VICTIM/%';"; }
mid_sweep() { [ "$(done_count)" -ge 3 ] && [ -n "$(victim_jobs_q)" ]; }
wait_until 90 "a running job on $VICTIM after the first results" mid_sweep
victim_jobs=$(victim_jobs_q)
[ "$(done_count)" -lt "$total" ] || fail "the sweep ended before the failure"
log "failing $VICTIM: its workers (pids $victim_pids) hold jobs $victim_jobs; done so far $(done_count)/$total"
t_kill=$(date +%s.%N)
bash "$here/slurm.sh" node-kill --dir "$slurm_dir" --node $VICTIM
t_killed=$(date +%s.%N)
log "$VICTIM's slurmd and every process in its namespace SIGKILLed"
# What n2's workers held when they died: a job of the snapshot above may have ended between the
# snapshot and the kill (the worker then took another), so read it again now that they are dead:
# the leases still running on n2, and those the coordinator has already declared lost.
victim_jobs=$(q "SELECT group_concat(id, ' ') FROM (SELECT id FROM jobs WHERE state = 'running' AND leaseWorker LIKE '$VICTIM/%'
                 UNION SELECT jobId FROM events WHERE kind = 'lost' AND worker LIKE '$VICTIM/%' AND at >= $t_kill);")
[ -n "$victim_jobs" ] || fail "$VICTIM's workers held no job when they were killed"
log "$VICTIM's workers held jobs $victim_jobs when they died"

# The coordinator notices the silence within heartbeat × liveness (+ 1 s) of the workers' death
# (between t_kill and t_killed) and re-queues the jobs.
lost_all() {
    local j
    for j in $victim_jobs; do
        [ "$(q "SELECT count(*) FROM events WHERE jobId = $j AND kind = 'lost' AND worker LIKE '$VICTIM/%';")" -ge 1 ] || return 1
    done
}
wait_until 10 "'lost' events for $VICTIM's jobs" lost_all
worst=0
for j in $victim_jobs; do
    at=$(q "SELECT printf('%.6f', min(at)) FROM events WHERE jobId = $j AND kind = 'lost' AND worker LIKE '$VICTIM/%';")
    awk -v a="$at" -v k="$t_kill" 'BEGIN { exit !(a >= k) }' || fail "job $j was declared lost before the kill"
    d=$(awk -v a="$at" -v k="$t_killed" 'BEGIN { printf "%.3f", a - k }')
    worst=$(awk -v a="$worst" -v b="$d" 'BEGIN { print (b > a ? b : a) }')
done
bound=$(awk -v h=$HEARTBEAT_MS -v l=$LIVENESS 'BEGIN { printf "%.3f", h * l / 1000 + 1 }')
awk -v d="$worst" -v b="$bound" 'BEGIN { exit !(d <= b) }' \
    || fail "$VICTIM's jobs declared lost up to $worst s after the kill ended, over the bound $bound s"
log "coordinator declared $VICTIM's jobs lost ≤ $worst s after the kill ended ($(awk -v a="$t_kill" -v b="$t_killed" 'BEGIN { printf "%.2f", b - a }') s long; bound $bound s); done so far $(done_count)/$total"

# Slurm notices the dead node (about 3 × MessageTimeout) and requeues its array tasks.
node_state() { sinfo -h -N -n $VICTIM -o %t; }
for ((i = 0; i < 400; i++)); do
    [[ $(node_state) == down* ]] && break
    coordinator_running || break
    sleep 0.1
done
if [[ $(node_state) == down* ]]; then
    log "Slurm calls $VICTIM $(node_state) $(awk -v s="$t_kill" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }') s after the kill; array: $(squeue -h -j "$array" -o '%i:%T:%N' | tr '\n' ' ')"
elif coordinator_running; then
    fail "Slurm does not call $VICTIM down 40 s after the kill (it says '$(node_state)')"
else
    log "the sweep ended before Slurm called $VICTIM down (it says '$(node_state)')"
fi
bash "$here/slurm.sh" node-start --dir "$slurm_dir" --node $VICTIM
victim_idle() { [[ $(node_state) == idle || $(node_state) == mix || $(node_state) == alloc ]]; }
for ((i = 0; i < 300; i++)); do victim_idle && break; sleep 0.1; done
victim_idle || fail "$VICTIM is '$(node_state)' 30 s after its slurmd restarted"
log "$VICTIM is back: $(node_state)"

# The sweep ends: the coordinator's job leaves the queue, and sweep.sbatch says the sweep's status.
for ((i = 0; i < 1500; i++)); do coordinator_running || break; sleep 0.1; done
coordinator_running && fail "the sweep did not end within 150 s of $VICTIM's return ($(done_count)/$total done)"
grep -q "coordinator exited with 0" "$run/coordinator.log" \
    || fail "the coordinator did not exit with 0: $(grep 'coordinator exited' "$run/coordinator.log" || echo 'no exit line')"
coord_job=""
log "sweep ended (coordinator exit 0); checking the database"

# --- the invariant: every job ended exactly once ---
check_status_json "$total" "$run/status.json"
check_done_once "$total"
log "all $total jobs done once each (status, results, journal)"

# n2's jobs: lost, re-queued with a later attempt, finished by a worker that was not killed.
for j in $victim_jobs; do
    [ "$(q "SELECT count(*) FROM events WHERE jobId = $j AND kind = 'requeued' AND attempt >= 2;")" -ge 1 ] \
        || fail "job $j of $VICTIM was not re-queued: $(q "SELECT kind, attempt, worker FROM events WHERE jobId = $j;")"
    IFS='|' read -r r_attempt r_worker < <(q "SELECT attempt, worker FROM results WHERE jobId = $j;") || true
    [ "${r_attempt:-0}" -ge 2 ] || fail "job $j's counted result is of attempt ${r_attempt:-none}, not a later one"
    for p in $victim_pids; do
        case $r_worker in *"/$p/"*) fail "job $j's counted result is from the killed worker $p" ;; esac
    done
    log "job $j (held on $VICTIM): lost, re-queued, done at attempt $r_attempt by $r_worker"
done
rejoined=$(q "SELECT count(*) FROM events WHERE kind = 'dispatched' AND worker LIKE '$VICTIM/%'
              AND at > $t_kill;")
log "jobs given to $VICTIM's restarted workers after its return: $rejoined"

# --- the exports equal the undisturbed run's ---
timeout 120 tail --pid="$ref_pid" -f /dev/null || fail "the reference sweep did not end within 120 s more"
ref_rc=0; wait "$ref_pid" || ref_rc=$?
ref_pid=""
[ $ref_rc -eq 0 ] || fail "the reference sweep exited with $ref_rc"
log "reference sweep ended (exit 0)"
"$bin" export --db "$ref/sweep.db" --out "$tmp/export-ref" >/dev/null
"$bin" export --db "$db" --out "$tmp/export-slurm" >/dev/null
# cells.csv: all but its last three columns (samples_per_s, wall_s, worker).
strip() { sed -E 's/,[^,]*,[^,]*,[^,]*$//' "$1"; }
head -n 1 "$tmp/export-ref/cells.csv" | grep -q ',samples_per_s,wall_s,worker$' \
    || fail "cells.csv does not end with samples_per_s,wall_s,worker: $(head -n 1 "$tmp/export-ref/cells.csv")"
diff <(strip "$tmp/export-ref/cells.csv") <(strip "$tmp/export-slurm/cells.csv") >"$tmp/cells.diff" \
    || fail "cells.csv differs from the undisturbed run's: $(head -n 10 "$tmp/cells.diff")"
for f in filters.csv fits.json; do
    cmp -s "$tmp/export-ref/$f" "$tmp/export-slurm/$f" \
        || fail "$f differs from the undisturbed run's: $(diff "$tmp/export-ref/$f" "$tmp/export-slurm/$f" | head -n 10)"
done
log "exports equal the undisturbed run's: cells.csv ($(($(wc -l <"$tmp/export-ref/cells.csv") - 1)) rows, volatile columns aside), filters.csv, fits.json"

late=$(grep -cE "(duplicate|stale) result #" "$run/coordinator.log" || true)
log "PASS: $total jobs across n2+n3 done once each; $VICTIM failed mid-sweep (lost in ≤ $worst s) and came back; exports equal; $late late result(s) logged, none counted"
failed=0
