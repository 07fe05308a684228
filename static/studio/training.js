// Loss chart of a training job (Chart.js, vendored). No inline script: the canvas
// carries the JSON URL in data-chart-url; while the job is queued or running the data
// is fetched again every few seconds, and polling stops once the job has ended.
(function () {
  "use strict";
  var POLL_MS = 3000;

  function series(label, data, color, dashed) {
    return {
      label: label,
      data: data,
      borderColor: color,
      backgroundColor: color,
      borderDash: dashed ? [6, 4] : [],
      pointRadius: dashed ? 3 : 0,
      spanGaps: true,
      tension: 0.2,
    };
  }

  function start(canvas) {
    if (typeof window.Chart === "undefined") return;
    var url = canvas.getAttribute("data-chart-url");
    var chart = new window.Chart(canvas, {
      type: "line",
      data: { labels: [], datasets: [series("train loss", [], "#4f46e5", false),
                                      series("eval loss", [], "#dc2626", true)] },
      options: {
        animation: false,
        responsive: true,
        interaction: { mode: "index", intersect: false },
        scales: { x: { title: { display: true, text: "step" } },
                  y: { title: { display: true, text: "loss" } } },
      },
    });

    function refresh() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          chart.data.labels = data.labels;
          chart.data.datasets[0].data = data.train;
          chart.data.datasets[1].data = data.eval;
          chart.update();
          canvas.setAttribute("data-points", String(data.labels.length));
          if (data.active) window.setTimeout(refresh, POLL_MS);
        })
        .catch(function () { window.setTimeout(refresh, POLL_MS * 3); });
    }
    refresh();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-loss-chart]").forEach(start);
  });
})();
