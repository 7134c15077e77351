/* Plotly charts of a portfolio result (docs/result-schema.md, kind "portfolio"): equity
   against the benchmark, drawdown, and the holdings' weights as a stacked area (the
   largest holdings each in its own band, the rest as "others", then cash up to 100 %).

   ctx = {t(key), fmt (PTFormat), currency, colors: "red-up" | "green-up", names: {code: name}} */
(function (global) {
  "use strict";
  const PLOT_CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  const FONT = { family: 'system-ui, "Noto Sans KR", "Noto Sans CJK KR", sans-serif', size: 13 };
  const BANDS = 12; // holdings drawn one by one; the others are summed
  const MAX_POINTS = 5000; // bars drawn per trace; longer series are thinned evenly
  const COLORS = ["#4c1d95", "#b45309", "#0f766e", "#be185d", "#1d4ed8", "#4d7c0f", "#7c2d12", "#0e7490", "#a21caf", "#3f6212", "#9f1239", "#1e3a8a"];

  function layout(extra) {
    return Object.assign({
      margin: { l: 64, r: 16, t: 24, b: 40 }, font: FONT, legend: { orientation: "h", y: 1.12 },
      hovermode: "x unified", paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    }, extra);
  }

  function plotTime(iso) {
    return String(iso).slice(0, 19).replace("T", " ");
  }

  /* The bar indices drawn: all of them, or every k-th (always the last) when too many. */
  function drawnBars(count) {
    if (count <= MAX_POINTS) return Array.from({ length: count }, (_, i) => i);
    const step = Math.ceil(count / MAX_POINTS);
    const picked = [];
    for (let i = 0; i < count; i += step) picked.push(i);
    if (picked[picked.length - 1] !== count - 1) picked.push(count - 1);
    return picked;
  }

  function symbolLabel(ctx, code) {
    const name = ctx.names && ctx.names[code];
    return name && name !== code ? `${name} (${code})` : code;
  }

  function equityChart(div, ctx, doc) {
    const colors = global.PTCharts.palette(ctx);
    const bars = drawnBars(doc.equity.time.length);
    const x = bars.map((i) => plotTime(doc.equity.time[i]));
    const money = (v) => (v == null ? "" : ctx.fmt.money(v, ctx.currency));
    const equity = bars.map((i) => doc.equity.equity[i]);
    const traces = [{
      x: x, y: equity, name: ctx.t("portfolio.chart_portfolio"), type: "scatter", mode: "lines",
      line: { color: colors.strategy, width: 2 }, text: equity.map(money), hovertemplate: "%{text}",
    }];
    if (doc.benchmark) {
      const benchmark = bars.map((i) => doc.benchmark[i]);
      traces.push({
        x: x, y: benchmark, name: ctx.t("chart.benchmark") + " " + ((doc.spec && doc.spec.benchmark) || ""),
        type: "scatter", mode: "lines", line: { color: colors.benchmark, width: 1.5 }, connectgaps: false,
        text: benchmark.map(money), hovertemplate: "%{text}",
      });
    }
    return global.Plotly.newPlot(div, traces, layout({ yaxis: { tickformat: ",.0f", automargin: true } }), PLOT_CONFIG);
  }

  function drawdownChart(div, ctx, doc) {
    const colors = global.PTCharts.palette(ctx);
    const bars = drawnBars(doc.equity.time.length);
    const drawdown = bars.map((i) => doc.equity.drawdown[i]);
    return global.Plotly.newPlot(div, [{
      x: bars.map((i) => plotTime(doc.equity.time[i])), y: drawdown, name: ctx.t("chart.drawdown"), type: "scatter",
      mode: "lines", fill: "tozeroy", line: { color: colors.down, width: 1 },
      text: drawdown.map((v) => ctx.fmt.pct(v)), hovertemplate: "%{text}",
    }], layout({ yaxis: { tickformat: ".0%", automargin: true }, showlegend: false, margin: { l: 64, r: 16, t: 8, b: 40 } }), PLOT_CONFIG);
  }

  /* Which symbols get a band of their own: the largest mean weights (held at some time). */
  function bandSymbols(holdings) {
    const count = holdings.symbols.length;
    const mean = new Array(count).fill(0);
    for (const row of holdings.weights) for (let j = 0; j < count; j++) mean[j] += row[j] || 0;
    return holdings.symbols.map((code, j) => ({ code: code, index: j, mean: mean[j] }))
      .filter((entry) => entry.mean > 0)
      .sort((a, b) => b.mean - a.mean || a.index - b.index);
  }

  function holdingsChart(div, ctx, doc) {
    const holdings = doc.holdings;
    const bars = drawnBars(holdings.weights.length);
    const x = bars.map((i) => plotTime(doc.equity.time[i]));
    const held = bandSymbols(holdings);
    const own = held.slice(0, BANDS);
    const rest = held.slice(BANDS);
    const percent = (v) => ctx.fmt.pct(v, 1);
    const band = (name, values, color) => ({
      x: x, y: values, name: name, type: "scatter", mode: "lines", stackgroup: "weights",
      line: { width: 0.5, color: color }, fillcolor: color, text: values.map(percent), hovertemplate: "%{text}",
    });
    const traces = own.map((entry, n) => band(symbolLabel(ctx, entry.code), bars.map((i) => holdings.weights[i][entry.index] || 0), COLORS[n % COLORS.length]));
    if (rest.length) {
      traces.push(band(ctx.t("portfolio.others", { count: rest.length }),
        bars.map((i) => rest.reduce((sum, entry) => sum + (holdings.weights[i][entry.index] || 0), 0)), "#9ca3af"));
    }
    const cash = bars.map((i) => Math.max(0, 1 - holdings.weights[i].reduce((sum, w) => sum + (w || 0), 0)));
    traces.push(band(ctx.t("portfolio.cash"), cash, "#e5e7eb"));
    div.dataset.bands = String(own.length);
    div.dataset.others = String(rest.length);
    return global.Plotly.newPlot(div, traces, layout({
      yaxis: { tickformat: ".0%", range: [0, 1], automargin: true }, legend: { orientation: "h", y: -0.15 },
      margin: { l: 56, r: 16, t: 8, b: 40 },
    }), PLOT_CONFIG).then(() => { div.dataset.drawn = "true"; });
  }

  global.PTPortfolioCharts = { equityChart, drawdownChart, holdingsChart, symbolLabel, BANDS };
})(window);
