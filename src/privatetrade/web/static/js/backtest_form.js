/* The backtest form: parameter fields generated from the strategy's JSON Schema,
   submitted to the API; the API's validation errors appear next to their fields.
   The optimization form (research_form.html extends this page, data-research) reuses
   it through window.PTBacktestForm and submits by itself. */
(function () {
  "use strict";
  const { config, t, fmt, api, el, errorMessage, showError, hideError } = window.PT;
  const form = document.getElementById("backtest-form");
  const $ = (id) => document.getElementById(id);
  const strategies = new Map(config.strategies.map((s) => [s.name, s]));
  const initial = config.initial || {};
  const DEFAULT_STRATEGY = "sma_cross";
  const SIZING_HINTS = { fraction: "sizing.fraction_hint", amount: "sizing.amount_hint", shares: "sizing.shares_hint" };

  /* ------------------------------------------------------------ strategy parameters */
  /* A message of the catalog if it has one, else the registry's own (English) text. */
  function translated(key, fallback) {
    const text = t(key);
    return text === key ? fallback : text;
  }

  function paramField(strategyName, name, schema, value) {
    const id = "param-" + name;
    const field = "params." + name;
    const input = el("input", {
      id: id, name: field, type: "number", inputmode: schema.type === "integer" ? "numeric" : "decimal",
      step: schema.type === "integer" ? "1" : "any",
      min: schema.minimum ?? schema.exclusiveMinimum, max: schema.maximum ?? schema.exclusiveMaximum,
      value: value ?? schema.default, "aria-describedby": `hint-${id} err-${field}`, "data-type": schema.type,
    });
    const bounds = [];
    if (schema.minimum !== undefined) bounds.push(`≥ ${schema.minimum}`);
    if (schema.exclusiveMinimum !== undefined) bounds.push(`> ${schema.exclusiveMinimum}`);
    if (schema.maximum !== undefined) bounds.push(`≤ ${schema.maximum}`);
    const hint = [translated(`param.${strategyName}.${name}.description`, schema.description || "")];
    if (bounds.length) hint.push(`(${bounds.join(", ")}; ${t("form.default")} ${schema.default})`);
    return el("div", { className: "field" },
      el("label", { for: id, text: translated(`param.${strategyName}.${name}.title`, schema.title || name) }), input,
      el("p", { id: "hint-" + id, className: "hint", text: hint.join(" ") }),
      el("p", { className: "field-error", id: "err-" + field, "data-error-for": field, role: "alert", hidden: true }));
  }

  function showStrategy(name, values) {
    const strategy = strategies.get(name);
    const box = $("params");
    box.replaceChildren();
    if (!strategy) return;
    $("strategy-description").textContent = translated("strategy_desc." + name, strategy.description);
    const properties = strategy.parameters_schema.properties || {};
    for (const [param, schema] of Object.entries(properties)) box.append(paramField(name, param, schema, values && values[param]));
    if (!Object.keys(properties).length) box.append(el("p", { className: "hint", text: t("form.no_params") }));
  }

  /* ------------------------------------------------------------ default benchmark */
  /* Choosing a stock fills the benchmark with its market's index (the API's
     default_benchmark: KOSPI, KOSDAQ, SPX or the synthetic DEMOIDX), until the user
     edits the benchmark; a rerun keeps the earlier run's choice. */
  let benchmarkChosen = Object.prototype.hasOwnProperty.call(initial, "benchmark");
  function offerBenchmark(symbol) {
    const note = $("benchmark-default");
    if (symbol.kind === "index") {
      note.textContent = t("index.not_tradable", { code: symbol.code });
      note.hidden = false;
      return;
    }
    note.hidden = true;
    if (benchmarkChosen) return;
    $("f-benchmark").value = symbol.default_benchmark || "";
    if (symbol.default_benchmark) {
      note.textContent = t("index.default_benchmark", { code: symbol.default_benchmark });
      note.hidden = false;
    }
  }

  /* ------------------------------------------------------------ symbol info */
  let symbolTicket = 0;
  async function describeSymbol() {
    const code = $("f-symbol").value.trim();
    const info = $("symbol-info");
    const ticket = ++symbolTicket;
    if (!code) return;
    try {
      const symbol = await api("GET", "/api/symbols/" + encodeURIComponent(code));
      if (ticket !== symbolTicket) return;
      info.textContent = `${symbol.name} · ${symbol.market} · ${symbol.currency} · ${fmt.date(symbol.first_bar)} – ${fmt.date(symbol.last_bar)}`;
      /* Adjusted prices fall back to raw ones (with a warning) where none are stored. */
      const rawOnly = !symbol.synthetic && !symbol.adjusted.includes("adjusted");
      $("hint-prices").textContent = t(rawOnly ? "prices.raw_only_hint" : "prices.hint");
      for (const id of ["f-start", "f-end"]) {
        $(id).min = symbol.first_bar || "";
        $(id).max = symbol.last_bar || "";
      }
      /* The run plan's default (engine.settings.default_capital), sent with the page. */
      const capital = config.capital.by_currency[symbol.currency] ?? config.capital.other;
      $("f-capital").placeholder = fmt.money(capital, symbol.currency);
      offerBenchmark(symbol);
    } catch (error) {
      if (ticket === symbolTicket) info.textContent = error.status === 404 ? t("form.unknown_symbol") : errorMessage(error);
    }
  }

  async function suggest() {
    const query = $("f-symbol").value.trim();
    if (!query) return;
    try {
      const found = await api("GET", "/api/symbols?" + new URLSearchParams({ q: query, limit: "8" }));
      $("symbol-options").replaceChildren(...found.map((s) => el("option", { value: s.code, text: `${s.name} (${s.market})` })));
    } catch (error) {
      /* suggestions are a convenience; the field still works without them */
    }
  }

  /* ------------------------------------------------------------ costs and sizing */
  function showCosts() {
    const preset = $("f-costs").value;
    for (const part of document.querySelectorAll("#cost-details [data-preset]")) part.hidden = part.dataset.preset !== preset;
  }

  function showSizing() {
    const mode = $("f-sizing-mode").value;
    $("sizing-value-field").hidden = mode === "all_in";
    $("hint-sizing-value").textContent = SIZING_HINTS[mode] ? t(SIZING_HINTS[mode]) : "";
  }

  /* ------------------------------------------------------------ reading and filling */
  function number(input) {
    const text = input.value.trim();
    if (text === "") return undefined;
    const value = Number(text);
    if (!isFinite(value)) return text; // let the API name the field
    return input.hasAttribute("data-percent") ? value / 100 : value;
  }

  const ruleChoices = window.PTRuleChoices;

  function body() {
    const spec = { symbol: $("f-symbol").value.trim(), strategy: $("f-strategy").value, params: {} };
    Object.assign(spec, ruleChoices.choice(spec.strategy)); // "My strategies": strategy "rules" + the saved id
    for (const input of $("params").querySelectorAll("input")) {
      const value = number(input);
      if (value !== undefined) spec.params[input.name.slice(7)] = value;
    }
    const put = (key, value) => { if (value !== undefined && value !== "") spec[key] = value; };
    put("start", $("f-start").value || undefined);
    put("end", $("f-end").value || undefined);
    put("capital", number($("f-capital")));
    put("benchmark", $("f-benchmark").value.trim() || undefined);
    spec.adjusted = !$("f-prices-raw").checked;
    spec.fill_at = $("f-fill-at").value;
    spec.allow_short = $("f-short").checked;
    spec.close_at_end = $("f-close-end").checked;
    put("risk_free_rate", number($("f-rf")));
    const mode = $("f-sizing-mode").value;
    spec.sizing = mode === "all_in" ? { mode: mode } : { mode: mode, value: number($("f-sizing-value")) ?? null };
    const stops = {};
    for (const name of ["stop_loss", "take_profit", "trailing_stop"]) {
      const value = number($("f-" + name));
      if (value !== undefined) stops[name] = value;
    }
    spec.stops = stops;
    const preset = $("f-costs").value;
    if (preset === "custom") {
      spec.costs = {
        preset: "custom",
        commission_rate: number($("f-commission")) ?? 0,
        min_commission: number($("f-min-commission")) ?? 0,
        slippage: number($("f-slippage")) ?? 0,
        lot_size: number($("f-lot")) ?? 1,
      };
    } else {
      spec.costs = preset;
    }
    return spec;
  }

  function percentText(value) {
    return value === null || value === undefined ? "" : String(Math.round(value * 1e8) / 1e6);
  }

  function fill(spec) {
    if (spec.symbol) $("f-symbol").value = spec.symbol;
    const wanted = ruleChoices.valueOf(spec) || spec.strategy || DEFAULT_STRATEGY;
    /* a rule strategy is listed later (or never: deleted, another user's) */
    const strategy = ruleChoices.isRule(wanted) && !strategies.has(wanted) ? DEFAULT_STRATEGY : wanted;
    if (strategies.has(strategy)) $("f-strategy").value = strategy;
    showStrategy($("f-strategy").value, spec.params);
    if (spec.start) $("f-start").value = spec.start;
    if (spec.end) $("f-end").value = spec.end;
    if (spec.capital) $("f-capital").value = spec.capital;
    if (spec.benchmark) $("f-benchmark").value = spec.benchmark;
    if (spec.adjusted === false) $("f-prices-raw").checked = true;
    if (spec.fill_at) $("f-fill-at").value = spec.fill_at;
    if (spec.allow_short) $("f-short").checked = true;
    if (spec.close_at_end === false) $("f-close-end").checked = false;
    if (spec.risk_free_rate) $("f-rf").value = percentText(spec.risk_free_rate);
    if (spec.sizing) {
      $("f-sizing-mode").value = spec.sizing.mode;
      if (spec.sizing.value != null) $("f-sizing-value").value = spec.sizing.value;
    }
    for (const name of ["stop_loss", "take_profit", "trailing_stop"]) {
      if (spec.stops && spec.stops[name] != null) $("f-" + name).value = percentText(spec.stops[name]);
    }
    if (typeof spec.costs === "string") $("f-costs").value = spec.costs;
    else if (spec.costs && typeof spec.costs === "object") {
      $("f-costs").value = "custom";
      $("f-commission").value = percentText(spec.costs.commission_rate);
      $("f-min-commission").value = spec.costs.min_commission ?? 0;
      $("f-slippage").value = spec.costs.slippage ?? 0;
      $("f-lot").value = spec.costs.lot_size ?? 1;
    }
  }

  /* ------------------------------------------------------------ errors next to fields */
  function clearErrors() {
    hideError($("form-error"));
    for (const node of form.querySelectorAll(".field-error")) hideError(node);
    for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  }

  function errorSlot(field) {
    // "params.fast" -> its own slot; "sizing" (a whole-object error) -> "sizing.value"; else the nearest parent.
    const candidates = [field, field + ".value", field + ".mode"];
    for (let parts = field.split("."); parts.length; parts.pop()) candidates.push(parts.join("."));
    for (const name of candidates) {
      const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
      if (slot) return { slot: slot, name: name };
    }
    return null;
  }

  function showFieldErrors(error) {
    const errors = error.errors && error.errors.length ? error.errors : [{ field: error.field || "body", message: error.message }];
    let first = null;
    for (const item of errors) {
      const found = errorSlot(item.field || "body");
      if (!found) {
        showError($("form-error"), item.message);
        continue;
      }
      const message = error.errors && error.errors.length ? item.message : error.message;
      showError(found.slot, message);
      const input = form.querySelector(`[name="${CSS.escape(found.name)}"]`);
      if (input) {
        input.setAttribute("aria-invalid", "true");
        if (input.closest("details")) input.closest("details").open = true;
        first = first || input;
      }
    }
    showError($("form-error"), t("form.fix_errors"));
    (first || $("form-error")).focus();
  }

  function percentChecks() {
    // Percent inputs are converted to fractions; say what is wrong in percent, not as a fraction.
    let ok = true;
    for (const name of ["stop_loss", "trailing_stop"]) {
      const input = $("f-" + name);
      const value = Number(input.value);
      if (input.value.trim() !== "" && !(value > 0 && value < 100)) {
        showError($("err-stops." + name), t("form.percent_range", { low: 0, high: 100 }));
        input.setAttribute("aria-invalid", "true");
        ok = false;
      }
    }
    return ok;
  }

  const researchMode = form.hasAttribute("data-research");

  /* "Optimize these settings": the optimization form, filled with this form's spec. */
  function updateOptimizeLink() {
    const link = $("optimize-link");
    if (link) link.href = "/research/new?" + new URLSearchParams({ spec: JSON.stringify(body()) });
  }

  if (!researchMode) form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    if (!percentChecks()) {
      showError($("form-error"), t("form.fix_errors"));
      form.querySelector("[aria-invalid]").focus();
      return;
    }
    const button = $("submit");
    button.disabled = true;
    try {
      const job = await api("POST", "/api/backtests", body());
      window.location.assign("/backtests/" + job.id);
    } catch (error) {
      if (error.status === 422) showFieldErrors(error);
      else showError($("form-error"), errorMessage(error));
    } finally {
      button.disabled = false;
    }
  });

  $("f-strategy").addEventListener("change", () => showStrategy($("f-strategy").value));
  $("f-costs").addEventListener("change", showCosts);
  $("f-sizing-mode").addEventListener("change", showSizing);
  $("f-symbol").addEventListener("change", describeSymbol);
  $("f-benchmark").addEventListener("input", () => { benchmarkChosen = true; });
  let suggestTimer = null;
  $("f-symbol").addEventListener("input", () => { clearTimeout(suggestTimer); suggestTimer = setTimeout(suggest, 150); });

  fill(initial);
  /* The caller's rule strategies arrive after the page: then an earlier run's (or
     ?rules=<id>'s) rule strategy is chosen with its parameter fields. */
  ruleChoices.register(strategies);
  ruleChoices.ready.then(() => {
    const wanted = ruleChoices.valueOf(initial);
    if (wanted && strategies.has(wanted)) {
      $("f-strategy").value = wanted;
      $("f-strategy").dispatchEvent(new Event("change", { bubbles: true }));
      showStrategy(wanted, initial.params);
      if (!researchMode) updateOptimizeLink();
    }
  });
  showCosts();
  showSizing();
  describeSymbol();
  if (!researchMode) {
    form.addEventListener("input", updateOptimizeLink);
    form.addEventListener("change", updateOptimizeLink);
    updateOptimizeLink();
  }
  window.PTBacktestForm = { body, fill, clearErrors, showFieldErrors, percentChecks, translated };
})();
