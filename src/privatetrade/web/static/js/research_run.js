/* An optimization or walk-forward: follow it live (Server-Sent Events: combinations done,
   the best so far), cancel it; when it succeeds show the overfitting report and its
   findings in the page's language, then for an optimization the best parameters, the
   heatmap of two parameters and the top combinations (each can be backtested in full),
   for a walk-forward the stitched out-of-sample equity and the table of windows. */
(function () {
  "use strict";
  const { config, t, fmt, api, el, errorMessage, showError, hideError } = window.PT;
  const job = config.job;
  const walk = job.kind === "walkforward";
  const $ = (id) => document.getElementById(id);
  const FINAL = ["succeeded", "failed", "cancelled"];
  const paramName = (key) => window.PT.paramName(job.spec.strategy, key);
  const ctx = { t: t, fmt: fmt, currency: job.currency, colors: config.colors, paramName: paramName };
  let source = null;
  let resultShown = false;

  /* ------------------------------------------------------------ formatting */
  function paramsText(params) {
    return window.PT.paramsText(job.spec.strategy, params);
  }

  function objectiveText(objective, value) {
    return window.PTResearchCharts.metricText(ctx, objective, value) || "—";
  }

  function badge(state) {
    return el("span", { className: "state state-" + state, text: t("state." + state) });
  }

  /* ------------------------------------------------------------ progress */
  function showProgress(view) {
    const percent = Math.round(view.progress * 1000) / 10;
    $("progress-bar").value = percent;
    $("progress-bar").textContent = percent + "%";
    const parts = [fmt.pct(view.progress, 0), t("stage." + view.stage)];
    if (view.state === "queued" && view.stage !== "waiting_for_workers") parts[1] = t("stage.queued");
    if (fmt.isNumber(view.seconds_left)) parts.push(t("run.time_left", { time: fmt.seconds(view.seconds_left) }));
    if (view.cancel_requested) parts.push(t("run.cancelling"));
    $("progress-text").textContent = parts.join(" · ");
    const summary = view.summary || {};
    if (fmt.isNumber(summary.total)) {
      $("progress-count").textContent = t("research.progress_count", { done: fmt.int(summary.done), total: fmt.int(summary.total) });
      $("progress-count").dataset.done = String(summary.done);
      $("progress-count").dataset.total = String(summary.total);
    }
    const best = summary.best;
    if (best && best.params) {
      $("best-so-far").hidden = false;
      $("best-so-far-text").textContent = [
        paramsText(best.params),
        `${t("objective." + best.objective)} ${objectiveText(best.objective, best.value)}`,
        t("research.trades", { count: fmt.int(best.trades) }),
      ].join(" · ");
    }
  }

  function update(view) {
    $("state-badge").replaceChildren(badge(view.state));
    const running = !FINAL.includes(view.state);
    $("progress-section").hidden = !running;
    showProgress(view);
    $("cancel-button").hidden = !running;
    $("failed-section").hidden = view.state !== "failed";
    $("cancelled-section").hidden = view.state !== "cancelled";
    if (view.state === "failed") {
      $("failed-reason").textContent = t("reason." + (view.reason || "internal_error"));
      PT.showServerText($("failed-error"), view.error || "");
    }
    if (view.state === "succeeded" && !resultShown) {
      resultShown = true;
      showResult();
    }
  }

  function follow() {
    source = window.PT.followJob({
      url: `/api/jobs/${job.id}`,
      onView: update,
      onError: (error) => showError($("run-error"), errorMessage(error)),
      onDeleted: () => showError($("run-error"), t("research.deleted")),
    });
  }

  $("cancel-button").addEventListener("click", async () => {
    $("cancel-button").disabled = true;
    try {
      update(await api("POST", `/api/jobs/${job.id}/cancel`));
    } catch (error) {
      showError($("run-error"), errorMessage(error));
    } finally {
      $("cancel-button").disabled = false;
    }
  });

  /* ------------------------------------------------------------ the report */
  function card(key, label, text, hint, tone) {
    return el("div", { className: "metric", "data-card": key },
      el("dt", { text: label }),
      el("dd", { className: tone || "", text: text }),
      hint ? el("dd", { className: "hint", text: hint }) : null);
  }

  const ratio = (value) => fmt.num(value, 2);
  const tone = (value) => (typeof value === "number" && value !== 0 ? (value > 0 ? "up" : "down") : "");

  function sweepCards(doc) {
    const report = doc.report || {};
    const best = doc.best;
    const pbo = report.pbo ? report.pbo.pbo : null;
    return [
      card("best", t("research.card.best", { objective: t("objective." + doc.objective) }),
        best ? objectiveText(doc.objective, best.metrics[doc.objective]) : "—", best ? paramsText(best.params) : t("research.no_eligible")),
      card("deflated_sharpe", t("research.card.deflated_sharpe"), ratio(report.deflated_sharpe), t("research.card.deflated_sharpe_hint")),
      card("pbo", t("research.card.pbo"), fmt.pct(pbo, 0), t("research.card.pbo_hint")),
      card("expected_max_sharpe", t("research.card.expected_max_sharpe"), ratio(report.expected_max_sharpe), t("research.card.expected_max_sharpe_hint")),
      card("combinations", t("research.card.combinations"), fmt.int(doc.combinations), t("research.card.eligible", { count: fmt.int(doc.eligible) })),
    ];
  }

  function walkForwardCards(doc) {
    const report = doc.report || {};
    const oos = doc.out_of_sample_metrics || {};
    return [
      card("walk_forward_efficiency", t("research.card.wfe"), ratio(report.walk_forward_efficiency), t("research.card.wfe_hint")),
      card("oos_return", t("research.card.oos_return"), fmt.signedPct(oos.total_return), null, tone(oos.total_return)),
      card("oos_sharpe", t("research.card.oos_sharpe"), ratio(report.out_of_sample_sharpe),
        t("research.card.is_mean", { value: ratio(report.in_sample_sharpe_mean) })),
      card("oos_cagr", t("research.card.oos_cagr"), fmt.signedPct(report.out_of_sample_cagr),
        t("research.card.is_mean", { value: fmt.signedPct(report.in_sample_cagr_mean) }), tone(report.out_of_sample_cagr)),
      card("oos_max_drawdown", t("metric.max_drawdown"), fmt.signedPct(oos.max_drawdown), null, tone(oos.max_drawdown)),
      card("deflated_sharpe", t("research.card.dsr_min"), ratio(report.deflated_sharpe_min), t("research.card.deflated_sharpe_hint")),
      card("pbo", t("research.card.pbo_mean"), fmt.pct(report.pbo_mean, 0), t("research.card.pbo_hint")),
      card("windows", t("research.card.windows"), fmt.int((doc.windows || []).length)),
    ];
  }

  /* A finding names parameters as "fast = 5": name them as the page does. */
  function findingText(doc, text) {
    const keys = Object.keys((doc.space && doc.space.axes) || {});
    return keys.reduce((told, key) => told.replace(new RegExp(`(^|[^\\w])${key} = `, "g"), `$1${paramName(key)} = `), text);
  }

  function findingsList(doc) {
    const findings = (doc.report && doc.report.findings) || [];
    const list = $("findings");
    if (!findings.length) {
      list.replaceChildren(el("li", { className: "finding finding-none", text: t("research.no_findings") }));
      return;
    }
    const korean = config.lang === "ko";
    list.replaceChildren(...findings.map((finding) => el("li", { className: "finding finding-" + finding.severity, "data-code": finding.code },
      el("span", { className: "badge severity", text: t("research.severity." + finding.severity) }), " ",
      findingText(doc, korean ? finding.message_ko : finding.message_en))));
  }

  /* ------------------------------------------------------------ an optimization */
  function bestParams(doc) {
    const box = $("best-params");
    if (!doc.best) {
      box.replaceChildren(el("p", { className: "empty", text: t("research.no_eligible") }));
      return;
    }
    box.replaceChildren(...Object.entries(doc.best.params).map(([name, value]) =>
      el("div", {}, el("dt", { text: paramName(name) }), el("dd", { text: String(value) }))));
  }

  const TOP_METRICS = ["total_return", "cagr", "sharpe", "max_drawdown", "profit_factor", "trade_count"];
  const PERCENT_SIGNED = ["total_return", "cagr", "max_drawdown"];

  function topTable(doc) {
    const table = $("top-table");
    const top = doc.top || [];
    if (!top.length) {
      table.replaceChildren(el("caption", { text: t("research.no_eligible") }));
      return;
    }
    const names = Object.keys(doc.space.axes);
    const metrics = [doc.objective, ...TOP_METRICS.filter((m) => m !== doc.objective)];
    const head = el("tr", {}, el("th", { scope: "col", className: "num", text: t("research.rank") }),
      ...names.map((name) => el("th", { scope: "col", className: "num", text: paramName(name) })),
      ...metrics.map((m) => el("th", { scope: "col", className: "num", text: t("metric." + m) })),
      el("th", { scope: "col", text: t("research.full_backtest") }));
    const body = el("tbody");
    for (const row of top) {
      const button = el("button", {
        type: "button", className: "secondary", "data-rank": row.rank, text: t("research.backtest_this"),
        "aria-label": t("research.backtest_rank", { rank: row.rank, params: paramsText(row.params) }),
        onclick: () => backtestRank(button, row.rank),
      });
      body.append(el("tr", { "data-rank": row.rank },
        el("td", { className: "num", text: String(row.rank) }),
        ...names.map((name) => el("td", { className: "num", text: String(row.params[name]) })),
        ...metrics.map((m, i) => el("td", {
          className: "num " + (PERCENT_SIGNED.includes(m) ? tone(row.metrics[m]) : "") + (i === 0 ? " objective" : ""),
          text: topCell(m, row.metrics[m]),
        })),
        el("td", {}, button)));
    }
    table.replaceChildren(el("caption", { className: "sr-only", text: t("research.top") }), el("thead", {}, head), body);
  }

  function topCell(metric, value) {
    if (PERCENT_SIGNED.includes(metric)) return fmt.signedPct(value);
    return window.PTResearchCharts.metricText(ctx, metric, value) || "—";
  }

  async function backtestRank(button, rank) {
    hideError($("top-error"));
    button.disabled = true;
    try {
      const created = await api("POST", `/api/sweeps/${job.id}/backtests`, { rank: rank });
      window.location.assign("/backtests/" + created.id);
    } catch (error) {
      showError($("top-error"), errorMessage(error));
      button.disabled = false;
    }
  }

  let heatmapTicket = 0;
  async function drawHeatmap() {
    const x = $("heatmap-x").value;
    const y = $("heatmap-y").value;
    const mode = $("heatmap-mode").value;
    $("heatmap-mode-hint").textContent = t("research.heatmap_mode_hint." + mode);
    hideError($("heatmap-error"));
    const ticket = ++heatmapTicket;
    const query = new URLSearchParams({ x: x, y: y, metric: $("heatmap-metric").value, mode: mode });
    try {
      const body = await api("GET", `/api/sweeps/${job.id}/heatmap?${query}`);
      if (ticket !== heatmapTicket) return;
      const fixed = Object.entries(body.fixed || {});
      $("heatmap-note").textContent = fixed.length ? t("research.heatmap_fixed", { params: paramsText(body.fixed) }) : "";
      await window.PTResearchCharts.heatmap($("heatmap-chart"), ctx, body);
      $("heatmap-chart").dataset.drawn = `${body.x}:${body.y}:${body.metric}:${body.mode}`;
    } catch (error) {
      if (ticket === heatmapTicket) showError($("heatmap-error"), errorMessage(error));
    }
  }

  function setUpHeatmap(doc) {
    const names = Object.keys(doc.space.axes).filter((name) => doc.space.axes[name].length > 1);
    if (names.length < 2) {
      $("heatmap-controls").hidden = true;
      $("heatmap-chart").hidden = true;
      $("heatmap-note").textContent = t("research.heatmap_needs_two");
      return Promise.resolve();
    }
    for (const id of ["heatmap-x", "heatmap-y"]) $(id).replaceChildren(...names.map((n) => el("option", { value: n, text: paramName(n) })));
    $("heatmap-x").value = names[0];
    $("heatmap-y").value = names[1];
    $("heatmap-metric").value = doc.objective;
    let previous = { x: names[0], y: names[1] };
    const onAxis = (changed, other) => () => {
      if ($(changed).value === $(other).value) $(other).value = previous[changed === "heatmap-x" ? "x" : "y"];
      previous = { x: $("heatmap-x").value, y: $("heatmap-y").value };
      drawHeatmap();
    };
    $("heatmap-x").addEventListener("change", onAxis("heatmap-x", "heatmap-y"));
    $("heatmap-y").addEventListener("change", onAxis("heatmap-y", "heatmap-x"));
    $("heatmap-metric").addEventListener("change", drawHeatmap);
    $("heatmap-mode").addEventListener("change", drawHeatmap);
    return drawHeatmap();
  }

  /* ------------------------------------------------------------ a walk-forward */
  function windowsTable(doc) {
    const table = $("windows-table");
    const date = (value) => (value ? fmt.date(value) : "—");
    const head = el("tr", {},
      ...["research.window", "research.in_sample", "research.out_of_sample", "research.chosen_params"].map((key) => el("th", { scope: "col", text: t(key) })),
      ...["research.is_return", "research.oos_return", "research.is_sharpe", "research.oos_sharpe", "metric.trade_count"]
        .map((key) => el("th", { scope: "col", className: "num", text: t(key) })));
    const body = el("tbody");
    for (const w of doc.windows || []) {
      const ins = w.in_sample_metrics || {};
      const oos = w.out_of_sample_metrics || {};
      body.append(el("tr", { "data-window": w.index + 1 },
        el("td", { text: String(w.index + 1) }),
        el("td", { text: `${date(w.in_sample.start)} – ${date(w.in_sample.end)}` }),
        el("td", {}, `${date(w.out_of_sample.start)} – ${date(w.out_of_sample.end)}`,
          w.out_of_sample.partial ? el("span", { className: "badge", text: t("research.partial") }) : null),
        el("td", { text: w.params ? paramsText(w.params) : t("research.no_eligible") }),
        el("td", { className: "num " + tone(ins.total_return), text: fmt.signedPct(ins.total_return) }),
        el("td", { className: "num " + tone(oos.total_return), text: fmt.signedPct(oos.total_return) }),
        el("td", { className: "num", text: ratio(ins.sharpe) }),
        el("td", { className: "num", text: ratio(oos.sharpe) }),
        el("td", { className: "num", text: fmt.int(oos.trade_count) })));
    }
    table.replaceChildren(el("caption", { className: "sr-only", text: t("research.windows") }), el("thead", {}, head), body);
  }

  /* ------------------------------------------------------------ the whole result */
  async function showResult() {
    $("result").hidden = false;
    try {
      const doc = await api("GET", `/api/jobs/${job.id}/artifacts/result.json`);
      $("report-cards").replaceChildren(...(walk ? walkForwardCards(doc) : sweepCards(doc)));
      findingsList(doc);
      if (walk) {
        windowsTable(doc);
        await window.PTResearchCharts.walkForwardEquity($("walkforward-chart"), ctx, doc);
      } else {
        bestParams(doc);
        topTable(doc);
        await setUpHeatmap(doc);
      }
    } catch (error) {
      showError($("run-error"), errorMessage(error));
    } finally {
      $("result-loading").hidden = true;
    }
  }

  update(job);
  if (!FINAL.includes(job.state)) follow();
})();
