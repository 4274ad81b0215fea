// Render every chart from its inlined Vega-Lite spec; a failure shows in place of the chart.
(function () {
  "use strict";
  var specs = JSON.parse(document.getElementById("dm-specs").textContent);
  var theme = JSON.parse(document.getElementById("dm-theme").textContent);
  var pending = Object.keys(specs);
  var done = 0;
  function finished() {
    done += 1;
    if (done === pending.length) { document.body.setAttribute("data-charts", "ready"); }
  }
  if (!pending.length) { document.body.setAttribute("data-charts", "ready"); return; }
  if (typeof vegaEmbed !== "function") {
    console.error("datamill report: the Vega libraries did not load");
    return;
  }
  pending.forEach(function (id) {
    var el = document.getElementById(id);
    vegaEmbed(el, specs[id], { actions: false, renderer: "svg", config: theme })
      .then(finished)
      .catch(function (err) {
        el.classList.add("chart-error");
        el.textContent = "This chart could not be drawn: " + err;
        console.error("datamill report: chart " + id + ": " + err);
        finished();
      });
  });
})();
