#!/usr/bin/env bash
# Multi-host rehearsal on one Linux machine (root): a coordinator host and two worker hosts as
# network namespaces, each worker host joined to the coordinator host by its own veth link.
#
#   cluster/netns/rehearsal.sh PATH/TO/thermosweep
#
#       w1 (10.77.1.2) ──veth── (10.77.1.1) coord (10.77.2.1) ──veth── (10.77.2.2) w2
#
# Runs a trivial sweep (60 jobs of 2 s; each worker host runs one worker with 2 slots, own host
# name), cuts w1's link (`ip link set … down` on the coordinator's end) while w1 runs jobs, restores
# it PARTITION_S seconds later, and checks in the database:
#   - each job w1 held is declared lost and re-queued (attempt + 1) within
#     heartbeat × liveness + 1 s of the cut (from the journal's event times), and not before it;
#   - w1's worker rejoins after the link is up and gets jobs again;
#   - every job ends done exactly once; w1's late results for its lost jobs are logged stale,
#     never counted.
# Cleans up its namespaces and processes on any exit. Bounded to 240 s. KEEP=1 keeps the folder.
# Tunables (environment): HEARTBEAT_MS (200), LIVENESS (3), PARTITION_S (4).
set -euo pipefail

if [ -z "${TS_NETNS_INNER:-}" ]; then
    TS_NETNS_INNER=1 exec timeout -k 20 240 bash "$0" "$@"
fi

. "$(dirname "$0")/../lib.sh"
log_tag="netns rehearsal"
test_binary "network namespaces" "$@"

HEARTBEAT_MS=${HEARTBEAT_MS:-200} LIVENESS=${LIVENESS:-3} PARTITION_S=${PARTITION_S:-4}
JOBS=60 TRIVIAL_MS=2000 PORT=5555
bound_s=$(awk -v h="$HEARTBEAT_MS" -v l="$LIVENESS" 'BEGIN { printf "%.3f", h * l / 1000 + 1 }')

start=$(date +%s.%N)
tag=ts$$
ns_c=$tag-coord ns_1=$tag-w1 ns_2=$tag-w2
tmp=$(mktemp -d /tmp/thermosweep-netns.XXXXXX)
db=$tmp/sweep.db
coord_pid="" w1_pid="" w2_pid=""
namespaces=()
failed=1

cleanup() {
    local rc=$? ns pid
    trap - EXIT INT TERM
    if [ $failed -ne 0 ]; then
        log "failed (exit $rc); logs follow"
        show_logs "$tmp"/*.log
    fi
    for pid in "$w1_pid" "$w2_pid" "$coord_pid"; do stop_process "$pid" "$bin"; done
    for ns in "${namespaces[@]}"; do
        # Anything still inside these private namespaces was started here.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || log "could not delete namespace $ns"
    done
    remove_tmp
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

apt_install sqlite3 iproute2
now() { date +%s.%N; }
wait_poll_s=0.05
check_alive() { kill -0 "$coord_pid" 2>/dev/null || fail "the coordinator exited while waiting for $1"; }

# --- hosts and links ---
for ns in "$ns_c" "$ns_1" "$ns_2"; do
    ip netns add "$ns"
    namespaces+=("$ns")
    ip -n "$ns" link set lo up
done
for i in 1 2; do
    ns=$ns_c; [ $i = 1 ] && peer=$ns_1 || peer=$ns_2
    ip link add "c-w$i" netns "$ns_c" type veth peer name eth0 netns "$peer"
    ip -n "$ns_c" addr add "10.77.$i.1/24" dev "c-w$i"
    ip -n "$peer" addr add "10.77.$i.2/24" dev eth0
    ip -n "$ns_c" link set "c-w$i" up
    ip -n "$peer" link set eth0 up
done
for i in 1 2; do
    ip -n "$tag-w$i" route get "10.77.$i.1" >/dev/null || fail "w$i has no route to the coordinator host"
done
log "namespaces $ns_c, $ns_1, $ns_2 joined by veth links"

# --- the sweep: 4 learning rates × 5 batch sizes × 3 seeds = 60 trivial jobs ---
timing=(--heartbeat-ms "$HEARTBEAT_MS" --liveness "$LIVENESS")
ip netns exec "$ns_c" unshare --uts sh -c 'hostname coord; exec "$@"' sh \
    "$bin" sweep --db "$db" --bind "tcp://0.0.0.0:$PORT" --endpoint-file "$tmp/endpoint" \
    --trivial-ms $TRIVIAL_MS --lr 0.0125:0.1:x2 --batch 8:128:x2 --seeds 3 --synthetic "${timing[@]}" \
    >"$tmp/coordinator.log" 2>&1 &
coord_pid=$!
wait_until 30 "endpoint file" test -s "$tmp/endpoint"
log "coordinator ($coord_pid) listens on $(cat "$tmp/endpoint")"

start_worker() { # host index; sets w<index>_pid
    ip netns exec "$tag-w$1" unshare --uts sh -c 'hostname "$0"; exec "$@"' "w$1" \
        "$bin" worker --connect "tcp://10.77.$1.1:$PORT" --jobs 2 --name "w$1" --no-data "${timing[@]}" \
        >"$tmp/w$1.log" 2>&1 &
    eval "w$1_pid=$!"
}
start_worker 1
start_worker 2
# The journal names workers host/pid/nonce; these stay set after the processes are reaped.
w1_id=$w1_pid w2_id=$w2_pid
log "workers w1 ($w1_pid) and w2 ($w2_pid) started"

running_of() { q "SELECT group_concat(id || ':' || attempt, ' ') FROM jobs WHERE state = 'running' AND leaseWorker LIKE '%/$1/%';"; }
holds_two() { [ "$(q "SELECT count(*) FROM jobs WHERE state = 'running' AND leaseWorker LIKE '%/$1/%';")" -ge 2 ]; }
done_count() { q "SELECT count(*) FROM jobs WHERE state = 'done';"; }
at_least_done() { [ "$(done_count)" -ge "$1" ]; }

wait_until 30 "database" test -s "$db"
wait_until 30 "first results" at_least_done 2
wait_until 30 "two running jobs on w1" holds_two "$w1_pid"
# Mid-job: cut half-way through a trivial job's sleep.
sleep 0.5
held=$(running_of "$w1_pid")
[ -n "$held" ] || fail "w1 holds no job just before the cut"
t_cut=$(now)
ip -n "$ns_c" link set c-w1 down
log "cut w1's link; w1 holds job:attempt $held; done so far $(done_count)/$JOBS"

# The lease ends recorded for each held job.
# The first end of lease (job $1, attempt $2) in the journal: "SEQ|TIME|KIND", or nothing.
lease_end() { q "SELECT seq, printf('%.6f', at), kind FROM events WHERE jobId = $1 AND attempt = $2
                 AND kind IN ('lost', 'stalled', 'dropped', 'released') ORDER BY seq LIMIT 1;"; }
all_lost() {
    local ja
    for ja in $held; do [ -n "$(lease_end "${ja%%:*}" "${ja##*:}")" ] || return 1; done
}
wait_until 20 "lease ends for w1's jobs" all_lost
detections=()
for ja in $held; do
    job=${ja%%:*} attempt=${ja##*:}
    IFS='|' read -r seq at kind <<<"$(lease_end "$job" "$attempt")"
    dt=$(awk -v a="$at" -v c="$t_cut" 'BEGIN { printf "%.3f", a - c }')
    detections+=("$dt")
    log "job $job attempt $attempt: '$kind' $dt s after the cut (bound $bound_s s)"
    [ "$kind" = lost ] || fail "job $job ended as '$kind', expected 'lost' (no traffic through a cut link)"
    awk -v d="$dt" -v b="$bound_s" 'BEGIN { exit !(d >= 0 && d <= b) }' \
        || fail "job $job: detected $dt s after the cut, outside [0, $bound_s] s"
    requeued=$(q "SELECT count(*) FROM events WHERE jobId = $job AND kind = 'requeued' AND attempt = $((attempt + 1)) AND seq > $seq;")
    [ "$requeued" -ge 1 ] || fail "job $job was not re-queued with attempt $((attempt + 1)) after its loss"
done

sleep_left=$(awk -v c="$t_cut" -v n="$(now)" -v p="$PARTITION_S" 'BEGIN { d = c + p - n; printf "%.3f", (d > 0 ? d : 0) }')
sleep "$sleep_left"
t_heal=$(now)
ip -n "$ns_c" link set c-w1 up
log "restored w1's link after $(awk -v c="$t_cut" -v h="$t_heal" 'BEGIN { printf "%.1f", h - c }') s; done so far $(done_count)/$JOBS"

dispatched_after_heal() {
    [ -n "$(q "SELECT printf('%.6f', at) FROM events WHERE kind = 'dispatched' AND worker LIKE '%/$w1_pid/%' AND at > $t_heal ORDER BY seq LIMIT 1;")" ]
}
wait_until 60 "job dispatched to w1 after the heal" dispatched_after_heal
t_rejoin=$(q "SELECT printf('%.6f', at) FROM events WHERE kind = 'dispatched' AND worker LIKE '%/$w1_pid/%' AND at > $t_heal ORDER BY seq LIMIT 1;")
rejoin_s=$(awk -v r="$t_rejoin" -v h="$t_heal" 'BEGIN { printf "%.3f", r - h }')
log "w1 rejoined: first job $rejoin_s s after the link came back"

timeout 120 tail --pid="$coord_pid" -f /dev/null || fail "the sweep did not end within 120 s"
rc=0; wait "$coord_pid" || rc=$?
coord_pid=""
[ $rc -eq 0 ] || fail "the coordinator exited with $rc (expected 0)"
for w in w1 w2; do
    pid_var=${w}_pid
    timeout 20 tail --pid="${!pid_var}" -f /dev/null || fail "$w did not exit within 20 s of the sweep's end"
    wrc=0; wait "${!pid_var}" || wrc=$?
    eval "$pid_var="
    [ $wrc -eq 0 ] || fail "$w exited with $wrc after the sweep (expected 0 after BYE)"
done
log "sweep ended; coordinator and workers exited 0; checking the database"

# --- no cell counted twice, none missing ---
check_done_once $JOBS
for ja in $held; do
    job=${ja%%:*} attempt=${ja##*:}
    r=$(q "SELECT attempt FROM results WHERE jobId = $job;")
    [ "$r" -gt "$attempt" ] || fail "job $job's counted result is of attempt $r, the lost lease's ($attempt) or older"
done
premature=$(q "SELECT count(*) FROM events WHERE kind IN ('lost', 'stalled') AND at < $t_cut;")
[ "$premature" = 0 ] || fail "$premature lease(s) declared lost before the cut (live workers judged dead)"
w1_done=$(q "SELECT count(*) FROM results WHERE worker LIKE '%/$w1_id/%';")
w2_done=$(q "SELECT count(*) FROM results WHERE worker LIKE '%/$w2_id/%';")
[ "$w1_done" -gt 0 ] && [ "$w2_done" -gt 0 ] || fail "a worker counted no result (w1 $w1_done, w2 $w2_done)"
# Late results of the lost leases: the coordinator logs them (duplicate: the job is done; stale:
# an older attempt) and ACKs them; the checks above show none was counted.
late=$(grep -cE "(duplicate|stale) result #[0-9]+ attempt [0-9]+ from w1" "$tmp/coordinator.log" || true)
dropped=$(q "SELECT count(*) FROM events WHERE kind = 'dropped';")
log "PASS: $JOBS jobs done once each (w1 $w1_done, w2 $w2_done); detection ${detections[*]} s (bound $bound_s s); rejoin $rejoin_s s after heal; $late late result(s) from w1 logged, not counted; $dropped lease(s) dropped by a READY"
failed=0
