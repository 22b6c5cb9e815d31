// Row density of the event lists (/events, /live): comfortable rows or a
// compact table, one line per event. The choice is kept in localStorage and
// set on <html> as data-density; this script is loaded without defer right
// after the toggle, so the stored choice applies before the rows are drawn.
(function () {
  "use strict";
  var KEY = "auditd.density";
  var root = document.documentElement;

  function stored() {
    try {
      return localStorage.getItem(KEY) === "compact" ? "compact" : "comfortable";
    } catch (e) {
      return "comfortable"; // storage refused (private mode): no memory
    }
  }

  function apply(density) {
    root.setAttribute("data-density", density);
    var buttons = document.querySelectorAll("[data-density-choice]");
    for (var i = 0; i < buttons.length; i++) {
      var b = buttons[i];
      b.setAttribute("aria-pressed", b.getAttribute("data-density-choice") === density ? "true" : "false");
    }
  }

  apply(stored());
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest && ev.target.closest("[data-density-choice]");
    if (!b) return;
    var density = b.getAttribute("data-density-choice");
    try {
      localStorage.setItem(KEY, density);
    } catch (e) {
      // Kept for this page only.
    }
    apply(density);
  });
})();
