#!/usr/bin/env bash
# A real one-node Slurm on this machine for the tests marked `slurm` (Debian, no systemd).
#   tests/slurm_cluster.sh start   install (apt) if needed, configure, start munge, slurmctld, slurmd
#   tests/slurm_cluster.sh stop    stop them by the pids in their pid files
#   tests/slurm_cluster.sh status  exit 0 when the node is idle/usable
# The node has two pretend GPUs (/dev/null, /dev/zero) so that --gpus requests schedule.
set -euo pipefail

NODE=$(hostname -s)
CPUS=$(nproc)
MEM_MB=${CRBOOST_SLURM_MEM_MB:-8000}

install() {
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
    fi
}

configure() {
    mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
    cat > /etc/slurm/slurm.conf <<EOF
ClusterName=ci
SlurmctldHost=${NODE}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
GresTypes=gpu
MinJobAge=300
# a job over its time limit is killed 2 s after SIGTERM, not 30 (the timeout test waits for it)
KillWait=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=${NODE} CPUs=${CPUS} RealMemory=${MEM_MB} Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    cat > /etc/slurm/gres.conf <<EOF
NodeName=${NODE} Name=gpu File=/dev/null
NodeName=${NODE} Name=gpu File=/dev/zero
EOF
    if [ ! -s /etc/munge/munge.key ]; then
        mkdir -p /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
    chmod 400 /etc/munge/munge.key
}

node_ready() {
    sinfo --noheader --format=%T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'
}

start() {
    install
    configure
    if ! pgrep -x munged >/dev/null; then
        munged --force 2>/dev/null || runuser -u munge -- munged --force
    fi
    [ -f /run/slurmctld.pid ] && kill -0 "$(cat /run/slurmctld.pid)" 2>/dev/null || slurmctld -c
    [ -f /run/slurmd.pid ] && kill -0 "$(cat /run/slurmd.pid)" 2>/dev/null || slurmd
    for _ in $(seq 60); do
        if node_ready; then
            scontrol update nodename="${NODE}" state=resume >/dev/null 2>&1 || true
            echo "slurm: node ${NODE} ready (${CPUS} CPUs, ${MEM_MB} MB, 2 GPUs)"
            return 0
        fi
        scontrol update nodename="${NODE}" state=resume >/dev/null 2>&1 || true
        sleep 1
    done
    echo "slurm: node did not become ready" >&2
    tail -20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
    return 1
}

stop() {
    for pidfile in /run/slurmd.pid /run/slurmctld.pid; do
        if [ -f "$pidfile" ]; then
            kill "$(cat "$pidfile")" 2>/dev/null || true
            rm -f "$pidfile"
        fi
    done
    pkill -x munged 2>/dev/null || true
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) node_ready ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
