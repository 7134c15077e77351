/* A portfolio backtest's page: follow it live, then its result document — metric cards,
   equity against the benchmark, drawdown, the holdings' weights stacked, the contribution
   of each symbol (sortable), the trades (filtered by symbol), the rebalances and the
   downloads the job stored. */
(function () {
  "use strict";
  const { config, t, fmt, api, el, errorMessage, showError } = window.PT;
  const job = config.job;
  const $ = (id) => document.getElementById(id);
  const ctx = { t: t, fmt: fmt, currency: job.currency, colors: config.colors, names: config.names || {} };
  const tone = window.PTCharts.tone;
  const TABLE_ROWS = 2000;
  const REBALANCE_ROWS = 500;
  const CARDS = [
    ["total_return", "signed"], ["cagr", "signed"], ["sharpe", "ratio"], ["sortino", "ratio"],
    ["max_drawdown", "signed"], ["volatility", "pct"], ["calmar", "ratio"], ["exposure", "pct"],
    ["turnover", "pct"], ["n_symbols_held", "int"], ["trade_count", "int"], ["win_rate", "pct"],
    ["profit_factor", "ratio"], ["final_equity", "money"], ["benchmark_return", "signed"], ["alpha", "signed"],
    ["beta", "ratio"], ["total_commission", "money"], ["total_tax", "money"],
  ];

  const label = (code) => window.PTPortfolioCharts.symbolLabel(ctx, code);
  const td = (text, className) => el("td", { className: className || "", text: text });
  const moneyCell = (value) => td(fmt.money(value, job.currency), "num " + tone(value));
  const signedCell = (value) => td(fmt.signedPct(value), "num " + tone(value));

  /* ------------------------------------------------------------ metric cards */
  function metricCards(metrics) {
    const cards = [];
    for (const [key, kind] of CARDS) {
      if (!(key in metrics) || metrics[key] === null) continue;
      const value = metrics[key];
      cards.push(el("div", { className: "metric", "data-metric": key },
        el("dt", { text: t("metric." + key) }),
        el("dd", { className: kind === "signed" ? tone(value) : "", text: window.PTCharts.metricText(ctx, kind, value) })));
    }
    $("metric-cards").replaceChildren(...cards);
  }

  function warnings(doc) {
    const list = doc.warnings || [];
    $("warnings").hidden = list.length === 0;
    $("warnings").replaceChildren(...list.map((text) => el("li", { text: typeof text === "string" ? t.notice(text) : JSON.stringify(text) })));
  }

  /* ------------------------------------------------------------ contribution */
  function contributionTable(doc) {
    const rows = doc.contribution || [];
    window.PTSortableTable($("contribution-table"), {
      caption: t("portfolio.contribution"),
      rows: rows,
      sort: { key: "pnl", descending: true },
      rowAttributes: (row) => ({ "data-symbol": row.symbol }),
      columns: [
        { key: "symbol", label: t("col.stock"), value: (row) => label(row.symbol), cell: (row) => el("th", { scope: "row", text: label(row.symbol) }) },
        { key: "pnl", label: t("portfolio.pnl"), numeric: true, cell: (row) => moneyCell(row.pnl) },
        { key: "return_contribution", label: t("portfolio.return_contribution"), numeric: true, cell: (row) => signedCell(row.return_contribution) },
        { key: "trades", label: t("metric.trade_count"), numeric: true, cell: (row) => td(fmt.int(row.trades), "num") },
        { key: "win_rate", label: t("metric.win_rate"), numeric: true, cell: (row) => td(fmt.pct(row.win_rate), "num") },
        { key: "max_weight", label: t("portfolio.max_weight"), numeric: true, cell: (row) => td(fmt.pct(row.max_weight, 1), "num") },
        { key: "turnover", label: t("metric.turnover"), numeric: true, cell: (row) => td(fmt.pct(row.turnover, 0), "num") },
      ],
    });
  }

  /* ------------------------------------------------------------ trades per symbol */
  const TRADE_COLUMNS = [
    ["entry_time", "date"], ["exit_time", "date"], ["quantity", "int"], ["entry_price", "money"],
    ["exit_price", "money"], ["net_pnl", "signed-money"], ["return", "signed"], ["holding_days", "int"], ["exit_reason", "label"],
  ];

  function tradeCell(key, kind, trade) {
    const value = trade[key];
    if (kind === "date") return td(fmt.date(value));
    if (kind === "label") return td(t("exit." + value));
    if (kind === "int") return td(fmt.int(value), "num");
    if (kind === "money") return td(fmt.price(value, job.currency), "num");
    if (kind === "signed-money") return moneyCell(value);
    return signedCell(value);
  }

  function tradesTable(doc) {
    const trades = doc.trades || [];
    const select = $("trades-symbol");
    const counts = new Map();
    for (const trade of trades) counts.set(trade.symbol, (counts.get(trade.symbol) || 0) + 1);
    for (const [code, count] of counts) select.append(el("option", { value: code, text: `${label(code)} (${fmt.int(count)})` }));
    const draw = () => {
      const symbol = select.value;
      const shown = symbol ? trades.filter((trade) => trade.symbol === symbol) : trades;
      $("trades-count").textContent = shown.length > TABLE_ROWS
        ? t("portfolio.trades_shown", { shown: fmt.int(TABLE_ROWS), count: fmt.int(shown.length) })
        : t("portfolio.trades_count", { count: fmt.int(shown.length) });
      window.PTSortableTable($("trades-table"), {
        caption: t("portfolio.trades"),
        rows: shown,
        limit: TABLE_ROWS,
        rowAttributes: (trade) => ({ "data-symbol": trade.symbol }),
        columns: [
          { key: "symbol", label: t("col.stock"), value: (trade) => label(trade.symbol), cell: (trade) => td(label(trade.symbol)) },
          ...TRADE_COLUMNS.map(([key, kind]) => ({
            key: key, label: t("trade." + key), numeric: kind !== "date" && kind !== "label", cell: (trade) => tradeCell(key, kind, trade),
          })),
        ],
      });
    };
    select.addEventListener("change", draw);
    draw();
  }

  /* ------------------------------------------------------------ rebalances */
  function weightsText(weights) {
    const entries = Object.entries(weights || {}).filter(([, w]) => w > 0).sort((a, b) => b[1] - a[1]);
    const text = entries.slice(0, 5).map(([code, w]) => `${code} ${fmt.pct(w, 1)}`).join(" · ");
    return entries.length > 5 ? `${text} ${t("universe.and_more", { count: entries.length - 5 })}` : text || t("portfolio.all_cash");
  }

  function rebalancesTable(doc) {
    const rebalances = doc.rebalances || [];
    if (!rebalances.length) {
      $("rebalances-section").hidden = true;
      return;
    }
    $("rebalances-count").textContent = rebalances.length > REBALANCE_ROWS
      ? t("portfolio.rebalances_shown", { shown: fmt.int(REBALANCE_ROWS), count: fmt.int(rebalances.length) })
      : t("portfolio.rebalances_count", { count: fmt.int(rebalances.length) });
    window.PTSortableTable($("rebalances-table"), {
      caption: t("portfolio.rebalances"),
      rows: rebalances,
      limit: REBALANCE_ROWS,
      columns: [
        { key: "signal_time", label: t("portfolio.signal_time"), cell: (row) => td(fmt.date(row.signal_time)) },
        { key: "fill_time", label: t("portfolio.fill_time"), cell: (row) => td(row.fill_time ? fmt.date(row.fill_time) : "—") },
        { key: "turnover", label: t("metric.turnover"), numeric: true, cell: (row) => td(fmt.pct(row.turnover, 1), "num") },
        { key: "weights", label: t("portfolio.target_weights"), sortable: false, cell: (row) => td(weightsText(row.weights), "weights-text") },
      ],
    });
  }

  /* ------------------------------------------------------------ the whole result */
  async function showResult() {
    try {
      const [doc] = await Promise.all([
        api("GET", `/api/jobs/${job.id}/artifacts/result.json`),
        window.PTJobPage.showDownloads(job, $("downloads")),
      ]);
      warnings(doc);
      metricCards(doc.metrics || {});
      contributionTable(doc);
      tradesTable(doc);
      rebalancesTable(doc);
      const held = (doc.holdings && doc.holdings.symbols.length) || 0;
      $("holdings-note").textContent = held > window.PTPortfolioCharts.BANDS
        ? t("portfolio.holdings_hint_many", { bands: window.PTPortfolioCharts.BANDS }) : t("portfolio.holdings_hint");
      await Promise.all([
        window.PTPortfolioCharts.equityChart($("equity-chart"), ctx, doc),
        window.PTPortfolioCharts.drawdownChart($("drawdown-chart"), ctx, doc),
        window.PTPortfolioCharts.holdingsChart($("holdings-chart"), ctx, doc),
      ]);
    } catch (error) {
      showError($("run-error"), errorMessage(error));
    } finally {
      $("result-loading").hidden = true;
    }
  }

  window.PTJobPage(job, { onSucceeded: showResult });
})();
