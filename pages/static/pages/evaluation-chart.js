// Draws an evaluation's results over time with uPlot, from the same `stats/` endpoint the API serves. Each drawn
// chart is kept in `window.evaluationCharts` ({outputType, stats, plot}) so that a test can read what it was given.
(function () {
  "use strict";
  window.evaluationCharts = window.evaluationCharts || [];

  var COLORS = { passed: "#2e9e4f", failed: "#d64545", na: "#a0a4ad", line: "#1f5fbf", band: "rgba(31,95,191,0.15)" };
  var PALETTE = ["#1f5fbf", "#e08a1e", "#2e9e4f", "#9b4dca", "#d64545", "#14a3a3", "#8a6d3b", "#c2185b"];

  function seconds(date) { return Math.round(Date.parse(date) / 1000); }

  // uPlot has no stacking of its own: each layer is drawn as the running total up to it, tallest first, so the
  // shorter ones paint over it; the legend still shows each layer's own count.
  function stacked(layers) {
    var totals = [], series = [], data = [];
    layers.forEach(function (layer) {
      totals = layer.values.map(function (value, i) { return (totals[i] || 0) + (value || 0); });
      data.push(totals.slice());
      series.push({
        label: layer.label, stroke: layer.color, fill: layer.color, width: 0,
        paths: uPlot.paths.bars({ size: [0.7, 48] }), points: { show: false },
        value: (function (raw) { return function (u, v, s, i) { return i == null ? "" : raw[i]; }; })(layer.values),
      });
    });
    return { data: data.reverse(), series: series.reverse() };
  }

  function options(element, series, axes, scales, bands) {
    return {
      width: Math.max(element.clientWidth - 16, 320), height: 300, series: series, axes: axes,
      scales: scales, bands: bands || [], legend: { live: true }, cursor: { drag: { x: false, y: false } },
    };
  }

  function build(element, outputType, stats) {
    var items = stats.series;
    var x = items.map(function (item) { return seconds(item.date); });
    var xSeries = { label: "Date", value: "{YYYY}-{MM}-{DD}" };
    // Counts are whole: no tick at 0.5 runs.
    var countAxis = { label: "Runs", scale: "y", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 1e5, 1e6] };
    if (outputType === "numeric") {
      var pick = function (key) { return items.map(function (item) { return item.runs ? item[key] : null; }); };
      return {
        data: [x, pick("p90"), pick("p50"), pick("mean")],
        opts: options(element, [xSeries,
          { label: "p90", stroke: COLORS.band.replace("0.15", "0.6"), width: 1, spanGaps: false },
          { label: "p50", stroke: COLORS.band.replace("0.15", "0.6"), width: 1, dash: [4, 4] },
          { label: "Mean", stroke: COLORS.line, width: 2 }],
          [{}, { label: "Score" }], { x: { time: true } }, [{ series: [1, 2], fill: COLORS.band }]),
      };
    }
    var layers;
    if (outputType === "categorical") {
      var keys = [];
      items.forEach(function (item) {
        Object.keys(item.categories || {}).forEach(function (key) { if (keys.indexOf(key) < 0) keys.push(key); });
      });
      keys.sort();
      layers = keys.map(function (key, index) {
        return { label: key, color: PALETTE[index % PALETTE.length],
                 values: items.map(function (item) { return (item.categories || {})[key] || 0; }) };
      });
    } else {
      layers = [
        { label: "Passed", color: COLORS.passed, values: items.map(function (item) { return item.passed; }) },
        { label: "Failed", color: COLORS.failed, values: items.map(function (item) { return item.failed; }) },
        { label: "N/A", color: COLORS.na, values: items.map(function (item) { return item.na; }) },
      ];
    }
    var stack = stacked(layers);
    var data = [x].concat(stack.data), series = [xSeries].concat(stack.series);
    var axes = [{}, countAxis];
    var scales = { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } };
    if (outputType !== "categorical") {
      data.push(items.map(function (item) { return item.pass_rate == null ? null : item.pass_rate * 100; }));
      series.push({ label: "Pass rate", scale: "%", stroke: COLORS.line, width: 2,
                    value: function (u, v) { return v == null ? "—" : v.toFixed(0) + "%"; } });
      axes.push({ scale: "%", side: 1, grid: { show: false }, values: function (u, ticks) {
        return ticks.map(function (tick) { return tick + "%"; }); } });
      scales["%"] = { range: [0, 100] };
    }
    return { data: data, opts: options(element, series, axes, scales) };
  }

  function message(element, text) {
    var p = document.createElement("p");
    p.className = "message";
    p.textContent = text;
    element.replaceChildren(p);
  }

  function draw(element) {
    var outputType = element.dataset.outputType;
    element.dataset.state = "loading";
    fetch(element.dataset.statsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("the results could not be loaded (HTTP " + response.status + ")");
        return response.json();
      })
      .then(function (stats) {
        element.replaceChildren();
        var chart = build(element, outputType, stats);
        var plot = new uPlot(chart.opts, chart.data, element);
        window.evaluationCharts.push({ outputType: outputType, stats: stats, plot: plot });
        element.dataset.state = "ready";
      })
      .catch(function (error) {
        message(element, "No chart: " + error.message + ".");
        element.dataset.state = "error";
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-stats-url]").forEach(draw);
  });
})();
