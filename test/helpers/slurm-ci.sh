#!/usr/bin/env bash
# npzguard's copy of the company recipe for a real one-node Slurm cluster on localhost, used by
# test/handoff/slurm-*.test.ts (`npzguard run --executor slurm`). .ci/run does:
#   . test/helpers/slurm-ci.sh; trap slurm_ci_down EXIT; slurm_ci_up || exit 1
#   export NPZGUARD_REQUIRE_SLURM=1   # the Slurm tests then fail instead of skipping
# slurm-ci.sh -- bring up / tear down a one-node Slurm (controller + compute node) on localhost.
# Usage (as root, Debian 12):   . slurm-ci.sh; slurm_ci_up || exit 1; ...tests...; slurm_ci_down
# No systemd needed: every daemon is started by hand and stopped by PID.
# Knobs: SLURM_CI_DIR  (default /tmp/slurm-ci; wiped on every slurm_ci_up)
#        SLURM_CI_GPUS (fake GPUs on the node, default 2; 0 = no GRES)
#        SLURM_CI_DBD  (1 = also run MariaDB + slurmdbd so that sacct works; default 0)
# Safe to source from scripts running under `set -euo pipefail` (the functions relax it locally).
# After slurm_ci_up, SLURM_CONF is exported; child processes (your Node tool, sbatch, squeue...) need it.

slurm_ci_install() {
  local pkgs="slurmctld slurmd slurm-client munge"
  [ "${SLURM_CI_DBD:-0}" = 1 ] && pkgs="$pkgs slurmdbd mariadb-server"
  local missing=""
  for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  [ -z "$missing" ] && return 0
  apt-get update -q || return 1
  # policy-rc.d (present on these images) stops postinst from starting services
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
}

_slurm_ci_wait() {  # _slurm_ci_wait <tenths of a second> <command...>: poll until command succeeds
  local n=$1; shift
  for ((; n > 0; n--)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

slurm_ci_up() {
  local -; set +eu +o pipefail   # callers may run under `set -euo pipefail` (.ci/run); restored on return
  local D=${SLURM_CI_DIR:-/tmp/slurm-ci} ngpu=${SLURM_CI_GPUS:-2} dbd=${SLURM_CI_DBD:-0}
  local H CPUS MEM gres_node="" acct i
  slurm_ci_install || return 1
  H=$(hostname -s); CPUS=$(nproc)
  MEM=$(free -m | awk '/^Mem:/{m=$2-512; if (m<256) m=$2; print m}')  # node goes INVAL if RealMemory > what slurmd sees
  # A cluster this recipe started before (same directory) is stopped first: wiping its directory
  # under running daemons leaves them serving jobs from a deleted working directory.
  if [ -s "$D/state/slurmctld.pid" ] || [ -s "$D/state/slurmd.pid" ]; then slurm_ci_down >/dev/null 2>&1; fi
  rm -rf "$D"; mkdir -p "$D/etc" "$D/state/ctld" "$D/state/d" "$D/log"
  export SLURM_CONF="$D/etc/slurm.conf"

  # ---- munge: auth between clients and daemons (auth/none + cred/none also works, see report) ----
  [ -s /etc/munge/munge.key ] || { mungekey --create --force && chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key; }
  install -d -o munge -g munge -m 0755 /run/munge
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged || return 1
  fi

  # ---- fake GPUs: gres/gpu drops GPUs without File=, so point each at an existing char device ----
  if [ "$ngpu" -gt 0 ]; then
    gres_node="Gres=gpu:$ngpu"
    local devs=(/dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/ptmx /dev/kmsg)
    { echo "AutoDetect=off"
      for ((i = 0; i < ngpu; i++)); do echo "NodeName=$H Name=gpu File=${devs[$i]}"; done
    } > "$D/etc/gres.conf"
  fi

  if [ "$dbd" = 1 ]; then
    acct="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
JobAcctGatherType=jobacct_gather/linux"
  else
    acct="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
  fi
  cat > "$SLURM_CONF" <<EOF
ClusterName=ci
SlurmctldHost=$H(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
MinJobAge=86400
KillWait=5
StateSaveLocation=$D/state/ctld
SlurmdSpoolDir=$D/state/d
SlurmctldPidFile=$D/state/slurmctld.pid
SlurmdPidFile=$D/state/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
$acct
JobCompType=jobcomp/filetxt
JobCompLoc=$D/log/jobcomp.txt
GresTypes=gpu
NodeName=$H NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM $gres_node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

  # ---- optional accounting database (slurmctld exits fatally if slurmdbd is configured but down) ----
  if [ "$dbd" = 1 ]; then
    mkdir -p "$D/db" && chown mysql:mysql "$D/db"
    install -d -o mysql -g mysql -m 0755 /run/mysqld
    mariadb-install-db --user=mysql --datadir="$D/db" --skip-test-db >"$D/log/mariadb-install-db.log" 2>&1 || return 1
    runuser -u mysql -- /usr/sbin/mariadbd --no-defaults --datadir="$D/db" --socket=/run/mysqld/mysqld.sock \
      --pid-file="$D/db/mariadbd.pid" --log-error="$D/db/mariadbd.err" --skip-networking \
      --innodb-buffer-pool-size=64M </dev/null >/dev/null 2>&1 &
    _slurm_ci_wait 300 mariadb -uroot -e 'select 1' || { echo "mariadbd did not start" >&2; return 1; }
    # root connects through the unix socket (unix_socket auth), so no password is needed
    cat > "$D/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
PidFile=$D/state/slurmdbd.pid
LogFile=$D/log/slurmdbd.log
DebugLevel=info
EOF
    chmod 600 "$D/etc/slurmdbd.conf"     # slurmdbd reads slurmdbd.conf next to $SLURM_CONF
    slurmdbd || return 1
    _slurm_ci_wait 300 sacctmgr -n list cluster || { echo "slurmdbd not answering" >&2; return 1; }
    sacctmgr -i add cluster ci >/dev/null
  fi

  # ---- Slurm daemons: they fork into the background and write their pid files ----
  slurmctld -f "$SLURM_CONF" || return 1
  slurmd -f "$SLURM_CONF" || return 1
  if ! _slurm_ci_wait 300 bash -c '[ "$(sinfo -h -N -o %T)" = idle ]'; then
    echo "slurm_ci_up: node never became idle" >&2
    sinfo -N -o '%N %T %E' >&2; tail -20 "$D/log/slurmctld.log" "$D/log/slurmd.log" >&2
    return 1
  fi
}

_slurm_ci_stop_pidfiles() {  # wait up to 10 s for the processes in these pid files to exit, then SIGKILL them
  local i f p q
  for ((i = 0; i < 100; i++)); do
    p=""
    for f in "$@"; do q=$(cat "$f" 2>/dev/null) && [ -n "$q" ] && kill -0 "$q" 2>/dev/null && p="$p $q"; done
    [ -z "$p" ] && return 0
    sleep 0.1
  done
  kill -9 $p 2>/dev/null   # e.g. a slurmd stuck retrying its registration ignores SIGTERM
}

slurm_ci_down() {
  local -; set +eu +o pipefail   # runs from `trap ... EXIT`: a timeout here must not skip the shutdown
  local D=${SLURM_CI_DIR:-/tmp/slurm-ci}
  export SLURM_CONF="$D/etc/slurm.conf"
  # slurmstepd (the per-job supervisor) outlives "scontrol shutdown", so end the jobs first
  scancel --quiet -u root 2>/dev/null
  _slurm_ci_wait 150 bash -c '[ -z "$(squeue -h -t R,CG,S,CF -o %i)" ]'   # KillWait=5 + slack
  scontrol shutdown 2>/dev/null                  # stops slurmctld and slurmd
  _slurm_ci_stop_pidfiles "$D/state/slurmctld.pid" "$D/state/slurmd.pid"
  # job supervisors (slurmstepd) were ended by the scancel above; nothing is killed by name
  if [ -s "$D/state/slurmdbd.pid" ]; then        # only with SLURM_CI_DBD=1
    kill "$(cat "$D/state/slurmdbd.pid" 2>/dev/null)" 2>/dev/null
    _slurm_ci_stop_pidfiles "$D/state/slurmdbd.pid"
  fi
  if [ -s "$D/db/mariadbd.pid" ]; then
    kill "$(cat "$D/db/mariadbd.pid" 2>/dev/null)" 2>/dev/null
    _slurm_ci_stop_pidfiles "$D/db/mariadbd.pid"
  fi
  runuser -u munge -- /usr/sbin/munged --stop 2>/dev/null
  return 0
}
