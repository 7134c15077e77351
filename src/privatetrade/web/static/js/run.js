/* A run: follow its progress live (Server-Sent Events), cancel it, then show the result
   in place when it succeeds, or the reason when it fails. */
(function () {
  "use strict";
  const { config, t, fmt, api, el, errorMessage, showError } = window.PT;
  const job = config.job;
  const $ = (id) => document.getElementById(id);
  const FINAL = ["succeeded", "failed", "cancelled"];
  const BROWSER_BAR_LIMIT = 250000;
  let source = null;
  let resultShown = false;

  function badge(state) {
    return el("span", { className: "state state-" + state, text: t("state." + state) });
  }

  function showProgress(view) {
    const percent = Math.round(view.progress * 1000) / 10;
    $("progress-bar").value = percent;
    $("progress-bar").textContent = percent + "%";
    const parts = [fmt.pct(view.progress, 0), t("stage." + view.stage)];
    if (view.state === "queued" && view.stage !== "waiting_for_workers") parts[1] = t("stage.queued");
    if (fmt.isNumber(view.seconds_left)) parts.push(t("run.time_left", { time: fmt.seconds(view.seconds_left) }));
    if (view.cancel_requested) parts.push(t("run.cancelling"));
    $("progress-text").textContent = parts.join(" · ");
  }

  function update(view) {
    $("state-badge").replaceChildren(badge(view.state));
    const running = !FINAL.includes(view.state);
    $("progress-section").hidden = !running; /* a finished run shows its result, not "100 %" */
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
      showResult(view);
    }
  }

  async function bars(doc) {
    const params = new URLSearchParams({
      start: doc.data.first_bar.slice(0, 10), end: doc.data.last_bar.slice(0, 10), adjusted: String(doc.data.adjusted),
    });
    try {
      return await api("GET", `/api/symbols/${encodeURIComponent(doc.data.symbol)}/bars?${params}`);
    } catch (error) {
      return null; // the chart falls back to the closes stored in the result
    }
  }

  /* Indicators, trade levels, drawdown periods (null if they cannot be had: the page
     still shows everything the result document holds). */
  async function analysis() {
    try {
      return await api("GET", `/api/backtests/${job.id}/analysis`);
    } catch (error) {
      return null;
    }
  }

  async function showResult(view) {
    $("result").hidden = false;
    const body = $("result-body");
    if (view.summary && view.summary.bars > BROWSER_BAR_LIMIT) {
      $("result-loading").textContent = t("result.too_big", { count: fmt.int(view.summary.bars) });
      return;
    }
    try {
      const [doc, extra] = await Promise.all([api("GET", `/api/backtest/result/${job.id}`), analysis()]);
      const ctx = { t: t, fmt: fmt, currency: job.currency, colors: config.colors };
      await window.PTCharts.renderResult(body, ctx, doc, await bars(doc), extra);
      $("result-loading").hidden = true;
    } catch (error) {
      showError($("run-error"), errorMessage(error));
      $("result-loading").hidden = true;
    }
  }

  function follow() {
    source = window.PT.followJob({
      url: `/api/backtests/${job.id}`,
      onView: update,
      onError: (error) => showError($("run-error"), errorMessage(error)),
      onDeleted: () => showError($("run-error"), t("run.deleted")),
    });
  }

  $("cancel-button").addEventListener("click", async () => {
    $("cancel-button").disabled = true;
    try {
      update(await api("POST", `/api/backtests/${job.id}/cancel`));
    } catch (error) {
      showError($("run-error"), errorMessage(error));
    } finally {
      $("cancel-button").disabled = false;
    }
  });

  $("delete-button").addEventListener("click", async () => {
    if (!window.confirm(t("history.confirm_delete", { count: 1 }))) return;
    try {
      if (source) source.close();
      await api("DELETE", `/api/backtests/${job.id}`);
      window.location.assign("/history");
    } catch (error) {
      showError($("run-error"), errorMessage(error));
    }
  });

  update(job);
  if (!FINAL.includes(job.state)) follow();
})();
