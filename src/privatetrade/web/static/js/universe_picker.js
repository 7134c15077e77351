/* The universe picker (templates/_universe_picker.html): symbols chosen one by one as
   removable chips, found by code or Korean/English name as you type (GET /api/symbols),
   or every symbol of one market. Keyboard: ↓/↑ move through the matches, Enter adds (or
   removes) the highlighted one, Escape closes the list, Backspace in the empty search
   removes the last chip. At most data-limit symbols (2,000), said on the page.

   window.PTUniversePicker(root, {marketCounts, initial}) -> {value(), symbols(), add(symbol),
   remove(code), set(universe), onChange(listener)}; value() is {symbols: [codes]} or
   {market: "KOSDAQ"}, as the API's portfolio and scan specs take it. */
(function () {
  "use strict";
  const { t, fmt, api, el, errorMessage, showError, hideError } = window.PT;
  const SEARCH_LIMIT = "20";
  const DEBOUNCE_MS = 150;

  function PTUniversePicker(root, options) {
    const settings = options || {};
    const $ = (id) => root.querySelector("#" + id);
    const limit = Number(root.dataset.limit);
    const input = $("u-search");
    const list = $("u-options");
    const chips = $("u-chips");
    const market = $("u-market");
    const chosen = new Map();
    const listeners = [];
    let found = [];
    let active = -1;
    let latest = 0;
    let timer = null;

    /* ------------------------------------------------------------ mode and market */
    function marketMode() {
      return $("u-mode-market").checked;
    }

    function showMode() {
      const byMarket = marketMode();
      $("u-symbols-part").hidden = byMarket;
      const label = $("u-market-label");
      label.textContent = byMarket ? label.dataset.choiceText : label.dataset.filterText;
      market.options[0].textContent = t(byMarket ? "universe.pick_market" : "universe.any_market");
      describeMarket();
      closeList();
      changed();
    }

    function describeMarket() {
      const hint = $("u-market-hint");
      const name = market.value;
      if (!marketMode() || !name) {
        hint.textContent = marketMode() ? t("universe.market_needed") : "";
        return;
      }
      const count = (settings.marketCounts || {})[name] || 0;
      hint.textContent = t("universe.market_count", { count: fmt.int(count), market: name, limit: fmt.int(limit) });
    }

    /* ------------------------------------------------------------ chips */
    function label(symbol) {
      return symbol.name && symbol.name !== symbol.code ? `${symbol.code} ${symbol.name}` : symbol.code;
    }

    function chip(symbol) {
      const text = label(symbol);
      return el("li", { className: "chip", "data-code": symbol.code },
        el("span", { text: text }),
        el("button", {
          type: "button", className: "chip-remove", "aria-label": t("universe.remove", { symbol: text }), text: "×",
          onclick: () => { remove(symbol.code); input.focus(); },
        }));
    }

    function showChips() {
      chips.replaceChildren(...Array.from(chosen.values(), chip));
      $("u-count").textContent = t("universe.count", { count: fmt.int(chosen.size), limit: fmt.int(limit) });
      $("u-clear").hidden = chosen.size < 2;
    }

    function changed() {
      hideError($("err-symbols"));
      hideError($("err-market"));
      for (const listener of listeners) listener();
    }

    /* Choose one more symbol (false, with a message, beyond the limit). */
    function keep(symbol) {
      if (chosen.has(symbol.code)) return true;
      if (chosen.size >= limit) {
        showError($("u-limit"), t("universe.too_many", { limit: fmt.int(limit) }));
        return false;
      }
      chosen.set(symbol.code, { code: symbol.code, name: symbol.name || "", name_en: symbol.name_en || "", market: symbol.market || "" });
      return true;
    }

    function add(symbol) {
      const added = keep(symbol);
      if (added) {
        showChips();
        changed();
      }
      return added;
    }

    function remove(code) {
      if (!chosen.delete(code)) return;
      hideError($("u-limit"));
      showChips();
      changed();
    }

    /* ------------------------------------------------------------ search as you type */
    function option(symbol, index) {
      const picked = chosen.has(symbol.code);
      return el("li", {
        role: "option", id: "u-opt-" + index, className: "picker-option", "aria-selected": picked ? "true" : "false",
        "data-code": symbol.code,
        onmousedown: (event) => event.preventDefault(), // keep the focus in the search box
        onclick: () => choose(index),
      },
      el("span", { className: "code", text: symbol.code }), " ",
      el("span", { className: "name", text: symbol.name }), " ",
      symbol.name_en && symbol.name_en !== symbol.name ? el("span", { className: "muted", text: symbol.name_en }) : null, " ",
      el("span", { className: "badge", text: symbol.market }),
      picked ? el("span", { className: "picked", text: " ✓ " + t("universe.picked") }) : null);
    }

    function showList() {
      if (!found.length) {
        list.replaceChildren(el("li", { className: "picker-empty", role: "option", "aria-disabled": "true", text: t("universe.nothing_found") }));
      } else {
        list.replaceChildren(...found.map(option));
      }
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      highlight(found.length ? Math.max(0, Math.min(active, found.length - 1)) : -1);
    }

    function closeList() {
      list.hidden = true;
      list.replaceChildren();
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      active = index;
      for (const node of list.querySelectorAll(".picker-option")) node.classList.remove("active");
      const node = index >= 0 ? list.querySelector("#u-opt-" + index) : null;
      if (!node) {
        input.removeAttribute("aria-activedescendant");
        return;
      }
      node.classList.add("active");
      input.setAttribute("aria-activedescendant", node.id);
      node.scrollIntoView({ block: "nearest" });
    }

    /* Only the answer to the latest request is shown: a slow answer to an earlier
       query (typed a moment before) must not replace the newer one's matches. */
    async function search() {
      const query = input.value.trim();
      const ticket = ++latest;
      if (!query) {
        found = [];
        closeList();
        return;
      }
      const params = new URLSearchParams({ q: query, limit: SEARCH_LIMIT });
      if (market.value) params.set("market", market.value);
      try {
        const symbols = await api("GET", "/api/symbols?" + params.toString());
        if (ticket !== latest) {
          list.dataset.ignored = String(Number(list.dataset.ignored || 0) + 1); // for the tests
          return;
        }
        hideError($("u-search-error"));
        found = symbols.filter((symbol) => symbol.kind !== "index" && symbol.last_bar);
        active = 0;
        showList();
        list.dataset.query = query;
      } catch (error) {
        if (ticket === latest) showError($("u-search-error"), errorMessage(error));
      }
    }

    function later() {
      clearTimeout(timer);
      timer = setTimeout(search, DEBOUNCE_MS);
    }

    function choose(index) {
      const symbol = found[index];
      if (!symbol) return;
      if (chosen.has(symbol.code)) remove(symbol.code);
      else if (!add(symbol)) return;
      input.value = "";
      found = [];
      closeList();
      ++latest; // an answer still on its way is for the old text
      input.focus();
    }

    input.addEventListener("input", later);
    input.addEventListener("keydown", (event) => {
      const open = !list.hidden && found.length > 0;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (!open) { if (input.value.trim()) search(); return; }
        highlight((active + 1) % found.length);
      } else if (event.key === "ArrowUp") {
        if (!open) return;
        event.preventDefault();
        highlight(active <= 0 ? found.length - 1 : active - 1);
      } else if (event.key === "Enter") {
        if (!list.hidden || input.value.trim()) event.preventDefault(); // never submits half-typed
        if (open) choose(active >= 0 ? active : 0);
      } else if (event.key === "Escape") {
        if (!list.hidden) { event.preventDefault(); closeList(); }
      } else if (event.key === "Backspace" && input.value === "" && chosen.size) {
        event.preventDefault();
        remove(Array.from(chosen.keys()).pop());
      }
    });
    input.addEventListener("blur", () => closeList());
    market.addEventListener("change", () => {
      describeMarket();
      if (!marketMode() && input.value.trim()) search();
      changed();
    });
    for (const radio of root.querySelectorAll('input[name="universe-mode"]')) radio.addEventListener("change", showMode);
    $("u-clear").addEventListener("click", () => {
      chosen.clear();
      hideError($("u-limit"));
      showChips();
      changed();
      input.focus();
    });

    /* ------------------------------------------------------------ the value */
    function value() {
      if (marketMode()) return { market: market.value || null };
      return { symbols: Array.from(chosen.keys()) };
    }

    /* Start from an earlier run: {symbols: [{code, name, ...}]} or {market}. */
    function set(universe) {
      chosen.clear();
      if (universe && universe.market) {
        $("u-mode-market").checked = true;
        market.value = universe.market;
      } else {
        $("u-mode-symbols").checked = true;
        for (const symbol of (universe && universe.symbols) || []) keep(typeof symbol === "string" ? { code: symbol } : symbol);
      }
      showChips();
      showMode(); // tells the listeners
    }

    set(settings.initial);
    return {
      value: value,
      symbols: () => Array.from(chosen.values()),
      add: add,
      remove: remove,
      set: set,
      onChange: (listener) => listeners.push(listener),
    };
  }

  window.PTUniversePicker = PTUniversePicker;
})();
