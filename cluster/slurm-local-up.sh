#!/usr/bin/env bash
# Install and start a single-node SLURM cluster (munged + slurmctld + slurmd) on a Debian 12
# machine without systemd, e.g. a CI runner or a one-machine test box. Run as root.
# Idempotent: packages already installed are not reinstalled, daemons already running are left
# alone (restarted only when the generated slurm.conf changed), so calling it twice is a no-op.
# Stop everything with cluster/slurm-local-down.sh. Recipe and traps: docs/cluster.md.
#
#   SLURM_CPUS=N      CPUs the node advertises (default: nproc)
#   SLURM_MEM_MB=M    RealMemory the node advertises (default: 90 % of MemTotal); jobs asking
#                     for more mem_mb than this are refused by sbatch
#
# No accounting daemon (slurmdbd): `sacct` does not work here, so Snakemake must poll with
# `--slurm-status-command squeue`, which needs MinJobAge >= 3 x the plugin's first-poll delay.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" -ne 0 ]; then
    echo "slurm-local-up.sh: run as root (installs packages, starts daemons)" >&2
    exit 1
fi
HN="$(hostname -s)"
CPUS="${SLURM_CPUS:-$(nproc)}"
MEM_MB="${SLURM_MEM_MB:-$(awk '/MemTotal/ {printf "%d", $2/1024*0.9}' /proc/meminfo)}"

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
wait_for() { # wait_for <seconds> <cmd...>
    local t=$1
    shift
    for _ in $(seq 1 $((t * 5))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "slurm-local-up.sh: timeout waiting for: $*" >&2
    return 1
}

# 1. packages (apt's policy-rc.d refuses to start daemons without systemd: we start them below)
missing=""
for p in slurm-wlm munge; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# 2. munge: its own user (as root it refuses: log dir ownership), its run dir (systemd makes it)
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
alive /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged
wait_for 10 sh -c 'munge -n | unmunge'

# 3. slurm.conf: one node, one partition, no cgroups, no accounting
install -d -o slurm -g slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
cat >/etc/slurm/slurm.conf.new <<CONF
# Written by invnet cluster/slurm-local-up.sh: a single-node test cluster.
ClusterName=localcluster
SlurmctldHost=${HN}(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SlurmdParameters=config_overrides
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
# finished jobs stay visible to squeue for 5 min: Snakemake's squeue status mode needs >= 120 s
MinJobAge=300
MaxArraySize=1001
NodeName=${HN} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${MEM_MB} State=UNKNOWN
PartitionName=debug Nodes=${HN} Default=YES MaxTime=INFINITE State=UP
CONF
CONF_CHANGED=0
if ! cmp -s /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf 2>/dev/null; then
    mv /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf
    CONF_CHANGED=1
else
    rm -f /etc/slurm/slurm.conf.new
fi

# 4. slurmctld + slurmd (restarted only if the config changed)
restart_if_changed() { # <pidfile>
    if alive "$1" && [ "$CONF_CHANGED" = 1 ]; then
        local p
        p="$(cat "$1")"
        kill "$p"
        wait_for 30 sh -c "! kill -0 $p"
    fi
}
restart_if_changed /run/slurmctld.pid
alive /run/slurmctld.pid || /usr/sbin/slurmctld
wait_for 30 scontrol ping
restart_if_changed /run/slurmd.pid
alive /run/slurmd.pid || /usr/sbin/slurmd
for _ in $(seq 1 150); do # the node may come up idle, or down/drained from an earlier run
    st="$(sinfo -h -n "$HN" -o %T 2>/dev/null || true)"
    case "$st" in
    idle* | mixed* | allocated*) break ;;
    down* | drain*) scontrol update nodename="$HN" state=resume || true ;;
    esac
    sleep 0.2
done
srun -t 1 -N1 -n1 true # fails (non-zero exit) if the cluster cannot run a job
echo "local SLURM cluster up on ${HN}: partition debug, CPUs=${CPUS}, RealMemory=${MEM_MB} MB"
