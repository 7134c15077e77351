/* Data updates from the provider: start one (POST /api/data/updates), follow its job's progress,
   then show each symbol's outcome (the job's outcomes.json). Used by the data pages and the
   stock search's "not stored" help. */
(function () {
  "use strict";
  const { t, api, el, fmt, errorMessage } = window.PT;
  const POLL_MS = 500;
  const FINAL = new Set(["succeeded", "failed", "cancelled"]);

  const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /* outcomes.json: {outcomes: [{code, status, new_bars, last_bar, error, series}], ...counts}. */
  function outcomeTable(document_) {
    const rows = document_.outcomes.map((item) => el("tr", { "data-code": item.code, "data-status": item.status },
      el("td", {}, el("a", { href: "/data/symbols/" + encodeURIComponent(item.code), text: item.code })),
      el("td", {}, el("span", {
        className: "badge " + (item.status === "failed" ? "flag-problem" : "flag-ok"),
        text: t("data.outcome." + item.status),
      })),
      el("td", { className: "num", text: fmt.int(item.new_bars) }),
      el("td", { text: item.last_bar ? fmt.date(item.last_bar) : "—" }),
      el("td", { text: item.error || "" })));
    return el("div", { className: "table-wrap" }, el("table", { className: "compact update-outcomes" },
      el("thead", {}, el("tr", {},
        el("th", { scope: "col", text: t("data.col.code") }),
        el("th", { scope: "col", text: t("data.col.outcome") }),
        el("th", { scope: "col", className: "num", text: t("data.col.new_bars") }),
        el("th", { scope: "col", text: t("data.col.last") }),
        el("th", { scope: "col", text: t("data.col.message") }))),
      el("tbody", {}, ...rows)));
  }

  function progressView(job) {
    const percent = Math.round(job.progress * 100);
    const stage = t("stage." + job.stage) === "stage." + job.stage ? job.stage : t("stage." + job.stage);
    return [
      el("progress", { max: "100", value: String(percent), "aria-label": t("data.update_started") }),
      el("p", { text: t("data.update_progress", { percent: percent, stage: stage }) }),
    ];
  }

  async function finished(job, box) {
    if (job.state === "failed") {
      box.replaceChildren(el("p", { className: "error", role: "alert", text: t("data.update_failed", { error: job.error || "" }) }));
      return;
    }
    if (job.state === "cancelled") {
      box.replaceChildren(el("p", { text: t("data.update_cancelled") }));
      return;
    }
    const outcomes = await api("GET", `/api/jobs/${job.id}/artifacts/outcomes.json`);
    const count = (status) => outcomes.outcomes.filter((item) => item.status === status).length;
    box.replaceChildren(
      el("p", { id: "update-summary", text: t("data.update_done", {
        updated: count("updated"), up_to_date: count("up_to_date"), failed: count("failed"),
      }) }),
      outcomeTable(outcomes));
  }

  /* Start an update and show it in ``box`` (a live region) until it ends; resolve with the job. */
  async function start(body, box, problem) {
    box.hidden = false;
    box.setAttribute("aria-live", "polite");
    box.replaceChildren(el("p", { text: t("data.update_started") }));
    try {
      let job = await api("POST", "/api/data/updates", body);
      while (!FINAL.has(job.state)) {
        box.replaceChildren(...progressView(job));
        await wait(POLL_MS);
        job = await api("GET", `/api/jobs/${job.id}`);
      }
      await finished(job, box);
      return job;
    } catch (error) {
      box.hidden = true;
      if (problem) {
        problem.textContent = errorMessage(error);
        problem.hidden = false;
      }
      return null;
    }
  }

  /* A button that starts ``body()``'s update into ``box`` (disabled while it runs). */
  function wire(button, body, box, problem, onDone) {
    if (!button) return;
    button.addEventListener("click", async () => {
      button.disabled = true;
      if (problem) problem.hidden = true;
      const job = await start(body(), box, problem);
      button.disabled = false;
      if (onDone) onDone(job);
    });
  }

  window.PTDataUpdates = { start: start, wire: wire };
})();
