//go:build !linux

package sandbox

import (
	"testing"
	"time"
)

// processGone needs Linux's pidfds to wait for a process that is not a child.
func processGone(t *testing.T, _ int, _ time.Duration) bool {
	t.Helper()
	t.Skip("waiting for a process that is not a child needs Linux pidfds")
	return false
}
