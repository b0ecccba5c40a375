//go:build linux

package sandbox

import (
	"errors"
	"syscall"
	"unsafe"
)

// pPID is waitid's idtype for "the process with this id" (P_PID in <sys/wait.h>).
const pPID = 1

// waitExited blocks until the process pid has exited, without reaping it. While the job's leader
// is an unreaped zombie its pid, and so its process-group id, cannot be reused, which makes
// killing the group afterwards safe: the kill can only reach the job's own leftovers.
// It reports false when it could not wait, in which case the caller kills after reaping.
func waitExited(pid int) bool {
	var info [128]byte // siginfo_t, filled in by the kernel and unused here
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info)), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		if errors.Is(errno, syscall.EINTR) {
			continue
		}
		return errno == 0
	}
}
