//go:build !linux

package sandbox

import "syscall"

// sysProcAttr puts each job in its own process group, so a timeout kills all of it.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
