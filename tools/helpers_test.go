package tools

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/server"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/memory"
)

// env is a real store on disk, a real engine (without a model unless a test gives one) and the
// MCP server over them, reached by the official go-sdk client through in-process pipes.
type env struct {
	home   string
	store  *memory.Store
	engine *engine.Engine
	deps   Deps
}

func newEnv(t testing.TB, model engine.Model, sb engine.Sandbox) *env {
	t.Helper()
	home := t.TempDir()
	store, err := memory.Open(context.Background(), memory.DBPath(home))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(store, model, sb, home)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		eng.Close()
		store.Close()
	})
	return &env{home: home, store: store, engine: eng, deps: Deps{Engine: eng}}
}

// connect serves the tools over streamable HTTP and connects a go-sdk client speaking
// protocolVersion ("" for the client's default). Each connection is its own MCP session. (Not
// mcp-go's stdio server: every stdio server in a process shares one package-level session, so
// tests running side by side would read each other's client capabilities and receive each
// other's sampling requests and notifications. The binary serves one stdio client; its own
// tests cover that transport.)
func (e *env) connect(t testing.TB, protocolVersion string, opts *sdk.ClientOptions) *sdk.ClientSession {
	t.Helper()
	return e.connectClient(t, protocolVersion, sdk.NewClient(&sdk.Implementation{Name: "tools-test", Version: "test"}, opts))
}

// connectClient is connect with a client the test made (to add middleware, say).
func (e *env) connectClient(t testing.TB, protocolVersion string, client *sdk.Client) *sdk.ClientSession {
	t.Helper()
	streamable := server.NewStreamableHTTPServer(NewServer(e.deps, "test"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := StampNotificationVersion(r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		streamable.ServeHTTP(w, r)
	}))
	cs, err := client.Connect(context.Background(), &sdk.StreamableClientTransport{Endpoint: srv.URL}, &sdk.ClientSessionOptions{ProtocolVersion: protocolVersion})
	if err != nil {
		srv.Close()
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() {
		cs.Close()
		// A handler that ignores cancellation would hold the server; report it rather than hang.
		done := make(chan struct{})
		go func() {
			defer close(done)
			streamable.Shutdown(context.Background())
			srv.Close()
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("the server did not stop within 10s of its client leaving")
		}
	})
	return cs
}

func callTool(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) *sdk.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

// decode reads a successful result's structured content into Out.
func decode[Out any](t *testing.T, name string, res *sdk.CallToolResult) Out {
	t.Helper()
	var out Out
	if res.IsError {
		t.Fatalf("%s: error result: %s", name, resultText(res))
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s structured content: %v\n%s", name, err, raw)
	}
	return out
}

func resultText(res *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// seedStep is one step of a seeded run.
type seedStep struct {
	trace    int
	score    *float64
	decision engine.Decision
	after    time.Duration // when it finished, after the run started
	hyp      string        // its hypothesis (default "seeded hypothesis")
	holdout  *float64      // its hidden holdout score, as the judge records it (nil: none)
}

func score(f float64) *float64 { return &f }

// seedRun records a run directly in the store, with each step's workspace files on disk, the
// way the engine leaves them. finished gives it a final report naming its best step.
func (e *env) seedRun(t testing.TB, id string, traces int, steps []seedStep, status memory.RunStatus) memory.Run {
	t.Helper()
	ctx := context.Background()
	taskDir, err := filepath.Abs(filepath.Join("..", "examples", "tasks", "breast-cancer"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(engine.Config{TaskDir: taskDir, Strategy: engine.StrategyGradient, Traces: traces, MaxSteps: 6, BudgetSeconds: 3600, ExecTimeoutSeconds: 600, MaxFixes: 2})
	start := time.Now().Add(-time.Hour).UTC()
	if err := e.store.CreateRun(ctx, memory.Run{ID: id, TaskID: "breast-cancer", TaskDir: taskDir, Strategy: "gradient", Config: cfg, Status: memory.RunRunning, CreatedAt: start}); err != nil {
		t.Fatal(err)
	}
	for i := range traces {
		if err := e.store.CreateTrace(ctx, memory.Trace{ID: traceName(id, i), RunID: id, Index: i}); err != nil {
			t.Fatal(err)
		}
	}
	perTrace := map[int]int{}
	best := map[int]memory.Step{}
	var bestOfRun *memory.Step
	for _, s := range steps {
		idx := perTrace[s.trace]
		perTrace[s.trace]++
		ws := filepath.Join(e.home, "runs", id, "trace-"+itoa(s.trace), "step-"+itoa(idx))
		if err := os.MkdirAll(ws, 0o755); err != nil {
			t.Fatal(err)
		}
		code := "# trace " + itoa(s.trace) + " step " + itoa(idx) + "\nprint('hello')\n"
		os.WriteFile(filepath.Join(ws, "main.py"), []byte(code), 0o644)
		if s.score != nil {
			os.WriteFile(filepath.Join(ws, "submission.csv"), []byte("id,target\n1,0.9\n2,0.1\n3,0.5\n4,0.4\n5,0.7\n6,0.2\n7,0.3\n8,0.8\n"), 0o644)
		}
		kind := engine.KindImprove
		if idx == 0 {
			kind = engine.KindDraft
		}
		hyp := "seeded hypothesis"
		if s.hyp != "" {
			hyp = s.hyp
		}
		st := memory.Step{
			ID: traceName(id, s.trace) + "-s" + itoa(idx), RunID: id, TraceID: traceName(id, s.trace), Index: idx,
			Kind: string(kind), Code: code, Score: s.score, Decision: string(s.decision), Reason: "seeded " + string(s.decision),
			Hypothesis: hyp, Workspace: ws,
			StartedAt: start.Add(s.after - time.Second), FinishedAt: start.Add(s.after),
		}
		if s.holdout != nil {
			st.Exec, _ = json.Marshal(engine.Outcome{Score: s.score, Judged: "gome", Holdout: s.holdout, Backend: "seeded"})
		}
		accept := s.decision == engine.Accepted
		if err := e.store.RecordStep(ctx, st, accept); err != nil {
			t.Fatal(err)
		}
		if accept {
			best[s.trace] = st
			if bestOfRun == nil || *st.Score > *bestOfRun.Score {
				bestOfRun = &st
			}
		}
	}
	if status != memory.RunRunning {
		rep := engine.Report{RunID: id, TaskID: "breast-cancer", Metric: "auc", StopReason: "max_steps", Steps: len(steps)}
		if bestOfRun != nil {
			rep.Best = &engine.BestSolution{StepID: bestOfRun.ID, Step: bestOfRun.Index, Validation: *bestOfRun.Score,
				Code: filepath.Join(bestOfRun.Workspace, "main.py"), Submission: filepath.Join(bestOfRun.Workspace, "submission.csv")}
		}
		raw, _ := json.Marshal(rep)
		if err := e.store.FinishRun(ctx, id, status, "max_steps", "", raw); err != nil {
			t.Fatal(err)
		}
	}
	run, err := e.store.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func traceName(runID string, i int) string { return runID + "-t" + itoa(i) }

func itoa(i int) string { return strconv.Itoa(i) }

// stepOf follows an apply_update job (its first answer is res) until the step is taken and
// returns the step.
func stepOf(t *testing.T, cs *sdk.ClientSession, res *sdk.CallToolResult) ApplyUpdateOutput {
	t.Helper()
	job := decode[JobOutput](t, "apply_update", res)
	for job.State == "running" {
		job = decode[JobOutput](t, "get_job", callTool(t, cs, "get_job", map[string]any{"job_id": job.JobID, "wait_seconds": 30}))
	}
	if job.State != "done" {
		t.Fatalf("apply_update job %s: %s", job.State, job.Error)
	}
	raw, _ := json.Marshal(job.Result)
	var step ApplyUpdateOutput
	if err := json.Unmarshal(raw, &step); err != nil {
		t.Fatalf("job result: %v\n%s", err, raw)
	}
	return step
}
