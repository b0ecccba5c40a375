package sandbox

import (
	"sync"
	"unicode/utf8"
)

// tailBuffer is an io.Writer that keeps only the last limit bytes written to it and counts all of
// them. A job may print gigabytes; the server keeps a fixed-size ring per stream, and the total
// tells the reader how much was dropped.
type tailBuffer struct {
	mu    sync.Mutex
	buf   []byte // grows up to limit, then is used as a ring
	limit int
	next  int // where the next byte goes once buf is full
	total int64
}

// newTailBuffer returns a tailBuffer keeping the last limit bytes (limit > 0).
func newTailBuffer(limit int) *tailBuffer {
	return &tailBuffer{limit: limit}
}

// Write keeps the tail of p and never fails, so a copy into it always drains the source.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	t.total += int64(n)
	if n >= t.limit {
		// Only the end of p can survive: replace the whole ring with it.
		t.buf = append(t.buf[:0], p[n-t.limit:]...)
		t.next = 0
		return n, nil
	}
	if room := t.limit - len(t.buf); room > 0 {
		// Still filling up: no wrap yet.
		k := min(room, len(p))
		t.buf = append(t.buf, p[:k]...)
		p = p[k:]
	}
	for len(p) > 0 {
		k := copy(t.buf[t.next:], p)
		p = p[k:]
		t.next = (t.next + k) % t.limit
	}
	return n, nil
}

// Total is the number of bytes ever written.
func (t *tailBuffer) Total() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}

// String returns the kept tail in order. When bytes were dropped, a rune cut in half at the start
// is dropped too, so the tail of UTF-8 output stays valid UTF-8.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]byte, 0, len(t.buf))
	out = append(out, t.buf[t.next:]...)
	out = append(out, t.buf[:t.next]...)
	if t.total > int64(len(out)) {
		for i := 0; i < utf8.UTFMax-1 && len(out) > 0 && !utf8.RuneStart(out[0]); i++ {
			out = out[1:]
		}
	}
	return string(out)
}
