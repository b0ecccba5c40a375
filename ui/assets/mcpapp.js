// The MCP App: the run view inside a chat client. It speaks JSON-RPC with the host over
// postMessage (MCP Apps, SEP-1865): the host tells it which run (the tool's run_id), and it
// reads the server-rendered view as a resource, waits for news with get_run, and calls the
// stop_run, resume_run and steer_run tools for the buttons.
(function () {
  "use strict";
  var nextId = 1, pending = {}, runID = "", stepID = "", closed = false, looping = false;
  var live = document.getElementById("live"), panel = document.getElementById("step"), result = document.getElementById("action-result");

  function request(method, params) {
    var id = nextId++;
    window.parent.postMessage({ jsonrpc: "2.0", id: id, method: method, params: params || {} }, "*");
    return new Promise(function (resolve, reject) { pending[id] = { resolve: resolve, reject: reject }; });
  }
  function notify(method, params) {
    window.parent.postMessage({ jsonrpc: "2.0", method: method, params: params || {} }, "*");
  }
  function say(text, bad) { result.textContent = text; result.classList.toggle("error", !!bad); }

  window.addEventListener("message", function (ev) {
    var m = ev.data;
    if (!m || m.jsonrpc !== "2.0") return;
    if (m.id != null && !m.method) {
      var p = pending[m.id];
      if (!p) return;
      delete pending[m.id];
      if (m.error) p.reject(new Error(m.error.message || "request failed")); else p.resolve(m.result);
      return;
    }
    switch (m.method) {
      case "ui/notifications/tool-input":
        follow(m.params && m.params.arguments && m.params.arguments.run_id);
        break;
      case "ui/notifications/tool-result":
        var sc = m.params && m.params.structuredContent;
        if (sc && sc.steps) last = sc;
        if (sc && sc.run_id) follow(sc.run_id);
        break;
      case "ui/resource-teardown":
        closed = true;
        window.parent.postMessage({ jsonrpc: "2.0", id: m.id, result: {} }, "*");
        break;
    }
  });

  function text(res) {
    var c = res && res.contents && res.contents[0];
    return c ? c.text || "" : "";
  }
  function toolText(res) {
    return ((res && res.content) || []).map(function (c) { return c.text || ""; }).join(" ");
  }
  function resize() {
    var d = document.documentElement;
    notify("ui/notifications/size-changed", { width: d.scrollWidth, height: d.scrollHeight });
  }
  var last = null; // the latest run as get_run returned it, for hosts that cannot read resources
  function render() {
    return request("resources/read", { uri: "gome://runs/" + encodeURIComponent(runID) + "/view" }).then(function (res) {
      live.innerHTML = text(res);
      resize();
    }, function (e) {
      if (!last) throw e;
      plain(last);
    });
  }
  // plain shows what get_run returned, as text, where the host does not pass resources/read on.
  function plain(run) {
    var el = function (tag, txt) { var n = document.createElement(tag); if (txt != null) n.textContent = txt; return n; };
    live.textContent = "";
    live.appendChild(el("h1", (run.task_id || run.run_id) + " — " + run.status));
    var table = el("table"), head = el("tr");
    ["Trace", "Step", "Kind", "Score", "Decision", "Hypothesis / reason"].forEach(function (h) { head.appendChild(el("th", h)); });
    table.appendChild(head);
    (run.steps || []).slice().reverse().forEach(function (s) {
      var tr = el("tr");
      [s.trace, s.index, s.kind, s.score == null ? "—" : String(s.score), s.decision, s.hypothesis || s.reason || ""].forEach(function (v) { tr.appendChild(el("td", String(v))); });
      table.appendChild(tr);
    });
    live.appendChild(table);
    resize();
  }
  function showStep(id) {
    stepID = id;
    request("resources/read", { uri: "gome://runs/" + encodeURIComponent(runID) + "/steps/" + encodeURIComponent(id) + "/view" })
      .then(function (res) { panel.innerHTML = text(res); resize(); })
      .catch(function (e) { panel.textContent = e.message; });
  }
  function follow(id) {
    if (!id || id === runID) return;
    runID = id;
    render().catch(function () {}).then(function () { loop(0); });
  }
  // loop waits for the run's next step with get_run and renders it, until the run ends.
  function loop(wait) {
    if (looping || closed) return;
    looping = true;
    request("tools/call", { name: "get_run", arguments: { run_id: runID, wait_seconds: wait === 0 ? 0 : 40 } }).then(function (res) {
      looping = false;
      var sc = (res && res.structuredContent) || {};
      if (sc.steps) last = sc;
      return render().then(function () {
        if (sc.status === "running" || sc.active || wait === 0) loop();
      });
    }).catch(function (e) { looping = false; say(e.message, true); });
  }

  document.addEventListener("click", function (ev) {
    var el = ev.target.closest("[data-step]");
    if (el && el.closest("article.step") !== el) { ev.preventDefault(); showStep(el.dataset.step); return; }
    var b = ev.target.closest("button[data-action]");
    if (b && runID) {
      request("tools/call", { name: b.dataset.action, arguments: { run_id: runID } }).then(function (res) {
        say(toolText(res) || "done", res && res.isError);
        return render().then(function () { loop(0); });
      }).catch(function (e) { say(e.message, true); });
    }
  });
  document.getElementById("steer-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var t = document.getElementById("steer-text").value.trim();
    if (!t || !runID) return;
    request("tools/call", { name: "steer_run", arguments: { run_id: runID, text: t } })
      .then(function (res) { say(toolText(res) || "steered", res && res.isError); })
      .catch(function (e) { say(e.message, true); });
  });

  request("ui/initialize", {
    protocolVersion: "2026-01-26",
    appInfo: { name: "gome-run", version: "1" },
    appCapabilities: { availableDisplayModes: ["inline", "fullscreen"] }
  }).then(function () { notify("ui/notifications/initialized"); }).catch(function (e) { say(e.message, true); });
})();
