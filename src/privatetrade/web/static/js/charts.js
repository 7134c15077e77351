/* Result rendering with Plotly: metric cards, the run's settings, equity, drawdown, the
   price chart with volume, indicators and trades (price_chart.js), monthly heatmap,
   yearly returns, drawdown periods and the trades table (result_tables.js). Shared by
   the result page and the offline HTML report, so it needs only Plotly, PTFormat,
   PTElement and those two scripts.

   ctx = {t(key), fmt (PTFormat), currency, colors: "red-up" | "green-up"} */
(function (global) {
  "use strict";
  const el = global.PTElement;
  const CANDLES_UP_TO = 20000;
  const SERIES = ["#4c1d95", "#b45309", "#0f766e", "#be185d", "#1d4ed8", "#4d7c0f"];

  function palette(ctx) {
    const redUp = ctx.colors === "red-up";
    return {
      up: redUp ? "#d0021b" : "#137333",
      down: redUp ? "#1a5fd0" : "#c5221f",
      strategy: "#4c1d95",
      buyHold: "#6b7280",
      benchmark: "#b45309",
      series: SERIES,
    };
  }

  /* Plotly wants wall-clock times without an offset: "2012-01-03 00:00:00". */
  function plotTime(iso) {
    return iso.slice(0, 19).replace("T", " ");
  }

  function baseLayout(extra) {
    return Object.assign(
      {
        margin: { l: 64, r: 16, t: 24, b: 40 },
        font: { family: 'system-ui, "Noto Sans KR", "Noto Sans CJK KR", sans-serif', size: 13 },
        legend: { orientation: "h", y: 1.12 },
        hovermode: "x unified",
        paper_bgcolor: "rgba(0,0,0,0)",
        plot_bgcolor: "rgba(0,0,0,0)",
      },
      extra
    );
  }

  const PLOT_CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

  function plot(div, traces, layout) {
    return global.Plotly.newPlot(div, traces, baseLayout(layout), PLOT_CONFIG);
  }

  /* "up" for a gain, "down" for a loss, "" for zero or no number (the class colours it). */
  function tone(value) {
    return typeof value === "number" && isFinite(value) && value !== 0 ? (value > 0 ? "up" : "down") : "";
  }

  /* ---------------------------------------------------------------- metric cards */
  const CARDS = [
    ["total_return", "signed"], ["cagr", "signed"], ["sharpe", "ratio"], ["sortino", "ratio"],
    ["max_drawdown", "signed"], ["volatility", "pct"], ["calmar", "ratio"], ["win_rate", "pct"],
    ["profit_factor", "ratio"], ["trade_count", "int"], ["expectancy", "money"], ["exposure", "pct"],
    ["final_equity", "money"], ["buy_and_hold_return", "signed"], ["benchmark_return", "signed"],
    ["alpha", "signed"], ["beta", "ratio"], ["information_ratio", "ratio"],
    ["best_trade", "signed"], ["worst_trade", "signed"], ["average_win", "signed"], ["average_loss", "signed"],
    ["max_consecutive_losses", "int"], ["turnover", "ratio"],
    ["total_commission", "money"], ["total_tax", "money"], ["total_slippage", "money"],
  ];
  const SIGNED_MONEY = new Set(["expectancy"]);
  /* A single run's turnover is over its whole period (a portfolio's is a year's). */
  const CARD_LABELS = { turnover: "turnover_total" };

  function metricText(ctx, kind, value) {
    const fmt = ctx.fmt;
    if (kind === "signed") return fmt.signedPct(value);
    if (kind === "pct") return fmt.pct(value);
    if (kind === "ratio") return fmt.num(value, 2);
    if (kind === "int") return fmt.int(value);
    return fmt.money(value, ctx.currency);
  }

  function metricCards(ctx, metrics) {
    const grid = el("dl", { className: "metric-cards" });
    for (const [key, kind] of CARDS) {
      if (!(key in metrics)) continue;
      if ((key.startsWith("benchmark") || key === "alpha" || key === "beta" || key === "information_ratio") && metrics.benchmark_bars == null) continue;
      const value = metrics[key];
      const colored = kind === "signed" || SIGNED_MONEY.has(key) ? tone(value) : "";
      grid.append(
        el("div", { className: "metric", "data-metric": key },
          el("dt", { text: ctx.t("metric." + (CARD_LABELS[key] || key)) }),
          el("dd", { className: colored, text: metricText(ctx, kind, value) }))
      );
    }
    return grid;
  }

  /* ---------------------------------------------------------------- charts */
  function equityChart(div, ctx, doc) {
    const colors = palette(ctx);
    const x = doc.equity.time.map(plotTime);
    const money = (v) => ctx.fmt.money(v, ctx.currency);
    const traces = [
      { x: x, y: doc.equity.equity, name: ctx.t("chart.strategy"), type: "scatter", mode: "lines",
        line: { color: colors.strategy, width: 2 }, text: doc.equity.equity.map(money), hovertemplate: "%{text}" },
      { x: x, y: doc.buy_and_hold, name: ctx.t("chart.buy_and_hold"), type: "scatter", mode: "lines",
        line: { color: colors.buyHold, width: 1.5, dash: "dot" }, text: doc.buy_and_hold.map(money), hovertemplate: "%{text}" },
    ];
    if (doc.benchmark) {
      traces.push({ x: x, y: doc.benchmark, name: ctx.t("chart.benchmark") + " " + (doc.spec.benchmark || ""),
        type: "scatter", mode: "lines", line: { color: colors.benchmark, width: 1.5 },
        text: doc.benchmark.map((v) => (v == null ? "" : money(v))), hovertemplate: "%{text}", connectgaps: false });
    }
    return plot(div, traces, { xaxis: { rangebreaks: breaksOf(doc) }, yaxis: { tickformat: ",.0f", automargin: true } });
  }

  /* The same rangebreaks as the price chart, so the x-axes of all charts line up. */
  function breaksOf(doc) {
    return global.PTPriceChart ? global.PTPriceChart.rangeBreaks(doc.equity.time) : [];
  }

  function drawdownChart(div, ctx, doc) {
    const colors = palette(ctx);
    return plot(div, [
      { x: doc.equity.time.map(plotTime), y: doc.equity.drawdown, name: ctx.t("chart.drawdown"), type: "scatter",
        mode: "lines", fill: "tozeroy", line: { color: colors.down, width: 1 },
        text: doc.equity.drawdown.map((v) => ctx.fmt.pct(v)), hovertemplate: "%{text}" },
    ], { xaxis: { rangebreaks: breaksOf(doc) }, yaxis: { tickformat: ".0%", automargin: true }, showlegend: false, margin: { l: 64, r: 16, t: 8, b: 40 } });
  }

  /* Candlesticks (or the close, for very long series) with the fills as markers. */
  function priceChart(div, ctx, bars, fills) {
    const colors = palette(ctx);
    const x = bars.time.map(plotTime);
    const traces = [];
    if (bars.time.length <= CANDLES_UP_TO) {
      traces.push({ type: "candlestick", x: x, open: bars.open, high: bars.high, low: bars.low, close: bars.close,
        name: ctx.t("chart.price"), increasing: { line: { color: colors.up }, fillcolor: colors.up },
        decreasing: { line: { color: colors.down }, fillcolor: colors.down } });
    } else {
      traces.push({ type: "scatter", mode: "lines", x: x, y: bars.close, name: ctx.t("chart.close"), line: { color: "#374151", width: 1 } });
    }
    for (const side of ["buy", "sell"]) {
      const mine = (fills || []).filter((fill) => fill.side === side);
      if (!mine.length) continue;
      traces.push({
        type: "scatter", mode: "markers", name: ctx.t("chart." + side),
        x: mine.map((fill) => plotTime(fill.time)), y: mine.map((fill) => fill.price),
        marker: { symbol: side === "buy" ? "triangle-up" : "triangle-down", size: 11,
          color: side === "buy" ? "#111827" : "#f59e0b", line: { color: "#ffffff", width: 1 } },
        text: mine.map((fill) => `${ctx.t("chart." + side)} ${ctx.fmt.int(fill.quantity)} @ ${ctx.fmt.price(fill.price, ctx.currency)} · ${ctx.t("exit." + fill.reason)}`),
        hovertemplate: "%{text}<extra></extra>",
      });
    }
    return plot(div, traces, {
      xaxis: { rangeslider: { visible: false }, rangeselector: rangeButtons(ctx) },
      yaxis: { tickformat: ",.2~f", automargin: true },
      hovermode: "closest",
    });
  }

  function rangeButtons(ctx) {
    return {
      buttons: [
        { count: 1, label: ctx.t("chart.1m"), step: "month", stepmode: "backward" },
        { count: 6, label: ctx.t("chart.6m"), step: "month", stepmode: "backward" },
        { count: 1, label: ctx.t("chart.1y"), step: "year", stepmode: "backward" },
        { count: 5, label: ctx.t("chart.5y"), step: "year", stepmode: "backward" },
        { step: "all", label: ctx.t("chart.all") },
      ],
    };
  }

  function monthlyHeatmap(div, ctx, monthly) {
    const colors = palette(ctx);
    const years = Array.from(new Set(monthly.map((m) => m.period.slice(0, 4)))).sort();
    const months = Array.from({ length: 12 }, (_, i) => i + 1);
    const z = years.map(() => months.map(() => null));
    const text = years.map(() => months.map(() => ""));
    for (const m of monthly) {
      const row = years.indexOf(m.period.slice(0, 4));
      const col = Number(m.period.slice(5, 7)) - 1;
      z[row][col] = m.return;
      text[row][col] = ctx.fmt.signedPct(m.return, 1);
    }
    const monthNames = months.map((m) =>
      new Intl.DateTimeFormat(ctx.fmt.locale, { month: "short", timeZone: "UTC" }).format(new Date(Date.UTC(2000, m - 1, 1))));
    const limit = Math.max(0.01, ...monthly.map((m) => Math.abs(m.return)));
    return plot(div, [{
      type: "heatmap", x: monthNames, y: years, z: z, text: text, texttemplate: "%{text}", hovertemplate: "%{y} %{x}: %{text}<extra></extra>",
      zmin: -limit, zmax: limit, zmid: 0, colorscale: [[0, colors.down], [0.5, "#ffffff"], [1, colors.up]], showscale: false, xgap: 2, ygap: 2,
    }], { yaxis: { type: "category", autorange: "reversed" }, hovermode: "closest", height: Math.max(180, 34 * years.length + 70), margin: { l: 56, r: 8, t: 8, b: 32 } });
  }

  /* ---------------------------------------------------------------- the whole result */
  function section(title, id, extraClass) {
    const chart = el("div", { className: "chart " + (extraClass || ""), id: id, role: "img", "aria-label": title });
    return { node: el("section", { className: "result-part" }, el("h3", { text: title }), chart), chart: chart };
  }

  function part(title, id, content) {
    return el("section", { className: "result-part", id: id }, el("h3", { text: title }), content);
  }

  /* A note when the chart cannot show what the strategy saw (the stored prices changed). */
  function barsNote(ctx, analysis) {
    if (!analysis || !analysis.bars_note) return null;
    return el("p", { className: "muted bars-note", id: "bars-note", text: ctx.t("result.bars_note." + analysis.bars_note) });
  }

  /* Draw a result document. `bars` are the run's price bars (null: the closes in the
     document), `analysis` the document of /api/backtests/{id}/analysis (null: no
     indicators, trade levels, drawdown periods). Resolves to the price chart. */
  function renderResult(root, ctx, doc, bars, analysis) {
    const tables = global.PTResultTables;
    root.replaceChildren();
    const warnings = doc.warnings || [];
    if (warnings.length) {
      root.append(el("ul", { className: "warnings", "aria-label": ctx.t("result.warnings") },
        ...warnings.map((w) => el("li", { text: ctx.t.notice ? ctx.t.notice(w) : w }))));
    }
    root.append(el("h3", { text: ctx.t("result.metrics") }), metricCards(ctx, doc.metrics));
    root.append(el("p", { className: "muted engine-version", text: ctx.t("result.engine", { version: doc.engine_version }) }));
    const adjusted = doc.data ? doc.data.adjusted : null;
    if (adjusted === true || adjusted === false) {
      root.append(el("p", { className: "muted prices-used", text: ctx.t(adjusted ? "prices.used_adjusted" : "prices.used_raw") }));
    }
    root.append(tables.settingsPanel(ctx, doc));
    const equity = section(ctx.t("result.equity"), "equity-chart");
    const drawdown = section(ctx.t("result.drawdown"), "drawdown-chart", "short");
    const price = section(ctx.t("result.price"), "price-chart", "tall");
    const note = barsNote(ctx, analysis);
    if (note) price.node.append(note);
    const selectedText = el("p", { className: "selected-trade muted", id: "selected-trade", "aria-live": "polite", hidden: true });
    price.node.append(selectedText);
    const monthly = section(ctx.t("result.monthly"), "monthly-chart", "auto");
    root.append(equity.node, drawdown.node, price.node, monthly.node);
    root.append(part(ctx.t("result.yearly"), "yearly-returns", tables.yearlyTable(ctx, doc, analysis)));
    if (analysis) root.append(part(ctx.t("result.drawdowns"), "drawdown-periods", tables.drawdownsTable(ctx, analysis)));
    const levels = analysis && analysis.trades ? analysis.trades : null;
    let chart = null;
    const trades = tables.tradesTable(ctx, doc.trades, levels, {
      onSelect: (index) => select(index, true),
    });
    root.append(part(ctx.t("result.trades", { count: doc.trades.length }), "trades", trades.node));

    function select(index, fromTable) {
      selectedText.hidden = false;
      selectedText.textContent = tables.selectedTradeText(ctx, doc.trades[index], levels ? levels[index] : null);
      if (!fromTable) trades.show(index);
      if (!chart) return;
      chart.selectTrade(index, true);
      if (fromTable && price.node.scrollIntoView) price.node.scrollIntoView({ block: "nearest" });
    }

    const fallbackBars = { time: doc.equity.time, open: null, high: null, low: null, close: doc.equity.close };
    const priceDrawn = global.PTPriceChart.draw(price.chart, ctx, {
      bars: bars || fallbackBars, fills: doc.fills, trades: doc.trades, analysis: analysis, params: doc.spec.params,
    }).then((drawn) => {
      chart = drawn;
      chart.onTradeClick = (index) => select(index, false);
      return drawn;
    });
    return Promise.all([
      equityChart(equity.chart, ctx, doc),
      drawdownChart(drawdown.chart, ctx, doc),
      priceDrawn,
      doc.monthly_returns.length ? monthlyHeatmap(monthly.chart, ctx, doc.monthly_returns) : Promise.resolve(),
    ]).then(() => chart);
  }

  /* Several runs on one chart, as returns since their start (they may differ in capital). */
  function compareChart(div, ctx, runs) {
    const traces = runs.map((run, i) => {
      const start = run.doc.equity.equity[0];
      return { type: "scatter", mode: "lines", name: run.label, x: run.doc.equity.time.map(plotTime),
        y: run.doc.equity.equity.map((v) => v / start - 1), line: { color: SERIES[i % SERIES.length], width: 2 },
        hovertemplate: "%{y:.2%}" };
    });
    return plot(div, traces, { yaxis: { tickformat: ".0%" }, hovermode: "x" });
  }

  global.PTCharts = { renderResult, priceChart, compareChart, metricText, CARDS, palette, tone, baseLayout, PLOT_CONFIG, plotTime };
})(window);
