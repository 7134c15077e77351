/* The data list: filter the stored symbols as you type; fill in quality checks still pending. */
(function () {
  "use strict";
  const { t, api, el, config, errorMessage, showError } = window.PT;
  const form = document.getElementById("data-filter");
  const query = document.getElementById("data-q");
  const market = document.getElementById("data-market");
  const problems = document.getElementById("data-problems");
  const count = document.getElementById("data-count");
  const none = document.getElementById("data-none");
  const pendingNote = document.getElementById("data-pending");
  const problem = document.getElementById("data-error");
  const rows = Array.from(document.querySelectorAll("#data-table tbody tr"));
  const MAX_ROUNDS = 200;

  function findingName(name) {
    const key = "data.finding." + name;
    const text = t(key);
    return text === key ? name.replace(/_/g, " ") : text;
  }

  /* The quality cell's content: as the page's template renders it. */
  function flags(quality) {
    if (!quality) return [el("span", { className: "muted", text: t("data.checking") })];
    if (quality.ok) return [el("span", { className: "badge flag-ok", text: t("data.quality_ok") })];
    return quality.problems.flatMap((name) => [
      el("span", { className: "badge flag-problem", text: `${findingName(name)} ${quality.counts[name]}` }),
      " ",
    ]);
  }

  function matches(row, wanted) {
    return (!wanted || row.dataset.text.includes(wanted))
      && (!market.value || row.dataset.market === market.value)
      && (!problems.checked || row.dataset.quality === "problem");
  }

  function filter() {
    const wanted = query.value.trim().toLowerCase();
    let shown = 0;
    for (const row of rows) {
      row.hidden = !matches(row, wanted);
      if (!row.hidden) shown += 1;
    }
    count.textContent = t("data.count", { count: shown });
    if (none) none.hidden = shown > 0;
    const params = new URLSearchParams();
    if (query.value) params.set("q", query.value);
    if (market.value) params.set("market", market.value);
    if (problems.checked) params.set("problems", "1");
    const search = params.toString();
    history.replaceState(null, "", "/data" + (search ? "?" + search : ""));
  }

  /* Each listing checks more symbols (within the server's time budget): ask until none wait. */
  async function fillPending() {
    let pending = config.pending;
    for (let round = 0; pending > 0 && round < MAX_ROUNDS; round += 1) {
      let listing;
      try {
        listing = await api("GET", "/api/data/symbols?limit=5000");
      } catch (error) {
        showError(problem, errorMessage(error));
        return;
      }
      const byCode = new Map(listing.items.map((item) => [item.code, item]));
      for (const row of rows) {
        const item = byCode.get(row.dataset.code);
        if (row.dataset.quality !== "pending" || !item || !item.quality) continue;
        row.dataset.quality = item.quality.ok ? "ok" : "problem";
        row.querySelector("td.quality").replaceChildren(...flags(item.quality));
      }
      pending = listing.pending;
      pendingNote.textContent = t("data.pending", { count: pending });
      pendingNote.hidden = pending === 0;
    }
    filter();
  }

  query.addEventListener("input", filter);
  market.addEventListener("change", filter);
  problems.addEventListener("change", filter);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    filter();
  });
  filter();
  if (config.pending > 0) fillPending();
  window.PTDataUpdates.wire(document.getElementById("update-all"), () => ({}),
    document.getElementById("update-box"), document.getElementById("update-error"));
})();
