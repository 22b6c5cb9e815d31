// auditd — a timeline's live appends. The feed's row is the log's generic
// one; this script fetches the same event as the timeline renders it (with
// its "what changed" line, from the server's one fold), and moves the
// header count, the slider and the state panel with it when the reader is
// at the latest version. Without script the row still arrives, bare.
(function () {
  "use strict";

  function init() {
    var list = document.querySelector("[data-testid=live] #timeline");
    var box = document.querySelector("[data-testid=timetravel]");
    if (!list || !box || !window.fetch || !window.DOMParser) { return; }
    var base = box.getAttribute("data-state-url"); // /streams/{id}/state
    var page = base.replace(/\/state$/, "");
    var slider = box.querySelector("[data-testid=version-slider]");
    var output = box.querySelector("[data-testid=slider-value]");
    var jump = document.querySelector("[data-testid=jump-version]");

    // The stream's newest version as the page shows it.
    function shownVersion() { return parseInt(box.getAttribute("data-max-version"), 10) || 0; }

    function advance(version, doc) {
      if (version <= shownVersion()) { return; }
      var atLatest = slider ? parseInt(slider.value, 10) >= shownVersion() : true;
      box.setAttribute("data-max-version", String(version));
      var meta = doc.querySelector("[data-testid=stream-meta]");
      var mine = document.querySelector("[data-testid=stream-meta]");
      if (meta && mine) {
        mine.innerHTML = meta.innerHTML;
        if (window.htmx) { window.htmx.process(mine); }
        if (window.auditd) { window.auditd.localizeTimes(mine); }
      }
      if (jump) { jump.max = String(version); }
      if (!slider) { return; }
      slider.max = String(version);
      if (atLatest) {
        slider.value = String(version);
        if (output) { output.textContent = String(version); }
        if (window.htmx) {
          window.htmx.ajax("GET", base + "?version=" + version, { target: "#state-panel", swap: "innerHTML" });
        }
      }
    }

    // A live row: replace it with the timeline's own rendering of it.
    function enrich(row) {
      var version = parseInt(row.getAttribute("data-version"), 10);
      if (!version || row.getAttribute("data-enriched")) { return; }
      row.setAttribute("data-enriched", "pending");
      fetch(page + "?after=" + (version - 1) + "&limit=1", { headers: { Accept: "text/html" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById(row.id);
          if (fresh && row.parentNode) {
            fresh.classList.add("event-new");
            fresh.setAttribute("data-enriched", "done");
            row.replaceWith(fresh);
            if (window.htmx) { window.htmx.process(fresh); }
            if (window.auditd) { window.auditd.localizeTimes(fresh); }
          } else {
            row.setAttribute("data-enriched", "done");
          }
          advance(version, doc);
        })
        .catch(function () { row.setAttribute("data-enriched", "failed"); });
    }

    new MutationObserver(function (records) {
      records.forEach(function (rec) {
        rec.addedNodes.forEach(function (n) {
          if (n.nodeType === 1 && n.classList.contains("event-row") && n.classList.contains("event-new")) { enrich(n); }
        });
      });
    }).observe(list, { childList: true });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
