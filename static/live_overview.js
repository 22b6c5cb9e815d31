// auditd — the overview refreshes its body (totals, newest events, type
// tables) as events commit; keep the payloads a reader expanded open
// across the swaps.
(function () {
  "use strict";
  var open = {};
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (!e.detail.target || e.detail.target.id !== "overview-body") { return; }
    open = {};
    var nodes = e.detail.target.querySelectorAll(".event-row[id] details[open]");
    for (var i = 0; i < nodes.length; i++) { open[nodes[i].closest(".event-row").id] = true; }
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    if (!e.detail.target || e.detail.target.id !== "overview-body") { return; }
    for (var id in open) {
      var row = document.getElementById(id);
      var d = row && row.querySelector("details");
      if (d) { d.open = true; }
    }
  });
})();
