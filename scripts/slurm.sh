#!/usr/bin/env bash
# Installs and starts a one-node Slurm cluster (munge, slurmctld, slurmd) on this Debian machine,
# for the Slurm sandbox tests and for trying `gome-mcp --sandbox slurm` locally. Idempotent: a
# cluster that already answers is left as it is. Needs root.
#
# The configuration suits a container-like machine: no cgroups (ProctrackType=proctrack/linuxproc,
# TaskPlugin=task/none), memory limits enforced by slurmstepd's sampling of each job's resident
# size (JobAcctGatherType=jobacct_gather/linux with OverMemoryKill), and no slurmdbd: finished jobs
# are recorded in the job-completion log (JobCompType=jobcomp/filetxt, $GOME_SLURM_JOBCOMP) rather
# than in sacct's database.
#
# Usage: scripts/slurm.sh            (or source it and call gome_slurm)
set -euo pipefail

GOME_SLURM_JOBCOMP=${GOME_SLURM_JOBCOMP:-/var/log/slurm/jobcomp.log}

# gome_slurm_up reports whether a Slurm controller answers and a node accepts jobs.
gome_slurm_up() {
	command -v sinfo >/dev/null 2>&1 || return 1
	local state
	state=$(timeout 10 sinfo -h -o '%t' 2>/dev/null | head -n1) || return 1
	case "$state" in idle* | mix* | alloc* | comp*) return 0 ;; esac
	return 1
}

# gome_slurm_conf prints the configuration this script writes for this machine.
gome_slurm_conf() {
	local host cpus mem
	host=$(hostname -s)
	cpus=$(nproc)
	# Leave a quarter of the memory (at least 2 GiB) to the system and the server itself.
	mem=$(awk '/MemTotal/ {m=int($2/1024); r=int(m/4); if (r < 2048) r = 2048; print m - r}' /proc/meminfo)
	cat <<EOF
# Written by gome scripts/slurm.sh: a one-node cluster for tests.
ClusterName=gome
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$GOME_SLURM_JOBCOMP
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ReturnToService=2
MinJobAge=600
KillWait=5
SchedulerParameters=sched_min_interval=0,batch_sched_delay=0
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4 DefMemPerCPU=1024
EOF
}

gome_slurm() {
	local marker='# Written by gome scripts/slurm.sh'
	if gome_slurm_up && ! head -n1 /etc/slurm/slurm.conf 2>/dev/null | grep -qF "$marker"; then
		echo "slurm: a cluster configured elsewhere already answers ($(sinfo -h -o '%P %D node(s) %t' | head -n1)); leaving it as it is" >&2
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "slurm: not running and this is not root: cannot install it; the Slurm tests will skip" >&2
		return 1
	fi
	local pkgs=()
	for p in munge slurmctld slurmd slurm-client; do
		dpkg -s "$p" >/dev/null 2>&1 || pkgs+=("$p")
	done
	if [ ${#pkgs[@]} -gt 0 ]; then
		echo "slurm: installing ${pkgs[*]}" >&2
		# Callers use `gome_slurm || ...`, where bash ignores set -e: each failure returns by itself.
		apt-get -o DPkg::Lock::Timeout=300 update -qq || return 1
		# policy-rc.d may forbid starting services at install time; they are started below.
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null || return 1
	fi

	# munge: the key exists after installation; the daemon must run as the munge user.
	install -d -o munge -g munge -m 0755 /run/munge
	install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
	[ -s /etc/munge/munge.key ] || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
	chown munge:munge /etc/munge/munge.key
	chmod 0400 /etc/munge/munge.key
	if ! munge -n </dev/null >/dev/null 2>&1; then
		runuser -u munge -- /usr/sbin/munged || { echo "slurm: munged did not start; see /var/log/munge/munged.log" >&2; return 1; }
		for _ in $(seq 50); do munge -n </dev/null >/dev/null 2>&1 && break; sleep 0.1; done
	fi

	install -d -m 0755 /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
	local conf changed=no
	conf=$(gome_slurm_conf)
	if [ "$conf" != "$(cat /etc/slurm/slurm.conf 2>/dev/null)" ]; then
		printf '%s\n' "$conf" >/etc/slurm/slurm.conf || return 1
		changed=yes
	fi

	if ! pgrep -x slurmctld >/dev/null; then
		/usr/sbin/slurmctld || { echo "slurm: slurmctld did not start; see /var/log/slurm/slurmctld.log" >&2; return 1; }
	elif [ $changed = yes ]; then
		scontrol reconfigure
	fi
	if ! pgrep -x slurmd >/dev/null; then
		/usr/sbin/slurmd || { echo "slurm: slurmd did not start; see /var/log/slurm/slurmd.log" >&2; return 1; }
	fi
	local host
	host=$(hostname -s)
	for _ in $(seq 100); do
		if gome_slurm_up; then
			echo "slurm: up ($(sinfo -h -o '%P %D node(s) %t' | head -n1)); job-completion log $GOME_SLURM_JOBCOMP" >&2
			return 0
		fi
		# A node that was down in an earlier life comes back when told to.
		scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
		sleep 0.2
	done
	echo "slurm: the cluster did not come up; see /var/log/slurm/slurmctld.log and slurmd.log" >&2
	return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	gome_slurm
fi
