/* The live part of a portfolio's or scan's page (templates/_job_page.html): state badge,
   progress (Server-Sent Events, polling as a fallback: PT.followJob), Cancel, why it
   failed or that it was cancelled; onSucceeded(view) runs once when the job succeeds.

   window.PTJobPage(job, {onSucceeded, progressText(view)}) */
(function () {
  "use strict";
  const { config, t, fmt, api, el, errorMessage, showError } = window.PT;
  const $ = (id) => document.getElementById(id);

  function PTJobPage(job, options) {
    let shown = false;

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
      const count = options.progressText ? options.progressText(view) : "";
      $("progress-count").textContent = count || "";
    }

    function update(view) {
      $("state-badge").replaceChildren(badge(view.state));
      const running = !window.PT.FINAL_STATES.includes(view.state);
      $("progress-section").hidden = !running;
      showProgress(view);
      $("cancel-button").hidden = !running;
      $("failed-section").hidden = view.state !== "failed";
      $("cancelled-section").hidden = view.state !== "cancelled";
      if (view.state === "failed") {
        $("failed-reason").textContent = t("reason." + (view.reason || "internal_error"));
        PT.showServerText($("failed-error"), view.error || "");
      }
      if (view.state === "succeeded" && !shown) {
        shown = true;
        $("result").hidden = false;
        options.onSucceeded(view);
      }
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

    update(job);
    if (!window.PT.FINAL_STATES.includes(job.state)) {
      window.PT.followJob({
        url: `/api/jobs/${job.id}`,
        onView: update,
        onError: (error) => showError($("run-error"), errorMessage(error)),
        onDeleted: () => showError($("run-error"), t("portfolio.deleted")),
      });
    }
  }

  /* The job's downloads, as its artifact list names them. */
  async function showDownloads(job, box) {
    const listing = await api("GET", `/api/jobs/${job.id}/artifacts`);
    const documentsFirst = listing.items.slice().sort((a, b) => Number(b.name.endsWith(".json")) - Number(a.name.endsWith(".json")));
    box.replaceChildren(...documentsFirst.map((item, index) => el("a", {
      className: "button" + (index ? " secondary" : ""), download: true, href: item.url, "data-artifact": item.name,
      text: config.messages["artifact." + item.name] ? t("artifact." + item.name) : t("research.download", { name: item.name }),
    })));
  }

  window.PTJobPage = PTJobPage;
  window.PTJobPage.showDownloads = showDownloads;
})();
