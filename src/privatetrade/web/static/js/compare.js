/* Compare runs: overlaid returns and their metrics side by side. */
(function () {
  "use strict";
  const { config, t, fmt, api, el, errorMessage, showError } = window.PT;
  const charts = window.PTCharts;

  function label(run) {
    const params = window.PT.paramsText(run.spec.strategy, run.spec.params);
    return `${run.symbol_name} · ${t("strategy." + run.spec.strategy)}${params ? " (" + params + ")" : ""}`;
  }

  function metricsTable(loaded) {
    const table = document.getElementById("compare-table");
    const head = el("tr", {}, el("th", { scope: "col", text: t("compare.metric") }),
      ...loaded.map((run, i) => el("th", { scope: "col", className: "num" },
        el("span", { className: "swatch", style: `--swatch: ${charts.palette({}).series[i]}`, "aria-hidden": "true" }), " ", run.label)));
    const body = el("tbody");
    for (const [key, kind] of charts.CARDS) {
      if (!loaded.some((run) => run.doc.metrics[key] !== undefined && run.doc.metrics[key] !== null)) continue;
      body.append(el("tr", { "data-metric": key }, el("th", { scope: "row", text: t("metric." + key) }),
        ...loaded.map((run) => {
          const value = run.doc.metrics[key];
          const ctx = { t: t, fmt: fmt, currency: run.currency, colors: config.colors };
          const toned = kind === "signed" ? charts.tone(value) : "";
          return el("td", { className: "num " + toned, text: charts.metricText(ctx, kind, value) });
        })));
    }
    table.replaceChildren(el("thead", {}, head), body);
  }

  async function show() {
    const runs = config.runs.filter((run) => run.state === "succeeded");
    try {
      const loaded = [];
      for (const run of runs) {
        const doc = await api("GET", `/api/backtest/result/${run.id}`);
        loaded.push({ doc: doc, label: label(run), currency: run.currency });
      }
      if (loaded.length < 2) {
        showError(document.getElementById("compare-error"), t("compare.need_results"));
      }
      metricsTable(loaded);
      await charts.compareChart(document.getElementById("compare-chart"), { t: t, fmt: fmt, colors: config.colors }, loaded);
    } catch (error) {
      showError(document.getElementById("compare-error"), errorMessage(error));
    }
  }
  show();
})();
