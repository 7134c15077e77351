/* My strategies (/rules): the caller's rule strategies from the API, each with its
   builder, a backtest, its export file and delete; a JSON file exported here (or a bare
   rule document, named after the file) imported as a new strategy. */
(function () {
  "use strict";
  const { t, fmt, api, el, errorMessage, showError, hideError } = window.PT;
  const $ = (id) => document.getElementById(id);
  const table = $("rules-table");

  function row(strategy) {
    const link = "/rules/" + encodeURIComponent(strategy.id);
    const names = Object.keys(strategy.parameters || {});
    const remove = el("button", { type: "button", className: "quiet danger-text", text: t("rules.delete"),
      "aria-label": t("rules.delete_named", { name: strategy.name }) });
    remove.addEventListener("click", () => removeStrategy(strategy, remove));
    return el("tr", { "data-id": strategy.id },
      el("td", {}, el("a", { href: link, text: strategy.name })),
      el("td", { className: "description", text: strategy.description || "" }),
      el("td", { className: "num", text: fmt.int(strategy.version) }),
      el("td", { text: names.length ? names.map((name) => "${" + name + "}").join(", ") : t("rules.no_parameters") }),
      el("td", {}, strategy.updated_at ? el("time", { datetime: strategy.updated_at, text: fmt.datetime(strategy.updated_at) }) : ""),
      el("td", { className: "actions-cell" },
        el("a", { href: link, text: t("rules.edit"), "aria-label": t("rules.edit_named", { name: strategy.name }) }), " ",
        el("a", { href: "/backtests/new?" + new URLSearchParams({ rules: strategy.id }), text: t("rules.backtest"),
          "aria-label": t("rules.backtest_named", { name: strategy.name }) }), " ",
        el("a", { href: `/api/rule-strategies/${encodeURIComponent(strategy.id)}/export`, download: "", text: t("rules.export"),
          "aria-label": t("rules.export_named", { name: strategy.name }) }), " ",
        remove));
  }

  async function load() {
    table.setAttribute("aria-busy", "true");
    try {
      const strategies = await api("GET", "/api/rule-strategies");
      const body = table.tBodies[0];
      if (!strategies.length) body.replaceChildren(el("tr", {}, el("td", { colspan: "6", className: "muted", text: t("rules.none") })));
      else body.replaceChildren(...strategies.map(row));
      table.dataset.count = String(strategies.length);
    } catch (error) {
      showError($("rules-error"), errorMessage(error));
    } finally {
      table.setAttribute("aria-busy", "false");
    }
  }

  async function removeStrategy(strategy, button) {
    if (!window.confirm(t("rules.delete_confirm", { name: strategy.name }))) return;
    hideError($("rules-error"));
    button.disabled = true;
    try {
      await api("DELETE", `/api/rule-strategies/${encodeURIComponent(strategy.id)}`);
      showError($("rules-status"), t("rules.deleted", { name: strategy.name }));
      await load();
      $("new-rule").focus();
    } catch (error) {
      button.disabled = false;
      showError($("rules-error"), errorMessage(error));
    }
  }

  /* What an exported file holds: {name, description, document}; a bare rule document
     is named after its file. */
  function importBody(data, fileName) {
    if (data && typeof data === "object" && data.document && typeof data.document === "object") {
      return { name: data.name || fileName, description: data.description || "", document: data.document };
    }
    if (data && typeof data === "object" && typeof data.schema === "string") {
      return { name: fileName, description: "", document: data };
    }
    return null;
  }

  $("import-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const slot = $("err-import");
    hideError(slot);
    hideError($("rules-status"));
    const file = $("import-file").files[0];
    if (!file) {
      showError(slot, t("rules.import_unreadable"));
      return;
    }
    let data;
    try {
      data = JSON.parse(await file.text());
    } catch (error) {
      showError(slot, t("rules.import_unreadable"));
      return;
    }
    const body = importBody(data, file.name.replace(/\.json$/i, ""));
    if (!body) {
      showError(slot, t("rules.import_no_document"));
      return;
    }
    $("import-button").disabled = true;
    try {
      const saved = await api("POST", "/api/rule-strategies/import", body);
      showError($("rules-status"), t("rules.imported", { name: saved.name || body.name }));
      $("import-file").value = "";
      await load();
    } catch (error) {
      showError(slot, errorMessage(error));
    } finally {
      $("import-button").disabled = false;
    }
  });

  load();
})();
