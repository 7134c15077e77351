/* The stock search's help for codes that are not stored: how to get their prices.
   Administrators may fetch a code when a data provider is configured (or import a file);
   everyone else is told to ask an administrator. Follows the picker's results
   ("pt:results" events on the result list) and the page's first results. */
(function () {
  "use strict";
  const { t, el, config } = window.PT;
  const help = config.dataHelp || { admin: false, canFetch: false };
  const box = document.getElementById("not-stored");
  const list = document.getElementById("stock-results");
  const input = document.getElementById("q");
  if (!box || !list || !input) return;
  const CODE = /^[A-Za-z0-9][A-Za-z0-9._^=-]{0,31}$/;

  function stored(symbols, code) {
    return symbols.some((symbol) => symbol.code.toUpperCase() === code && symbol.bar_count > 0);
  }

  function adminHelp(query, code) {
    const parts = [];
    if (help.canFetch && code) {
      const button = el("button", { type: "button", id: "fetch-code", text: t("data.fetch_code", { code: code }) });
      const progress = el("div", { id: "fetch-box", className: "update-progress", hidden: true });
      const problem = el("p", { id: "fetch-error", className: "error", role: "alert", hidden: true });
      window.PTDataUpdates.wire(button, () => ({ symbols: [code] }), progress, problem, (job) => {
        if (job && job.state === "succeeded") {
          progress.append(el("p", {}, el("a", { href: "/stocks/" + encodeURIComponent(code), text: code })));
        }
      });
      parts.push(el("p", { text: t("data.not_stored_fetch", { code: code }) }),
        el("div", { className: "actions" }, button,
          el("a", { className: "button secondary", href: "/data/import?symbol=" + encodeURIComponent(code), text: t("data.import") })),
        problem, progress);
    } else if (help.canFetch) {
      parts.push(el("p", { text: t("data.not_stored_by_code") }));
    } else {
      const target = "/data/import" + (code ? "?symbol=" + encodeURIComponent(code) : "");
      parts.push(el("p", {}, t("data.not_stored_no_provider"), " ", el("code", { text: "PRIVATETRADE_DATA_PROVIDER" })),
        el("div", { className: "actions" }, el("a", { className: "button secondary", href: target, text: t("data.import") })));
    }
    return parts;
  }

  /* Show the help when nothing was found, or the code asked for has no stored bars. */
  function update(query, symbols) {
    const text = query.trim();
    const code = CODE.test(text) ? text.toUpperCase() : "";
    const show = text !== "" && (symbols.length === 0 || (code !== "" && symbols.some(
      (symbol) => symbol.code.toUpperCase() === code) && !stored(symbols, code)));
    box.hidden = !show;
    if (!show) {
      box.replaceChildren();
      return;
    }
    const title = el("p", { className: "not-stored-title" }, el("strong", { text: t("data.not_stored", { query: text }) }));
    const body = help.admin ? adminHelp(text, code) : [el("p", { text: t("data.not_stored_user") })];
    box.replaceChildren(title, ...body);
  }

  list.addEventListener("pt:results", (event) => update(event.detail.query, event.detail.symbols));
  const first = Array.from(list.querySelectorAll("li")).map((item) => ({
    code: item.dataset.code || "",
    bar_count: Number(item.dataset.bars || 0),
  }));
  update(input.value, first);
})();
