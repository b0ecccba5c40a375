package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// LabelOwner names the server process that started a container: "host/pid/start", where start is
// the process's start time as the kernel counts it. CleanupOrphans removes only containers whose
// owner is gone, so that several Gome processes (a server and a terminal run, or parallel tests)
// can share one Docker engine.
const LabelOwner = "gome.owner"

// ownerID identifies this process for LabelOwner.
func ownerID() string {
	host, _ := os.Hostname()
	pid := os.Getpid()
	return fmt.Sprintf("%s/%d/%s", host, pid, processStart(pid))
}

// ownerAlive reports whether the process named by an owner label still runs on this host. A
// label from another host, or an unreadable one, counts as alive: only what is known to be
// dead is removed.
func ownerAlive(owner string) bool {
	parts := strings.Split(owner, "/")
	if len(parts) != 3 {
		return false // written by an older Gome that did not label owners
	}
	host, _ := os.Hostname()
	if parts[0] != host {
		return true
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	// The pid runs: it is the owner unless the pid was reused by a later process.
	start := processStart(pid)
	return start == "" || start == parts[2]
}

// processStart is a process's start time in clock ticks since boot (/proc/PID/stat field 22),
// or "" where /proc is not available.
func processStart(pid int) string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) may hold spaces; fields after it follow the last ')'.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return ""
	}
	return fields[19]
}
