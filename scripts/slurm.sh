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
# The node has no GPUs, so it is given two fake ones to test GPU jobs (--gres=gpu:N) with: a
# generic resource "gpu" (GresTypes=gpu, the node's Gres=gpu:2) backed by two device files made
# with mknod ($GOME_SLURM_FAKE_GPUS, /dev/gome-fake-gpu0 and 1), AutoDetect off. Slurm allocates
# them and sets CUDA_VISIBLE_DEVICES and SLURM_JOB_GPUS in the job; nothing can compute on them.
# GOME_SLURM_FAKE_GPUS=0 leaves them out; where the device files cannot be made, the cluster
# comes up without GPUs. A change of GPUs restarts slurmctld and slurmd (running jobs live on).
#
# Usage: scripts/slurm.sh            (or source it and call gome_slurm)
set -euo pipefail

GOME_SLURM_JOBCOMP=${GOME_SLURM_JOBCOMP:-/var/log/slurm/jobcomp.log}
GOME_SLURM_FAKE_GPUS=${GOME_SLURM_FAKE_GPUS:-2}

# gome_slurm_up reports whether a Slurm controller answers and a node accepts jobs.
gome_slurm_up() {
	command -v sinfo >/dev/null 2>&1 || return 1
	local state
	state=$(timeout 10 sinfo -h -o '%t' 2>/dev/null | head -n1) || return 1
	case "$state" in idle* | mix* | alloc* | comp*) return 0 ;; esac
	return 1
}

# gome_slurm_fake_gpus makes the fake GPU device files (character devices of NVIDIA's major
# number, which no driver answers here) and prints gres.conf for them; it fails, printing
# nothing, where it cannot make them.
gome_slurm_fake_gpus() {
	local n=$GOME_SLURM_FAKE_GPUS i
	[ "$n" -gt 0 ] 2>/dev/null || return 1
	for ((i = 0; i < n; i++)); do
		[ -c "/dev/gome-fake-gpu$i" ] || mknod -m 0666 "/dev/gome-fake-gpu$i" c 195 "$i" 2>/dev/null || return 1
	done
	echo "# Written by gome scripts/slurm.sh: $n fake GPUs for tests."
	echo "AutoDetect=off"
	echo "NodeName=$(hostname -s) Name=gpu File=/dev/gome-fake-gpu[0-$((n - 1))]"
}

# gome_slurm_conf prints the configuration this script writes for this machine; with an
# argument N > 0, its node has N GPUs (gres.conf must describe them).
gome_slurm_conf() {
	local gpus=${1:-0} host cpus mem gres=""
	host=$(hostname -s)
	cpus=$(nproc)
	# Leave a quarter of the memory (at least 2 GiB) to the system and the server itself.
	mem=$(awk '/MemTotal/ {m=int($2/1024); r=int(m/4); if (r < 2048) r = 2048; print m - r}' /proc/meminfo)
	echo "# Written by gome scripts/slurm.sh: a one-node cluster for tests."
	if [ "$gpus" -gt 0 ]; then
		gres=" Gres=gpu:$gpus"
		echo "GresTypes=gpu"
	fi
	cat <<EOF
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
NodeName=$host CPUs=$cpus RealMemory=$mem$gres State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4 DefMemPerCPU=1024
EOF
}

# gome_slurm_stop stops slurmctld and slurmd and waits for them to exit. Jobs running keep running
# (their slurmstepd lives on) and are found again when the daemons start.
gome_slurm_stop() {
	local pid name
	for name in slurmctld slurmd; do
		pid=$(cat "/run/$name.pid" 2>/dev/null) || continue
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || continue
		kill "$pid" 2>/dev/null || continue
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	done
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
	local conf gres gpus=0 changed=no restart=no
	if gres=$(gome_slurm_fake_gpus); then
		gpus=$GOME_SLURM_FAKE_GPUS
	else
		gres=""
		[ "$GOME_SLURM_FAKE_GPUS" = 0 ] || echo "slurm: could not make fake GPU devices (mknod); the cluster has no GPUs and the GPU tests will skip" >&2
	fi
	conf=$(gome_slurm_conf "$gpus")
	if [ "$conf" != "$(cat /etc/slurm/slurm.conf 2>/dev/null)" ]; then
		# GresTypes and a node's Gres are read at start only: a change restarts the daemons.
		[ "$(grep -E '^GresTypes|Gres=' /etc/slurm/slurm.conf 2>/dev/null)" = "$(grep -E '^GresTypes|Gres=' <<<"$conf")" ] || restart=yes
		printf '%s\n' "$conf" >/etc/slurm/slurm.conf || return 1
		changed=yes
	fi
	if [ -n "$gres" ]; then
		[ "$gres" = "$(cat /etc/slurm/gres.conf 2>/dev/null)" ] || { printf '%s\n' "$gres" >/etc/slurm/gres.conf && restart=yes; } || return 1
	elif [ -e /etc/slurm/gres.conf ] && head -n1 /etc/slurm/gres.conf | grep -qF "$marker"; then
		rm -f /etc/slurm/gres.conf
		restart=yes
	fi
	if [ $restart = yes ]; then
		gome_slurm_stop
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
		# A daemon that exited (a configuration it refuses) will not answer: no use waiting.
		pgrep -x slurmctld >/dev/null && pgrep -x slurmd >/dev/null || break
		if gome_slurm_up; then
			echo "slurm: up ($(sinfo -h -o '%P %D node(s) %t' | head -n1)); job-completion log $GOME_SLURM_JOBCOMP" >&2
			return 0
		fi
		# A node that was down in an earlier life comes back when told to.
		scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
		sleep 0.2
	done
	if [ "$gpus" -gt 0 ]; then
		echo "slurm: the cluster did not come up with $gpus fake GPUs; starting it without (see /var/log/slurm/slurmd.log)" >&2
		gome_slurm_stop
		GOME_SLURM_FAKE_GPUS=0 gome_slurm
		return
	fi
	echo "slurm: the cluster did not come up; see /var/log/slurm/slurmctld.log and slurmd.log" >&2
	return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	gome_slurm
fi
