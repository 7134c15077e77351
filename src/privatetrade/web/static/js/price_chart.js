/* The price chart of a result: candles (or the close), a volume pane, the strategy's
   indicators (over the prices, or in a lower pane with their levels), the fills as
   markers, and the stop-loss / take-profit / trailing stop of a selected trade.
   No gaps for weekends and holidays (rangebreaks from the bars' own dates); the range
   buttons and zooming rescale every pane's y-axis to what is visible. The legend sits
   under the chart, the range buttons above it: they never overlap.

   PTPriceChart.draw(div, ctx, {bars, fills, trades, analysis, params}) -> Promise<chart>
   chart.selectTrade(index), chart.onTradeClick = (index) => ...
   Shared by the result page, the stock page and the offline HTML report. */
(function (global) {
  "use strict";
  const CANDLES_UP_TO = 20000;
  const LINE_COLORS = {
    sma_fast: "#d97706", sma_slow: "#2563eb", ema_fast: "#d97706", ema_slow: "#2563eb",
    bb_upper: "#7c3aed", bb_middle: "#a16207", bb_lower: "#7c3aed",
    donchian_upper: "#0f766e", donchian_lower: "#be185d", breakout_target: "#ea580c",
    rsi: "#7c3aed", macd: "#2563eb", macd_signal: "#d97706", momentum: "#0f766e",
  };
  const DASHED = new Set(["bb_upper", "bb_lower", "donchian_upper", "donchian_lower"]);
  const DAY_MS = 86400000;

  /* Plotly wants wall-clock times without an offset: "2012-01-03 00:00:00". */
  function plotTime(iso) {
    return iso.slice(0, 19).replace("T", " ");
  }

  /* ------------------------------------------------------------ no gaps */
  function dayNumber(text) {
    return Date.UTC(+text.slice(0, 4), +text.slice(5, 7) - 1, +text.slice(8, 10)) / DAY_MS;
  }

  function isoDay(number) {
    return new Date(number * DAY_MS).toISOString().slice(0, 10);
  }

  /* Rangebreaks for bars of daily or finer spacing: the weekends when no bar falls on one,
     the weekdays without a bar (holidays), the hours outside the session for intraday bars.
     Weekly and longer bars get none (their gaps are the bars' spacing). */
  function rangeBreaks(times) {
    if (times.length < 3) return [];
    const spacing = [];
    for (let i = 1; i < Math.min(times.length, 400); i++) spacing.push(Date.parse(times[i].slice(0, 19) + "Z") - Date.parse(times[i - 1].slice(0, 19) + "Z"));
    spacing.sort((a, b) => a - b);
    const typical = spacing[Math.floor(spacing.length / 2)];
    if (!(typical > 0) || typical > 1.5 * DAY_MS) return [];
    const days = new Set(times.map((time) => dayNumber(time)));
    const weekendBars = Array.from(days).some((day) => [0, 6].includes(new Date(day * DAY_MS).getUTCDay()));
    const breaks = [];
    if (!weekendBars) breaks.push({ bounds: ["sat", "mon"] });
    const missing = [];
    const first = dayNumber(times[0]);
    const last = dayNumber(times[times.length - 1]);
    for (let day = first + 1; day < last; day++) {
      const weekday = new Date(day * DAY_MS).getUTCDay();
      if (!days.has(day) && (weekendBars || (weekday !== 0 && weekday !== 6))) missing.push(isoDay(day));
    }
    if (missing.length) breaks.push({ values: missing, dvalue: DAY_MS });
    if (typical < DAY_MS) {
      const minutes = times.map((time) => +time.slice(11, 13) * 60 + +time.slice(14, 16));
      const open = Math.min(...minutes);
      const close = Math.max(...minutes) + typical / 60000;
      if (close - open < 20 * 60) breaks.push({ pattern: "hour", bounds: [close / 60, open / 60] });
    }
    return breaks;
  }

  /* ------------------------------------------------------------ panes */
  function paneDomains(hasVolume, hasLower) {
    const weights = [["price", 0.62]];
    if (hasVolume) weights.push(["volume", 0.14]);
    if (hasLower) weights.push(["lower", 0.24]);
    const gap = 0.035;
    const total = weights.reduce((sum, [, w]) => sum + w, 0);
    const usable = 1 - gap * (weights.length - 1);
    const domains = {};
    let top = 1;
    for (const [name, weight] of weights) {
      const height = (usable * weight) / total;
      domains[name] = [Math.max(0, top - height), top];
      top -= height + gap;
    }
    return domains;
  }

  /* A rule strategy's lines come named by the engine in English ("SMA(close, 10)",
     "Bollinger upper(close, 20, 2)", "high 1 bars ago"): other languages get the words
     from the catalog's rule builder labels. */
  const RULE_LINE_WORDS = [
    [/\bBollinger (upper|middle|lower)\b/g, (t, whole, band) => `${t("rules.indicator.bollinger")} ${t("rules.band." + band)}`],
    [/\bDonchian (upper|lower)\b/g, (t, whole, band) => `${t("rules.indicator.donchian")} ${t("rules.band." + band)}`],
    [/\bRange breakout\b/g, (t) => t("rules.indicator.range_breakout")],
    [/\bMACD (signal|histogram)\b/g, (t, whole, part) => `MACD ${t("rules.output." + part)}`],
    [/\b(\d+) bars ago\b/g, (t, whole, bars) => t("rules.bars_ago", { bars: bars })],
    [/\b(SMA|EMA|WMA|ROC|ATR)\b/g, (t, whole, name) => t("rules.indicator." + name.toLowerCase())],
    [/\b(open|high|low|close|volume)\b/g, (t, whole, price) => t("rules.price." + price)],
  ];

  function lineLabel(ctx, name, params) {
    const key = "indicator." + name;
    const known = ctx.t(key, params || {});
    if (known !== key) return known;
    if (ctx.fmt.locale.startsWith("en")) return name;
    return RULE_LINE_WORDS.reduce((text, [pattern, word]) => text.replace(pattern, (...found) => word(ctx.t, ...found)), name);
  }

  function indicatorTraces(ctx, x, analysis, params, axes) {
    const traces = [];
    const indicators = analysis && analysis.indicators;
    if (!indicators) return traces;
    for (const line of indicators.lines) {
      traces.push({
        type: "scatter", mode: "lines", x: x, y: line.values, name: lineLabel(ctx, line.name, params),
        yaxis: line.pane === "lower" ? axes.lower : "y", meta: { indicator: line.name },
        line: { color: LINE_COLORS[line.name] || "#4b5563", width: 1.4, dash: DASHED.has(line.name) ? "dash" : line.name === "breakout_target" ? "dot" : "solid" },
        connectgaps: false, hovertemplate: "%{y:,.4~f}",
      });
    }
    for (const level of indicators.levels) {
      traces.push({
        type: "scatter", mode: "lines", x: [x[0], x[x.length - 1]], y: [level.value, level.value],
        name: lineLabel(ctx, level.name, params), yaxis: level.pane === "lower" ? axes.lower : "y",
        meta: { level: level.name }, line: { color: "#6b7280", width: 1, dash: "dash" }, hoverinfo: "skip",
      });
    }
    return traces;
  }

  function volumeTrace(ctx, x, bars, colors) {
    const up = colors.up;
    const down = colors.down;
    return {
      type: "bar", x: x, y: bars.volume, name: ctx.t("chart.volume"), yaxis: "y2", meta: { volume: true },
      marker: { color: bars.close.map((close, i) => (close >= bars.open[i] ? up : down)), opacity: 0.45 },
      hovertemplate: "%{y:,.0f}<extra></extra>", showlegend: false,
    };
  }

  function priceTrace(ctx, x, bars, colors) {
    if (bars.time.length <= CANDLES_UP_TO && bars.open) {
      return { type: "candlestick", x: x, open: bars.open, high: bars.high, low: bars.low, close: bars.close,
        name: ctx.t("chart.price"), increasing: { line: { color: colors.up }, fillcolor: colors.up },
        decreasing: { line: { color: colors.down }, fillcolor: colors.down } };
    }
    return { type: "scatter", mode: "lines", x: x, y: bars.close, name: ctx.t("chart.close"), line: { color: "#374151", width: 1 } };
  }

  /* Which trade each fill belongs to (entry or exit), for clicks on the markers. */
  function fillTrades(fills, trades) {
    const byKey = new Map();
    trades.forEach((trade, index) => {
      const entrySide = trade.direction === "long" ? "buy" : "sell";
      byKey.set(`${trade.entry_time}|${entrySide}|${trade.entry_price}|entry`, index);
      byKey.set(`${trade.exit_time}|${entrySide === "buy" ? "sell" : "buy"}|${trade.exit_price}|exit`, index);
    });
    return fills.map((fill) => {
      const role = fill.reason === "entry" ? "entry" : "exit";
      const index = byKey.get(`${fill.time}|${fill.side}|${fill.price}|${role}`);
      return index === undefined ? null : index;
    });
  }

  function fillTraces(ctx, fills, trades, levels) {
    const owners = fillTrades(fills, trades);
    const traces = [];
    for (const side of ["buy", "sell"]) {
      const mine = fills.map((fill, i) => [fill, owners[i]]).filter(([fill]) => fill.side === side);
      if (!mine.length) continue;
      traces.push({
        type: "scatter", mode: "markers", name: ctx.t("chart." + side), meta: { fills: side },
        x: mine.map(([fill]) => plotTime(fill.time)), y: mine.map(([fill]) => fill.price),
        customdata: mine.map(([, owner]) => owner),
        marker: { symbol: side === "buy" ? "triangle-up" : "triangle-down", size: 11,
          color: side === "buy" ? "#111827" : "#f59e0b",
          line: { color: mine.map(([fill, owner]) => (gapOf(levels, owner, fill) ? "#dc2626" : "#ffffff")),
            width: mine.map(([fill, owner]) => (gapOf(levels, owner, fill) ? 2.5 : 1)) } },
        text: mine.map(([fill, owner]) => {
          const base = `${ctx.t("chart." + side)} ${ctx.fmt.int(fill.quantity)} @ ${ctx.fmt.price(fill.price, ctx.currency)} · ${ctx.t("exit." + fill.reason)}`;
          return gapOf(levels, owner, fill) ? `${base} · ${ctx.t("trade.gap")}` : base;
        }),
        hovertemplate: "%{text}<extra></extra>",
      });
    }
    return traces;
  }

  function gapOf(levels, owner, fill) {
    return Boolean(levels && owner !== null && fill.reason !== "entry" && levels[owner] && levels[owner].gap);
  }

  function rangeButtons(ctx) {
    return {
      x: 0, xanchor: "left", y: 1.01, yanchor: "bottom",
      buttons: [
        { count: 1, label: ctx.t("chart.1m"), step: "month", stepmode: "backward" },
        { count: 6, label: ctx.t("chart.6m"), step: "month", stepmode: "backward" },
        { count: 1, label: ctx.t("chart.1y"), step: "year", stepmode: "backward" },
        { count: 5, label: ctx.t("chart.5y"), step: "year", stepmode: "backward" },
        { step: "all", label: ctx.t("chart.all") },
      ],
    };
  }

  /* ------------------------------------------------------------ y-axes that follow the x range */
  function lowerBound(sorted, value) {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid] < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  function extent(arrays, from, to) {
    let low = Infinity;
    let high = -Infinity;
    for (const values of arrays) {
      for (let i = from; i < to; i++) {
        const v = values[i];
        if (v === null || v === undefined || !isFinite(v)) continue;
        if (v < low) low = v;
        if (v > high) high = v;
      }
    }
    return low <= high ? [low, high] : null;
  }

  function padded(range, share) {
    const span = range[1] - range[0] || Math.abs(range[1]) * 0.02 || 1;
    return [range[0] - span * share, range[1] + span * share];
  }

  /* ------------------------------------------------------------ the chart */
  function draw(div, ctx, input) {
    const Plotly = global.Plotly;
    const colors = global.PTCharts.palette(ctx);
    const bars = input.bars;
    const trades = input.trades || [];
    const analysis = input.analysis || null;
    const levels = analysis && analysis.trades;
    const x = bars.time.map(plotTime);
    const indicators = analysis && analysis.indicators;
    const sameBars = indicators && analysis.bar_count === bars.time.length;
    const usable = sameBars ? analysis : null;
    const hasLower = Boolean(usable && usable.indicators.lines.some((line) => line.pane === "lower"));
    const hasVolume = Boolean(bars.volume && bars.volume.some((v) => v > 0));
    const domains = paneDomains(hasVolume, hasLower);
    const axes = { lower: hasVolume ? "y3" : "y2" };
    const bottom = hasLower ? axes.lower : hasVolume ? "y2" : "y";
    const traces = [priceTrace(ctx, x, bars, colors)];
    if (hasVolume) traces.push(volumeTrace(ctx, x, bars, colors));
    traces.push(...indicatorTraces(ctx, x, usable, input.params, axes));
    traces.push(...fillTraces(ctx, input.fills || [], trades, levels));
    const selection = selectionTraces(ctx);
    const selectionStart = traces.length;
    traces.push(...selection);

    const breaks = rangeBreaks(bars.time);
    const fullRange = [x[0], x[x.length - 1]];
    const layout = {
      /* an explicit range: Plotly's autorange pads a date axis with rangebreaks by months */
      xaxis: { rangeslider: { visible: false }, rangeselector: rangeButtons(ctx), rangebreaks: breaks, anchor: bottom, domain: [0, 1], range: fullRange },
      yaxis: { domain: domains.price, tickformat: ",.2~f", automargin: true },
      hovermode: "closest",
      legend: { orientation: "h", x: 0, xanchor: "left", y: 0, yanchor: "bottom", yref: "container" },
      margin: { l: 64, r: 16, t: 40, b: 64 },
      height: hasLower ? 640 : hasVolume ? 540 : 460,
    };
    // Volumes in full ("1,000,000"): SI letters (1M) are not Korean.
    const volumeFormat = ctx.fmt.locale.startsWith("ko") ? ",d" : "~s";
    if (hasVolume) layout.yaxis2 = { domain: domains.volume, tickformat: volumeFormat, automargin: true, fixedrange: true, title: { text: ctx.t("chart.volume"), font: { size: 11 } } };
    if (hasLower) layout["yaxis" + axes.lower.slice(1)] = { domain: domains.lower, automargin: true, tickformat: ",.4~g" };
    div.style.height = layout.height + "px";

    const chart = { div: div, onTradeClick: null, selected: null, breaks: breaks };
    const sortedX = x;
    const priceArrays = bars.open ? [bars.low, bars.high] : [bars.close];
    const priceLines = usable ? usable.indicators.lines.filter((line) => line.pane === "price").map((line) => line.values) : [];
    const lowerLines = usable ? usable.indicators.lines.filter((line) => line.pane === "lower").map((line) => line.values) : [];
    const lowerLevels = usable ? usable.indicators.levels.filter((level) => level.pane === "lower").map((level) => level.value) : [];

    /* Rescale the y-axes to the bars between the x-axis ends (all bars when autoranged). */
    function rescale(range) {
      const from = range ? Math.max(0, lowerBound(sortedX, String(range[0]))) : 0;
      const to = range ? Math.min(x.length, lowerBound(sortedX, String(range[1]).slice(0, 19) + "~")) : x.length;
      if (to <= from) return Promise.resolve();
      const update = {};
      const extra = chart.selected ? chart.selected.levels.filter((v) => v !== null) : [];
      const price = extent([...priceArrays, ...priceLines, extra], from, to);
      if (price) update["yaxis.range"] = padded(price, 0.04);
      if (hasVolume) {
        const volume = extent([bars.volume], from, to);
        if (volume) update["yaxis2.range"] = [0, volume[1] * 1.08 || 1];
      }
      if (hasLower) {
        const lower = extent(lowerLines, from, to);
        if (lower) {
          const withLevels = [Math.min(lower[0], ...lowerLevels), Math.max(lower[1], ...lowerLevels)];
          update[`yaxis${axes.lower.slice(1)}.range`] = padded(withLevels, 0.06);
        }
      }
      return Plotly.relayout(div, update);
    }
    chart.rescale = rescale;

    function onRelayout(event) {
      if (!event) return;
      const keys = Object.keys(event);
      if (!keys.some((key) => key.startsWith("xaxis."))) return;
      if (event["xaxis.autorange"]) {
        Plotly.relayout(div, { "xaxis.range": fullRange.slice() }); /* "All": back to the bars' own span */
        return;
      }
      rescale(div.layout.xaxis.range);
    }

    /* Draw a trade's levels (and zoom to it, with some bars around it). */
    chart.selectTrade = function (index, zoom) {
      const trade = trades[index];
      if (!trade) return Promise.resolve();
      const level = levels ? levels[index] : null;
      const entry = plotTime(trade.entry_time);
      const exit = plotTime(trade.exit_time);
      /* a trade closed on its entry bar still gets visible level lines: to the next bar */
      const lineEnd = level && level.exit_bar === level.entry_bar && level.exit_bar + 1 < x.length ? x[level.exit_bar + 1] : exit;
      const span = [entry, lineEnd];
      const flat = (value) => (value === null || value === undefined ? [] : [value, value]);
      const stopLoss = level ? level.stop_loss : null;
      const takeProfit = level ? level.take_profit : null;
      const trailing = level && level.trailing ? level.trailing : null;
      const trailX = trailing ? x.slice(level.entry_bar, level.exit_bar + 1) : [];
      const update = {
        x: [stopLoss === null ? [] : span, takeProfit === null ? [] : span, trailX, [entry, exit]],
        y: [flat(stopLoss), flat(takeProfit), trailing || [], [trade.entry_price, trade.exit_price]],
        visible: [stopLoss !== null, takeProfit !== null, Boolean(trailing), true],
      };
      chart.selected = { index: index, levels: [stopLoss, takeProfit, ...(trailing || [])] };
      const indices = selection.map((_, i) => selectionStart + i);
      const shapes = [{ type: "rect", xref: "x", yref: "paper", x0: entry, x1: exit, y0: domains.price[0], y1: domains.price[1],
        fillcolor: "rgba(37, 99, 235, 0.08)", line: { width: 0 }, layer: "below" }];
      return Plotly.restyle(div, update, indices).then(() => Plotly.relayout(div, { shapes: shapes })).then(() => {
        if (!zoom) return rescale(div.layout.xaxis.range);
        const pad = Math.max(15, 2 * (level ? level.exit_bar - level.entry_bar : 10));
        const first = level ? Math.max(0, level.entry_bar - pad) : Math.max(0, lowerBound(x, entry) - pad);
        const last = level ? Math.min(x.length - 1, level.exit_bar + pad) : Math.min(x.length - 1, lowerBound(x, exit) + pad);
        return Plotly.relayout(div, { "xaxis.range": [x[first], x[last]] });
      });
    };

    return Plotly.newPlot(div, traces, global.PTCharts.baseLayout(layout), global.PTCharts.PLOT_CONFIG).then(() => {
      div.on("plotly_relayout", onRelayout);
      return rescale(fullRange);
    }).then(() => {
      div.on("plotly_click", (event) => {
        const point = event && event.points && event.points[0];
        if (!point || point.customdata === null || point.customdata === undefined) return;
        const index = Number(point.customdata);
        if (!trades[index]) return;
        if (chart.onTradeClick) chart.onTradeClick(index);
        else chart.selectTrade(index, false);
      });
      return chart;
    });
  }

  function selectionTraces(ctx) {
    const hidden = (name, key, color, dash, width) => ({
      type: "scatter", mode: "lines", x: [], y: [], name: ctx.t(name), meta: { selected: key }, visible: false,
      line: { color: color, dash: dash, width: width || 1.6 }, hovertemplate: "%{y:,.4~f}<extra>" + ctx.t(name) + "</extra>",
    });
    return [
      hidden("chart.stop_loss", "stop_loss", "#dc2626", "dash"),
      hidden("chart.take_profit", "take_profit", "#16a34a", "dash"),
      Object.assign(hidden("chart.trailing_stop", "trailing_stop", "#ea580c", "dot"), { mode: "lines+markers", marker: { size: 4, color: "#ea580c" },
        line: { shape: "hv", color: "#ea580c", dash: "dot", width: 1.6 } }),
      { type: "scatter", mode: "lines+markers", x: [], y: [], name: ctx.t("chart.selected_trade"), meta: { selected: "trade" }, visible: false,
        line: { color: "#2563eb", width: 1, dash: "dot" }, marker: { size: 13, symbol: "circle-open", color: "#2563eb", line: { width: 2 } }, hoverinfo: "skip" },
    ];
  }

  global.PTPriceChart = { draw, rangeBreaks, plotTime };
})(window);
