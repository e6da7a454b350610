# Shared by the cluster scripts; sourced, never run. What a script needs of it:
#   apt_install: a `log` function (its own, or the one below).
#   the rest (the CI tests: slurm/test.sh, slurm/multinode-test.sh, netns/rehearsal.sh): `start`
#   (date +%s.%N at the start) and `log_tag` for log, `bin` and `db` once set, and a function
#   `check_alive WHAT` for wait_until, which fails the test when what it waits on has ended.

# apt_install PACKAGE...: installs those of the Debian packages that are not installed yet.
apt_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The seconds since $start, to a tenth.
elapsed() { awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }'; }
log() { echo "$log_tag [$(elapsed) s]: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

# test_binary ROOT-REASON "$@": sets `bin` to the absolute path of the thermosweep binary the
# test was given; exits 2 saying what is wrong when there is none or this does not run as root.
test_binary() {
    local reason=$1
    bin=${2:-}
    [ -n "$bin" ] && [ -x "$bin" ] || { echo "usage: $0 PATH/TO/thermosweep (an executable file)" >&2; exit 2; }
    bin=$(realpath -- "$bin")
    [ "$(id -u)" -eq 0 ] || { echo "$(basename "$0"): needs root ($reason)" >&2; exit 2; }
}

# A query on the sweep's database, read-only.
q() { sqlite3 -batch -noheader "file:$db?mode=ro" "$1"; }

# wait_until SECONDS WHAT COMMAND...: runs COMMAND every 0.1 s until it succeeds (wait_poll_s
# sets another interval); fails the test after SECONDS or when `check_alive WHAT` does.
wait_until() {
    local limit=$1 what=$2 poll=${wait_poll_s:-0.1} i ticks
    shift 2
    ticks=$(awk -v l="$limit" -v p="$poll" 'BEGIN { printf "%d", l / p }')
    for ((i = 0; i < ticks; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        check_alive "$what"
        sleep "$poll"
    done
    fail "no $what after $limit s"
}

# stop_process PID [EXE]: SIGTERM, then SIGKILL after 15 s, if PID still runs (and runs EXE, when
# given: a recycled pid is left alone).
stop_process() {
    local pid=$1 exe=${2:-}
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    [ -z "$exe" ] || [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    timeout 15 tail --pid="$pid" -f /dev/null || kill -KILL "$pid" 2>/dev/null || true
}

# kill_leftover_workers DIR: SIGKILLs each worker whose pid file (the pid first) is in DIR and that
# still runs $bin (by recorded pid and binary only); returns 1 when there was one (Slurm should
# have stopped them all).
kill_leftover_workers() {
    local f pid status=0
    for f in "$1"/*.pid; do
        [ -f "$f" ] || continue
        read -r pid _ <"$f"
        if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$bin" ]; then
            log "worker $pid outlived Slurm; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            status=1
        fi
    done
    return $status
}

# show_logs FILE...: the last 30 lines of each of the files that exist, under its name (stderr).
show_logs() {
    local f
    for f in "$@"; do
        if [ -f "$f" ]; then echo "----- $f (last 30 lines)" >&2; tail -n 30 "$f" >&2; fi
    done
}

# The end of a test's cleanup: removes $tmp unless KEEP=1, and says how long the test took.
remove_tmp() {
    if [ "${KEEP:-0}" = 1 ]; then log "kept $tmp"; else rm -rf -- "$tmp"; fi
    log "done in $(elapsed) s"
}

# check_status_json JOBS FILE: `thermosweep status --format json` on the database says JOBS jobs
# in all, JOBS done and none failed; its answer is kept in FILE.
check_status_json() {
    local jobs=$1 status_json field
    status_json=$("$bin" status --db "$db" --format json) || fail "thermosweep status --db failed"
    echo "$status_json" >"$2"
    for field in total "done"; do
        grep -Eq "\"$field\" *: *$jobs([^0-9]|$)" <<<"$status_json" \
            || fail "status --format json does not say $field = $jobs: $status_json"
    done
    grep -Eq '"failed" *: *0([^0-9]|$)' <<<"$status_json" || fail "status --format json reports failures: $status_json"
}

# check_done_once JOBS: the journal holds JOBS jobs, all done, each with one done result of its
# last attempt (one row per job) and no lease after it.
check_done_once() {
    local jobs=$1 not_done mismatch leased_after
    [ "$(q "SELECT count(*) FROM jobs;")" = "$jobs" ] || fail "the database holds $(q "SELECT count(*) FROM jobs;") jobs, not $jobs"
    not_done=$(q "SELECT group_concat(id || ':' || state) FROM jobs WHERE state != 'done';")
    [ -z "$not_done" ] || fail "jobs not done: $not_done"
    [ "$(q "SELECT count(*) FROM results WHERE outcome = 'done';")" = "$jobs" ] \
        || fail "$(q "SELECT count(*) FROM results WHERE outcome = 'done';") done results, not $jobs"
    mismatch=$(q "SELECT group_concat(j.id) FROM jobs j LEFT JOIN results r ON r.jobId = j.id
                  WHERE r.jobId IS NULL OR r.attempt != j.attempt;")
    [ -z "$mismatch" ] || fail "jobs whose result is missing or not of their last attempt: $mismatch"
    leased_after=$(q "SELECT group_concat(DISTINCT e.jobId) FROM events e JOIN results r ON r.jobId = e.jobId
                      WHERE e.kind IN ('dispatched', 'adopted') AND e.at >= r.committedAt;")
    [ -z "$leased_after" ] || fail "jobs leased again after their result was journaled: $leased_after"
}
