#!/usr/bin/env bash
# The job scripts against a real Slurm: a single-node slurmctld + slurmd (and
# munged) started here under a temporary directory, on free ports, stopped by
# their pid files on exit. Submits jobs/slurm/simulate.sbatch, the sweep array
# with its dependent merge (jobs/slurm/submit-sweep.sh) and a mis-launched job
# that w2s must refuse; waits with a bounded timeout; checks the results with
# w2s analyze and h5py. Fails (never skips) when Slurm is not installed.
set -euo pipefail
root="${W2S_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
w2s="${W2S:-$root/build/w2s}"
fail() { echo "FAIL: $*" >&2; exit 1; }
for b in slurmctld slurmd munged sbatch squeue sinfo; do
  command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] ||
    fail "$b not found: Slurm is not installed (scripts/setup.sh installs slurm-wlm and munge)"
done
[ "$(id -u)" -eq 0 ] || fail "the Slurm harness starts daemons and needs root"

T="$(mktemp -d /tmp/w2s-slurm.XXXXXX)"
chmod 755 "$T"
stop() {
  for p in "$T/slurmd.pid" "$T/slurmctld.pid" "$T/munge/munged.pid"; do
    if [ -s "$p" ]; then kill "$(cat "$p")" 2>/dev/null || true; fi
  done
  sleep 1
  for p in "$T/slurmd.pid" "$T/slurmctld.pid" "$T/munge/munged.pid"; do
    if [ -s "$p" ]; then kill -9 "$(cat "$p")" 2>/dev/null || true; fi
  done
  rm -rf "$T"
}
trap stop EXIT

# munge, private socket and pid file
mkdir -p "$T/munge"
key=/etc/munge/munge.key
if [ ! -r "$key" ]; then
  key="$T/munge/munge.key"
  dd if=/dev/urandom of="$key" bs=1 count=1024 2>/dev/null
  chmod 400 "$key"
fi
chown -R munge: "$T/munge"
runuser -u munge -- /usr/sbin/munged --socket="$T/munge/munge.sock" \
  --pid-file="$T/munge/munged.pid" --log-file="$T/munge/munged.log" \
  --seed-file="$T/munge/seed" --key-file="$key" ||
  fail "munged did not start: $(cat "$T/munge/munged.log" 2>/dev/null)"

read -r p1 p2 < <(/usr/bin/python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
host="$(hostname -s)"
mkdir -p "$T/state" "$T/spool" "$T/log" "$T/work"
cat > "$T/slurm.conf" <<CONF
ClusterName=w2stest
SlurmctldHost=$host
SlurmctldPort=$p1
SlurmdPort=$p2
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$T/munge/munge.sock
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$T/slurm.conf"
/usr/sbin/slurmctld -f "$SLURM_CONF" || fail "slurmctld: $(tail -5 "$T/log/slurmctld.log")"
/usr/sbin/slurmd -f "$SLURM_CONF" || fail "slurmd: $(tail -5 "$T/log/slurmd.log")"
for _ in $(seq 60); do
  sinfo -h -o %t 2>/dev/null | grep -q idle && break
  sleep 0.5
done
sinfo -h -o %t | grep -q idle || fail "the node never became idle: $(tail -5 "$T/log/slurmd.log")"

cd "$T/work"
export W2S_ROOT="$root"
cat > quick.ini <<INI
[experiment]
tasks = 5
[data]
n_weak_train = 500
n_w2s_train = 1000
n_test = 2000
[weak.small]
source = perturb
perturb_scale = 0.1
[weak.random2]
source = random
depth = 2
INI
# the job scripts call build/w2s under W2S_ROOT
sim=$(sbatch --parsable "$root/jobs/slurm/simulate.sbatch" quick.ini sim.h5)
out=$("$root/jobs/slurm/submit-sweep.sh" quick.ini "$T/work/run" merged.h5 3 \
  --sweep data.n_w2s_train=200,2000,20000)
echo "$out"
cat > bad.sbatch <<'JOB'
#!/bin/bash
#SBATCH -n 2
#SBATCH -o bad-%j.out
# Forgot the launcher: a 2-task allocation running w2s as one process.
# (srun --mpi=none is refused by Open MPI itself before w2s starts.)
"$W2S_ROOT/build/w2s" simulate quick.ini -o bad.h5
JOB
bad=$(sbatch --parsable bad.sbatch)

for _ in $(seq 300); do
  [ -z "$(squeue -h 2>/dev/null)" ] && break
  sleep 1
done
[ -z "$(squeue -h)" ] || fail "jobs still queued after 300 s: $(squeue)"

[ -f sim.h5 ] || fail "simulate.sbatch wrote no results: $(cat w2s-simulate-"$sim".out)"
grep -q "Summary over 10" w2s-simulate-"$sim".out || fail "simulate.sbatch analysis: $(cat w2s-simulate-"$sim".out)"
[ -f merged.h5 ] || fail "no merged sweep: $(cat w2s-sweep-*.out w2s-merge-*.out 2>/dev/null)"
"$w2s" analyze merged.h5 --summary | grep -q "Per sweep point" || fail "analyze merged.h5"
/usr/bin/python3 - <<'PY' || fail "merged file contents"
import h5py, numpy as np
with h5py.File("merged.h5") as f:
    s = f["metrics/sweep"][:]
    assert sorted(set(s)) == [0, 1, 2], s
    assert len(f["merge/files"]) == 3
    assert list(f["sweep/keys"].asstr()[:]) == ["data.n_w2s_train"]
    assert np.all(np.isfinite(f["metrics/gain"][:]))
with h5py.File("sim.h5") as f:
    assert f.attrs["mpi_ranks"] == 2, f.attrs["mpi_ranks"]
PY
[ ! -f bad.h5 ] || fail "the mis-launched job wrote a results file"
grep -q "Slurm runs 2 tasks but MPI sees 1 rank" bad-"$bad".out ||
  fail "the mis-launched job was not refused: $(cat bad-"$bad".out)"
echo "test_slurm: simulate, sweep array + merge and the mis-launch check passed"
