#!/usr/bin/env bash
# A private one-node Slurm on this machine, for tests and for trying the sweep scripts without a
# cluster. Debian 12 (Slurm 22.05), root, no systemd needed.
#
#   slurm.sh up   --dir DIR [--partition NAME] [--oversubscribe N] [--ctld-port P] [--slurmd-port P]
#   slurm.sh down --dir DIR
#   slurm.sh env  --dir DIR      # prints `export SLURM_CONF=…` for sbatch/squeue/scancel
#
# `up` installs munge, slurmctld, slurmd and slurm-client if missing (--no-install-recommends),
# writes slurm.conf and every state, spool, log and pid file under DIR, starts munged (only if no
# munged answers already), slurmctld and slurmd, and records their pids in DIR/pids. `down`
# cancels every job of this Slurm, waits for them to end, stops exactly the recorded pids (after
# checking each one's process name) and removes DIR. Nothing else on the machine is touched; the
# installed packages stay.
set -euo pipefail

PACKAGES=(munge slurmctld slurmd slurm-client)
WAIT_S=30

die() { echo "slurm.sh: $*" >&2; exit 1; }
log() { echo "slurm.sh: $*" >&2; }

usage() {
    sed -n '5,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

command=${1:-}
[ $# -gt 0 ] && shift
case $command in -h|--help) usage ;; esac
dir="" partition="sweep" oversubscribe=4 ctld_port=6817 slurmd_port=6818
while [ $# -gt 0 ]; do
    case $1 in
        --dir) dir=${2:?--dir needs a folder}; shift 2 ;;
        --partition) partition=${2:?--partition needs a name}; shift 2 ;;
        --oversubscribe) oversubscribe=${2:?--oversubscribe needs a count}; shift 2 ;;
        --ctld-port) ctld_port=${2:?--ctld-port needs a port}; shift 2 ;;
        --slurmd-port) slurmd_port=${2:?--slurmd-port needs a port}; shift 2 ;;
        -h|--help) usage ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[ -n "$dir" ] || { echo "slurm.sh: --dir DIR is required" >&2; usage; }
case $command in up|down|env) ;; *) usage ;; esac
dir=$(realpath -m -- "$dir")
conf=$dir/etc/slurm.conf
pids=$dir/pids
export SLURM_CONF=$conf

# Whether PID is alive and runs NAME (a zombie counts as gone: this machine's init may reap late).
alive() {
    local pid=$1 name=$2 comm state
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [ "$comm" = "$name" ] || return 1
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
    [ "$state" != Z ]
}

# Stops PID if it still runs NAME: SIGTERM, then SIGKILL after WAIT_S seconds.
stop_pid() {
    local name=$1 pid=$2 i
    alive "$pid" "$name" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < WAIT_S * 10; i++)); do
        alive "$pid" "$name" || { log "stopped $name ($pid)"; return 0; }
        sleep 0.1
    done
    log "$name ($pid) ignored SIGTERM for ${WAIT_S} s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do alive "$pid" "$name" || return 0; sleep 0.1; done
    die "could not stop $name ($pid)"
}

# Waits up to WAIT_S seconds for the command to succeed.
wait_for() {
    local what=$1 i
    shift
    for ((i = 0; i < WAIT_S * 10; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    log "gave up waiting for $what after ${WAIT_S} s"
    return 1
}

record() { echo "$1 $2" >>"$pids"; }

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
    if munge_ok; then
        log "munged already answers; using it (it is not ours to stop)"
        return 0
    fi
    if [ ! -s /etc/munge/munge.key ]; then
        mungekey --create --keyfile=/etc/munge/munge.key
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    if [ ! -d /run/munge ]; then
        mkdir -p /run/munge
        record dir /run/munge
    fi
    chown munge:munge /run/munge
    chmod 0755 /run/munge
    # As root, munged refuses its own log file unless forced; as its own user it is content.
    runuser -u munge -- /usr/sbin/munged
    wait_for munge munge_ok || die "munged did not answer within ${WAIT_S} s"
    local pid
    pid=$(cat /run/munge/munged.pid) || die "munged left no pid file /run/munge/munged.pid"
    record munged "$pid"
}

write_config() {
    local host node
    host=$(hostname -s)
    # `slurmd -C` prints this node's NodeName line (CPUs, sockets, cores, RealMemory).
    node=$(slurmd -C | head -n 1)
    case $node in NodeName=*) ;; *) die "slurmd -C printed '$node', not a NodeName line" ;; esac
    cat >"$conf" <<EOF
# Written by cluster/slurm/slurm.sh: a private one-node Slurm. Everything lives under $dir.
ClusterName=thermosweep
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
# A cancelled job gets SIGKILL 5 s after SIGTERM (default 30 s): tests end sooner.
KillWait=5
MinJobAge=30
$node NodeAddr=127.0.0.1 State=UNKNOWN
# A sweep needs all its workers connected at once: each CPU may run $oversubscribe tasks.
PartitionName=$partition Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:$oversubscribe
EOF
}

# Whether a TCP socket listens on port $1 (from /proc: `ss` is not on a bare Debian image).
port_in_use() {
    awk -v p="$(printf '%04X' "$1")" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 3) == p { found = 1 }
        END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

up() {
    [ "$(id -u)" -eq 0 ] || die "up needs root (it installs packages and starts daemons)"
    if [ -f "$pids" ]; then
        die "$dir already holds a Slurm started by this script; run '$0 down --dir $dir' first"
    fi
    # `down` removes what `up` made in DIR, so DIR must not hold anything else.
    if [ -e "$dir" ] && [ -n "$(ls -A -- "$dir")" ]; then
        die "$dir is not empty; give a new or empty folder"
    fi
    install_packages
    local p
    for p in "$ctld_port" "$slurmd_port"; do
        port_in_use "$p" && die "port $p is in use (another Slurm?); choose others with --ctld-port/--slurmd-port"
    done
    mkdir -p "$dir"/{etc,state,spool,log,run}
    chmod 0755 "$dir"
    : >"$pids"
    # From here on, a failure stops what was started.
    # shellcheck disable=SC2154 # rc is assigned inside the trap
    trap 'rc=$?; if [ $rc -ne 0 ]; then log "start failed; stopping what was started"; down; fi' EXIT
    start_munge
    write_config
    slurmctld -c -f "$conf"
    wait_for slurmctld test -s "$dir/run/slurmctld.pid" || die "slurmctld wrote no pid file; see $dir/log/slurmctld.log"
    record slurmctld "$(cat "$dir/run/slurmctld.pid")"
    wait_for slurmctld sh -c 'scontrol ping | grep -q UP' || die "slurmctld is not UP after ${WAIT_S} s; see $dir/log/slurmctld.log"
    slurmd -f "$conf"
    wait_for slurmd test -s "$dir/run/slurmd.pid" || die "slurmd wrote no pid file; see $dir/log/slurmd.log"
    record slurmd "$(cat "$dir/run/slurmd.pid")"
    wait_for slurmd sh -c 'sinfo -h -N -o %t | grep -qx idle' \
        || die "the node is not idle after ${WAIT_S} s (sinfo: $(sinfo -h -N -o %t 2>&1)); see $dir/log/slurmd.log"
    trap - EXIT
    log "up: partition $partition on $(hostname -s), $(sinfo -h -N -o %c) CPUs × $oversubscribe; export SLURM_CONF=$conf"
}

down() {
    [ -f "$pids" ] || { log "nothing recorded in $pids; nothing to stop"; return 0; }
    local ctld_pid
    ctld_pid=$(awk '$1 == "slurmctld" {print $2}' "$pids")
    # Job processes outlive a stopped slurmd (linuxproc tracking): cancel and drain first.
    if [ -n "$ctld_pid" ] && alive "$ctld_pid" slurmctld; then
        local jobs
        jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')
        if [ -n "${jobs// /}" ]; then
            log "cancelling jobs $jobs"
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
            wait_for jobs sh -c '[ -z "$(squeue -h -o %A)" ]' || log "jobs still listed after ${WAIT_S} s: $(squeue -h 2>&1)"
        fi
    fi
    local name pid
    # Reverse order of start: slurmd, slurmctld, munged.
    while read -r name pid; do
        case $name in
            slurmd|slurmctld|munged) stop_pid "$name" "$pid" ;;
        esac
    done < <(tac "$pids")
    while read -r name pid; do
        [ "$name" = dir ] && rm -rf -- "$pid"
    done <"$pids"
    rm -rf -- "${dir:?}"/{etc,state,spool,log,run} "$pids"
    rmdir -- "$dir" 2>/dev/null || log "left $dir: it holds files this script did not make"
    log "down: stopped what $dir recorded and removed it"
}

case $command in
    up) up ;;
    down) down ;;
    env) echo "export SLURM_CONF=$conf" ;;
esac
