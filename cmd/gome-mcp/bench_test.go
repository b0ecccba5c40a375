package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/internal/fakellm"
)

// The benchmarks measure get_run round trips against the real binary on loopback, on a home
// holding one finished three-step run, so each answer carries a realistic view (traces, steps,
// report). Results and how to reproduce them are in docs/BENCHMARKS.md.

// benchHome records a finished run with `gome-mcp run` and the scripted model.
func benchHome(b *testing.B) (home, runID string) {
	b.Helper()
	taskDir, err := filepath.Abs(filepath.Join("..", "..", "examples", "tasks", "breast-cancer"))
	if err != nil {
		b.Fatal(err)
	}
	read := func(name string) string {
		raw, err := os.ReadFile(filepath.Join(taskDir, "solutions", name))
		if err != nil {
			b.Fatal(err)
		}
		return string(raw)
	}
	fake := fakellm.New(fakellm.Script{
		"draft": {fakellm.JSON(engine.Draft{Plan: "baseline", Code: read("weak.py")})},
		"gradient": {fakellm.JSON(engine.Gradient{Analysis: "underfits",
			Challenges: []engine.Challenge{{Statement: "too simple", Evidence: "score", Category: "dataset-driven", MetricImpact: "large"}},
			Hypotheses: []engine.Hypothesis{{Challenge: 0, Statement: "use every feature", Component: "model",
				Scores: engine.Scores{Alignment: 9, Impact: 9, Novelty: 7, Feasibility: 9, RiskReward: 8}}}})},
		"update": {fakellm.JSON(engine.Update{Summary: "every feature", Code: read("strong.py")})},
	})
	defer fake.Close()
	home = b.TempDir()
	cmd := exec.Command(binary, "run", taskDir, "--steps", "3", "--home", home, "--json")
	cmd.Env = append(os.Environ(), "OPENAI_BASE_URL="+fake.BaseURL(), "OPENAI_API_KEY=sk-test", "GOME_MODEL=fake-model")
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("record a run: %v", err)
	}
	var rep engine.Report
	if err := json.Unmarshal(out, &rep); err != nil || rep.Steps != 3 {
		b.Fatalf("report %s: %v", out, err)
	}
	return home, rep.RunID
}

// latencies collects round-trip times and reports their percentiles.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	slices.Sort(l.d)
	pct := func(p float64) float64 {
		return float64(l.d[int(p*float64(len(l.d)-1))].Microseconds())
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

func getRunLoop(b *testing.B, ctx context.Context, cs *mcp.ClientSession, runID string, n int, lat *latencies) error {
	args := map[string]any{"run_id": runID}
	for range n {
		start := time.Now()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_run", Arguments: args})
		if err != nil {
			return err
		}
		if res.IsError {
			b.Errorf("get_run: %s", errorText(res))
		}
		lat.add(time.Since(start))
	}
	return nil
}

func BenchmarkGetRunStdio(b *testing.B) {
	home, runID := benchHome(b)
	ctx := context.Background()
	cmd := exec.Command(binary, "serve", "--home", home)
	client := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "test"}, nil)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer cs.Close()
	var lat latencies
	b.ResetTimer()
	if err := getRunLoop(b, ctx, cs, runID, b.N, &lat); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	lat.report(b)
}

func BenchmarkGetRunHTTP(b *testing.B) {
	home, runID := benchHome(b)
	ctx := context.Background()
	s := startHTTP(b, home, []string{"--http", "127.0.0.1:0"})
	cs := connectHTTP(b, ctx, s.url, s.token, "", nil)
	var lat latencies
	b.ResetTimer()
	if err := getRunLoop(b, ctx, cs, runID, b.N, &lat); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	lat.report(b)
}

// BenchmarkGetRunHTTP100Clients runs 100 clients at once, each with its own session, sharing
// b.N get_run calls; any failed call fails the benchmark.
func BenchmarkGetRunHTTP100Clients(b *testing.B) {
	const clients = 100
	home, runID := benchHome(b)
	ctx := context.Background()
	s := startHTTP(b, home, []string{"--http", "127.0.0.1:0"})
	transport := &http.Transport{MaxIdleConns: 2 * clients, MaxIdleConnsPerHost: 2 * clients, IdleConnTimeout: time.Minute}
	sessions := make([]*mcp.ClientSession, clients)
	for i := range sessions {
		client := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "test"}, nil)
		cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
			Endpoint: s.url, HTTPClient: &http.Client{Transport: bearer{token: s.token, base: transport}}, MaxRetries: -1,
		}, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer cs.Close()
		sessions[i] = cs
	}
	perClient := max(1, b.N/clients)
	var lat latencies
	errs := make(chan error, clients)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for _, cs := range sessions {
		wg.Go(func() {
			if err := getRunLoop(b, ctx, cs, runID, perClient, &lat); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatalf("a client failed: %v", err)
	}
	if len(lat.d) != clients*perClient {
		b.Fatalf("%d calls answered, want %d", len(lat.d), clients*perClient)
	}
	b.ReportMetric(float64(len(lat.d))/elapsed.Seconds(), "calls/s")
	lat.report(b)
}
