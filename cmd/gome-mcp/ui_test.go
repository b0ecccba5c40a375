package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httputil"
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

	"github.com/gome-agent/gome/internal/fakellm"
	"github.com/gome-agent/gome/tools"
	"github.com/gome-agent/gome/ui"
	"github.com/gome-agent/gome/ui/uitest"
)

// gatedModel serves the fake model's replies but holds every update request until open is
// closed: the test decides when a run may take its next step.
func gatedModel(t *testing.T, fake *fakellm.Server) (baseURL string, open func()) {
	t.Helper()
	gate := make(chan struct{})
	target, _ := url.Parse(fake.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte(`"name":"update"`)) {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	var once sync.Once
	return "http://" + ln.Addr().String() + "/v1", func() { once.Do(func() { close(gate) }) }
}

// waitFor is a JavaScript promise that resolves once pred holds, re-checked on every change of
// the page.
func waitFor(pred string) string {
	return `new Promise(function (resolve) {
  function ok() { try { return !!(` + pred + `); } catch (e) { return false; } }
  if (ok()) return resolve(true);
  var obs = new MutationObserver(function () { if (ok()) { obs.disconnect(); resolve(true); } });
  obs.observe(document.documentElement, { childList: true, subtree: true, attributes: true, characterData: true });
})`
}

// TestWatchRealRunInBrowser runs an optimization over a fake model with `serve --http` and
// watches it in headless Chromium: the runs list, the run page with its curve, tree and a step's
// gradient and diff, and a step that arrives while the page is open. The screenshots it takes
// are the README's (GOME_UI_SCREENSHOTS=docs/img writes them there).
func TestWatchRealRunInBrowser(t *testing.T) {
	endToEnd(t)
	if _, err := uitest.Find(); err != nil {
		t.Skipf("skipped: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	taskDir := exampleTask(t, "breast-cancer")
	fake := fakellm.New(improvingScript(t, taskDir))
	defer fake.Close()
	model, openGate := gatedModel(t, fake)
	defer openGate()
	home := t.TempDir()
	const token = "ui-test-token-0123456789"
	s := startHTTP(t, home, []string{"--http", "127.0.0.1:0"}, "GOME_TOKEN="+token, "GOME_SANDBOX=local",
		"OPENAI_BASE_URL="+model, "OPENAI_API_KEY=sk-test-secret", "GOME_MODEL=fake-model")
	pages := strings.TrimSuffix(s.url, "/mcp") + "/ui/"
	if !strings.Contains(s.log(), "watch runs at "+pages+"?token=") {
		t.Errorf("serve --http does not say where the pages are:\n%s", s.log())
	}
	cs := connectHTTP(t, ctx, s.url, token, "", nil)

	// The MCP App: get_run, plot_run and start_run point to it, and it is served as an App.
	list, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range list.Tools {
		uiMeta, _ := tool.Meta["ui"].(map[string]any)
		pointed := uiMeta["resourceUri"] == ui.AppURI
		if want := tool.Name == "get_run" || tool.Name == "plot_run" || tool.Name == "start_run"; pointed != want {
			t.Errorf("tool %s: _meta %v; want ui.resourceUri %s: %v", tool.Name, tool.Meta, ui.AppURI, want)
		}
	}
	app, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: ui.AppURI})
	if err != nil {
		t.Fatal(err)
	}
	if c := app.Contents[0]; c.MIMEType != "text/html;profile=mcp-app" || !strings.HasPrefix(c.Text, "<!DOCTYPE html>") || regexp.MustCompile(`(?i)https?://|\ssrc\s*=|\shref\s*=`).MatchString(c.Text) {
		t.Errorf("app resource: type %q, %d bytes; want text/html;profile=mcp-app referring to nothing outside", c.MIMEType, len(c.Text))
	}

	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "start_run", Arguments: map[string]any{"task": taskDir, "traces": 2, "max_steps": 3, "no_debug": true, "exec_timeout_seconds": 120}})
	if err != nil || res.IsError {
		t.Fatalf("start_run: %v %s", err, errorText(res))
	}
	started := structured[tools.StartRunOutput](t, res)
	runPage := pages + "runs/" + started.RunID
	if !strings.Contains(errorText(res), "Watch it live in a browser: "+runPage) {
		t.Errorf("start_run's result does not link to %s: %s", runPage, errorText(res))
	}

	// Both traces draft; the updates wait at the gate.
	var v tools.RunView
	for len(v.Steps) < 2 {
		r, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_run", Arguments: map[string]any{"run_id": started.RunID, "wait_seconds": 40}})
		if err != nil || r.IsError {
			t.Fatalf("get_run: %v %s", err, errorText(r))
		}
		v = structured[tools.RunView](t, r)
		if v.Status != "running" {
			t.Fatalf("run ended early: %+v", v)
		}
	}

	// Without the token the pages are refused; the MCP endpoint still wants the bearer.
	for _, u := range []string{pages, runPage, runPage + "/events"} {
		r, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without the token: %d, want 401", u, r.StatusCode)
		}
	}
	if r, err := http.Post(s.url, "application/json", strings.NewReader(`{}`)); err != nil {
		t.Fatal(err)
	} else if r.Body.Close(); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /mcp without the bearer: %d, want 401", r.StatusCode)
	}

	b, err := uitest.Start(ctx, 1280, 860)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	shots := os.Getenv("GOME_UI_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	check := func(what, expr string) {
		t.Helper()
		var ok bool
		if err := b.Eval(ctx, expr, &ok); err != nil || !ok {
			t.Errorf("%s: %s is %v (%v)", what, expr, ok, err)
		}
	}
	wait := func(expr string) {
		t.Helper()
		if err := b.Eval(ctx, waitFor(expr), nil); err != nil {
			t.Fatalf("waiting for %s: %v", expr, err)
		}
	}
	shot := func(name string) {
		t.Helper()
		png, err := b.Screenshot(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s (%d KiB)", filepath.Join(shots, name), len(png)>>10)
	}

	if err := b.Open(ctx, runPage+"?token="+url.QueryEscape(token)); err != nil {
		t.Fatal(err)
	}
	check("two drafts on the page", `document.querySelectorAll("#steps tr[data-step]").length === 2`)
	wait(`document.body.dataset.live === "connected"`)
	check("mark the page", `(window.notReloaded = true)`)

	// The run takes its next steps; they appear without a reload.
	openGate()
	wait(`document.querySelectorAll("#steps tr[data-step]").length >= 3`)
	check("no reload", `window.notReloaded === true`)
	v = waitRun(t, ctx, cs, started.RunID)
	if v.Status != "finished" || v.TotalSteps != 6 {
		t.Fatalf("run %s with %d steps, want finished with 6", v.Status, v.TotalSteps)
	}
	wait(`document.getElementById("run-status").innerText.includes("finished") && document.querySelectorAll("#steps tr[data-step]").length === 6`)
	check("no reload", `window.notReloaded === true`)
	check("curve", `document.querySelectorAll("#curve .point").length === 6 && document.querySelectorAll("#curve path.best").length === 2`)
	check("tree", `document.querySelectorAll("#tree a.node").length === 6 && document.querySelectorAll("#tree path.edge").length === 4`)
	shot("run.png")

	improve := v.Steps[0].ID
	for _, st := range v.Steps {
		if st.Kind == "improve" && st.Decision == "accepted" {
			improve = st.ID
			break
		}
	}
	if err := b.Eval(ctx, `document.querySelector('#tree a[data-step="`+improve+`"]').dispatchEvent(new MouseEvent("click", {bubbles: true, cancelable: true})), true`, nil); err != nil {
		t.Fatal(err)
	}
	wait(`document.querySelector("#step #gradient")`)
	check("gradient", `document.querySelector("#gradient").innerText.includes("The model is too simple") && document.querySelector("#gradient").innerText.includes("validation score") && document.querySelector("#gradient tr.chosen").innerText.includes("stronger model")`)
	strong := readFile(t, filepath.Join(taskDir, "solutions", "strong.py"))
	added := ""
	for _, line := range strings.Split(strong, "\n") {
		if strings.TrimSpace(line) != "" && !strings.Contains(readFile(t, filepath.Join(taskDir, "solutions", "weak.py")), line) {
			added = strings.TrimSpace(line)
			break
		}
	}
	if added == "" {
		t.Fatal("strong.py adds no line to weak.py: the diff check has nothing to look for")
	}
	lit, _ := json.Marshal(added)
	check("diff", `Array.from(document.querySelectorAll("#diff .add")).some(function (e) { return e.innerText.includes(`+string(lit)+`); }) && document.querySelectorAll("#diff .del").length > 0`)
	check("timings and decision", `document.getElementById("timings").innerText.includes("execution") && document.getElementById("step-reason").innerText.includes("accepted")`)
	png, err := b.ScreenshotOf(ctx, "#step")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(shots, "step.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}

	if err := b.Open(ctx, pages); err != nil {
		t.Fatal(err)
	}
	check("runs list", `document.querySelector('#runs tr[data-run="`+started.RunID+`"]').innerText.includes("finished")`)
	shot("runs.png")
}

// TestUICommand serves the pages with `gome-mcp ui` over a home where a run was recorded by
// `gome-mcp run`, whose output links to the page.
func TestUICommand(t *testing.T) {
	endToEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	taskDir := exampleTask(t, "breast-cancer")
	fake := fakellm.New(improvingScript(t, taskDir))
	defer fake.Close()
	home := t.TempDir()
	env := append(os.Environ(), "GOME_SANDBOX=local", "OPENAI_BASE_URL="+fake.BaseURL(), "OPENAI_API_KEY=sk-test-secret", "GOME_MODEL=fake-model", "GOME_TOKEN=")
	runCmd := exec.CommandContext(ctx, binary, "run", taskDir, "--home", home, "--steps", "2", "--no-debug", "--ui", "127.0.0.1:0")
	runCmd.Env = env
	var stderr bytes.Buffer
	runCmd.Stderr = &stderr
	if out, err := runCmd.Output(); err != nil {
		t.Fatalf("gome-mcp run: %v\n%s\n%s", err, out, stderr.String())
	}
	link := regexp.MustCompile(`Watch it live: (http://127\.0\.0\.1:\d+/runs/(run-\S+))`).FindStringSubmatch(stderr.String())
	if link == nil || !regexp.MustCompile(`watch runs at http://127\.0\.0\.1:\d+/\?token=\S{20,}`).MatchString(stderr.String()) {
		t.Fatalf("gome-mcp run --ui printed no link to the run page and the token:\n%s", stderr.String())
	}
	runID := link[2]

	uiCmd := exec.Command(binary, "ui", "--home", home, "--addr", "127.0.0.1:0")
	uiCmd.Env = env
	pr, pw := io.Pipe()
	uiCmd.Stderr = pw
	if err := uiCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { uiCmd.Process.Signal(os.Interrupt); uiCmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := regexp.MustCompile(`watch runs at (http://\S+\?token=\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	var entry string
	select {
	case entry = <-found:
	case <-ctx.Done():
		t.Fatal("gome-mcp ui printed no address")
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	r, err := client.Get(entry)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusOK || !strings.Contains(string(body), runID) || strings.Contains(r.Request.URL.RawQuery, "token") {
		t.Fatalf("runs list through the token link: %d, lists %s: %v, final URL %s", r.StatusCode, runID, strings.Contains(string(body), runID), r.Request.URL)
	}
	page, _ := url.Parse(entry)
	page.Path, page.RawQuery = "/runs/"+runID, ""
	r, err = client.Get(page.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusOK || !strings.Contains(string(body), `<svg id="curve"`) || !strings.Contains(string(body), `<svg id="tree"`) {
		t.Fatalf("run page with the cookie: %d\n%.400s", r.StatusCode, body)
	}
	// The steer button records a note through the engine, as steer_run does.
	req, _ := http.NewRequest(http.MethodPost, strings.Replace(page.String(), "/runs/"+runID, "/runs/"+runID+"/steer", 1), strings.NewReader("text=try+boosting"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Requested-With", "test")
	r, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusOK || !strings.Contains(string(body), "try boosting") {
		t.Errorf("steer: %d %q, want 200 naming the note", r.StatusCode, body)
	}
}
