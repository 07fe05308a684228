// Edit cost per week and model version on the models page (Chart.js, vendored). No
// inline script: the data is a JSON block (json_script) named by data-edit-cost-chart.
(function () {
  "use strict";
  var COLORS = ["#64748b", "#4f46e5", "#059669", "#d97706", "#dc2626", "#0891b2", "#7c3aed"];

  function start(canvas) {
    if (typeof window.Chart === "undefined") return;
    var source = document.getElementById(canvas.getAttribute("data-edit-cost-chart"));
    if (!source) return;
    var data = JSON.parse(source.textContent);
    var datasets = data.series.map(function (s, i) {
      var color = COLORS[i % COLORS.length];
      return { label: s.label, data: s.data, borderColor: color, backgroundColor: color,
               spanGaps: true, tension: 0.2, pointRadius: 3 };
    });
    new window.Chart(canvas, {
      type: "line",
      data: { labels: data.labels, datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        interaction: { mode: "index", intersect: false },
        scales: { x: { title: { display: true, text: "week" } },
                  y: { min: 0, max: 1, title: { display: true, text: "mean edit cost" } } },
      },
    });
    canvas.setAttribute("data-series", String(datasets.length));
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-edit-cost-chart]").forEach(start);
  });
})();
