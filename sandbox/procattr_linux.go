package sandbox

import (
	"os"
	"os/exec"
	"syscall"
)

// sysProcAttr puts each job in its own process group (so a timeout kills all of it) and has the
// kernel kill the job if the server dies without cleaning up (SIGKILL, a crash): a resumed run
// must not race an orphan of the previous server writing into the same workspace.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// isolation says which namespaces the Local backend can give its jobs on this machine.
type isolation struct {
	network       bool   // an empty network namespace per job
	userns        bool   // the network namespace needs a user namespace (the server is not root)
	mountReadOnly bool   // a mount namespace in which the weights cache is mounted read-only (root)
	ip            string // the ip program that brings the job's loopback up (root); "" = none
	reason        string // why network isolation is not available
}

// jobNamespaces is what one job gets.
type jobNamespaces struct {
	network, mount, userns bool
}

// detectIsolation finds out, by starting /bin/true in them, which namespaces jobs can have: a
// root server creates network and mount namespaces directly; any other creates the network
// namespace inside a user namespace that maps only its own uid, which Debian and most
// distributions allow.
func detectIsolation(weights bool) isolation {
	root := os.Geteuid() == 0
	ns := jobNamespaces{network: true, mount: root && weights, userns: !root}
	if err := startTrue(ns.sysProcAttr()); err != nil {
		return isolation{reason: err.Error()}
	}
	iso := isolation{network: true, userns: !root, mountReadOnly: ns.mount}
	if root {
		for _, p := range []string{"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"} {
			if isExecutable(p) == nil {
				iso.ip = p
				break
			}
		}
	}
	return iso
}

// startTrue runs /bin/true with attr and reports whether it could.
func startTrue(attr *syscall.SysProcAttr) error {
	cmd := exec.Command("/bin/true")
	cmd.SysProcAttr = attr
	return cmd.Run()
}

// forJob returns the namespaces of a job that may (network) or may not reach the network.
func (i isolation) forJob(network bool) jobNamespaces {
	return jobNamespaces{
		network: i.network && !network,
		mount:   i.mountReadOnly,
		userns:  i.userns && i.network && !network,
	}
}

// sysProcAttr is sysProcAttr() with the job's namespaces.
func (n jobNamespaces) sysProcAttr() *syscall.SysProcAttr {
	attr := sysProcAttr()
	if n.network {
		attr.Cloneflags |= syscall.CLONE_NEWNET
	}
	if n.mount {
		attr.Cloneflags |= syscall.CLONE_NEWNS
	}
	if n.userns {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: os.Geteuid(), HostID: os.Geteuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getegid(), HostID: os.Getegid(), Size: 1}}
		attr.GidMappingsEnableSetgroups = false
	}
	return attr
}

// writableByMe reports whether this process may write into dir.
func writableByMe(dir string) bool {
	return syscall.Access(dir, 2 /* W_OK */) == nil
}
