/* History: the date filter's time zone; delete the selected runs; comparing is a plain GET
   form to /compare. */
(function () {
  "use strict";
  const { t, api, errorMessage, showError, hideError } = window.PT;
  /* The date filter's days are the browser's days: send its time zone with them. */
  const zone = document.getElementById("h-tz");
  if (zone && !zone.value) {
    try {
      zone.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) {
      zone.value = "";
    }
  }
  const form = document.getElementById("history-form");
  if (!form) return;
  const problem = document.getElementById("history-error");
  const selected = () => Array.from(form.querySelectorAll('input[name="id"]:checked')).map((box) => box.value);

  form.addEventListener("submit", (event) => {
    const boxes = Array.from(form.querySelectorAll('input[name="id"]:checked'));
    if (boxes.length < 2) {
      event.preventDefault();
      showError(problem, t("compare.pick_two"));
    } else if (boxes.some((box) => box.closest("tr").dataset.kind !== "backtest")) {
      /* optimizations and walk-forwards have no single equity curve to overlay */
      event.preventDefault();
      showError(problem, t("history.compare_backtests_only"));
    }
  });

  document.getElementById("delete-selected").addEventListener("click", async () => {
    const ids = selected();
    hideError(problem);
    if (!ids.length) return showError(problem, t("history.pick_one"));
    if (!window.confirm(t("history.confirm_delete", { count: ids.length }))) return;
    try {
      for (const id of ids) await api("DELETE", `/api/backtests/${id}`);
      window.location.reload();
    } catch (error) {
      showError(problem, errorMessage(error));
    }
  });
})();
