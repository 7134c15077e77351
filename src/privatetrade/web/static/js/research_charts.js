/* Plotly charts of optimizations and walk-forwards: a metric over two parameters
   (heatmap), and the stitched out-of-sample equity with its windows marked.

   ctx = {t(key), fmt (PTFormat), currency, colors: "red-up" | "green-up"} */
(function (global) {
  "use strict";
  const PLOT_CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  const FONT = { family: 'system-ui, "Noto Sans KR", "Noto Sans CJK KR", sans-serif', size: 13 };
  const TEXT_CELLS_UP_TO = 400;

  function layout(extra) {
    return Object.assign({
      margin: { l: 64, r: 16, t: 24, b: 48 }, font: FONT,
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    }, extra);
  }

  /* Values as the metric reads: percentages for returns and rates, else two decimals. */
  const PERCENT_METRICS = ["total_return", "cagr", "max_drawdown", "win_rate"];
  function metricText(ctx, metric, value) {
    if (value === null || value === undefined) return "";
    if (PERCENT_METRICS.includes(metric)) return ctx.fmt.pct(value, 1);
    if (metric === "trade_count") return ctx.fmt.int(value);
    if (metric === "final_equity") return ctx.fmt.money(value, ctx.currency);
    return ctx.fmt.num(value, 2);
  }

  /* body: the heatmap endpoint's answer {x, y, x_values, y_values, z (rows: y), metric}. */
  function heatmap(div, ctx, body) {
    const colors = global.PTCharts.palette(ctx);
    const flat = body.z.flat().filter((v) => v !== null);
    const low = flat.length ? Math.min(...flat) : 0;
    const high = flat.length ? Math.max(...flat) : 0;
    const diverging = low < 0 && high > 0;
    const limit = Math.max(Math.abs(low), Math.abs(high)) || 1;
    const trace = {
      type: "heatmap",
      x: body.x_values.map(String), y: body.y_values.map(String), z: body.z,
      text: body.z.map((row) => row.map((v) => metricText(ctx, body.metric, v))),
      hovertemplate: `${body.x}=%{x}, ${body.y}=%{y}: %{text}<extra></extra>`,
      hoverongaps: false, xgap: 1, ygap: 1,
      colorbar: { thickness: 12, outlinewidth: 0 },
    };
    if (diverging) Object.assign(trace, { zmin: -limit, zmax: limit, zmid: 0, colorscale: [[0, colors.down], [0.5, "#ffffff"], [1, colors.up]] });
    else trace.colorscale = "Viridis";
    if (body.x_values.length * body.y_values.length <= TEXT_CELLS_UP_TO) trace.texttemplate = "%{text}";
    return global.Plotly.react(div, [trace], layout({
      xaxis: { type: "category", title: { text: ctx.paramName ? ctx.paramName(body.x) : body.x } },
      yaxis: { type: "category", title: { text: ctx.paramName ? ctx.paramName(body.y) : body.y }, automargin: true },
      hovermode: "closest",
    }), PLOT_CONFIG);
  }

  /* doc: a walk-forward's result document; windows alternate shading, a line at each start. */
  function walkForwardEquity(div, ctx, doc) {
    const colors = global.PTCharts.palette(ctx);
    const times = doc.equity.times.map((time) => String(time).slice(0, 19).replace("T", " "));
    const values = doc.equity.values;
    const money = (v) => ctx.fmt.money(v, ctx.currency);
    const boundaries = doc.equity.boundaries || [];
    const shapes = [];
    const annotations = [];
    boundaries.forEach((start, number) => {
      const end = number + 1 < boundaries.length ? boundaries[number + 1] : times.length;
      if (start >= times.length) return;
      const x0 = times[start];
      const x1 = times[Math.max(start, end - 1)];
      if (number % 2 === 1) {
        shapes.push({ type: "rect", xref: "x", yref: "paper", x0: x0, x1: x1, y0: 0, y1: 1, fillcolor: "#0b5cad", opacity: 0.06, line: { width: 0 }, layer: "below" });
      }
      if (number > 0) shapes.push({ type: "line", xref: "x", yref: "paper", x0: x0, x1: x0, y0: 0, y1: 1, line: { color: "#545d69", width: 1, dash: "dot" } });
      annotations.push({ x: x0, y: 1, xref: "x", yref: "paper", yanchor: "bottom", xanchor: "left", showarrow: false,
        text: ctx.t("research.window_short", { number: number + 1 }), font: { size: 11, color: "#545d69" } });
    });
    const traces = [{
      type: "scatter", mode: "lines", x: times, y: values, name: ctx.t("research.oos_equity"),
      line: { color: colors.strategy, width: 2 }, text: values.map(money), hovertemplate: "%{x|%Y-%m-%d}: %{text}<extra></extra>",
    }];
    return global.Plotly.newPlot(div, traces, layout({
      shapes: shapes, annotations: annotations, showlegend: false, hovermode: "x unified",
      yaxis: { tickformat: ",.0f", automargin: true }, margin: { l: 64, r: 16, t: 32, b: 40 },
    }), PLOT_CONFIG);
  }

  global.PTResearchCharts = { heatmap, walkForwardEquity, metricText };
})(window);
