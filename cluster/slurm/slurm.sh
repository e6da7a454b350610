#!/usr/bin/env bash
# A private Slurm on this machine, for tests and for trying the sweep scripts without a cluster:
# one node, or (--nodes N) one controller and N compute nodes in network namespaces.
# Debian 12 (Slurm 22.05), root, no systemd needed.
#
#   slurm.sh up   --dir DIR [--nodes N] [--partition NAME] [--oversubscribe N] [--ctld-port P] [--slurmd-port P]
#   slurm.sh down --dir DIR
#   slurm.sh env  --dir DIR      # prints `export SLURM_CONF=…` for sbatch/squeue/scancel
#   slurm.sh node-kill  --dir DIR --node nX   # (--nodes only) SIGKILL nX's slurmd and every process in its namespace
#   slurm.sh node-start --dir DIR --node nX   # (--nodes only) start nX's slurmd again
#
# `up` installs munge, slurmctld, slurmd and slurm-client (and iproute2 with --nodes) if missing
# (--no-install-recommends), writes slurm.conf and every state, spool, log and pid file under DIR,
# starts munged (only if no munged answers already), slurmctld and slurmd, and records their pids
# in DIR/pids. `down`
# cancels every job of this Slurm, waits for them to end, stops exactly the recorded pids (after
# checking each one's process name) and removes DIR. Nothing else on the machine is touched; the
# installed packages stay.
#
# With --nodes N (1…9), the nodes are n1…nN: a bridge slmn-br on the host holds the controller's
# address 10.77.0.1/24; node nX is a network namespace slmn-nX whose eth0 (a veth, host end
# slmn-nXh on the bridge) has 10.77.0.1X/24 and no default route. Each slurmd runs in its
# namespace and its own UTS namespace (`hostname` says nX) as `slurmd -N nX`; slurmctld runs on
# the host, by default on port 6827 so that it never meets a one-node Slurm on 6817. Shorter
# failure timeouts (SlurmdTimeout and MessageTimeout 5 s, cred_expire 10 s, bf_interval 5 s) let
# Slurm notice a dead node within about 16 s and rerun its requeued jobs about 10 s later.
# `down` also kills what is left in the namespaces, deletes them and the bridge. Every thing is
# recorded in DIR/pids as it is made, so `down` also undoes a half-finished `up`.
set -euo pipefail

PACKAGES=(munge slurmctld slurmd slurm-client)
WAIT_S=30

. "$(dirname "$0")/../lib.sh"
die() { echo "slurm.sh: $*" >&2; exit 1; }
log() { echo "slurm.sh: $(date -u +%H:%M:%S.%1N) $*" >&2; }

usage() {
    sed -n '6,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

command=${1:-}
[ $# -gt 0 ] && shift
case $command in -h|--help) usage ;; esac
dir="" partition="sweep" oversubscribe=4 ctld_port="" slurmd_port=6818 nodes=0 node=""
NET_PREFIX=slmn SUBNET=10.77.0
while [ $# -gt 0 ]; do
    case $1 in
        --dir) dir=${2:?--dir needs a folder}; shift 2 ;;
        --partition) partition=${2:?--partition needs a name}; shift 2 ;;
        --oversubscribe) oversubscribe=${2:?--oversubscribe needs a count}; shift 2 ;;
        --ctld-port) ctld_port=${2:?--ctld-port needs a port}; shift 2 ;;
        --slurmd-port) slurmd_port=${2:?--slurmd-port needs a port}; shift 2 ;;
        --nodes) nodes=${2:?--nodes needs a count}; shift 2 ;;
        --node) node=${2:?--node needs a node name}; shift 2 ;;
        -h|--help) usage ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[ -n "$dir" ] || { echo "slurm.sh: --dir DIR is required" >&2; usage; }
case $command in up|down|env|node-kill|node-start) ;; *) usage ;; esac
[[ $nodes =~ ^[0-9]$ ]] || die "--nodes '$nodes' is not a count from 1 to 9"
# Multi-node: another controller port by default, so as never to meet a one-node Slurm.
if [ -z "$ctld_port" ]; then
    if [ "$nodes" -gt 0 ]; then ctld_port=6827; else ctld_port=6817; fi
fi
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
    # Not fatal: `down` goes on with the rest of its teardown (namespaces, bridge, folder).
    log "could not stop $name ($pid); stop it by hand"
    return 1
}

# Stops daemon NAME by its pid file PATH, waiting up to 3 s for the file to appear.
stop_pidfile() {
    local name=$1 file=$2 i
    for ((i = 0; i < 30; i++)); do [ -s "$file" ] && break; sleep 0.1; done
    [ -s "$file" ] || return 0
    stop_pid "$name" "$(cat "$file")"
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

record() { echo "$*" >>"$pids"; }

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
    local host node_lines ctld_addr spool pidfile logfile extra cpus i
    host=$(hostname -s)
    if [ "$nodes" -eq 0 ]; then
        ctld_addr=127.0.0.1
        spool=$dir/spool pidfile=$dir/run/slurmd.pid logfile=$dir/log/slurmd.log extra=""
        # `slurmd -C` prints this node's NodeName line (CPUs, sockets, cores, RealMemory).
        node_lines=$(slurmd -C | head -n 1)
        case $node_lines in NodeName=*) ;; *) die "slurmd -C printed '$node_lines', not a NodeName line" ;; esac
        node_lines="$node_lines NodeAddr=127.0.0.1 State=UNKNOWN"
    else
        ctld_addr=$SUBNET.1
        # %n: each slurmd (-N nX) keeps its own spool, pid and log file.
        spool=$dir/nodes/%n/spool pidfile=$dir/nodes/%n/slurmd.pid logfile=$dir/nodes/%n/slurmd.log
        # Dead-node detection takes about 3 × MessageTimeout; a requeued job reruns after
        # cred_expire and the next backfill pass.
        extra="SlurmdTimeout=5
MessageTimeout=5
AuthInfo=cred_expire=10
SchedulerParameters=bf_interval=5"
        # CPUs at most the real count and RealMemory at most what is free, or the node drains.
        cpus=$(nproc); [ "$cpus" -gt 2 ] && cpus=2
        node_lines=""
        for ((i = 1; i <= nodes; i++)); do
            node_lines+="NodeName=n$i NodeAddr=$(node_addr "n$i") CPUs=$cpus RealMemory=1000 State=UNKNOWN"$'\n'
        done
    fi
    cat >"$conf" <<EOF
# Written by cluster/slurm/slurm.sh: a private Slurm ($([ "$nodes" -eq 0 ] && echo "one node" || echo "$nodes nodes in network namespaces")). Everything lives under $dir.
ClusterName=thermosweep
SlurmctldHost=$host($ctld_addr)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$pidfile
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$logfile
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
$extra
$node_lines
# A sweep needs all its workers connected at once: each CPU may run $oversubscribe tasks.
PartitionName=$partition Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:$oversubscribe
EOF
}

# --- multi-node: names and addresses ---
node_ns() { echo "$NET_PREFIX-$1"; }
node_addr() { echo "$SUBNET.$((10 + ${1#n}))"; }
bridge=$NET_PREFIX-br

# Whether the bridge or namespace names are taken (another multi-node Slurm?).
net_in_use() {
    ip link show "$bridge" >/dev/null 2>&1 && return 0
    ip netns list 2>/dev/null | awk '{print $1}' | grep -q "^$NET_PREFIX-n" && return 0
    return 1
}

make_network() {
    local i n ns
    record bridge "$bridge"
    ip link add "$bridge" type bridge
    ip addr add "$SUBNET.1/24" dev "$bridge"
    ip link set "$bridge" up
    for ((i = 1; i <= nodes; i++)); do
        n=n$i ns=$(node_ns "$n")
        record netns "$ns"
        ip netns add "$ns"
        ip link add "${ns}h" type veth peer name eth0 netns "$ns"
        ip link set "${ns}h" master "$bridge"
        ip link set "${ns}h" up
        ip -n "$ns" addr add "$(node_addr "$n")/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" link set lo up
    done
}

# Starts node $1's slurmd in its namespace (and a UTS namespace of its own) and records its pid.
# Not `ip netns exec`: it mounts a /sys without /sys/fs/cgroup, and slurmd 22.05 refuses to start.
start_node() {
    local n=$1 ns pidfile
    ns=$(node_ns "$n")
    pidfile=$dir/nodes/$n/slurmd.pid
    mkdir -p "$dir/nodes/$n/spool"
    rm -f "$pidfile"
    record starting slurmd "$pidfile" "$n"
    nsenter --net="/run/netns/$ns" unshare --uts sh -c "hostname $n && exec slurmd -f '$conf' -N $n"
    wait_for "slurmd of $n" test -s "$pidfile" || die "slurmd of $n wrote no pid file; see $dir/nodes/$n/slurmd.log"
    record slurmd "$(cat "$pidfile")" "$n"
}

# SIGKILLs every process in namespace $1 (all of them started by this Slurm: its slurmd, and the
# job processes that outlive it under linuxproc tracking).
kill_ns() {
    local ns=$1 pid i
    [ -e "/run/netns/$ns" ] || return 0
    for ((i = 0; i < 50; i++)); do
        pid=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
        # A zombie counts as gone (this machine's init may reap late).
        local live=""
        for p in $pid; do
            [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] || live+="$p "
        done
        [ -z "${live// /}" ] && return 0
        # shellcheck disable=SC2086
        kill -KILL $live 2>/dev/null || true
        sleep 0.1
    done
    log "processes still in $ns after 5 s: $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
}

recorded_node() {
    [ -f "$pids" ] || die "nothing recorded in $pids: no Slurm of this script in $dir"
    [ -n "$node" ] || die "--node nX is required"
    awk -v ns="$(node_ns "$node")" '$1 == "netns" && $2 == ns { f = 1 } END { exit !f }' "$pids" \
        || die "$node is not a node of the multi-node Slurm in $dir"
}

node_kill() {
    recorded_node
    local ns pid
    ns=$(node_ns "$node")
    pid=$(awk -v n="$node" '$1 == "slurmd" && $3 == n {p = $2} END {print p}' "$pids")
    [ -n "$pid" ] && alive "$pid" slurmd && kill -KILL "$pid" 2>/dev/null || true
    kill_ns "$ns"
    log "node-kill: $node's slurmd ($pid) and every process in $ns SIGKILLed"
}

node_start() {
    recorded_node
    local pid
    pid=$(awk -v n="$node" '$1 == "slurmd" && $3 == n {p = $2} END {print p}' "$pids")
    if [ -n "$pid" ] && alive "$pid" slurmd; then die "$node's slurmd ($pid) still runs"; fi
    start_node "$node"
    log "node-start: $node's slurmd runs again ($(awk -v n="$node" '$1 == "slurmd" && $3 == n {p = $2} END {print p}' "$pids"))"
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
    # Multi-node: `ip` for the bridge, veths and namespaces (nsenter and unshare: util-linux).
    [ "$nodes" -gt 0 ] && PACKAGES+=(iproute2)
    apt_install "${PACKAGES[@]}"
    local p ports=("$ctld_port")
    # Multi-node: each slurmd listens in its own namespace, not on the host.
    [ "$nodes" -eq 0 ] && ports+=("$slurmd_port")
    for p in "${ports[@]}"; do
        port_in_use "$p" && die "port $p is in use (another Slurm?); choose others with --ctld-port/--slurmd-port"
    done
    if [ "$nodes" -gt 0 ]; then
        command -v ip >/dev/null && command -v nsenter >/dev/null && command -v unshare >/dev/null \
            || die "--nodes needs ip (iproute2), nsenter and unshare (util-linux)"
        net_in_use && die "$bridge or a namespace $NET_PREFIX-n* exists already (another multi-node Slurm?)"
    fi
    mkdir -p "$dir"/{etc,state,spool,log,run}
    chmod 0755 "$dir"
    : >"$pids"
    # From here on, a failure stops what was started.
    # shellcheck disable=SC2154 # rc is assigned inside the trap
    trap 'rc=$?; if [ $rc -ne 0 ]; then log "start failed; stopping what was started"; down; fi' EXIT
    start_munge
    write_config
    [ "$nodes" -gt 0 ] && make_network
    # Recorded before it starts: a `down` after an interrupted `up` then finds it by its pid file.
    record starting slurmctld "$dir/run/slurmctld.pid"
    slurmctld -c -f "$conf"
    wait_for slurmctld test -s "$dir/run/slurmctld.pid" || die "slurmctld wrote no pid file; see $dir/log/slurmctld.log"
    record slurmctld "$(cat "$dir/run/slurmctld.pid")"
    wait_for slurmctld sh -c 'scontrol ping | grep -q UP' || die "slurmctld is not UP after ${WAIT_S} s; see $dir/log/slurmctld.log"
    if [ "$nodes" -eq 0 ]; then
        record starting slurmd "$dir/run/slurmd.pid"
        slurmd -f "$conf"
        wait_for slurmd test -s "$dir/run/slurmd.pid" || die "slurmd wrote no pid file; see $dir/log/slurmd.log"
        record slurmd "$(cat "$dir/run/slurmd.pid")"
        wait_for slurmd sh -c 'sinfo -h -N -o %t | grep -qx idle' \
            || die "the node is not idle after ${WAIT_S} s (sinfo: $(sinfo -h -N -o %t 2>&1)); see $dir/log/slurmd.log"
        trap - EXIT
        log "up: partition $partition on $(hostname -s), $(sinfo -h -N -o %c) CPUs × $oversubscribe; export SLURM_CONF=$conf"
        return 0
    fi
    local i
    for ((i = 1; i <= nodes; i++)); do start_node "n$i"; done
    wait_for "$nodes idle nodes" sh -c "[ \"\$(sinfo -h -N -o %t | grep -cx idle)\" -eq $nodes ]" \
        || die "not all $nodes nodes are idle after ${WAIT_S} s (sinfo: $(sinfo -h -N -o '%N %t' 2>&1 | tr '\n' ' ')); see $dir/nodes/*/slurmd.log"
    trap - EXIT
    log "up: partition $partition on n1…n$nodes ($SUBNET.11…), controller $(hostname -s) at $SUBNET.1:$ctld_port; export SLURM_CONF=$conf"
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
    # Reverse order of start: slurmd, (what is left in the namespaces), slurmctld, munged.
    local what node_of started=" "
    while read -r name pid what node_of _; do
        case $name in
            slurmd|slurmctld|munged)
                stop_pid "$name" "$pid" || true
                started+="$name/$what " ;;
            netns) kill_ns "$pid" ;;
            # A daemon whose start was interrupted before its pid was recorded: by its pid file
            # (a daemon writes it shortly after it forks), name-checked as always. A start that
            # was recorded (the line after this one) is done: its daemon removed the file.
            starting)
                if [[ $started == *" $pid/$node_of "* ]]; then
                    started=${started/" $pid/$node_of "/" "}
                else
                    stop_pidfile "$pid" "$what" || true
                fi ;;
        esac
    done < <(tac "$pids")
    # Deleting a namespace deletes its veth; then the bridge.
    while read -r name pid _; do
        case $name in
            netns) [ -e "/run/netns/$pid" ] && { ip netns del "$pid" || log "could not delete namespace $pid"; } ;;
            bridge) ip link show "$pid" >/dev/null 2>&1 && { ip link del "$pid" || log "could not delete bridge $pid"; } ;;
        esac
    done < <(tac "$pids")
    while read -r name pid _; do
        [ "$name" = dir ] && rm -rf -- "$pid"
    done <"$pids"
    rm -rf -- "${dir:?}"/{etc,state,spool,log,run,nodes} "$pids"
    rmdir -- "$dir" 2>/dev/null || log "left $dir: it holds files this script did not make"
    log "down: stopped what $dir recorded and removed it"
}

case $command in
    up) up ;;
    down) down ;;
    env) echo "export SLURM_CONF=$conf" ;;
    node-kill) node_kill ;;
    node-start) node_start ;;
esac
