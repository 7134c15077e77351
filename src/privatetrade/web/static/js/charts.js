/* Result rendering with Plotly: metric cards, equity, drawdown, price with trades,
   monthly heatmap and a sortable trades table. Shared by the result page and the
   offline HTML report, so it needs only Plotly, PTFormat and PTElement.

   ctx = {t(key), fmt (PTFormat), currency, colors: "red-up" | "green-up"} */
(function (global) {
  "use strict";
  const el = global.PTElement;
  const CANDLES_UP_TO = 20000;
  const TABLE_ROWS = 2000;
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

  function tone(value) {
    return typeof value === "number" && value !== 0 ? (value > 0 ? "up" : "down") : "";
  }

  /* ---------------------------------------------------------------- metric cards */
  const CARDS = [
    ["total_return", "signed"], ["cagr", "signed"], ["sharpe", "ratio"], ["sortino", "ratio"],
    ["max_drawdown", "signed"], ["volatility", "pct"], ["calmar", "ratio"], ["win_rate", "pct"],
    ["profit_factor", "ratio"], ["trade_count", "int"], ["expectancy", "money"], ["exposure", "pct"],
    ["final_equity", "money"], ["buy_and_hold_return", "signed"], ["benchmark_return", "signed"],
    ["alpha", "signed"], ["beta", "ratio"], ["information_ratio", "ratio"],
    ["best_trade", "signed"], ["worst_trade", "signed"], ["total_commission", "money"], ["total_tax", "money"],
  ];

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
      const colored = kind === "signed" || key === "final_equity" ? tone(key === "final_equity" ? null : value) : "";
      grid.append(
        el("div", { className: "metric", "data-metric": key },
          el("dt", { text: ctx.t("metric." + key) }),
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
    return plot(div, traces, { yaxis: { tickformat: ",.0f", automargin: true } });
  }

  function drawdownChart(div, ctx, doc) {
    const colors = palette(ctx);
    return plot(div, [
      { x: doc.equity.time.map(plotTime), y: doc.equity.drawdown, name: ctx.t("chart.drawdown"), type: "scatter",
        mode: "lines", fill: "tozeroy", line: { color: colors.down, width: 1 },
        text: doc.equity.drawdown.map((v) => ctx.fmt.pct(v)), hovertemplate: "%{text}" },
    ], { yaxis: { tickformat: ".0%", automargin: true }, showlegend: false, margin: { l: 64, r: 16, t: 8, b: 40 } });
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

  /* ---------------------------------------------------------------- trades table */
  const TRADE_COLUMNS = [
    ["entry_time", "date"], ["exit_time", "date"], ["direction", "label"], ["quantity", "int"],
    ["entry_price", "money"], ["exit_price", "money"], ["net_pnl", "signed-money"], ["return", "signed"],
    ["fees", "money"], ["holding_days", "int"], ["exit_reason", "label"], ["mae", "pct"], ["mfe", "pct"],
  ];

  function tradeCell(ctx, key, kind, trade) {
    const value = trade[key];
    if (kind === "date") return el("td", { text: ctx.fmt.date(value) });
    if (kind === "label") return el("td", { text: ctx.t((key === "direction" ? "direction." : "exit.") + value) });
    if (kind === "int") return el("td", { className: "num", text: ctx.fmt.int(value) });
    if (kind === "money") return el("td", { className: "num", text: ctx.fmt.money(value, ctx.currency) });
    if (kind === "signed-money") return el("td", { className: "num " + tone(value), text: ctx.fmt.money(value, ctx.currency) });
    if (kind === "signed") return el("td", { className: "num " + tone(value), text: ctx.fmt.signedPct(value) });
    return el("td", { className: "num", text: ctx.fmt.pct(value) });
  }

  function tradesTable(ctx, trades) {
    const wrap = el("div", { className: "table-wrap" });
    if (!trades.length) {
      wrap.append(el("p", { className: "empty", text: ctx.t("result.no_trades") }));
      return wrap;
    }
    const table = el("table", { className: "trades", id: "trades-table" });
    const caption = el("caption", { className: "sr-only", text: ctx.t("result.trades_caption") });
    const head = el("tr");
    const body = el("tbody");
    const rows = trades.map((trade, index) => ({ trade: trade, index: index }));
    let sortKey = null;
    let ascending = true;

    function fill() {
      body.replaceChildren();
      for (const row of rows.slice(0, TABLE_ROWS)) {
        const tr = el("tr");
        for (const [key, kind] of TRADE_COLUMNS) tr.append(tradeCell(ctx, key, kind, row.trade));
        body.append(tr);
      }
    }

    function sortBy(key, th) {
      ascending = sortKey === key ? !ascending : true;
      sortKey = key;
      rows.sort((a, b) => {
        const x = a.trade[key];
        const y = b.trade[key];
        const order = x < y ? -1 : x > y ? 1 : a.index - b.index;
        return ascending ? order : -order;
      });
      for (const other of head.children) other.removeAttribute("aria-sort");
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      fill();
    }

    for (const [key, kind] of TRADE_COLUMNS) {
      const th = el("th", { scope: "col", className: kind === "date" || kind === "label" ? "" : "num" });
      th.append(el("button", { type: "button", className: "sort", text: ctx.t("trade." + key), onclick: () => sortBy(key, th) }));
      head.append(th);
    }
    table.append(caption, el("thead", {}, head), body);
    fill();
    wrap.append(table);
    if (trades.length > TABLE_ROWS) wrap.append(el("p", { className: "muted", text: ctx.t("result.trades_truncated", { count: TABLE_ROWS }) }));
    return wrap;
  }

  /* ---------------------------------------------------------------- the whole result */
  function section(title, id, extraClass) {
    const chart = el("div", { className: "chart " + (extraClass || ""), id: id, role: "img", "aria-label": title });
    return { node: el("section", { className: "result-part" }, el("h3", { text: title }), chart), chart: chart };
  }

  function renderResult(root, ctx, doc, bars) {
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
    const equity = section(ctx.t("result.equity"), "equity-chart");
    const drawdown = section(ctx.t("result.drawdown"), "drawdown-chart", "short");
    const price = section(ctx.t("result.price"), "price-chart", "tall");
    const monthly = section(ctx.t("result.monthly"), "monthly-chart", "auto");
    root.append(equity.node, drawdown.node, price.node, monthly.node);
    const trades = el("section", { className: "result-part" }, el("h3", { text: ctx.t("result.trades", { count: doc.trades.length }) }), tradesTable(ctx, doc.trades));
    root.append(trades);
    const fallbackBars = { time: doc.equity.time, open: doc.equity.close, high: doc.equity.close, low: doc.equity.close, close: doc.equity.close };
    return Promise.all([
      equityChart(equity.chart, ctx, doc),
      drawdownChart(drawdown.chart, ctx, doc),
      priceChart(price.chart, ctx, bars || fallbackBars, doc.fills),
      doc.monthly_returns.length ? monthlyHeatmap(monthly.chart, ctx, doc.monthly_returns) : Promise.resolve(),
    ]);
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

  global.PTCharts = { renderResult, priceChart, compareChart, metricText, CARDS, palette, tone };
})(window);
