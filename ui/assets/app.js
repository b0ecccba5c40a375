// The run page: live updates over server-sent events, step panels without reloading, and the
// stop / resume / steer buttons. Everything works without it too, by plain links and forms.
(function () {
  "use strict";
  var base = document.body.dataset.base || "";
  var live = document.getElementById("live");
  var panel = document.getElementById("step");
  var result = document.getElementById("action-result");
  if (!live) return;
  var runID = live.dataset.run;
  var runURL = base + "/runs/" + encodeURIComponent(runID);
  var openStep = new URLSearchParams(location.search).get("step") || "";

  function get(url) {
    return fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "gome" } }).then(function (r) {
      return r.text().then(function (t) { if (!r.ok) throw new Error(t.trim() || r.statusText); return t; });
    });
  }

  function showStep(id, push) {
    openStep = id;
    get(runURL + "/steps/" + encodeURIComponent(id) + "?fragment=1").then(function (html) {
      panel.innerHTML = html;
      mark();
      if (push) history.pushState({ step: id }, "", runURL + "?step=" + encodeURIComponent(id));
      panel.scrollIntoView({ behavior: "smooth", block: "start" });
    }).catch(function (e) { panel.textContent = e.message; });
  }

  function mark() {
    document.querySelectorAll("tr[data-step]").forEach(function (tr) {
      tr.classList.toggle("selected", tr.dataset.step === openStep);
    });
  }

  document.addEventListener("click", function (ev) {
    var el = ev.target.closest("[data-step]");
    if (!el || ev.ctrlKey || ev.metaKey || ev.shiftKey || el.closest("article.step") === el) return;
    ev.preventDefault();
    showStep(el.dataset.step, true);
  });
  window.addEventListener("popstate", function (ev) {
    if (ev.state && ev.state.step) showStep(ev.state.step, false);
  });

  function refresh() {
    return get(runURL + "/live").then(function (html) {
      var before = live.querySelectorAll("tr[data-step]").length;
      live.innerHTML = html;
      var rows = live.querySelectorAll("tr[data-step]");
      if (rows.length > before && rows[0]) rows[0].classList.add("flash");
      mark();
      document.body.dataset.version = String(Number(document.body.dataset.version || 0) + 1);
    });
  }

  if (window.EventSource) {
    var es = new EventSource(runURL + "/events?since=" + encodeURIComponent(live.dataset.version || "0"));
    es.addEventListener("version", function () { document.body.dataset.live = "connected"; });
    es.addEventListener("change", function () { refresh(); });
    es.addEventListener("problem", function (ev) { if (result) result.textContent = ev.data; });
    es.onerror = function () { document.body.dataset.live = "reconnecting"; };
  }

  document.querySelectorAll("#controls form").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = new URLSearchParams(new FormData(form));
      fetch(form.action, { method: "POST", body: body, credentials: "same-origin", headers: { "X-Requested-With": "gome" } })
        .then(function (r) { return r.text().then(function (t) { result.textContent = t.trim(); result.classList.toggle("error", !r.ok); }); })
        .then(refresh)
        .catch(function (e) { result.textContent = e.message; });
    });
  });
  mark();
})();
