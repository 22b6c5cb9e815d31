// auditd — the colour theme. Loaded without defer in <head>, before the
// stylesheets paint, so a page never flashes the wrong theme: a theme chosen
// with the header's toggle (kept in localStorage) goes on <html> as
// data-theme; without one the CSS follows prefers-color-scheme.
(function () {
  "use strict";
  var KEY = "auditd-theme";
  var root = document.documentElement;
  var media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function stored() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; } // storage may be off
  }
  function current() {
    var t = root.getAttribute("data-theme");
    if (t === "dark" || t === "light") { return t; }
    return media && media.matches ? "dark" : "light";
  }
  function showState() {
    var dark = current() === "dark";
    var buttons = document.querySelectorAll("[data-theme-toggle]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute("aria-pressed", dark ? "true" : "false");
    }
  }

  var chosen = stored();
  if (chosen === "dark" || chosen === "light") { root.setAttribute("data-theme", chosen); }

  document.addEventListener("click", function (e) {
    if (!e.target.closest || !e.target.closest("[data-theme-toggle]")) { return; }
    var next = current() === "dark" ? "light" : "dark";
    root.setAttribute("data-theme", next);
    try { localStorage.setItem(KEY, next); } catch (err) { /* kept for this page only */ }
    showState();
  });
  if (media && media.addEventListener) { media.addEventListener("change", showState); }
  document.addEventListener("DOMContentLoaded", showState);
})();
