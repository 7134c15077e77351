/* Stock picker: search the catalog as you type (code, Korean or English name).

   Searches race: typing waits 150 ms before it searches, a market change or Enter
   searches at once. Only the latest search's answer is shown (an older answer that
   arrives late is ignored and counted in the list's data-ignored), a search started
   at once cancels the typed one still waiting, and an answer equal to what the list
   shows leaves the list alone (data-rendered counts the rebuilds), so the focus that
   ArrowDown moved into the list stays there. */
(function () {
  "use strict";
  const { t, api, el, errorMessage, showError, hideError } = window.PT;
  const input = document.getElementById("q");
  const market = document.getElementById("market");
  const list = document.getElementById("stock-results");
  const count = document.getElementById("result-count");
  const problem = document.getElementById("search-error");
  let timer = null;
  let latest = 0;
  let shown = null; // what the list shows: one line per symbol
  let ignored = 0;
  let rendered = 0;

  function item(symbol) {
    return el("li", {},
      el("a", { href: "/stocks/" + encodeURIComponent(symbol.code) },
        el("span", { className: "code", text: symbol.code }), " ",
        el("span", { className: "name", text: symbol.name }), " ",
        symbol.name_en && symbol.name_en !== symbol.name ? el("span", { className: "muted", text: symbol.name_en }) : null, " ",
        el("span", { className: "badge", text: symbol.market }), " ",
        symbol.kind === "index" ? el("span", { className: "badge index", text: t("index.badge") }) : null, " ",
        symbol.synthetic ? el("span", { className: "badge synthetic", text: t("stocks.synthetic") }) : null, " ",
        el("span", { className: "muted range", text: `${symbol.first_bar || ""} – ${symbol.last_bar || ""}` })));
  }

  function signature(symbols) {
    return symbols.map((s) => [s.code, s.name, s.name_en, s.market, s.kind, s.synthetic, s.first_bar, s.last_bar].join("\t")).join("\n");
  }

  function show(symbols) {
    const next = signature(symbols);
    if (next === shown) return;
    shown = next;
    const focused = list.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
    list.replaceChildren(...symbols.map(item));
    list.dataset.rendered = String(++rendered);
    const again = focused && Array.from(list.querySelectorAll("a")).find((a) => a.getAttribute("href") === focused);
    if (again) again.focus(); // the stock the keyboard was on, if it is still listed
  }

  async function search() {
    clearTimeout(timer); // a search now makes the typed one still waiting pointless
    const ticket = ++latest;
    const params = new URLSearchParams({ q: input.value.trim(), limit: "30" });
    if (market.value) params.set("market", market.value);
    try {
      const symbols = await api("GET", "/api/symbols?" + params.toString());
      if (ticket !== latest) {
        list.dataset.ignored = String(++ignored);
        return;
      }
      hideError(problem);
      show(symbols);
      list.dispatchEvent(new CustomEvent("pt:results", { detail: { query: input.value, symbols: symbols } }));
      count.textContent = t("stocks.count", { count: symbols.length });
      const query = new URLSearchParams({ q: input.value });
      if (market.value) query.set("market", market.value);
      history.replaceState(null, "", "/stocks?" + query.toString());
    } catch (error) {
      if (ticket === latest) showError(problem, errorMessage(error));
    }
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(search, 150);
  }

  input.addEventListener("input", later);
  market.addEventListener("change", search);
  document.getElementById("stock-search").addEventListener("submit", (event) => {
    event.preventDefault();
    search();
  });
  input.addEventListener("keydown", (event) => {
    const first = list.querySelector("a");
    if (event.key === "ArrowDown" && first) {
      event.preventDefault();
      first.focus();
    }
  });
  list.addEventListener("keydown", (event) => {
    const links = Array.from(list.querySelectorAll("a"));
    const at = links.indexOf(document.activeElement);
    if (at < 0) return;
    if (event.key === "ArrowDown" && at < links.length - 1) { event.preventDefault(); links[at + 1].focus(); }
    if (event.key === "ArrowUp") { event.preventDefault(); (at > 0 ? links[at - 1] : input).focus(); }
  });
})();
