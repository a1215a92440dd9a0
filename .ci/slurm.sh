#!/usr/bin/env bash
# A real one-node SLURM cluster for the cluster tests (tests/test_sweeps.py), on a Debian machine
# where we are root and there is no systemd. Usage: bash .ci/slurm.sh start | stop
#
# start: installs munge, slurmctld, slurmd and slurm-client when missing; writes a one-node
#   slurm.conf from what `slurmd -C` detects; starts munged, slurmctld and slurmd directly (no
#   init system) unless they run already; records the pid of each daemon it started, with the
#   process's start time, in /run/fute_slurm/; waits until the node is idle.
# stop: cancels the cluster's jobs, then stops only the daemons whose records it wrote (a pid
#   that now belongs to another process, or is gone, is left alone). Never by process name.
set -euo pipefail

RECORDS=/run/fute_slurm
CONF=/etc/slurm/slurm.conf
NODE=$(hostname -s)

say() { echo "[.ci/slurm.sh] $*" >&2; }
fail() { say "$*"; exit 1; }

# alive PID EXE: PID runs EXE
alive() { [[ -n $1 && -d /proc/$1 && $(readlink -f "/proc/$1/exe" 2>/dev/null) == "$(readlink -f "$2")" ]]; }
start_time() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }
pid_in() { [[ -s $1 ]] && tr -dc '0-9' <"$1" || true; }

# launch NAME EXE PIDFILE CMD...: start the daemon unless it runs already; record what we started.
launch() {
    local name=$1 exe=$2 pidfile=$3 pid
    shift 3
    pid=$(pid_in "$pidfile")
    if alive "$pid" "$exe"; then say "$name runs already (pid $pid): used as it is"; return; fi
    rm -f "$pidfile"
    "$@"
    for _ in $(seq 100); do pid=$(pid_in "$pidfile"); alive "$pid" "$exe" && break; sleep 0.1; done
    alive "$pid" "$exe" || fail "$name did not start; see /var/log/slurm or /var/log/munge"
    echo "$pid $(start_time "$pid") $(readlink -f "$exe")" >"$RECORDS/$name"
    say "started $name (pid $pid)"
}

start() {
    [[ $(id -u) == 0 ]] || fail "needs root"
    local missing=() package
    for package in munge slurmctld slurmd slurm-client; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        # The packages' install scripts would start the daemons through /etc/init.d: not here.
        local policy=/usr/sbin/policy-rc.d added=0
        if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 755 "$policy"; added=1; fi
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        ((added)) && rm -f "$policy"
    fi
    mkdir -p "$RECORDS" /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
    [[ -s /etc/munge/munge.key ]] || mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key /run/munge
    chmod 400 /etc/munge/munge.key
    local hardware
    hardware=$(slurmd -C | head -n1 | sed -e 's/^NodeName=[^ ]* //')
    cat >"$CONF" <<CONFEOF
# One-node cluster for the project's tests (.ci/slurm.sh); no systemd, no cgroups, no accounting.
ClusterName=fute-ci
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# Schedule waiting, array and dependent jobs at once (the defaults wait seconds between passes).
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
ReturnToService=2
MinJobAge=300
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$NODE NodeAddr=127.0.0.1 $hardware State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONFEOF
    launch munged /usr/sbin/munged /run/munge/munged.pid runuser -u munge -- /usr/sbin/munged
    launch slurmctld /usr/sbin/slurmctld /run/slurmctld.pid /usr/sbin/slurmctld -f "$CONF"
    for _ in $(seq 300); do scontrol ping 2>/dev/null | grep -q "is UP" && break; sleep 0.2; done
    launch slurmd /usr/sbin/slurmd /run/slurmd.pid /usr/sbin/slurmd -f "$CONF" -N "$NODE"
    local state resumed=0
    for _ in $(seq 300); do
        state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n1)
        case $state in
            idle | mixed | allocated) say "node $NODE is $state"; return ;;
            down* | drain* | fail*) ((resumed)) || scontrol update NodeName="$NODE" State=RESUME || true; resumed=1 ;;
        esac
        sleep 0.2
    done
    fail "node $NODE is not idle after 60 s (state: ${state:-unknown})"
}

stop() {
    local name pid started exe
    if [[ -s $RECORDS/slurmctld ]] && command -v squeue >/dev/null; then
        local jobs
        jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')
        if [[ -n ${jobs// /} ]]; then
            # shellcheck disable=SC2086
            scancel $jobs || true
            for _ in $(seq 100); do [[ -z $(squeue -h 2>/dev/null) ]] && break; sleep 0.2; done
        fi
    fi
    for name in slurmd slurmctld munged; do
        [[ -s $RECORDS/$name ]] || continue
        read -r pid started exe <"$RECORDS/$name"
        if [[ -d /proc/$pid && $(start_time "$pid") == "$started" && $(readlink -f "/proc/$pid/exe") == "$exe" ]]; then
            kill -TERM "$pid"
            for _ in $(seq 150); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
            [[ -d /proc/$pid ]] && kill -KILL "$pid"
            say "stopped $name (pid $pid)"
        fi
        rm -f "$RECORDS/$name"
    done
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    *) fail "usage: bash .ci/slurm.sh start | stop" ;;
esac
