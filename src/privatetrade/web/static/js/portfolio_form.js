/* The portfolio form: a universe, a rule showing only the fields that rule reads
   (engine/portfolio/rules.py: a field a rule does not read must keep its default, so
   hidden fields are never sent), period, money and costs. Submits to POST /api/portfolios;
   the API's 422 errors appear next to their fields. */
(function () {
  "use strict";
  const { config, t, fmt, api, el, errorMessage, showError } = window.PT;
  const $ = (id) => document.getElementById(id);
  const form = $("portfolio-form");
  const shared = window.PTRunForm(form, { strategies: config.strategies });
  const picker = window.PTUniversePicker($("universe"), { marketCounts: config.marketCounts, initial: config.universe });
  const initial = config.initial || {};
  const ALLOCATION = ["equal_weight", "fixed_weights", "inverse_volatility", "top_n_momentum", "top_n_low_volatility", "top_n_signal"];
  const TOP_N = ["top_n_momentum", "top_n_low_volatility", "top_n_signal"];
  const RANKED = ["inverse_volatility", ...TOP_N];
  const DEFAULT_STRATEGY = "sma_cross";
  const VALUE_HINTS = { fraction: "portfolio.position_fraction_hint", amount: "portfolio.position_amount_hint" };
  const typedWeights = new Map();
  const ruleChoices = window.PTRuleChoices;
  ruleChoices.register(shared.strategies);

  /* ------------------------------------------------------------ which fields a rule reads */
  function rule() {
    return $("f-rule").value;
  }

  function shown(part) {
    const name = rule();
    const allocation = ALLOCATION.includes(name);
    const absolute = allocation && $("f-absolute-momentum").checked;
    switch (part) {
      case "weights": return name === "fixed_weights";
      case "top": return TOP_N.includes(name);
      case "allocation": return allocation;
      case "threshold": return absolute;
      case "strategy": return name === "signals" || name === "top_n_signal";
      case "signals": return name === "signals";
      case "position_value": return name === "signals" && ["fraction", "amount"].includes($("f-position-size").value);
      case "lookback":
        return RANKED.includes(name) || absolute
          || (TOP_N.includes(name) && $("f-weighting").value === "inverse_volatility")
          || (name === "signals" && $("f-entry-priority").value !== "order");
      default: return true;
    }
  }

  function showRule() {
    for (const node of form.querySelectorAll("[data-show]")) node.hidden = !shown(node.dataset.show);
    $("rule-description").textContent = t("rule_desc." + rule());
    $("hint-strategy-rule").textContent = rule() === "top_n_signal" ? t("portfolio.top_n_signal_hint") : "";
    const size = $("f-position-size").value;
    $("hint-position-size").textContent = t("position_size_hint." + size);
    $("hint-position-value").textContent = VALUE_HINTS[size] ? t(VALUE_HINTS[size]) : "";
    if (shown("weights")) showWeights();
  }

  /* ------------------------------------------------------------ fixed weights */
  function weightInputs() {
    return Array.from($("weights-table").querySelectorAll("input[data-code]"));
  }

  function showWeights() {
    const symbols = picker.value().symbols ? picker.symbols() : [];
    $("weights-empty").hidden = symbols.length > 0;
    $("weights-equal").hidden = symbols.length === 0;
    const head = el("thead", {}, el("tr", {},
      el("th", { scope: "col", text: t("col.stock") }), el("th", { scope: "col", className: "num", text: t("portfolio.weight") })));
    const body = el("tbody", {}, ...symbols.map((symbol) => {
      const name = symbol.name ? `${symbol.code} ${symbol.name}` : symbol.code;
      return el("tr", {},
        el("th", { scope: "row", text: name }),
        el("td", { className: "num" }, el("input", {
          type: "number", min: "0", max: "100", step: "any", inputmode: "decimal", "data-percent": true,
          "data-code": symbol.code, id: "w-" + symbol.code, name: "rule.weights." + symbol.code,
          "aria-label": t("portfolio.weight_of", { symbol: name }), value: typedWeights.get(symbol.code) ?? "",
          oninput: (event) => { typedWeights.set(symbol.code, event.target.value); showWeightSum(); },
        })));
    }));
    $("weights-table").replaceChildren(el("caption", { className: "sr-only", text: t("portfolio.weights") }), head, body);
    showWeightSum();
  }

  function showWeightSum() {
    let total = 0;
    for (const input of weightInputs()) total += Number(input.value) || 0;
    const sum = $("weights-sum");
    sum.classList.toggle("error", total > 100 + 1e-9);
    sum.textContent = total > 100 + 1e-9
      ? t("portfolio.weights_over", { total: fmt.num(total, 2) })
      : t("portfolio.weights_sum", { total: fmt.num(total, 2), cash: fmt.num(100 - total, 2) });
  }

  $("weights-equal").addEventListener("click", () => {
    const inputs = weightInputs();
    const each = Math.floor(10000 / inputs.length) / 100; // whole basis points, never above 100 %
    for (const input of inputs) {
      input.value = String(each);
      typedWeights.set(input.dataset.code, input.value);
    }
    showWeightSum();
  });

  /* ------------------------------------------------------------ the spec */
  function readRule() {
    const number = shared.number;
    const chosen = { rule: rule() };
    const put = (key, value) => { if (value !== undefined && value !== "") chosen[key] = value; };
    if (shown("weights")) {
      chosen.weights = {};
      for (const input of weightInputs()) chosen.weights[input.dataset.code] = number(input) ?? 0;
    }
    if (shown("top")) {
      put("top", number($("f-top")));
      chosen.weighting = $("f-weighting").value;
    }
    if (shown("allocation")) {
      chosen.rebalance = $("f-rebalance").value;
      chosen.rebalance_on = $("f-rebalance-on").value;
      put("band", number($("f-band")));
      chosen.absolute_momentum = $("f-absolute-momentum").checked;
      if (shown("threshold")) put("momentum_threshold", number($("f-threshold")));
    }
    if (shown("strategy")) {
      chosen.strategy = $("f-strategy").value;
      chosen.params = shared.readParams($("params"));
      const saved = ruleChoices.choice(chosen.strategy); // "My strategies": rules beside the rule
      if (saved) chosen.strategy = saved.strategy;
    }
    if (shown("signals")) {
      put("max_positions", number($("f-max-positions")));
      chosen.position_size = $("f-position-size").value;
      if (shown("position_value")) put("position_value", number($("f-position-value")));
      chosen.entry_priority = $("f-entry-priority").value;
    }
    if (shown("lookback")) put("lookback", number($("f-lookback")));
    chosen.delisted = $("f-delisted").value;
    return chosen;
  }

  function body() {
    const spec = Object.assign({}, picker.value());
    spec.rule = readRule();
    const saved = shown("strategy") && ruleChoices.choice($("f-strategy").value);
    if (saved) spec.rules = saved.rules;
    shared.readCommon(spec);
    if (shown("signals")) spec.stops = shared.readStops();
    const benchmark = $("f-benchmark").value.trim();
    if (benchmark) spec.benchmark = benchmark;
    return spec;
  }

  function fillRule(chosen) {
    const value = (id, v) => { if (v !== undefined && v !== null) $(id).value = v; };
    value("f-rule", chosen.rule);
    for (const [code, weight] of Object.entries(chosen.weights || {})) typedWeights.set(code, shared.percentText(weight));
    value("f-top", chosen.top);
    value("f-weighting", chosen.weighting);
    value("f-lookback", chosen.lookback);
    value("f-rebalance", chosen.rebalance);
    value("f-rebalance-on", chosen.rebalance_on);
    if (chosen.band != null) $("f-band").value = shared.percentText(chosen.band);
    $("f-absolute-momentum").checked = Boolean(chosen.absolute_momentum);
    if (chosen.momentum_threshold != null) $("f-threshold").value = shared.percentText(chosen.momentum_threshold);
    value("f-max-positions", chosen.max_positions);
    value("f-position-size", chosen.position_size);
    value("f-position-value", chosen.position_value);
    value("f-entry-priority", chosen.entry_priority);
    value("f-delisted", chosen.delisted);
    const strategy = chosen.strategy && shared.strategies.has(chosen.strategy) ? chosen.strategy : DEFAULT_STRATEGY;
    $("f-strategy").value = strategy;
    shared.showStrategy($("params"), $("strategy-description"), strategy, chosen.params, "rule.params.");
  }

  /* An earlier portfolio's rule strategy, once the caller's rule strategies are listed. */
  function fillRuleStrategy(spec) {
    const wanted = ruleChoices.valueOf({ strategy: (spec.rule || {}).strategy, rules: spec.rules });
    if (!wanted || !shared.strategies.has(wanted)) return;
    $("f-strategy").value = wanted;
    shared.showStrategy($("params"), $("strategy-description"), wanted, (spec.rule || {}).params, "rule.params.");
  }

  function fill(spec) {
    fillRule(spec.rule || {});
    shared.fillCommon(spec);
    shared.fillStops(spec.stops);
    if (spec.benchmark) $("f-benchmark").value = spec.benchmark;
  }

  /* ------------------------------------------------------------ default benchmark */
  /* The universe's market index (the first chip's market, or the chosen market), until
     the user edits the benchmark; a re-run keeps the earlier run's choice. */
  let benchmarkChosen = Object.prototype.hasOwnProperty.call(initial, "benchmark");
  function offerBenchmark() {
    if (benchmarkChosen) return;
    const universe = picker.value();
    const market = universe.market || (picker.symbols()[0] || {}).market;
    const code = (config.benchmarks || {})[market] || "";
    $("f-benchmark").value = code;
    $("benchmark-default").textContent = code ? t("index.default_benchmark", { code: code }) : "";
    $("benchmark-default").hidden = !code;
  }
  $("f-benchmark").addEventListener("input", () => {
    benchmarkChosen = true;
    $("benchmark-default").hidden = true;
  });

  /* ------------------------------------------------------------ submit */
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    shared.clearErrors();
    if (picker.value().market === null) {
      showError($("err-market"), t("universe.market_needed"));
      $("u-market").setAttribute("aria-invalid", "true");
      showError($("form-error"), t("form.fix_errors"));
      $("u-market").focus();
      return;
    }
    if (!shared.percentChecks()) {
      showError($("form-error"), t("form.fix_errors"));
      form.querySelector("[aria-invalid]").focus();
      return;
    }
    const button = $("submit");
    button.disabled = true;
    try {
      const job = await api("POST", "/api/portfolios", body());
      window.location.assign("/portfolios/" + job.id);
    } catch (error) {
      if (error.status === 422) shared.showFieldErrors(error, { "rule.weights": "rule.weights", universe: "symbols" });
      else showError($("form-error"), errorMessage(error));
    } finally {
      button.disabled = false;
    }
  });

  for (const id of ["f-rule", "f-absolute-momentum", "f-weighting", "f-position-size", "f-entry-priority"]) $(id).addEventListener("change", showRule);
  $("f-strategy").addEventListener("change", () => shared.showStrategy($("params"), $("strategy-description"), $("f-strategy").value, null, "rule.params."));
  $("f-costs").addEventListener("change", shared.showCosts);
  picker.onChange(() => {
    if (shown("weights")) showWeights();
    offerBenchmark();
  });

  fill(initial);
  ruleChoices.ready.then(() => fillRuleStrategy(initial));
  showRule();
  offerBenchmark();
  window.PTPortfolioForm = { body: body, picker: picker };
})();
