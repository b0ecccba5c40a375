//go:build !linux

package sandbox

import "syscall"

// sysProcAttr puts each job in its own process group, so a timeout kills all of it.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// isolation is empty off Linux: jobs keep the network and the weights cache is not remounted.
type isolation struct {
	network, userns, mountReadOnly bool
	ip, reason                     string
}

type jobNamespaces struct{ network, mount, userns bool }

func detectIsolation(bool) isolation {
	return isolation{reason: "namespaces are Linux's"}
}

func (i isolation) forJob(bool) jobNamespaces { return jobNamespaces{} }

func (n jobNamespaces) sysProcAttr() *syscall.SysProcAttr { return sysProcAttr() }

func writableByMe(string) bool { return true }
