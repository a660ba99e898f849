#!/bin/bash
# A one-node Slurm cluster for tests, in a temporary directory: munged, slurmctld and slurmd on
# this machine (Debian's munge and slurm-wlm), a generated slurm.conf, free ports.
#   tests/slurm/cluster.sh start DIR   # prints SLURM_CONF=DIR/slurm.conf; exit 3 + reason when it cannot
#   tests/slurm/cluster.sh stop DIR    # stops the three daemons by their pid files
# Every wait is bounded (about 20 s in all), so a daemon that cannot start never hangs a test.
set -u
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

stop() {
  for d in slurmd slurmctld munged; do
    [ -f "$dir/$d.pid" ] || continue
    pid=$(cat "$dir/$d.pid" 2>/dev/null)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
  done
  for _ in $(seq 1 30); do
    alive=0
    for d in slurmd slurmctld munged; do
      pid=$(cat "$dir/$d.pid" 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1
    done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for d in slurmd slurmctld munged; do
    pid=$(cat "$dir/$d.pid" 2>/dev/null) && [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  done
  return 0
}
if [ "$cmd" = stop ]; then stop; exit 0; fi

fail() { echo "cannot start a local Slurm cluster: $*" >&2; stop; exit 3; }
for p in munged slurmctld slurmd sbatch squeue scancel scontrol sinfo; do
  command -v $p >/dev/null 2>&1 || [ -x /usr/sbin/$p ] || fail "$p is not installed (scripts/setup.sh installs slurm-wlm and munge)"
done
[ "$(id -u)" = 0 ] || fail "slurmd must run as root to start jobs as the submitting user, and this test is not root"
mkdir -p "$dir/state" "$dir/spool" || fail "cannot create $dir"
chmod 0700 "$dir"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
host=$(hostname -s)
cpus=$(nproc)
ctld_port=$(free_port); slurmd_port=$(free_port)
dd if=/dev/urandom of="$dir/munge.key" bs=1024 count=1 2>/dev/null && chmod 0400 "$dir/munge.key"
/usr/sbin/munged --force --socket="$dir/munge.sock" --key-file="$dir/munge.key" --pid-file="$dir/munged.pid" \
  --log-file="$dir/munged.log" --seed-file="$dir/munge.seed" 2>"$dir/munged.err" || fail "munged: $(tail -c 300 "$dir/munged.err")"
cat > "$dir/slurm.conf" <<CONF
ClusterName=adrstest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
AuthInfo=socket=$dir/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
MinJobAge=30
KillWait=2
SlurmctldTimeout=10
SlurmdTimeout=10
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
export SLURM_CONF="$dir/slurm.conf"
/usr/sbin/slurmctld -f "$SLURM_CONF" 2>"$dir/slurmctld.err" || fail "slurmctld: $(tail -c 300 "$dir/slurmctld.err") $(tail -c 300 "$dir/slurmctld.log" 2>/dev/null)"
/usr/sbin/slurmd -f "$SLURM_CONF" -N "$host" 2>"$dir/slurmd.err" || fail "slurmd: $(tail -c 300 "$dir/slurmd.err") $(tail -c 300 "$dir/slurmd.log" 2>/dev/null)"
for _ in $(seq 1 100); do
  state=$(timeout 5 sinfo -h -n "$host" -o %T 2>/dev/null)
  case "$state" in idle*|mixed*|allocated*) echo "SLURM_CONF=$SLURM_CONF"; exit 0 ;; esac
  sleep 0.2
done
fail "the node did not become idle within 20 s (state '${state:-none}'): $(tail -c 400 "$dir/slurmd.log" 2>/dev/null) $(tail -c 400 "$dir/slurmctld.log" 2>/dev/null)"
