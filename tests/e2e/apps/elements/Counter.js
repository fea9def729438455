// The counter's script: runs each time the counter is drawn, and marks its element with
// how many times it ran and the count it saw.
(function () {
  var script = document.currentScript;
  var root = script && script.closest(".lc-element");
  var shown = root && root.querySelector("[data-count]");
  if (!shown) return;
  window.__lcCounterRuns = (window.__lcCounterRuns || 0) + 1;
  root.setAttribute("data-script-saw", shown.getAttribute("data-count"));
})();
