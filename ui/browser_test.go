package ui

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gome-agent/gome/ui/uitest"
)

// waitFor is a JavaScript promise that resolves once pred (an expression) holds, re-checked on
// every change of the page: the test waits on the page's own signal, not on a clock.
func waitFor(pred string) string {
	return `new Promise(function (resolve) {
  function ok() { try { return !!(` + pred + `); } catch (e) { return false; } }
  if (ok()) return resolve(true);
  var obs = new MutationObserver(function () { if (ok()) { obs.disconnect(); resolve(true); } });
  obs.observe(document.documentElement, { childList: true, subtree: true, attributes: true, characterData: true });
})`
}

// screenshotDir is where screenshots go: GOME_UI_SCREENSHOTS when set (the README's pictures
// are made so), else the test's temporary folder.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("GOME_UI_SCREENSHOTS"); d != "" {
		return d
	}
	return t.TempDir()
}

func startBrowser(t *testing.T, ctx context.Context) *uitest.Browser {
	t.Helper()
	if testing.Short() {
		t.Skip("starts headless Chromium: skipped under -short")
	}
	if _, err := uitest.Find(); err != nil {
		t.Skipf("skipped: %v", err)
	}
	b, err := uitest.Start(ctx, 1280, 900)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// TestBrowserWatchesRun loads the runs list and a run page in headless Chromium over the fake
// source, opens a step, and sees a new step arrive without a reload.
func TestBrowserWatchesRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := startBrowser(t, ctx)
	f := newFakeSource()
	populate(f)
	_, hs := serve(t, f, "")
	shots := screenshotDir(t)

	check := func(what, expr string) {
		t.Helper()
		var ok bool
		if err := b.Eval(ctx, expr, &ok); err != nil || !ok {
			t.Errorf("%s: %s is %v (%v)", what, expr, ok, err)
		}
	}
	shot := func(name string, full bool) {
		t.Helper()
		png, err := b.Screenshot(ctx, full)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(shots, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s (%d bytes)", p, len(png))
	}

	// Without the token the browser gets the refusal, not the page.
	if err := b.Open(ctx, hs.URL+"/runs/run-1"); err != nil {
		t.Fatal(err)
	}
	check("page without the token", `document.getElementById("curve") === null && document.body.innerText.includes("token")`)

	if err := b.Open(ctx, hs.URL+"/?token="+url.QueryEscape(testToken)); err != nil {
		t.Fatal(err)
	}
	check("token left the address bar", `!location.search.includes("token")`)
	check("runs list", `document.querySelectorAll("#runs tbody tr").length === 1 && document.querySelector("#runs").innerText.includes("breast-cancer")`)
	shot("runs.png", false)

	// The cookie now admits the browser to the run page.
	if err := b.Open(ctx, hs.URL+"/runs/run-1"); err != nil {
		t.Fatal(err)
	}
	check("curve", `document.querySelectorAll("#curve circle").length === 4 && document.querySelectorAll("#curve path.best").length === 2`)
	check("tree", `document.querySelectorAll("#tree a.node").length === 5 && document.querySelectorAll("#tree path.edge").length === 3`)
	if err := b.Eval(ctx, waitFor(`document.body.dataset.live === "connected"`), nil); err != nil {
		t.Fatal(err)
	}

	// Clicking a node of the tree opens the step below without leaving the page.
	check("mark the page", `(window.notReloaded = true)`)
	if err := b.Eval(ctx, `document.querySelector('#tree a[data-step="run-1-t0-s1"]').dispatchEvent(new MouseEvent("click", {bubbles: true, cancelable: true})), true`, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Eval(ctx, waitFor(`document.querySelector("#step #gradient")`), nil); err != nil {
		t.Fatal(err)
	}
	check("gradient", `document.querySelector("#gradient").innerText.includes("Only bmi is used") && document.querySelector("#gradient tr.chosen").innerText.includes("gradient-boosted")`)
	check("diff", `document.querySelector("#diff .add").innerText.includes("GradientBoostingClassifier") && document.querySelector("#diff .del").innerText.includes("LogisticRegression")`)
	check("address names the step", `location.search === "?step=run-1-t0-s1"`)

	// A step recorded by the run appears through the event stream, without a reload.
	f.add(1, "run-1-t1-s0", ptr(0.95), "accepted", strongCode)
	if err := b.Eval(ctx, waitFor(`document.querySelector('#steps tr[data-step="run-1-t1-s2"]')`), nil); err != nil {
		t.Fatal(err)
	}
	check("no reload", `window.notReloaded === true`)
	check("new step on the curve and the tree", `document.querySelectorAll("#curve circle").length === 5 && document.querySelectorAll("#tree a.node").length === 6`)
	check("step panel kept", `document.querySelector("#step #gradient") !== null`)
	if err := b.Eval(ctx, `window.scrollTo(0, 0), true`, nil); err != nil {
		t.Fatal(err)
	}
	shot("run.png", true)
}
