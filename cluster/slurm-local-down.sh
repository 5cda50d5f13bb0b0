#!/usr/bin/env bash
# Stop the daemons started by cluster/slurm-local-up.sh (by their PID files only, never by
# name), cancelling leftover jobs first. Idempotent: stopping a stopped cluster does nothing.
# Packages and /etc/slurm stay installed, so the next slurm-local-up.sh starts in < 1 s.
set -u
stop_pid() { # <pidfile>
    [ -s "$1" ] || return 0
    local p
    p="$(cat "$1")"
    if kill -0 "$p" 2>/dev/null; then
        kill -TERM "$p"
        for _ in $(seq 1 50); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.2
        done
        kill -0 "$p" 2>/dev/null && kill -KILL "$p"
    fi
    rm -f "$1"
}
if command -v scontrol >/dev/null && scontrol ping >/dev/null 2>&1; then
    scancel --user="$(id -un)" 2>/dev/null || true # drop leftover jobs of this user
fi
stop_pid /run/slurmd.pid
stop_pid /run/slurmctld.pid
stop_pid /run/munge/munged.pid
echo "local SLURM cluster stopped"
