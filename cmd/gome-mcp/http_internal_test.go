package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/server"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/tools"
)

func TestListenAddress(t *testing.T) {
	tests := []struct {
		addr   string
		remote bool
		want   string
		err    error
	}{
		{"8765", false, "127.0.0.1:8765", nil},
		{":0", false, "127.0.0.1:0", nil},
		{"localhost:9000", false, "localhost:9000", nil},
		{"[::1]:9000", false, "[::1]:9000", nil},
		{"127.0.0.2:9000", false, "127.0.0.2:9000", nil},
		{"0.0.0.0:9000", false, "", errRemote},
		{"[::]:9000", false, "", errRemote},
		{"example.com:9000", false, "", errRemote},
		{"0.0.0.0:9000", true, "0.0.0.0:9000", nil},
		{"a:b:c", false, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got, err := listenAddress(tt.addr, tt.remote)
			switch {
			case tt.want == "" && err == nil:
				t.Fatalf("listenAddress(%q) = %q; want an error", tt.addr, got)
			case tt.want != "" && (err != nil || got != tt.want):
				t.Fatalf("listenAddress(%q) = %q, %v; want %q", tt.addr, got, err, tt.want)
			case tt.err != nil && !errors.Is(err, tt.err):
				t.Fatalf("error %v does not wrap %v", err, tt.err)
			}
		})
	}
}

func TestAllowedHosts(t *testing.T) {
	hostname, _ := os.Hostname()
	tests := []struct {
		bound, extra, host string
		ok                 bool
	}{
		{"127.0.0.1:5000", "", "127.0.0.1:5000", true},
		{"127.0.0.1:5000", "", "localhost", true},
		{"127.0.0.1:5000", "", "LOCALHOST:5000", true},
		{"127.0.0.1:5000", "", "[::1]:5000", true},
		{"127.0.0.1:5000", "", "evil.example:5000", false},
		{"127.0.0.1:5000", "", "127.0.0.1.evil.example", false},
		{"127.0.0.1:5000", "", "0.0.0.0:5000", false},
		{"127.0.0.1:5000", "", "", false},
		{"0.0.0.0:5000", "gome.lan", "gome.lan:5000", true},
		{"0.0.0.0:5000", "gome.lan", hostname, hostname != ""},
		{"0.0.0.0:5000", "gome.lan", "0.0.0.0:5000", false},
		{"0.0.0.0:5000", "gome.lan", "evil.example", false},
		{"192.0.2.7:5000", "", "192.0.2.7:5000", true},
		{"192.0.2.7:5000", "", "192.0.2.8:5000", false},
	}
	for _, tt := range tests {
		t.Run(tt.bound+"/"+tt.host, func(t *testing.T) {
			if got := newAllowedHosts(tt.bound, tt.extra).allows(tt.host); got != tt.ok {
				t.Fatalf("bound %s, extra %q: allows(%q) = %v, want %v", tt.bound, tt.extra, tt.host, got, tt.ok)
			}
		})
	}
}

// TestHTTPWaitStopsWhenCancelled serves the tools in process over the real HTTP handler, so
// that the test can see the server's waits begin and end: a get_run that waits must stop waiting
// when its HTTP client cancels, for every protocol version.
func TestHTTPWaitStopsWhenCancelled(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	store, err := memory.Open(ctx, memory.DBPath(home))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	eng, err := engine.New(store, nil, nil, home)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	// A run marked running that nobody executes: a wait on it only ends by time or cancellation.
	if err := store.CreateRun(ctx, memory.Run{ID: "run-idle", TaskID: "t", Config: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	token := "test-token-0123456789"
	waits := &watchedWaits{Engine: eng, entered: make(chan struct{}, 1), left: make(chan struct{}, 1)}
	handler, streamable := newHTTPHandler(tools.NewServer(tools.Deps{Engine: waits, Logger: logger}, "test"), token, newAllowedHosts("127.0.0.1:0", ""), logger)
	srv := httptest.NewServer(handler)
	defer srv.Close()
	defer streamable.Shutdown(ctx)

	for _, version := range protocolVersions {
		t.Run(version, func(t *testing.T) {
			cs := connectHTTP(t, ctx, srv.URL+mcpPath, token, version, nil)
			callCtx, cancel := context.WithCancel(ctx)
			errc := make(chan error, 1)
			go func() {
				_, err := cs.CallTool(callCtx, &mcp.CallToolParams{Name: "get_run", Arguments: map[string]any{"run_id": "run-idle", "wait_seconds": 40}})
				errc <- err
			}()
			receive(t, waits.entered, "the server to start waiting")
			cancel()
			select {
			case err := <-errc:
				if err == nil {
					t.Fatal("the cancelled call returned no error")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the cancelled call did not return")
			}
			receive(t, waits.left, "the server to stop waiting")
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_run", Arguments: map[string]any{"run_id": "run-idle"}})
			if err != nil {
				t.Fatalf("get_run after the cancel: %v", err)
			}
			if res.IsError {
				t.Fatalf("get_run after the cancel: %s", errorText(res))
			}
		})
	}
}

// watchedWaits is the engine with a signal when a WaitForChange begins and when it returns.
type watchedWaits struct {
	tools.Engine
	entered, left chan struct{}
}

func (w *watchedWaits) WaitForChange(ctx context.Context, runID string, wait time.Duration, news func(engine.RunView, []engine.RunEvent)) (bool, error) {
	w.entered <- struct{}{}
	defer func() { w.left <- struct{}{} }()
	return w.Engine.WaitForChange(ctx, runID, wait, news)
}

// receive waits for a signal on ch; the bound only keeps a broken server from hanging the test.
func receive(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestStampNotificationVersion(t *testing.T) {
	const modern = "2026-07-28"
	tests := []struct {
		name, header, body string
		stamped            bool
	}{
		{"modern notification without a version", modern, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}}`, true},
		{"modern notification without params", modern, `{"jsonrpc":"2.0","method":"notifications/cancelled"}`, true},
		{"modern notification with a version", modern, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, false},
		{"modern request", modern, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`, false},
		{"older revision", "2025-11-25", `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}}`, false},
		{"not json", modern, `{`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/mcp", strings.NewReader(tt.body))
			r.Header.Set("MCP-Protocol-Version", tt.header)
			if err := tools.StampNotificationVersion(r); err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(r.Body)
			if !tt.stamped {
				if string(got) != tt.body {
					t.Fatalf("body changed to %s", got)
				}
				return
			}
			var msg struct {
				Method string `json:"method"`
				Params struct {
					Meta      map[string]string `json:"_meta"`
					RequestID int               `json:"requestId"`
				} `json:"params"`
			}
			if err := json.Unmarshal(got, &msg); err != nil {
				t.Fatal(err)
			}
			if msg.Method != "notifications/cancelled" || msg.Params.Meta["io.modelcontextprotocol/protocolVersion"] != modern {
				t.Fatalf("stamped body %s", got)
			}
			if strings.Contains(tt.body, "requestId") && msg.Params.RequestID != 3 {
				t.Fatalf("the notification lost its parameters: %s", got)
			}
		})
	}
}

// TestHTTPNamesItsResourceMetadata: a 401 names the protected-resource metadata (RFC 9728) in
// its WWW-Authenticate header, and that metadata is served without a token and describes the
// MCP endpoint as taking a bearer token in the header.
func TestHTTPNamesItsResourceMetadata(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	handler, _ := newHTTPHandler(server.NewMCPServer("gome", "test"), "test-token-0123456789", newAllowedHosts("127.0.0.1:0", ""), logger)
	srv := httptest.NewServer(handler)
	defer srv.Close()

	resp, err := http.Post(srv.URL+mcpPath, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	challenge := resp.Header.Get("WWW-Authenticate")
	want := srv.URL + metadataPath + mcpPath
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(challenge, `resource_metadata="`+want+`"`) || !strings.HasPrefix(challenge, "Bearer ") {
		t.Fatalf("status %d, WWW-Authenticate %q; want 401 naming %s", resp.StatusCode, challenge, want)
	}
	for _, path := range []string{metadataPath + mcpPath, metadataPath} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var meta struct {
			Resource string   `json:"resource"`
			Methods  []string `json:"bearer_methods_supported"`
		}
		err = json.NewDecoder(resp.Body).Decode(&meta)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || meta.Resource != srv.URL+mcpPath || len(meta.Methods) != 1 || meta.Methods[0] != "header" {
			t.Fatalf("GET %s: status %d, %+v, %v", path, resp.StatusCode, meta, err)
		}
	}
	resp, err = http.Post(srv.URL+metadataPath, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to the metadata: status %d, want 405", resp.StatusCode)
	}
}
