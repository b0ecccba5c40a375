// Package uitest drives headless Chromium for tests of the pages: it opens a page, evaluates
// JavaScript in it and takes screenshots, over the DevTools protocol on a pipe (no WebSocket,
// no dependency). Tests skip when no Chromium is installed (Debian: apt-get install chromium).
package uitest

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// ErrNoChromium says no Chromium binary was found on PATH.
var ErrNoChromium = errors.New("no chromium on PATH: install Debian's package with 'apt-get install chromium'")

// Browser is one headless Chromium with one page.
type Browser struct {
	cmd     *exec.Cmd
	w       io.WriteCloser
	session string
	profile string // Chromium's user data folder, removed by Close

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan message
	waiters map[string][]chan message
	done    chan struct{}
	readErr error
}

type message struct {
	ID        int64           `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// Find returns the Chromium binary, or ErrNoChromium.
func Find() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoChromium
}

// Start launches Chromium with a fresh profile and opens a blank page of width x height.
func Start(ctx context.Context, width, height int) (*Browser, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gome-chromium-")
	if err != nil {
		return nil, err
	}
	toChrome, ours, err := os.Pipe() // Chromium reads commands from fd 3
	if err != nil {
		return nil, err
	}
	theirs, fromChrome, err := os.Pipe() // and writes answers to fd 4
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
		"--remote-debugging-pipe", "--user-data-dir="+dir, "about:blank")
	cmd.ExtraFiles = []*os.File{toChrome, fromChrome}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	toChrome.Close()
	fromChrome.Close()
	b := &Browser{cmd: cmd, w: ours, profile: dir, pending: map[int64]chan message{}, waiters: map[string][]chan message{}, done: make(chan struct{})}
	go b.read(theirs)

	var created struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &created); err != nil {
		b.Close()
		return nil, err
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": created.TargetID, "flatten": true}, &attached); err != nil {
		b.Close()
		return nil, err
	}
	b.session = attached.SessionID
	for _, c := range []struct {
		method string
		params any
	}{
		{"Page.enable", nil},
		{"Runtime.enable", nil},
		{"Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}},
	} {
		if err := b.call(ctx, b.session, c.method, c.params, nil); err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}

func (b *Browser) read(r io.ReadCloser) {
	defer r.Close()
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		raw, err := br.ReadBytes(0)
		if err != nil {
			b.mu.Lock()
			b.readErr = fmt.Errorf("chromium closed its pipe: %w", err)
			b.mu.Unlock()
			close(b.done)
			return
		}
		var m message
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil {
			continue
		}
		b.mu.Lock()
		if m.ID != 0 {
			if ch, ok := b.pending[m.ID]; ok {
				delete(b.pending, m.ID)
				ch <- m
			}
		} else if m.Method != "" {
			for _, ch := range b.waiters[m.Method] {
				ch <- m
			}
			delete(b.waiters, m.Method)
		}
		b.mu.Unlock()
	}
}

func (b *Browser) call(ctx context.Context, session, method string, params, out any) error {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan message, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	req := map[string]any{"id": id, "method": method}
	if params != nil {
		req["params"] = params
	}
	if session != "" {
		req["sessionId"] = session
	}
	raw, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := b.w.Write(append(raw, 0)); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	case <-b.done:
		return fmt.Errorf("%s: %w", method, b.readErr)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// event returns a channel that receives the next event of method.
func (b *Browser) event(method string) chan message {
	ch := make(chan message, 1)
	b.mu.Lock()
	b.waiters[method] = append(b.waiters[method], ch)
	b.mu.Unlock()
	return ch
}

// Open navigates to url and waits for the page to load, redirects included.
func (b *Browser) Open(ctx context.Context, url string) error {
	loaded := b.event("Page.loadEventFired")
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := b.call(ctx, b.session, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return err
	}
	if nav.ErrorText != "" {
		return fmt.Errorf("open %s: %s", url, nav.ErrorText)
	}
	select {
	case <-loaded:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("open %s: %w", url, ctx.Err())
	}
}

// Eval evaluates a JavaScript expression in the page, awaiting it if it is a promise, and
// decodes its value into out (which may be nil).
func (b *Browser) Eval(ctx context.Context, expr string, out any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := b.call(ctx, b.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &res); err != nil {
		return err
	}
	if e := res.ExceptionDetails; e != nil {
		return fmt.Errorf("evaluate %q: %s %s", expr, e.Text, e.Exception.Description)
	}
	if out != nil && len(res.Result.Value) > 0 {
		return json.Unmarshal(res.Result.Value, out)
	}
	return nil
}

// Screenshot returns a PNG of the page; full takes the whole page, not just the window.
func (b *Browser) Screenshot(ctx context.Context, full bool) ([]byte, error) {
	var res struct {
		Data string `json:"data"`
	}
	if err := b.call(ctx, b.session, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": full}, &res); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(res.Data)
}

// Close ends Chromium, waits for it and removes its profile.
func (b *Browser) Close() {
	b.w.Close()
	if b.cmd.Process != nil {
		b.cmd.Process.Kill()
	}
	b.cmd.Wait()
	// Chromium's helper processes notice their browser is gone and exit a moment later; until
	// then they may still write into the profile.
	for try := 0; try < 20; try++ {
		if os.RemoveAll(b.profile) == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ScreenshotOf returns a PNG of the first element matching a CSS selector, wherever the page
// is scrolled.
func (b *Browser) ScreenshotOf(ctx context.Context, selector string) ([]byte, error) {
	sel, _ := json.Marshal(selector)
	var r struct{ X, Y, W, H float64 }
	expr := `(function () { var e = document.querySelector(` + string(sel) + `); if (!e) return null; var r = e.getBoundingClientRect();
  return {X: r.left + window.scrollX, Y: r.top + window.scrollY, W: r.width, H: r.height}; })()`
	if err := b.Eval(ctx, expr, &r); err != nil {
		return nil, err
	}
	if r.W == 0 || r.H == 0 {
		return nil, fmt.Errorf("screenshot of %s: no such element, or it is empty", selector)
	}
	var res struct {
		Data string `json:"data"`
	}
	clip := map[string]any{"x": r.X, "y": r.Y, "width": r.W, "height": r.H, "scale": 1}
	if err := b.call(ctx, b.session, "Page.captureScreenshot", map[string]any{"format": "png", "clip": clip, "captureBeyondViewport": true}, &res); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(res.Data)
}
