/* History: delete the selected runs; comparing is a plain GET form to /compare. */
(function () {
  "use strict";
  const { t, api, errorMessage, showError, hideError } = window.PT;
  const form = document.getElementById("history-form");
  if (!form) return;
  const problem = document.getElementById("history-error");
  const selected = () => Array.from(form.querySelectorAll('input[name="id"]:checked')).map((box) => box.value);

  form.addEventListener("submit", (event) => {
    if (selected().length < 2) {
      event.preventDefault();
      showError(problem, t("compare.pick_two"));
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
