// auditd — keyboard shortcuts: "/" focuses the header's search box, "j" and
// "k" move through the event rows of the page, Enter opens the selected
// event, "?" lists the shortcuts (the dialog in views/layout.templ). Keys
// typed into a form field are the field's: no shortcut fires there.
(function () {
  "use strict";

  function typing(el) {
    if (!el || el === document.body) { return false; }
    if (el.isContentEditable) { return true; }
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("main [data-testid=event-row]"));
  }

  // select focuses row i (clamped) and marks it; focus (not only a class)
  // lets screen readers follow and Tab continue from there.
  function select(list, i) {
    if (!list.length) { return; }
    i = Math.max(0, Math.min(list.length - 1, i));
    var prev = document.querySelector(".event-row.kbd-current");
    if (prev) { prev.classList.remove("kbd-current"); }
    var row = list[i];
    row.classList.add("kbd-current");
    row.setAttribute("tabindex", "-1");
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var list = rows();
    var cur = list.indexOf(document.querySelector(".event-row.kbd-current"));
    select(list, cur < 0 ? (step > 0 ? 0 : list.length - 1) : cur + step);
  }

  function openShortcuts() {
    var d = document.getElementById("shortcuts");
    if (d && !d.open) { d.showModal(); }
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (typing(e.target)) {
      // Esc leaves the box, so the next key is a shortcut again.
      if (e.key === "Escape" && e.target.blur) { e.target.blur(); }
      return;
    }
    var dialog = document.getElementById("shortcuts");
    if (dialog && dialog.open) { return; }
    switch (e.key) {
      case "/":
        var box = document.querySelector(".quick-search input");
        if (box) { e.preventDefault(); box.focus(); box.select(); }
        break;
      case "j": e.preventDefault(); move(1); break;
      case "k": e.preventDefault(); move(-1); break;
      case "?": e.preventDefault(); openShortcuts(); break;
      case "Enter":
        var row = document.activeElement;
        if (row && row.classList && row.classList.contains("kbd-current")) {
          var link = row.querySelector("a.pos");
          if (link) { e.preventDefault(); link.click(); }
        }
        break;
    }
  });

  document.addEventListener("click", function (e) {
    if (e.target.closest && e.target.closest("[data-shortcuts-open]")) { openShortcuts(); }
  });
})();
