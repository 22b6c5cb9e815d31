// auditd — projections page: keep expanded "last error" details open across
// the per-second refresh of the panels fragment.
(function () {
  "use strict";
  var open = {};
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (!e.detail.target || e.detail.target.id !== "projection-panels") { return; }
    open = {};
    var nodes = e.detail.target.querySelectorAll("details[id][open]");
    for (var i = 0; i < nodes.length; i++) { open[nodes[i].id] = true; }
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    if (!e.detail.target || e.detail.target.id !== "projection-panels") { return; }
    for (var id in open) {
      var d = document.getElementById(id);
      if (d) { d.open = true; }
    }
  });
})();
