// auditd — small progressive enhancements. The pages work without it.
(function () {
  "use strict";

  // A page kept in the back/forward cache keeps its EventSource open, and
  // HTTP/1.1 allows six connections per host: a few pages later the next
  // page waits for a connection for ever (its stylesheet never comes).
  // Leaving a page closes its live feeds (removing an sse-connect element
  // makes htmx's SSE extension close its source); a page restored from the
  // cache loads again, so its feeds reconnect and its counts are current.
  window.addEventListener("pagehide", function (e) {
    if (!e.persisted || !window.htmx) { return; }
    document.querySelectorAll("[sse-connect]").forEach(function (el) { htmx.remove(el); });
  });
  window.addEventListener("pageshow", function (e) {
    if (e.persisted) { window.location.reload(); }
  });

  // Show timestamps in the viewer's time zone; the UTC value stays in the
  // title attribute (hover).
  // ISO-like order (2026-03-01 02:00:03 CET) whatever the browser locale:
  // auditors compare timestamps across tools.
  var dtf = new Intl.DateTimeFormat("en-US", {
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short"
  });
  var fmt = {
    format: function (d) {
      var p = {};
      dtf.formatToParts(d).forEach(function (x) { p[x.type] = x.value; });
      return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + ":" + p.second + " " + (p.timeZoneName || "");
    }
  };
  function localizeTimes(root) {
    var nodes = (root || document).querySelectorAll("time.ts[datetime]:not([data-local])");
    for (var i = 0; i < nodes.length; i++) {
      var d = new Date(nodes[i].getAttribute("datetime"));
      if (!isNaN(d)) {
        nodes[i].textContent = fmt.format(d);
        nodes[i].setAttribute("data-local", "1");
      }
    }
  }

  // htmx sends the CSRF token from the page's meta tag on every request.
  document.addEventListener("htmx:configRequest", function (e) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { e.detail.headers["X-CSRF-Token"] = meta.getAttribute("content"); }
  });
  document.addEventListener("htmx:afterSettle", function (e) { localizeTimes(e.target); });
  document.addEventListener("htmx:sseMessage", function (e) { localizeTimes(e.target); });
  document.addEventListener("DOMContentLoaded", function () { localizeTimes(document); });

  // A feed's status message says the server lost or regained the database:
  // show or clear the outage banner (the one the server renders, same id
  // and text) without a reload.
  function outage(e) {
    var st;
    try { st = JSON.parse(e.data); } catch (err) { return; }
    var box = document.getElementById("banners");
    var b = document.getElementById("banner-outage");
    if (!box) { return; }
    if (st.status === "disconnected" && !b) {
      b = document.createElement("div");
      b.id = "banner-outage";
      b.className = "banner banner-danger";
      b.setAttribute("data-testid", "banner");
      b.setAttribute("role", "alert");
      b.textContent = st.message;
      box.insertBefore(b, box.firstChild);
    } else if (st.status === "connected" && b) {
      b.remove();
    }
  }
  document.addEventListener("htmx:sseOpen", function (e) { e.detail.source.addEventListener("status", outage); });
  // An outage's 503 page tries again by itself.
  document.addEventListener("DOMContentLoaded", function () {
    var retry = document.querySelector("[data-retry-after]");
    if (retry) { setTimeout(function () { window.location.reload(); }, 1000 * Number(retry.getAttribute("data-retry-after"))); }
  });
  window.auditd = { localizeTimes: localizeTimes, outage: outage };
})();
