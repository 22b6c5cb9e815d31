// auditd — streams, timeline and global log. Progressive enhancement: every
// form also works without this script (date-times are then read as UTC).
(function () {
  "use strict";

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // The viewer's UTC offset for a moment, as "+02:00".
  function offsetOf(d) {
    var m = -d.getTimezoneOffset();
    var sign = m >= 0 ? "+" : "-";
    m = Math.abs(m);
    return sign + pad(Math.floor(m / 60)) + ":" + pad(m % 60);
  }

  // A Date as a datetime-local value in the viewer's zone.
  function localValue(d, seconds) {
    var s = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) +
      "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
    return seconds ? s + ":" + pad(d.getSeconds()) : s;
  }

  // Forms render date-times in UTC (that is what the server reads without
  // a tz). With script, show them in the viewer's zone and send the offset.
  function localizeForms(root) {
    var forms = root.querySelectorAll("form");
    for (var i = 0; i < forms.length; i++) {
      var tz = forms[i].querySelector("input[data-tz]");
      if (!tz) { continue; }
      var inputs = forms[i].querySelectorAll("input[type=datetime-local]");
      var now = new Date();
      for (var j = 0; j < inputs.length; j++) {
        var v = inputs[j].value;
        if (v) {
          var d = new Date(v + "Z");
          if (!isNaN(d)) { inputs[j].value = localValue(d, d.getUTCSeconds() !== 0); now = d; }
        }
      }
      // One offset per form: the one in force at the (first) time shown,
      // else now. Daylight saving edges are the only imprecision.
      tz.value = offsetOf(now);
      var labels = forms[i].querySelectorAll("[data-tz-label]");
      for (var k = 0; k < labels.length; k++) { labels[k].textContent = "(UTC" + tz.value + ")"; }
    }
  }

  // Time travel: the slider and the time input load the state panel
  // (/streams/{id}/state, an HTML fragment for htmx requests) in place.
  function initTimeTravel() {
    var box = document.querySelector("[data-testid=timetravel]");
    if (!box || !window.htmx) { return; }
    var base = box.getAttribute("data-state-url");
    var slider = box.querySelector("[data-testid=version-slider]");
    var output = box.querySelector("[data-testid=slider-value]");
    var timeInput = box.querySelector("[data-testid=time-input]");
    var timer = null;

    var byTime = false;
    function load(query) {
      window.htmx.ajax("GET", base + "?" + query, { target: "#state-panel", swap: "innerHTML" });
      // The position goes into the address, so the link shares it: the
      // timeline reopens around that event with the slider there; at the
      // head the address is the stream's own.
      if (window.history && history.replaceState) {
        var latest = slider && query === "version=" + slider.max;
        history.replaceState(history.state, "", location.pathname + (latest ? "" : "?" + query));
      }
    }
    if (slider) {
      slider.addEventListener("input", function () {
        if (output) { output.textContent = slider.value; }
        clearTimeout(timer);
        timer = setTimeout(function () { byTime = false; load("version=" + encodeURIComponent(slider.value)); }, 120);
      });
    }
    if (timeInput) {
      timeInput.addEventListener("change", function () {
        if (!timeInput.value) { return; }
        var d = new Date(timeInput.value); // datetime-local: the viewer's zone
        if (isNaN(d)) { return; }
        clearTimeout(timer);
        byTime = true;
        load("at=" + encodeURIComponent(d.toISOString()));
      });
    }
    // A state loaded by time names its version: move the slider there; one
    // loaded by version names its moment: show it in the time box.
    document.addEventListener("htmx:afterSwap", function (e) {
      if (!e.target || e.target.id !== "state-panel" || !slider) { return; }
      var v = e.target.querySelector("[data-state-version]");
      if (v) {
        slider.value = v.getAttribute("data-state-version");
        if (output) { output.textContent = slider.value; }
        var at = v.getAttribute("data-state-at");
        if (timeInput && !byTime && at) {
          var d = new Date(at);
          if (!isNaN(d)) { timeInput.value = localValue(d, true); }
        }
      }
    });
  }

  // Live rows: skip events the page already shows, drop the "empty"
  // placeholder, and on the newest-first log keep the reader's place when
  // rows are inserted above it.
  function initLive() {
    var heights = null;
    document.addEventListener("htmx:sseBeforeMessage", function (e) {
      var m = /id="(ev-\d+)"/.exec(e.detail && e.detail.data || "");
      if (m && document.getElementById(m[1])) { e.preventDefault(); return; }
      heights = { doc: document.documentElement.scrollHeight, y: window.scrollY };
    });
    document.addEventListener("htmx:sseMessage", function (e) {
      var list = e.target;
      var empty = list && list.querySelector(":scope > .empty");
      if (empty) { empty.remove(); }
      if (heights && list && list.getAttribute("hx-swap") === "afterbegin" && heights.y > 0) {
        window.scrollBy(0, document.documentElement.scrollHeight - heights.doc);
      }
      heights = null;
    });
  }

  function init() {
    localizeForms(document);
    initTimeTravel();
    initLive();
    var target = document.getElementById("jump-target");
    if (target) { target.scrollIntoView({ block: "center" }); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
