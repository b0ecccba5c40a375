package sandbox

import "syscall"

// sysProcAttr puts each job in its own process group (so a timeout kills all of it) and has the
// kernel kill the job if the server dies without cleaning up (SIGKILL, a crash): a resumed run
// must not race an orphan of the previous server writing into the same workspace.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
