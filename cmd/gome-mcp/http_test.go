package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/internal/fakellm"
	"github.com/gome-agent/gome/tools"
)

// protocolVersions are the MCP revisions clients in use speak; every one must work.
var protocolVersions = []string{"2025-06-18", "2025-11-25", "2026-07-28"}

// httpServer is a `gome-mcp serve --http` process.
type httpServer struct {
	url    string // the MCP endpoint
	token  string // the printed token, when one was generated
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
}

func (s *httpServer) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

var (
	urlLine   = regexp.MustCompile(`url=(http://\S+/mcp)`)
	tokenLine = regexp.MustCompile(`Authorization: Bearer (\S+)`)
)

// startHTTP runs `gome-mcp serve --home HOME args...` and waits until it prints its URL.
func startHTTP(t testing.TB, home string, args []string, env ...string) *httpServer {
	t.Helper()
	s := &httpServer{}
	s.cmd = exec.Command(binary, append([]string{"serve", "--home", home}, args...)...)
	s.cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	s.cmd.Stderr = pw
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.stderr.WriteString(line + "\n")
			if m := tokenLine.FindStringSubmatch(line); m != nil {
				s.token = m[1]
			}
			if m := urlLine.FindStringSubmatch(line); m != nil {
				s.url = m[1]
				once.Do(func() { close(found) })
			}
			s.mu.Unlock()
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-exited
		}
	})
	select {
	case <-found:
	case err := <-exited:
		t.Fatalf("gome-mcp serve exited: %v\n%s", err, s.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("gome-mcp serve printed no URL:\n%s", s.log())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s
}

// bearer adds the token to every request.
type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// connectHTTP connects the go-sdk client over streamable HTTP speaking version ("" for its
// default).
func connectHTTP(t testing.TB, ctx context.Context, endpoint, token, version string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "gome-http-test", Version: "test"}, opts)
	transport := &mcp.StreamableClientTransport{
		Endpoint:   endpoint,
		HTTPClient: &http.Client{Transport: bearer{token: token, base: http.DefaultTransport}},
		MaxRetries: -1,
	}
	cs, err := client.Connect(ctx, transport, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("connect over HTTP (%s): %v", version, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// connectStdio is connect with a chosen protocol version.
func connectStdio(t *testing.T, ctx context.Context, home, version string, env ...string) *mcp.ClientSession {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--home", home)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = &testLog{t: t}
	client := mcp.NewClient(&mcp.Implementation{Name: "gome-e2e", Version: "test"}, nil)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("connect over stdio (%s): %v", version, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

func TestHTTPRequiresTokenAndOwnHost(t *testing.T) {
	endToEnd(t)
	s := startHTTP(t, t.TempDir(), []string{"--http", "127.0.0.1:0"})
	if s.token == "" {
		t.Fatalf("no generated token on stderr:\n%s", s.log())
	}
	u, _ := url.Parse(s.url)
	tests := []struct {
		name   string
		auth   string
		host   string
		status int
	}{
		{"no token", "", "", http.StatusUnauthorized},
		{"wrong token", "Bearer wrong-token-0123456789", "", http.StatusUnauthorized},
		{"wrong token of the same length", "Bearer " + strings.Repeat("x", len(s.token)), "", http.StatusUnauthorized},
		{"token with another scheme", "Basic " + s.token, "", http.StatusUnauthorized},
		{"token with a suffix", "Bearer " + s.token + "x", "", http.StatusUnauthorized},
		{"right token", "Bearer " + s.token, "", http.StatusOK},
		{"scheme in lower case", "bearer " + s.token, "", http.StatusOK},
		{"localhost by name", "Bearer " + s.token, "localhost:" + u.Port(), http.StatusOK},
		{"foreign host", "Bearer " + s.token, "evil.example:" + u.Port(), http.StatusForbidden},
		{"foreign host without a token", "", "evil.example", http.StatusForbidden},
		{"unspecified address as host", "Bearer " + s.token, "0.0.0.0:" + u.Port(), http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, s.url, strings.NewReader(initializeBody))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			switch tt.status {
			case http.StatusUnauthorized:
				if resp.Header.Get("WWW-Authenticate") == "" || !strings.Contains(string(body), "Authorization: Bearer") {
					t.Errorf("401 without a challenge or a hint: %q", body)
				}
			case http.StatusOK:
				if !strings.Contains(string(body), `"protocolVersion":"2025-06-18"`) {
					t.Errorf("initialize answered %s", body)
				}
			}
			if strings.Contains(string(body), s.token) {
				t.Error("the response contains the token")
			}
		})
	}
	// The token was printed once, and only in its own line.
	if n := strings.Count(s.log(), s.token); n != 1 {
		t.Errorf("the token appears %d times on stderr, want once:\n%s", n, s.log())
	}
}

func TestHTTPListenAddress(t *testing.T) {
	endToEnd(t)
	t.Run("bare port listens on loopback", func(t *testing.T) {
		s := startHTTP(t, t.TempDir(), []string{"--http", ":0"}, "GOME_TOKEN=chosen-token-0123456789")
		u, _ := url.Parse(s.url)
		if u.Hostname() != "127.0.0.1" {
			t.Fatalf("listening on %s, want 127.0.0.1", u.Host)
		}
		// A token chosen through the environment is used and never printed.
		if s.token != "" || strings.Contains(s.log(), "chosen-token") {
			t.Fatalf("a chosen token was printed:\n%s", s.log())
		}
		cs := connectHTTP(t, context.Background(), s.url, "chosen-token-0123456789", "", nil)
		if _, err := cs.ListTools(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	})
	refused := []struct {
		name string
		args []string
		env  []string
		says []string
	}{
		{"all interfaces without --allow-remote", []string{"--http", "0.0.0.0:0"}, nil, []string{"--allow-remote", "127.0.0.1"}},
		{"remote address without --allow-remote", []string{"--http", "192.0.2.1:8765"}, nil, []string{"--allow-remote"}},
		{"not an address", []string{"--http", "127.0.0.1:80:80"}, nil, []string{"HOST:PORT"}},
		{"short token", []string{"--http", "127.0.0.1:0", "--token", "short"}, nil, []string{"at least 16"}},
		{"short token in the environment", []string{"--http", "127.0.0.1:0"}, []string{"GOME_TOKEN=short"}, []string{"GOME_TOKEN", "at least 16"}},
		{"token without --http", []string{"--token", "0123456789abcdefgh"}, nil, []string{"--http"}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(binary, append([]string{"serve", "--home", t.TempDir()}, tt.args...)...)
			cmd.Env = append(os.Environ(), tt.env...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("exit %v, want a usage error (2):\n%s", err, out)
			}
			for _, w := range tt.says {
				if !strings.Contains(string(out), w) {
					t.Errorf("message does not mention %q:\n%s", w, out)
				}
			}
			if strings.Contains(string(out), "0123456789abcdefgh") {
				t.Errorf("the token was echoed:\n%s", out)
			}
		})
	}
}

// TestProtocolVersions drives the real binary with a client speaking each protocol version,
// over HTTP and over stdio.
func TestProtocolVersions(t *testing.T) {
	endToEnd(t)
	home := t.TempDir()
	s := startHTTP(t, home, []string{"--http", "127.0.0.1:0"})
	for _, transport := range []string{"http", "stdio"} {
		for _, version := range protocolVersions {
			t.Run(transport+"/"+version, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				var cs *mcp.ClientSession
				if transport == "http" {
					cs = connectHTTP(t, ctx, s.url, s.token, version, nil)
				} else {
					cs = connectStdio(t, ctx, t.TempDir(), version)
				}
				if got := cs.InitializeResult().ProtocolVersion; got != version {
					t.Fatalf("negotiated %s, want %s", got, version)
				}
				list, err := cs.ListTools(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				names := map[string]bool{}
				for _, tool := range list.Tools {
					names[tool.Name] = true
				}
				for _, want := range []string{"start_run", "get_run", "list_runs", "stop_run", "resume_run", "get_solution", "plot_run"} {
					if !names[want] {
						t.Errorf("tool %s missing from %v", want, names)
					}
				}
				if _, res := call[tools.ListRunsOutput](t, ctx, cs, "list_runs", nil); res.IsError {
					t.Fatalf("list_runs: %s", errorText(res))
				}
				if _, res := call[tools.RunView](t, ctx, cs, "get_run", map[string]any{"run_id": "run-nope"}); !res.IsError || !strings.Contains(errorText(res), "list_runs") {
					t.Fatalf("get_run on an unknown run: %s", errorText(res))
				}
				if _, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "drive_run", Arguments: map[string]string{"task": "t"}}); err != nil {
					t.Fatalf("prompt: %v", err)
				}
			})
		}
	}
	// Raw JSON-RPC with the version stated in the header, as a hand-written client would.
	for _, version := range protocolVersions[:2] {
		t.Run("raw/"+version, func(t *testing.T) {
			body := strings.Replace(initializeBody, "2025-06-18", version, 1)
			req, _ := http.NewRequest(http.MethodPost, s.url, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("Authorization", "Bearer "+s.token)
			req.Header.Set("MCP-Protocol-Version", version)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), fmt.Sprintf(`"protocolVersion":%q`, version)) {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
		})
	}
}

// slowScript drafts the weak solution; its first update sleeps far longer than the test waits,
// so the run is busy when stop_run comes; after a resume the update is the strong solution.
func slowScript(t *testing.T, taskDir string) fakellm.Script {
	s := improvingScript(t, taskDir)
	// It says it has started by a file in its output folder, so the test stops it mid-run on a
	// signal rather than after a guessed delay.
	sleepy := "import os, time\nopen(os.path.join(os.environ['GOME_OUTPUT_DIR'], 'started'), 'w').close()\ntime.sleep(300)\n"
	s["update"] = []string{
		fakellm.JSON(engine.Update{Summary: "a change that takes forever", Code: sleepy}),
		fakellm.JSON(engine.Update{Summary: "every feature, stronger model", Code: readFile(t, filepath.Join(taskDir, "solutions", "strong.py"))}),
	}
	return s
}

func TestHTTPStopAndResumeRun(t *testing.T) {
	endToEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	taskDir := exampleTask(t, "breast-cancer")
	fake := fakellm.New(slowScript(t, taskDir))
	defer fake.Close()
	home := t.TempDir()
	s := startHTTP(t, home, []string{"--http", "127.0.0.1:0"},
		"OPENAI_BASE_URL="+fake.BaseURL(), "OPENAI_API_KEY=sk-test-secret", "GOME_MODEL=fake-model")
	var mu sync.Mutex
	var progress []string
	cs := connectHTTP(t, ctx, s.url, s.token, "", &mcp.ClientOptions{ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
		mu.Lock()
		defer mu.Unlock()
		progress = append(progress, r.Params.Message)
	}})

	started, res := call[tools.StartRunOutput](t, ctx, cs, "start_run", map[string]any{"task": taskDir, "max_steps": 3, "exec_timeout_seconds": 600})
	if res.IsError {
		t.Fatalf("start_run: %s", errorText(res))
	}
	// Wait for the draft with a long-waiting get_run that reports progress.
	var v tools.RunView
	for len(v.Steps) == 0 {
		params := &mcp.CallToolParams{Name: "get_run", Arguments: map[string]any{"run_id": started.RunID, "wait_seconds": 40}}
		params.SetProgressToken("draft")
		r, err := cs.CallTool(ctx, params)
		if err != nil || r.IsError {
			t.Fatalf("get_run: %v %s", err, errorText(r))
		}
		v = structured[tools.RunView](t, r)
	}
	draft := v.Steps[0]
	if draft.Decision != "accepted" {
		t.Fatalf("draft %s: %s", draft.Decision, draft.Reason)
	}
	mu.Lock()
	if len(progress) == 0 {
		t.Error("no progress notification over HTTP while get_run waited")
	}
	mu.Unlock()
	// Stop while the sleeping update executes: once its process has said it started.
	marker := filepath.Join(home, "runs", started.RunID, "trace-0", "step-1", "started")
	waitForFile(t, ctx, marker, "the sleeping update")
	// The update sleeps 300 s, longer than the test's context: stop_run must kill it to answer.
	stopped, res := call[tools.StopRunOutput](t, ctx, cs, "stop_run", map[string]any{"run_id": started.RunID})
	if res.IsError {
		t.Fatalf("stop_run: %s", errorText(res))
	}
	if stopped.Status != "stopped" {
		t.Fatalf("stop_run answered %+v; want stopped", stopped)
	}
	if stopped.BestStepID != draft.ID || stopped.BestScore == nil || *stopped.BestScore != *draft.Score {
		t.Fatalf("stopped with best %s %v; want the draft %s %v", stopped.BestStepID, stopped.BestScore, draft.ID, *draft.Score)
	}
	v, _ = call[tools.RunView](t, ctx, cs, "get_run", map[string]any{"run_id": started.RunID})
	if v.Status != "stopped" || v.Active || len(v.Steps) != 1 || v.StopReason != string(engine.StopUser) {
		t.Fatalf("after stop_run: status %s active %v, %d steps, reason %q", v.Status, v.Active, len(v.Steps), v.StopReason)
	}
	if _, res := call[tools.StopRunOutput](t, ctx, cs, "stop_run", map[string]any{"run_id": started.RunID}); !res.IsError || !strings.Contains(errorText(res), "not active") {
		t.Fatalf("second stop_run: %s", errorText(res))
	}
	sol, res := call[tools.SolutionView](t, ctx, cs, "get_solution", map[string]any{"run_id": started.RunID})
	if res.IsError || sol.StepID != draft.ID || len(sol.SubmissionHead) == 0 {
		t.Fatalf("get_solution after stop: %+v %s", sol, errorText(res))
	}

	resumed, res := call[tools.ResumeRunOutput](t, ctx, cs, "resume_run", map[string]any{"run_id": started.RunID})
	if res.IsError {
		t.Fatalf("resume_run: %s", errorText(res))
	}
	if resumed.Status != "running" || resumed.StepsDone != 1 {
		t.Fatalf("resume_run = %+v; want running with the draft kept", resumed)
	}
	if _, res := call[tools.ResumeRunOutput](t, ctx, cs, "resume_run", map[string]any{"run_id": started.RunID}); !res.IsError || !strings.Contains(errorText(res), "already running") {
		t.Fatalf("second resume_run: %s", errorText(res))
	}
	v = waitRun(t, ctx, cs, started.RunID)
	if v.Status != "finished" || len(v.Steps) != 3 {
		t.Fatalf("resumed run ended %s with %d steps: %+v", v.Status, len(v.Steps), v.Steps)
	}
	if v.Steps[0].ID != draft.ID || v.Steps[0].Seconds != draft.Seconds {
		t.Fatalf("the draft was redone: %+v, was %+v", v.Steps[0], draft)
	}
	if v.Steps[1].Decision != "accepted" || v.Report == nil || v.Report.Best == nil || v.Report.Best.StepID != v.Steps[1].ID {
		t.Fatalf("after resume: steps %+v, report %+v; want the strong update accepted and best", v.Steps, v.Report)
	}

	_, res = call[map[string]any](t, ctx, cs, "plot_run", map[string]any{"run_id": started.RunID})
	if text := errorText(res); res.IsError || !strings.Contains(text, "3 scored steps") {
		t.Fatalf("plot_run: %s; want the run's 3 scored steps drawn", text)
	}
	if strings.Contains(s.log(), "sk-test-secret") {
		t.Error("the API key appears in the server's log")
	}
}

func structured[Out any](t *testing.T, res *mcp.CallToolResult) Out {
	t.Helper()
	var out Out
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("structured content: %v\n%s", err, raw)
	}
	return out
}
