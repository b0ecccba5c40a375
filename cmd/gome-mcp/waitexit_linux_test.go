package main

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// waitExit waits, for at most d, until the process pid has terminated, on the kernel's signal
// of it (its pidfd becomes readable).
func waitExit(t *testing.T, pid string, d time.Duration) {
	t.Helper()
	n, err := strconv.Atoi(pid)
	if err != nil {
		t.Fatalf("pid %q: %v", pid, err)
	}
	fd, err := unix.PidfdOpen(n, 0)
	if err != nil {
		return // already gone (ESRCH), or not ours to watch: the check after this reports it
	}
	defer unix.Close(fd)
	for {
		if _, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(d.Milliseconds())); !errors.Is(err, unix.EINTR) {
			return
		}
	}
}
