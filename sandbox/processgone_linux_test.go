package sandbox

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// processGone reports whether pid has exited (a zombie counts as gone: it no longer runs),
// waiting up to d for a SIGKILL already sent to take effect. It waits on the kernel's own signal
// of the exit: a pidfd becomes readable when its process has terminated.
func processGone(t *testing.T, pid int, d time.Duration) bool {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return true // already reaped
	}
	if err != nil {
		t.Fatalf("pidfd_open(%d): %v (Linux 5.3 or later is needed)", pid, err)
	}
	defer func() { _ = unix.Close(fd) }()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(d.Milliseconds()))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err == nil && n == 1
	}
}
