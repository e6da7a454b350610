#!/usr/bin/env bash
# CI test of the Slurm path against a real one-node Slurm (root, Debian 12):
#
#   cluster/slurm/test.sh PATH/TO/thermosweep
#
# Starts a private Slurm (slurm.sh), runs a trivial sweep (40 jobs of 2 s) through sweep.sbatch
# whose 4 workers are Slurm array tasks, `scancel`s one array task while it runs a job (SIGTERM:
# the worker says BYE), SIGKILLs another's worker process (silence: declared lost),
# requeues a third (`scontrol requeue`: Slurm restarts it as a new worker process), and checks in
# the database that every job ended exactly once: 40 done, one result each, the cancelled and the
# killed tasks' jobs re-queued and finished at attempt 2 by other workers (the kill detected
# within heartbeat × liveness + 1 s), the requeued task's restart admitted and given jobs.
# Stops Slurm and everything it started on any exit. Everything waits with a bound; the whole
# test is bounded to 285 s. Set KEEP=1 to keep the temporary folder.
set -euo pipefail

if [ -z "${TS_SLURM_TEST_INNER:-}" ]; then
    # One bound for the whole test; the trap below still cleans up when it fires.
    TS_SLURM_TEST_INNER=1 exec timeout -k 20 285 bash "$0" "$@"
fi

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
log_tag="slurm test"
test_binary "it starts Slurm" "$@"

JOBS=40 TRIVIAL_MS=2000 WORKERS=4 HEARTBEAT_MS=200 LIVENESS=3
start=$(date +%s.%N)
tmp=$(mktemp -d /tmp/thermosweep-slurm-test.XXXXXX)
slurm_dir=$tmp/slurm run=$tmp/run db=$tmp/sweep.db
launcher_pid=""
failed=1

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ $failed -ne 0 ]; then
        log "failed (exit $rc); logs follow"
        show_logs "$run"/coordinator.log "$slurm_dir"/log/slurmctld.log "$run"/logs/*.log
    fi
    stop_process "$launcher_pid"
    bash "$here/slurm.sh" down --dir "$slurm_dir" || log "slurm.sh down failed"
    kill_leftover_workers "$run/workers" || [ $rc -ne 0 ] || rc=1
    remove_tmp
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

apt_install sqlite3
check_alive() { kill -0 "$launcher_pid" 2>/dev/null || fail "the sweep ended while waiting for $1"; }

log "starting Slurm"
bash "$here/slurm.sh" up --dir "$slurm_dir"
export SLURM_CONF=$slurm_dir/etc/slurm.conf
log "Slurm is up"

# 4 learning rates × 5 batch sizes × 2 seeds = 40 trivial jobs.
mkdir -p "$run"
bash "$here/sweep.sbatch" --bin "$bin" --db "$db" --run-dir "$run" --workers $WORKERS --cores 1 \
    --time 10:00 --host 127.0.0.1 --worker-arg --no-data -- \
    --trivial-ms $TRIVIAL_MS --lr 0.0125:0.1:x2 --batch 8:128:x2 --seeds 2 --synthetic \
    --heartbeat-ms $HEARTBEAT_MS --liveness $LIVENESS >"$run/coordinator.log" 2>&1 &
launcher_pid=$!

wait_until 60 "worker array" test -s "$run/array-job-id"
array=$(cat "$run/array-job-id")
log "worker array $array submitted"

# Waits for the pid file of array task $1 (restart $2) and prints the worker's pid.
task_pid() {
    local f=$run/workers/task-$1-r$2.pid pid
    wait_until 60 "worker process of task $1 (restart $2)" test -s "$f"
    read -r pid _ <"$f"
    echo "$pid"
}
# The job id a worker pid holds a running lease on (workers are journaled as host/pid/nonce).
running_job_of() { q "SELECT id FROM jobs WHERE state = 'running' AND leaseWorker LIKE '%/$1/%' LIMIT 1;"; }
has_running_job() { [ -n "$(running_job_of "$1")" ]; }
done_count() { q "SELECT count(*) FROM jobs WHERE state = 'done';"; }
at_least_done() { [ "$(done_count)" -ge "$1" ]; }

# Mid-sweep: some jobs done, and task 2 inside a job.
wait_until 60 "database" test -s "$db"
wait_until 60 "first results" at_least_done $WORKERS
victim_pid=$(task_pid 2 0)
wait_until 30 "running job on task 2 (pid $victim_pid)" has_running_job "$victim_pid"
victim_job=$(running_job_of "$victim_pid")
[ -n "$victim_job" ] || fail "task 2 (pid $victim_pid) lost its job before the cancel"
log "scancel ${array}_2: worker pid $victim_pid holds job $victim_job (done so far: $(done_count)/$JOBS)"
scancel "${array}_2"

# SIGKILL task 4's worker process (no BYE, as after the OOM killer or on a dead node): the
# coordinator must notice the silence within heartbeat × liveness (+ 1 s of slack) and re-queue
# the job. (`scancel --signal=KILL` would not do: slurmctld turns it into a cancel, SIGTERM first.)
killed_pid=$(task_pid 4 0)
wait_until 30 "running job on task 4 (pid $killed_pid)" has_running_job "$killed_pid"
killed_job=$(running_job_of "$killed_pid")
[ -n "$killed_job" ] || fail "task 4 (pid $killed_pid) lost its job before the kill"
[ "$(readlink "/proc/$killed_pid/exe")" = "$bin" ] || fail "pid $killed_pid of task 4 is not the worker"
t_kill=$(date +%s.%N)
kill -KILL "$killed_pid"
log "kill -KILL $killed_pid (task ${array}_4's worker), which held job $killed_job"

# Requeue task 3: Slurm restarts it (SLURM_RESTART_COUNT=1), and the new worker process joins.
# A requeued job is held 120 s before it runs again; StartTime=now releases it at once.
requeued_pid=$(task_pid 3 0)
log "scontrol requeue ${array}_3 (worker pid $requeued_pid)"
scontrol requeue "${array}_3"
# Released too early, the new run is refused by slurmd ("Job credential revoked": the requeue
# revoked the job's credential, at one-second resolution): wait until the old worker is gone and
# the task pending, then 2 s more.
pending() { [ "$(squeue -h -j "${array}_3" -o %T)" = PENDING ]; }
gone() { [ "$(readlink "/proc/$1/exe" 2>/dev/null)" != "$bin" ]; }
wait_until 30 "old worker of task 3 gone" gone "$requeued_pid"
wait_until 30 "requeued task 3 pending" pending
sleep 2
scontrol update jobid="${array}_3" StartTime=now
restarted_pid=$(task_pid 3 1)
log "task 3 restarted as worker pid $restarted_pid"

rc=0
timeout 180 tail --pid="$launcher_pid" -f /dev/null || fail "the sweep did not end within 180 s"
wait "$launcher_pid" || rc=$?
launcher_pid=""
[ $rc -eq 0 ] || fail "sweep.sbatch exited with $rc (expected 0)"
log "sweep ended; checking the database"

# --- the invariant: every job ended exactly once ---
check_status_json $JOBS "$run/status.json"
check_done_once $JOBS

# The cancelled task's job: its lease ended (released on BYE, or lost), it was re-queued with
# attempt 2, and another worker finished it.
ended=$(q "SELECT kind FROM events WHERE jobId = $victim_job AND attempt = 1
           AND kind IN ('released', 'lost', 'stalled', 'dropped') AND worker LIKE '%/$victim_pid/%';")
[ -n "$ended" ] || fail "job $victim_job: no end of the cancelled worker's lease in the journal: $(q "SELECT kind, attempt, worker FROM events WHERE jobId = $victim_job;")"
[ "$(q "SELECT count(*) FROM events WHERE jobId = $victim_job AND kind = 'requeued' AND attempt = 2;")" -ge 1 ] \
    || fail "job $victim_job was not re-queued with attempt 2"
r_attempt="" r_worker=""
IFS='|' read -r r_attempt r_worker < <(q "SELECT attempt, worker FROM results WHERE jobId = $victim_job;") || true
[ "$r_attempt" = 2 ] || fail "job $victim_job's counted result is of attempt $r_attempt, not 2"
case $r_worker in *"/$victim_pid/"*) fail "job $victim_job's result is from the cancelled worker" ;; esac
log "job $victim_job: lease of the cancelled worker $ended, re-queued, done at attempt 2 by $r_worker"

# The killed task's job: declared lost within the bound, re-queued, finished elsewhere.
lost_seq="" lost_at=""
IFS='|' read -r lost_seq lost_at < <(q "SELECT seq, printf('%.6f', at) FROM events WHERE jobId = $killed_job
    AND attempt = 1 AND kind = 'lost' AND worker LIKE '%/$killed_pid/%' ORDER BY seq LIMIT 1;") || true
[ -n "$lost_seq" ] || fail "job $killed_job: the SIGKILLed worker's lease did not end as 'lost': $(q "SELECT kind, attempt, worker FROM events WHERE jobId = $killed_job;")"
detect=$(awk -v a="$lost_at" -v k="$t_kill" 'BEGIN { printf "%.3f", a - k }')
bound=$(awk -v h=$HEARTBEAT_MS -v l=$LIVENESS 'BEGIN { printf "%.3f", h * l / 1000 + 1 }')
awk -v d="$detect" -v b="$bound" 'BEGIN { exit !(d >= 0 && d <= b) }' \
    || fail "job $killed_job: declared lost $detect s after the SIGKILL, outside [0, $bound] s"
[ "$(q "SELECT count(*) FROM events WHERE jobId = $killed_job AND kind = 'requeued' AND attempt = 2 AND seq > $lost_seq;")" -ge 1 ] \
    || fail "job $killed_job was not re-queued with attempt 2 after its loss"
[ "$(q "SELECT attempt FROM results WHERE jobId = $killed_job;")" -ge 2 ] || fail "job $killed_job's result is of attempt 1"
log "job $killed_job: SIGKILLed worker declared lost $detect s after the kill (bound $bound s), re-queued, done"

# The requeued task's new process was admitted and worked (a new peer).
[ "$(q "SELECT count(*) FROM events WHERE kind = 'dispatched' AND worker LIKE '%/$restarted_pid/%';")" -ge 1 ] \
    || fail "the restarted task 3 (pid $restarted_pid) never got a job"
log "restarted task 3 (pid $restarted_pid) got $(q "SELECT count(*) FROM events WHERE kind = 'dispatched' AND worker LIKE '%/$restarted_pid/%';") job(s)"

late=$(grep -cE "(duplicate|stale) result #" "$run/coordinator.log" || true)
log "PASS: $JOBS jobs done once each; cancel → $ended, SIGKILL → lost in $detect s, requeue → rejoined; $late late result(s) logged, none counted"
failed=0
