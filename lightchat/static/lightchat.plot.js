// lightchat: draws a Plotly figure in its frame (templates/plot.html), with plotly.js,
// which the frame loads before this file from its one versioned, cached URL. The figure
// is the JSON of Plotly's figure (data, layout, frames), held in the page as data.
(function () {
  "use strict";

  var holder = document.getElementById("lc-figure");
  var plot = document.getElementById("lc-plot");
  if (!holder || !plot || typeof window.Plotly === "undefined") return;
  var figure;
  try { figure = JSON.parse(holder.textContent || "{}"); } catch (error) { return; }
  var config = figure.config && typeof figure.config === "object" ? figure.config : {};
  config.responsive = true;
  window.Plotly.newPlot(plot, {
    data: figure.data || [],
    layout: figure.layout || {},
    frames: figure.frames || [],
    config: config,
  }).then(function () { plot.setAttribute("data-drawn", ""); });
})();
