package ui

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// appServer is an MCP server with stand-ins for the run tools over f and the App registered,
// and an in-process client connected to it.
func appServer(t *testing.T, ctx context.Context, f *fakeSource) *client.Client {
	t.Helper()
	s, err := New(f, Options{CheckToken: checkTestToken})
	if err != nil {
		t.Fatal(err)
	}
	ms := server.NewMCPServer("gome-test", "1", server.WithResourceCapabilities(false, false), server.WithToolCapabilities(false))
	ms.AddTool(mcp.NewTool("get_run", mcp.WithString("run_id"), mcp.WithNumber("wait_seconds")), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		id := req.GetString("run_id", "")
		if wait := req.GetFloat("wait_seconds", 0); wait > 0 {
			v, _ := f.Wait(ctx, id, 0)
			wctx, cancel := context.WithTimeout(ctx, time.Duration(wait*float64(time.Second)))
			f.Wait(wctx, id, v)
			cancel()
		}
		run, err := f.Run(ctx, id)
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		steps := []map[string]any{}
		for _, st := range run.Steps {
			steps = append(steps, map[string]any{"trace": st.Trace, "index": st.Index, "kind": st.Kind, "score": st.Score, "decision": st.Decision, "hypothesis": st.Hypothesis})
		}
		return mcp.NewToolResultStructured(map[string]any{"run_id": run.ID, "task_id": run.Task, "status": run.Status, "active": run.Active, "steps": steps}, "run "+run.Status), nil
	})
	ms.AddTool(mcp.NewTool("stop_run", mcp.WithString("run_id")), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		f.Stop(ctx, req.GetString("run_id", ""))
		return mcp.NewToolResultText("stopped"), nil
	})
	if err := s.RegisterMCP(ms); err != nil {
		t.Fatal(err)
	}
	c, err := client.NewInProcessClient(ms)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{ProtocolVersion: mcp.LATEST_PROTOCOL_VERSION, ClientInfo: mcp.Implementation{Name: "test", Version: "1"}}}); err != nil {
		t.Fatal(err)
	}
	return c
}

func readText(t *testing.T, ctx context.Context, c *client.Client, uri string) mcp.TextResourceContents {
	t.Helper()
	res, err := c.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: uri}})
	if err != nil {
		t.Fatalf("read %s: %v", uri, err)
	}
	if len(res.Contents) != 1 {
		t.Fatalf("read %s: %d contents", uri, len(res.Contents))
	}
	tc, ok := res.Contents[0].(mcp.TextResourceContents)
	if !ok {
		t.Fatalf("read %s: %T, want text", uri, res.Contents[0])
	}
	return tc
}

// external finds anything in an HTML document that would load from elsewhere.
var external = regexp.MustCompile(`(?i)(?:^|[\s"'<])(?:src|href|action|srcset|poster)\s*=|url\(|@import|https?://|//[a-z0-9.-]+\.[a-z]{2,}/`)

func TestAppResource(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := newFakeSource()
	populate(f)
	c := appServer(t, ctx, f)

	app := readText(t, ctx, c, AppURI)
	if app.MIMEType != "text/html;profile=mcp-app" || !strings.HasPrefix(app.Text, "<!DOCTYPE html>") {
		t.Fatalf("app resource: type %q, starts %.40q; want text/html;profile=mcp-app and an HTML document", app.MIMEType, app.Text)
	}
	if m := external.FindAllString(app.Text, -1); len(m) > 0 {
		t.Errorf("the app refers to outside resources %q: everything must be inlined from the embedded assets", m)
	}
	css, _ := assets.ReadFile("assets/style.css")
	js, _ := assets.ReadFile("assets/mcpapp.js")
	if !strings.Contains(app.Text, string(css[:200])) || !strings.Contains(app.Text, "ui/initialize") || len(js) == 0 {
		t.Error("the app does not inline the embedded style and script")
	}

	list, err := c.ListResources(ctx, mcp.ListResourcesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, r := range list.Resources {
		listed = listed || (r.URI == AppURI && r.MIMEType == AppMIMEType)
	}
	if !listed {
		t.Errorf("resources/list lacks %s with type %s: %+v", AppURI, AppMIMEType, list.Resources)
	}

	tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools.Tools {
		raw, _ := json.Marshal(tool)
		var meta struct {
			Meta struct {
				UI struct {
					ResourceURI string `json:"resourceUri"`
				} `json:"ui"`
			} `json:"_meta"`
		}
		json.Unmarshal(raw, &meta)
		want := ""
		if tool.Name == "get_run" {
			want = AppURI
		}
		if meta.Meta.UI.ResourceURI != want {
			t.Errorf("tool %s: _meta.ui.resourceUri %q, want %q (%s)", tool.Name, meta.Meta.UI.ResourceURI, want, raw)
		}
	}

	view := readText(t, ctx, c, "gome://runs/run-1/view")
	if !strings.Contains(view.Text, `<svg id="curve"`) || !strings.Contains(view.Text, `<svg id="tree"`) || strings.Contains(view.Text, "<html") {
		t.Errorf("run view fragment lacks the curve or the tree, or is a whole page:\n%.300s", view.Text)
	}
	step := readText(t, ctx, c, "gome://runs/run-1/steps/run-1-t0-s1/view")
	if !strings.Contains(step.Text, "Only bmi is used") || !strings.Contains(step.Text, "GradientBoostingClassifier") {
		t.Errorf("step view fragment lacks the gradient or the diff:\n%.300s", step.Text)
	}
	if _, err := c.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: "gome://runs/run-nope/view"}}); err == nil || !strings.Contains(err.Error(), "run-nope") {
		t.Errorf("view of an unknown run: %v, want an error naming it", err)
	}
}

// hostPage plays the chat client: it loads the App into a sandboxed iframe, answers its
// handshake, tells it the tool's run_id, and forwards its resources/read and tools/call to the
// MCP server through /rpc.
const hostPage = `<!DOCTYPE html><html><body style="margin:0">
<iframe id="app" sandbox="allow-scripts allow-same-origin" style="width:1260px;height:1400px;border:0"></iframe>
<script>
var frame = document.getElementById("app");
window.addEventListener("message", function (ev) {
  document.body.dataset.messages = Number(document.body.dataset.messages || 0) + 1; // wakes the test's waits
  var m = ev.data, reply = function (result, error) { frame.contentWindow.postMessage(error ? {jsonrpc: "2.0", id: m.id, error: {code: -32000, message: error}} : {jsonrpc: "2.0", id: m.id, result: result}, "*"); };
  if (m.method === "ui/initialize") return reply({protocolVersion: "2026-01-26", hostInfo: {name: "test-host", version: "1"}, hostCapabilities: {serverTools: {}, serverResources: {}}, hostContext: {}});
  if (m.method === "ui/notifications/initialized") {
    window.appInitialized = true;
    return frame.contentWindow.postMessage({jsonrpc: "2.0", method: "ui/notifications/tool-input", params: {arguments: {run_id: "run-1"}}}, "*");
  }
  if (m.method === "ui/notifications/size-changed") { window.appHeight = m.params.height; return; }
  if (m.method === "resources/read" && location.search === "?no-resources") return reply(null, "resources/read is not supported by this host");
  if (m.method === "resources/read" || m.method === "tools/call") {
    window.calls = (window.calls || []).concat([m.method + " " + (m.params.uri || m.params.name)]);
    fetch("/rpc", {method: "POST", body: JSON.stringify({method: m.method, params: m.params})})
      .then(function (r) { return r.json().then(function (j) { r.ok ? reply(j) : reply(null, j.error); }); });
  }
});
fetch("/app").then(function (r) { return r.text(); }).then(function (html) { frame.srcdoc = html; });
</script></body></html>`

// TestAppInChromium renders the App inside a stand-in chat client in headless Chromium: it
// shows the run, opens a step, follows a new step, and its Stop button calls stop_run.
func TestAppInChromium(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := startBrowser(t, ctx)
	f := newFakeSource()
	populate(f)
	c := appServer(t, ctx, f)
	app := readText(t, ctx, c, AppURI).Text

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(hostPage)) })
	mux.HandleFunc("GET /app", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(app)) })
	mux.HandleFunc("POST /rpc", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		var out any
		var err error
		switch req.Method {
		case "resources/read":
			var p mcp.ReadResourceParams
			json.Unmarshal(req.Params, &p)
			out, err = c.ReadResource(r.Context(), mcp.ReadResourceRequest{Params: p})
		case "tools/call":
			var p mcp.CallToolParams
			json.Unmarshal(req.Params, &p)
			out, err = c.CallTool(r.Context(), mcp.CallToolRequest{Params: p})
		}
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		json.NewEncoder(w).Encode(out)
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(func() { hs.CloseClientConnections(); hs.Close() })

	if err := b.Open(ctx, hs.URL+"/"); err != nil {
		t.Fatal(err)
	}
	// d is the App's document: the test reads it as the chat client's page could, and every
	// message the App sends wakes the waits.
	const d = `document.getElementById("app").contentDocument`
	if err := b.Eval(ctx, waitFor(d+`.querySelectorAll("#curve circle").length === 4 && window.appHeight > 300`), nil); err != nil {
		t.Fatal(err)
	}
	for _, expr := range []string{
		d + `.querySelectorAll("#tree a.node").length === 5`,
		d + `.getElementById("run-status").innerText.includes("running")`,
	} {
		var ok bool
		if err := b.Eval(ctx, expr, &ok); err != nil || !ok {
			t.Errorf("%s is %v (%v)", expr, ok, err)
		}
	}
	if err := b.Eval(ctx, d+`.querySelector('#tree a[data-step="run-1-t0-s1"]').dispatchEvent(new MouseEvent("click", {bubbles: true, cancelable: true})), true`, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Eval(ctx, waitFor(d+`.querySelector("#step #gradient tr.chosen") && `+d+`.querySelector("#diff .add")`), nil); err != nil {
		t.Fatal(err)
	}
	var calls []string
	if err := b.Eval(ctx, `window.calls`, &calls); err != nil {
		t.Fatal(err)
	}
	t.Logf("the App asked: %q", calls)
	png, err := b.Screenshot(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	shot := screenshotDir(t) + "/app.png"
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", shot)
	// It waits for news with get_run, and a new step makes it read the view again.
	if err := b.Eval(ctx, waitFor(`window.calls.indexOf("tools/call get_run") >= 0`), nil); err != nil {
		t.Fatal(err)
	}
	f.add(1, "run-1-t1-s0", ptr(0.95), "accepted", strongCode)
	if err := b.Eval(ctx, waitFor(d+`.querySelectorAll("#tree a.node").length === 6`), nil); err != nil {
		t.Fatal(err)
	}
	// Its Stop button calls stop_run through the client.
	if err := b.Eval(ctx, d+`.getElementById("stop").click(), true`, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Eval(ctx, waitFor(d+`.getElementById("run-status").innerText.includes("stopped")`), nil); err != nil {
		t.Fatal(err)
	}
	if f.stops != 1 {
		t.Errorf("stop_run called %d times, want 1", f.stops)
	}

	// A host that does not pass resources/read on still gets the steps, as text.
	if err := b.Open(ctx, hs.URL+"/?no-resources"); err != nil {
		t.Fatal(err)
	}
	if err := b.Eval(ctx, waitFor(d+`.querySelectorAll("#live table tr").length === 7 && `+d+`.querySelector("#live h1").innerText.includes("breast-cancer")`), nil); err != nil {
		t.Fatal(err)
	}
}
