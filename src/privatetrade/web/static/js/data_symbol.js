/* A stored symbol's page: fetch its new bars, delete it (administrators). */
(function () {
  "use strict";
  const { t, api, config, errorMessage, showError, hideError } = window.PT;
  window.PTDataUpdates.wire(document.getElementById("fetch-symbol"), () => ({ symbols: [config.symbol.code] }),
    document.getElementById("update-box"), document.getElementById("update-error"));
  const button = document.getElementById("delete-symbol");
  if (!button) return;
  const input = document.getElementById("delete-confirm");
  const problem = document.getElementById("delete-error");
  const code = config.symbol.code;

  button.addEventListener("click", async () => {
    hideError(problem);
    input.removeAttribute("aria-invalid");
    const typed = input.value.trim();
    if (typed.toUpperCase() !== code.toUpperCase()) {
      input.setAttribute("aria-invalid", "true");
      showError(problem, t("data.delete_mismatch", { code: code }));
      input.focus();
      return;
    }
    button.disabled = true;
    try {
      const query = new URLSearchParams({ confirm: typed });
      await api("DELETE", `/api/data/symbols/${encodeURIComponent(code)}?${query.toString()}`);
      window.location.assign("/data?deleted=" + encodeURIComponent(code));
    } catch (error) {
      showError(problem, errorMessage(error));
      button.disabled = false;
    }
  });
})();
