/* A universe scan's page: follow it live ("N of M symbols"), then its ranking
   (GET /api/scans/{id}/ranking) as a table sorted by clicking its headings and a scatter
   of total return against max drawdown. Every row and every dot opens that symbol's full
   backtest: POST /api/scans/{id}/backtests {symbol} (a finished identical backtest is
   reused), then the backtest's own page. */
(function () {
  "use strict";
  const { config, t, fmt, api, el, errorMessage, showError, hideError } = window.PT;
  const job = config.job;
  const $ = (id) => document.getElementById(id);
  const ctx = { t: t, fmt: fmt, currency: job.currency, colors: config.colors };
  const tone = window.PTCharts.tone;
  const PLOT_CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  /* The table's figures (ranking.csv has every column). */
  const NUMERIC = ["rank", "total_return", "sharpe", "max_drawdown", "win_rate", "profit_factor", "trades"];
  let opening = false;

  const td = (text, className) => el("td", { className: className || "", text: text });
  const symbolText = (row) => (row.name && row.name !== row.symbol ? `${row.name} (${row.symbol})` : row.symbol);

  /* ------------------------------------------------------------ open one symbol's backtest */
  async function openBacktest(symbol, control) {
    if (opening) return;
    opening = true;
    hideError($("open-error"));
    if (control) control.disabled = true;
    try {
      const created = await api("POST", `/api/scans/${job.id}/backtests`, { symbol: symbol });
      window.location.assign("/backtests/" + created.id);
    } catch (error) {
      showError($("open-error"), errorMessage(error));
      if (control) control.disabled = false;
      opening = false;
    }
  }

  /* ------------------------------------------------------------ summary */
  function card(key, label, text, className) {
    return el("div", { className: "metric", "data-card": key }, el("dt", { text: label }), el("dd", { className: className || "", text: text }));
  }

  function summaryCards(rows) {
    const fine = rows.filter((row) => !row.error && fmt.isNumber(row.total_return));
    const returns = fine.map((row) => row.total_return).sort((a, b) => a - b);
    const middle = returns.length ? (returns.length % 2 ? returns[(returns.length - 1) / 2]
      : (returns[returns.length / 2 - 1] + returns[returns.length / 2]) / 2) : null;
    const positive = fine.filter((row) => row.total_return > 0).length;
    $("scan-cards").replaceChildren(
      card("symbols", t("scan.card.symbols"), fmt.int(rows.length)),
      card("errors", t("scan.card.errors"), fmt.int(rows.length - fine.length)),
      card("positive", t("scan.card.positive"), fine.length ? fmt.pct(positive / fine.length, 0) : "—"),
      card("median_return", t("scan.card.median_return"), fmt.signedPct(middle), tone(middle)),
    );
  }

  /* ------------------------------------------------------------ the ranking table */
  function metricCell(key, row) {
    const value = row[key];
    if (["total_return", "cagr", "max_drawdown"].includes(key)) return td(fmt.signedPct(value), "num " + tone(value));
    if (key === "win_rate") return td(fmt.pct(value), "num");
    if (["trades", "bars", "rank"].includes(key)) return td(fmt.int(value), "num");
    return td(fmt.num(value, 2), "num");
  }

  function rankingTable(rows, sort) {
    const columns = [
      ...["rank"].map((key) => ({ key: key, label: t("research.rank"), numeric: true, cell: (row) => metricCell(key, row) })),
      {
        key: "symbol", label: t("col.stock"), value: (row) => row.symbol,
        cell: (row) => el("th", { scope: "row" }, symbolText(row), row.error ? el("span", { className: "row-error", text: " " + t.notice(row.error) }) : null),
      },
      { key: "market", label: t("scan.column.market"), cell: (row) => td(row.market || "") },
      ...NUMERIC.filter((key) => key !== "rank").map((key) => ({
        key: key, label: t("scan.column." + key), numeric: true, cell: (row) => metricCell(key, row),
      })),
      {
        key: "open", label: t("scan.full_backtest"), sortable: false,
        cell: (row) => el("td", {}, row.error ? null : el("button", {
          type: "button", className: "secondary", text: t("scan.open"),
          "aria-label": t("scan.open_symbol", { symbol: symbolText(row) }),
          onclick: (event) => { event.stopPropagation(); openBacktest(row.symbol, event.currentTarget); },
        })),
      },
    ];
    window.PTSortableTable($("ranking-table"), {
      caption: t("scan.ranking"),
      rows: rows,
      columns: columns,
      sort: { key: sort.key, descending: sort.descending },
      rowAttributes: (row) => ({
        "data-symbol": row.symbol, className: row.error ? "failed-row" : "opens",
        onclick: row.error ? null : (event) => { if (!event.target.closest("button")) openBacktest(row.symbol, null); },
      }),
      onSorted: (key, descending) => {
        $("ranking-table").dataset.sort = `${key}:${descending ? "desc" : "asc"}`;
        $("ranking-sort").textContent = t("scan.sorted_by", {
          column: key === "symbol" ? t("col.stock") : key === "rank" ? t("research.rank") : t("scan.column." + key),
          order: t(descending ? "scan.descending" : "scan.ascending"),
        });
      },
    });
  }

  /* ------------------------------------------------------------ the scatter */
  function scatter(rows) {
    const colors = window.PTCharts.palette(ctx);
    const points = rows.filter((row) => !row.error && fmt.isNumber(row.total_return) && fmt.isNumber(row.max_drawdown));
    const div = $("scan-scatter");
    const trace = {
      type: "scatter", mode: "markers",
      x: points.map((row) => row.max_drawdown), y: points.map((row) => row.total_return),
      customdata: points.map((row) => row.symbol),
      text: points.map((row) => `${symbolText(row)}<br>${t("metric.total_return")} ${fmt.signedPct(row.total_return)}`
        + `<br>${t("metric.max_drawdown")} ${fmt.signedPct(row.max_drawdown)}<br>${t("metric.sharpe")} ${fmt.num(row.sharpe, 2)}`),
      hovertemplate: "%{text}<extra></extra>",
      marker: { size: 10, color: points.map((row) => (row.total_return >= 0 ? colors.up : colors.down)), opacity: 0.85, line: { color: "#ffffff", width: 1 } },
    };
    return window.Plotly.newPlot(div, [trace], {
      margin: { l: 80, r: 16, t: 16, b: 48 },
      font: { family: 'system-ui, "Noto Sans KR", "Noto Sans CJK KR", sans-serif', size: 13 },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", hovermode: "closest", showlegend: false,
      xaxis: { title: { text: t("metric.max_drawdown") }, tickformat: ".0%", zeroline: true },
      yaxis: { title: { text: t("metric.total_return"), standoff: 12 }, tickformat: ".0%", automargin: true },
    }, PLOT_CONFIG).then(() => {
      div.on("plotly_click", (event) => {
        const point = event.points && event.points[0];
        if (point) openBacktest(point.customdata, null);
      });
      div.dataset.points = String(points.length);
    });
  }

  /* ------------------------------------------------------------ the whole result */
  function rowsOf(answer) {
    if (Array.isArray(answer)) return answer;
    return answer.rows || answer.items || [];
  }

  async function showResult() {
    try {
      const sort = job.spec.sort || "sharpe";
      const [answer] = await Promise.all([
        api("GET", `/api/scans/${job.id}/ranking?` + new URLSearchParams({ sort: sort, order: "desc" })),
        window.PTJobPage.showDownloads(job, $("downloads")),
      ]);
      const rows = rowsOf(answer);
      summaryCards(rows);
      rankingTable(rows, { key: "rank", descending: false });
      await scatter(rows);
    } catch (error) {
      showError($("run-error"), errorMessage(error));
    } finally {
      $("result-loading").hidden = true;
    }
  }

  function progressText(view) {
    const summary = view.summary || {};
    return fmt.isNumber(summary.total) && fmt.isNumber(summary.done)
      ? t("scan.progress_count", { done: fmt.int(summary.done), total: fmt.int(summary.total) }) : "";
  }

  window.PTJobPage(job, { onSucceeded: showResult, progressText: progressText });
})();
