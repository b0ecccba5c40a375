package ui

import (
	"bufio"
	"context"
	"crypto/subtle"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

const testToken = "test-token-0123456789abcdef"

func checkTestToken(tok string) bool {
	return subtle.ConstantTimeCompare([]byte(tok), []byte(testToken)) == 1
}

// serve starts the pages over src at base behind testToken.
func serve(t *testing.T, src Source, base string) (*Server, *httptest.Server) {
	t.Helper()
	s, err := New(src, Options{Base: base, CheckToken: checkTestToken})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.CloseClientConnections(); hs.Close() })
	return s, hs
}

// get fetches path with the bearer token and returns the body; it fails on any other status.
func get(t *testing.T, hs *httptest.Server, path string, want int) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, hs.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d: %s", path, res.StatusCode, want, b)
	}
	return string(b)
}

func count(s, sub string) int { return strings.Count(s, sub) }

func TestPagesShowRun(t *testing.T) {
	for _, base := range []string{"", "/ui"} {
		t.Run("base="+base, func(t *testing.T) {
			f := newFakeSource()
			populate(f)
			_, hs := serve(t, f, base)

			list := get(t, hs, base+"/", http.StatusOK)
			for _, want := range []string{"run-1", "breast-cancer", "running", "0.97", "5/12 steps", "3m20s of 1h0m0s", "2026-11-27 14:00 UTC"} {
				if !strings.Contains(list, want) {
					t.Errorf("runs list lacks %q", want)
				}
			}

			page := get(t, hs, base+"/runs/run-1", http.StatusOK)
			// The curve: a point per step (circles for scored steps, a cross for the failure)
			// and a best-so-far line per trace that has an accepted step.
			curve := between(t, page, `<svg id="curve"`, `</svg>`)
			if n := count(curve, `<circle`); n != 4 {
				t.Errorf("curve has %d scored points, want 4", n)
			}
			if n := count(curve, `class="point failed"`); n != 1 {
				t.Errorf("curve has %d failed points, want 1", n)
			}
			if n := count(curve, `class="best"`); n != 2 {
				t.Errorf("curve has %d best-so-far lines, want 2", n)
			}
			if !strings.Contains(curve, `data-step="run-1-t0-s1"`) || !strings.Contains(curve, base+`/runs/run-1?step=run-1-t0-s1`) {
				t.Errorf("curve points are not links to their steps:\n%s", curve)
			}
			// The tree: a node per step, an edge per parent link, the best step starred.
			tree := between(t, page, `<svg id="tree"`, `</svg>`)
			if n := count(tree, `class="node `); n != 5 {
				t.Errorf("tree has %d nodes, want 5", n)
			}
			if n := count(tree, `class="edge"`); n != 3 {
				t.Errorf("tree has %d edges, want 3", n)
			}
			if !strings.Contains(tree, "★ s1 0.97") {
				t.Errorf("tree does not star trace 0's best step:\n%s", tree)
			}
			if n := count(page, `<tr data-step=`); n != 5 {
				t.Errorf("steps table has %d rows, want 5", n)
			}
			// How the run is judged, and validation against holdout per step, overfitting flagged.
			if !strings.Contains(page, `<dd id="run-judge">by Gome, on 5 validation folds; hidden holdout of 40 rows</dd>`) {
				t.Errorf("run page does not say how the run is judged")
			}
			if !strings.Contains(page, `<dd id="run-analysis">binary classification, tabular; target: 1 = malignant</dd>`) || !strings.Contains(page, "train.csv 398 rows x 32 columns</dd>") {
				t.Errorf("run page does not show the task analysis and the data in short")
			}
			table := between(t, page, `<table class="steps" id="steps">`, `</table>`)
			if !strings.Contains(table, "<th title=") || !strings.Contains(table, `<td class="num holdout">0.955 <span class="overfit"`) || count(table, `class="overfit"`) != 1 {
				t.Errorf("steps table lacks the holdout column or the one overfitting flag:\n%s", table)
			}

			// A step opened from the page shows its gradient, the chosen hypothesis with its
			// five scores, the diff against its parent, logs, timings and the decision.
			for _, path := range []string{base + "/runs/run-1?step=run-1-t0-s1", base + "/runs/run-1/steps/run-1-t0-s1", base + "/runs/run-1/steps/run-1-t0-s1?fragment=1"} {
				step := html.UnescapeString(get(t, hs, path, http.StatusOK))
				for _, want := range []string{
					"Only bmi is used", "model.fit(X[['bmi']], y) in main.py", // a challenge and its evidence
					"Use every feature in a gradient-boosted model", "✔ chosen", "8.40", "Add polynomial features",
					`<span class="del">- model = LogisticRegression()</span>`, `<span class="add">+ model = GradientBoostingClassifier()</span>`,
					"loading data", "validation auc 0.97", "execution 31s", "accepted: improved the trace's best",
				} {
					if !strings.Contains(step, want) {
						t.Errorf("%s lacks %q", path, want)
					}
				}
				if n := count(step, `<tr class="chosen">`); n != 1 {
					t.Errorf("%s marks %d hypotheses chosen, want 1", path, n)
				}
				scores := regexp.MustCompile(`<tr class="chosen">.*?</tr>`).FindString(step)
				for _, v := range []string{">9<", ">7<", ">8<"} {
					if !strings.Contains(scores, v) {
						t.Errorf("chosen hypothesis row lacks score %s: %s", v, scores)
					}
				}
			}
			draft := get(t, hs, base+"/runs/run-1/steps/run-1-t0-s0?fragment=1", http.StatusOK)
			if !strings.Contains(draft, "a draft has no parent") || !strings.Contains(draft, "LogisticRegression") {
				t.Errorf("a draft's panel shows neither its code nor that it has no parent:\n%s", draft)
			}

			get(t, hs, base+"/runs/run-nope", http.StatusNotFound)
			get(t, hs, base+"/runs/run-1/steps/nope", http.StatusNotFound)
			css := get(t, hs, base+"/assets/style.css", http.StatusOK)
			if !strings.Contains(css, ".curve") {
				t.Error("style.css is not served from the embedded assets")
			}
		})
	}
}

func between(t *testing.T, s, from, to string) string {
	t.Helper()
	i := strings.Index(s, from)
	if i < 0 {
		t.Fatalf("page lacks %q", from)
	}
	j := strings.Index(s[i:], to)
	if j < 0 {
		t.Fatalf("page lacks %q after %q", to, from)
	}
	return s[i : i+j]
}

func TestTokenGivesCookie(t *testing.T) {
	f := newFakeSource()
	_, hs := serve(t, f, "/ui")
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	for _, path := range []string{"/ui/", "/ui/runs/run-1", "/ui/runs/run-1/events", "/ui/assets/app.js", "/ui/runs/run-1?token=wrong-token-wrong-token"} {
		res, err := plain.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), "token") {
			t.Errorf("GET %s without the token: %d %q, want 401 saying how to give the token", path, res.StatusCode, b)
		}
	}

	res, err := plain.Get(hs.URL + "/ui/runs/run-1?step=x&token=" + url.QueryEscape(testToken))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || loc != "/ui/runs/run-1?step=x" {
		t.Fatalf("token in the URL: %d to %q, want 303 to the same page without the token", res.StatusCode, loc)
	}
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == CookieName {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Value == testToken || cookie.Path != "/ui/" {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, path /ui/, not the token itself", cookie)
	}

	req, _ := http.NewRequest(http.MethodGet, hs.URL+"/ui/runs/run-1", nil)
	req.AddCookie(cookie)
	res, err = plain.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("with the cookie: %d, want 200", res.StatusCode)
	}

	// Another site's page cannot make the browser act: its POST has a foreign Origin.
	req, _ = http.NewRequest(http.MethodPost, hs.URL+"/ui/runs/run-1/stop", nil)
	req.AddCookie(cookie)
	req.Header.Set("Origin", "http://evil.example")
	res, err = plain.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || f.stops != 0 {
		t.Fatalf("cross-origin stop: %d, %d stops; want 403 and none", res.StatusCode, f.stops)
	}
}

func TestNewNeedsTokenCheck(t *testing.T) {
	if _, err := New(newFakeSource(), Options{}); err == nil || !strings.Contains(err.Error(), "CheckToken") {
		t.Fatalf("New without CheckToken: %v, want an error naming CheckToken", err)
	}
	if _, err := New(newFakeSource(), Options{Base: "ui", CheckToken: checkTestToken}); err == nil || !strings.Contains(err.Error(), "/ui") {
		t.Fatalf("New with base %q: %v, want an error suggesting /ui", "ui", err)
	}
}

func post(t *testing.T, hs *httptest.Server, path string, form url.Values) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, hs.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Requested-With", "test")
	res, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestButtonsCallActions(t *testing.T) {
	f := newFakeSource()
	_, hs := serve(t, f, "")
	tests := []struct {
		name   string
		path   string
		form   url.Values
		code   int
		says   string
		effect func() bool
	}{
		{"stop", "/runs/run-1/stop", nil, 200, "stop requested", func() bool { return f.stops == 1 && f.run.Status == "stopped" }},
		{"resume", "/runs/run-1/resume", nil, 200, "resumed", func() bool { return f.resumes == 1 && f.run.Status == "running" }},
		{"steer", "/runs/run-1/steer", url.Values{"text": {"try gradient boosting"}}, 200, "try gradient boosting", func() bool { return len(f.steers) == 1 && f.steers[0] == "try gradient boosting" }},
		{"empty steer", "/runs/run-1/steer", url.Values{"text": {"  "}}, 400, "steer needs a direction", func() bool { return len(f.steers) == 1 }},
		{"long steer", "/runs/run-1/steer", url.Values{"text": {strings.Repeat("x", maxSteerBytes+1)}}, 400, "keep it under", func() bool { return len(f.steers) == 1 }},
		{"unknown action", "/runs/run-1/explode", nil, 404, "use stop, resume or steer", func() bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := post(t, hs, tt.path, tt.form)
			if code != tt.code || !strings.Contains(body, tt.says) {
				t.Fatalf("%d %q, want %d saying %q", code, body, tt.code, tt.says)
			}
			if !tt.effect() {
				t.Fatalf("the action did not reach the source: %+v", f)
			}
		})
	}

	f.run.Status = "finished"
	if code, body := post(t, hs, "/runs/run-1/resume", nil); code != http.StatusConflict || !strings.Contains(body, "start a new run") {
		t.Errorf("resume of a finished run: %d %q, want 409 with the source's reason", code, body)
	}
	f.steerErr = fmt.Errorf("steer_run: %w", ErrUnsupported)
	if code, body := post(t, hs, "/runs/run-1/steer", url.Values{"text": {"x"}}); code != http.StatusNotImplemented || !strings.Contains(body, "not supported") {
		t.Errorf("steer on an engine without it: %d %q, want 501", code, body)
	}
}

func TestEventsAnnounceNewSteps(t *testing.T) {
	f := newFakeSource()
	populate(f)
	_, hs := serve(t, f, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hs.URL+"/runs/run-1/events", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := bufio.NewScanner(res.Body)
	next := func() string {
		t.Helper()
		for events.Scan() {
			if e, ok := strings.CutPrefix(events.Text(), "event: "); ok {
				return e
			}
		}
		t.Fatalf("stream ended: %v", events.Err())
		return ""
	}
	if e := next(); e != "version" {
		t.Fatalf("first event %q, want version", e)
	}
	f.add(1, "run-1-t1-s0", ptr(0.95), "accepted", strongCode)
	if e := next(); e != "change" {
		t.Fatalf("after a new step: event %q, want change", e)
	}
	page := get(t, hs, "/runs/run-1/live", http.StatusOK)
	if !strings.Contains(page, `data-step="run-1-t1-s2"`) {
		t.Fatal("the live fragment lacks the new step")
	}
}

func TestTreeShowsBranches(t *testing.T) {
	f := newFakeSource()
	populate(f)
	run, _ := f.Run(context.Background(), "run-1")
	tr := newTree(run)
	at := map[string]treeNode{}
	for _, n := range tr.Nodes {
		at[n.StepID] = n
	}
	draft, a, b := at["run-1-t0-s0"], at["run-1-t0-s1"], at["run-1-t0-s2"]
	if a.X != b.X || a.X <= draft.X {
		t.Errorf("siblings at x %v and %v, parent at %v: want siblings in one column right of their parent", a.X, b.X, draft.X)
	}
	if a.Y == b.Y || draft.Y != (a.Y+b.Y)/2 {
		t.Errorf("siblings at y %v and %v, parent at %v: want two branches with the parent between", a.Y, b.Y, draft.Y)
	}
	if !a.Best || b.Best || a.Class != "accepted" || b.Class != "rejected" {
		t.Errorf("nodes %+v %+v: want the accepted one marked best", a, b)
	}
}

func TestLineDiff(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want []string
	}{
		{"equal", "x\ny\n", "x\ny\n", nil},
		{"changed line", "a\nb\nc\n", "a\nB\nc\n", []string{"@@ line 1 → 1 @@", " a", "-b", "+B", " c"}},
		{"added at end", "a\n", "a\nb\n", []string{"@@ line 1 → 1 @@", " a", "+b"}},
		{"from empty", "", "a\n", []string{"@@ line 1 → 1 @@", "+a"}},
		{"far apart changes make two hunks", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "X\n2\n3\n4\n5\n6\n7\n8\n9\nY\n",
			[]string{"@@ line 1 → 1 @@", "-1", "+X", " 2", " 3", " 4", "@@ line 7 → 7 @@", " 7", " 8", " 9", "-10", "+Y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, l := range lineDiff(tt.a, tt.b) {
				if l.Op == '@' {
					got = append(got, l.Text)
				} else {
					got = append(got, string(l.Op)+l.Text)
				}
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
