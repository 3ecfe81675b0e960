#!/usr/bin/env bash
# SLURM self-test: a real single-node SLURM on this Debian machine, the smoke graph run through
# profiles/slurm as a cluster user would, checked from SLURM's own record of every job.
#
#   sudo bash cluster/slurm_selftest.sh [WORKDIR]        (default /tmp/slurm-selftest; about 30 min on 2 cores, stop 50; 70 under load at stop 22)
#   SELFTEST_PHASES=resume sudo -E bash cluster/slurm_selftest.sh   # one phase: graph or resume
#
# 1. installs slurm-wlm + munge from Debian when missing (apt-get);
# 2. writes a single-node slurm.conf (two partitions on the one node: `cpu`, the default, and `gpu`;
#    no accounting database: job records go to slurmctld's completion log, jobcomp/filetxt) and a
#    gres.conf with a count-only GPU (`File=/dev/null Flags=CountOnly`; on Slurm 22.05 `Count=1`
#    alone makes the node invalid), so GPU requests are scheduled on a machine without GPUs;
# 3. starts munged, slurmctld, slurmd (stopped again on exit, by their pid files);
# 4. follows the README's cluster section: copies profiles/slurm, sets the site's lines (its node's
#    CPUs; the partitions are the profile's own names; no accounts) and runs the smoke graph with it
#    (the lists, then the graph), fresh data and results under WORKDIR;
# 5. runs the same smoke graph locally (profiles/local);
# 6. pipeline/slurm_check.py compares every job's record (sbatch'd, the cpus, memory, time limit
#    and GPUs its rule asked for) and every table; prints the summary; exit 1 on any mismatch;
# 7. trains one model under a 2-minute time limit: SLURM stops it (TIMEOUT), Snakemake resubmits it,
#    training resumes from its checkpoint until it finishes (checked from slurmctld's records and
#    the kept SLURM logs).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-/tmp/slurm-selftest}
VENV=${VENV:-$REPO/.venv}
export PYTHONPATH=$REPO   # this checkout's pipeline package, also inside the SLURM jobs (sbatch exports the environment)
CONF=/etc/slurm
SPOOL=$WORK/spool
started=$(date +%s)

[ "$(id -u)" = 0 ] || { echo "run as root (installs packages, starts daemons)" >&2; exit 2; }
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q slurm-wlm munge
fi
for daemon in slurmctld slurmd munged; do
    if pgrep -x "$daemon" >/dev/null; then
        echo "$daemon is already running: this script brings up its own SLURM; stop it first" >&2; exit 2
    fi
done

rm -rf "$WORK" && mkdir -p "$WORK" "$SPOOL"/{ctld,d} "$WORK/run"
host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)  # leave 20% to the system

# --- 2. configuration -----------------------------------------------------------------------
cp -n "$CONF/slurm.conf" "$CONF/slurm.conf.before-selftest" 2>/dev/null || true
cat > "$CONF/slurm.conf" <<EOF
# Written by cluster/slurm_selftest.sh: one node, no accounting database.
ClusterName=selftest
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$SPOOL/ctld
SlurmdSpoolDir=$SPOOL/d
SlurmctldPidFile=$WORK/run/slurmctld.pid
SlurmdPidFile=$WORK/run/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# finished jobs stay visible to squeue/scontrol 10 minutes (the executor's squeue status needs >= 120 s)
MinJobAge=600
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$WORK/jobcomp.log
GresTypes=gpu
NodeName=$host CPUs=$cpus RealMemory=$mem_mb Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$host MaxTime=INFINITE State=UP
EOF
cat > "$CONF/gres.conf" <<EOF
# count-only GPU: lets --gpus=1 be scheduled on a machine without one
NodeName=$host Name=gpu File=/dev/null Flags=CountOnly
EOF
[ -s /etc/munge/munge.key ] || mungekey --create --keyfile /etc/munge/munge.key
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge && chown munge:munge /run/munge

# --- 3. daemons ------------------------------------------------------------------------------
stop_daemons() {
    [ -n "${poller:-}" ] && kill "$poller" 2>/dev/null
    for pidfile in "$WORK/run/slurmd.pid" "$WORK/run/slurmctld.pid" /run/munge/munged.pid; do
        [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    pkill -x slurmd || true; pkill -x slurmctld || true   # none ran before this script (checked above)
}
trap stop_daemons EXIT
runuser -u munge -- /usr/sbin/munged
slurmctld
nice -n 10 slurmd   # jobs inherit its niceness: a shared machine stays responsive
for _ in $(seq 60); do
    sinfo -h -N -o '%t' 2>/dev/null | grep -qx idle && break
    sleep 1
done
sinfo -N -o '%N %P %c %m %G %t'
# GPUs granted per job: the completion log has them only when accounting (slurmdbd) tracks gres/gpu;
# `scontrol -d` shows each running job's GRES allocation, so take a snapshot every 5 s.
while sleep 5; do scontrol -d -o show job >> "$WORK/scontrol.log" 2>/dev/null; done &
poller=$!

phases=${SELFTEST_PHASES:-graph resume}
# The site's lines of the profile (README, "On a SLURM cluster"): this site's partitions are `cpu`
# and `gpu` (the profile's own names), its node has $cpus CPUs, and it has no accounts.
PROFILE=$WORK/profile
cp -r "$REPO/profiles/slurm" "$PROFILE"
sed -i -e "s/^cores: [0-9]*/cores: $cpus/" "$PROFILE/config.yaml"   # the partitions are already cpu and gpu
cd "$REPO"

# --- 4. the smoke graph through SLURM, as the README says -----------------------------------
if [[ " $phases " == *" graph "* ]]; then
smoke=(--config scale=smoke)
echo "== smoke graph through SLURM ($(date +%T))"
slurm_started=$(date +%s)
# Two commands, as the README says: the datasets' lists first (a checkpoint: the shard jobs are known
# after it), then the graph. In one command, Snakemake 9 fails with `KeyError: clips_cut` when a list
# job finishes while grouped shard jobs exist (snakemake/snakemake#4202).
for until in "--until data_list" ""; do
    # shellcheck disable=SC2086
    nice -n 10 "$VENV/bin/snakemake" --profile "$PROFILE" $until "${smoke[@]}" \
        data_root="$WORK/slurm/data" results_root="$WORK/slurm/results" >> "$WORK/slurm.log" 2>&1 \
        || { tail -50 "$WORK/slurm.log"; echo "the SLURM run failed: $WORK/slurm.log" >&2; exit 1; }
done
slurm_seconds=$(( $(date +%s) - slurm_started ))

# --- 5. the same graph locally -----------------------------------------------------------------
echo "== smoke graph locally ($(date +%T))"
local_started=$(date +%s)
nice -n 10 "$VENV/bin/snakemake" --profile profiles/local --cores "$cpus" "${smoke[@]}" \
    data_root="$WORK/local/data" results_root="$WORK/local/results" > "$WORK/local.log" 2>&1 \
    || { tail -50 "$WORK/local.log"; echo "the local run failed: $WORK/local.log" >&2; exit 1; }
local_seconds=$(( $(date +%s) - local_started ))

# --- 6. what SLURM recorded vs what the rules asked for; tables -------------------------------
"$VENV/bin/python" -m pipeline.slurm_check --jobcomp "$WORK/jobcomp.log" --scontrol-log "$WORK/scontrol.log" \
    --snakemake-log "$WORK/slurm.log" --slurm-results "$WORK/slurm/results" \
    --local-results "$WORK/local/results"
echo "SLURM run ${slurm_seconds}s, local run ${local_seconds}s"
fi

if [[ " $phases " == *" resume "* ]]; then
# --- 7. a time limit stops a training job; each retry resumes from its checkpoint --------------
# One SVG model at smoke sizes but STEPS steps, under a 2-minute limit (runtime fixed, so every
# attempt gets two minutes): SLURM stops it (TIMEOUT), Snakemake resubmits it, the training loop
# resumes from checkpoint.pt, until it finishes. pipeline.slurm_check --resume-log reads slurmctld's
# records and the kept SLURM logs.
echo "== a training job under a 2-minute time limit ($(date +%T))"
steps=${RESUME_STEPS:-5000}  # 0.04 s a step at stop 50 (2-3 attempts), 0.5 s at stop 22 under load: set it for 2+ attempts
: > "$WORK/resume.log"
nice -n 10 "$VENV/bin/snakemake" --profile "$PROFILE" "$WORK/resume/results/models/svg/smmnist/lp/model.pt" \
    --set-resources train_model:runtime=2 train_model:slurm_partition=gpu --retries 30 \
    --config scale=smoke "papers=[svg]" data_root="$WORK/resume/data" results_root="$WORK/resume/results" \
    "overrides={svg: {smmnist: {train: {steps: $steps, checkpoint_every: 5}}}}" >> "$WORK/resume.log" 2>&1 \
    || { tail -50 "$WORK/resume.log"; echo "the time-limit run failed: $WORK/resume.log" >&2; exit 1; }
"$VENV/bin/python" -m pipeline.slurm_check --jobcomp "$WORK/jobcomp.log" --resume-log "$WORK/resume.log"
fi
echo "self-test $(( $(date +%s) - started ))s in all"
