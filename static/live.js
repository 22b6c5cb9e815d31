// auditd — the /live tail. New events arrive over Server-Sent Events as
// server-rendered rows; while paused they are held and counted, and shown on
// resume. EventSource reconnects by itself and sends Last-Event-ID, so a
// dropped connection resumes exactly where it stopped.
(function () {
  "use strict";
  var feed = document.getElementById("live-feed");
  if (!feed || !window.EventSource) { return; }
  var MAX_ROWS = 500;
  var pauseBtn = document.getElementById("live-pause");
  var status = document.getElementById("live-status");
  var heldBox = document.getElementById("live-held");
  var heldCount = document.getElementById("live-held-count");
  var alertsBox = document.getElementById("live-alerts");
  var paused = false;
  var held = [];
  // The connection's own state; while paused an open feed says "paused"
  // (it still receives, and holds what it receives).
  var conn = { text: "connecting…", state: "connecting" };

  function setStatus(text, state) {
    conn = { text: text, state: state };
    renderStatus();
  }

  function renderStatus() {
    if (paused && conn.state === "open") {
      status.textContent = "paused";
      status.setAttribute("data-state", "paused");
      return;
    }
    status.textContent = paused ? "paused · " + conn.text : conn.text;
    status.setAttribute("data-state", conn.state);
  }

  function parse(html) {
    var t = document.createElement("template");
    t.innerHTML = html.trim();
    return t.content.firstElementChild;
  }

  function show(html) {
    var row = parse(html);
    if (!row) { return; }
    // A row the page already shows (a resumed connection) is not repeated.
    if (row.id && document.getElementById(row.id)) { return; }
    var empty = document.getElementById("live-empty");
    if (empty) { empty.remove(); }
    feed.insertBefore(row, feed.firstChild);
    if (window.auditd) { window.auditd.localizeTimes(row); }
    while (feed.children.length > MAX_ROWS) { feed.lastElementChild.remove(); }
  }

  function updateHeld() {
    heldCount.textContent = String(held.length);
    heldBox.hidden = held.length === 0;
  }

  pauseBtn.addEventListener("click", function () {
    paused = !paused;
    pauseBtn.textContent = paused ? "Resume" : "Pause";
    pauseBtn.setAttribute("aria-pressed", paused ? "true" : "false");
    if (!paused) {
      for (var i = 0; i < held.length; i++) { show(held[i]); }
      held = [];
    }
    updateHeld();
    renderStatus();
  });

  var es = new EventSource(feed.getAttribute("data-sse-url"));
  // Leaving the page: close the feed, or a page kept in the back/forward
  // cache holds its connection (see app.js).
  window.addEventListener("pagehide", function (e) { if (e.persisted) { es.close(); } });
  es.addEventListener("open", function () { setStatus("live", "open"); });
  es.addEventListener("error", function () { setStatus("reconnecting…", "error"); });
  es.addEventListener("event", function (e) {
    if (paused) { held.push(e.data); updateHeld(); } else { show(e.data); }
  });
  es.addEventListener("alert", function (e) {
    var banner = parse(e.data);
    if (banner) { alertsBox.insertBefore(banner, alertsBox.firstChild); }
  });
  if (window.auditd) { es.addEventListener("status", window.auditd.outage); }
  es.addEventListener("resync", function () {
    // Continuity is lost: start again from a fresh page.
    es.close();
    setStatus("resynchronising…", "resync");
    window.location.reload();
  });
})();
