// auditd — small progressive enhancements. The pages work without it.
(function () {
  "use strict";

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
  window.auditd = { localizeTimes: localizeTimes };
})();
