/* The universe scan form: a universe, then a backtest's settings (strategy and
   parameters, money, costs, stops) applied to each of its symbols. Submits to
   POST /api/scans; the API's 422 errors appear next to their fields. */
(function () {
  "use strict";
  const { config, t, api, errorMessage, showError } = window.PT;
  const $ = (id) => document.getElementById(id);
  const form = $("scan-form");
  const shared = window.PTRunForm(form, { strategies: config.strategies });
  const picker = window.PTUniversePicker($("universe"), { marketCounts: config.marketCounts, initial: config.universe });
  const initial = config.initial || {};
  const DEFAULT_STRATEGY = "sma_cross";
  const ruleChoices = window.PTRuleChoices;
  ruleChoices.register(shared.strategies);

  function showStrategy(values) {
    shared.showStrategy($("params"), $("strategy-description"), $("f-strategy").value, values, "params.");
  }

  function body() {
    const spec = Object.assign({}, picker.value(), { strategy: $("f-strategy").value, params: shared.readParams($("params")) });
    Object.assign(spec, ruleChoices.choice(spec.strategy)); // "My strategies": strategy "rules" + the saved id
    shared.readCommon(spec);
    spec.sizing = shared.readSizing();
    spec.stops = shared.readStops();
    spec.allow_short = $("f-short").checked;
    spec.sort = $("f-sort").value;
    return spec;
  }

  function fill(spec) {
    const strategy = spec.strategy && shared.strategies.has(spec.strategy) ? spec.strategy : DEFAULT_STRATEGY;
    $("f-strategy").value = strategy;
    showStrategy(spec.params);
    shared.fillCommon(spec);
    shared.fillStops(spec.stops);
    if (spec.sizing) {
      $("f-sizing-mode").value = spec.sizing.mode;
      if (spec.sizing.value != null) $("f-sizing-value").value = spec.sizing.value;
    }
    if (spec.allow_short) $("f-short").checked = true;
    if (spec.sort) $("f-sort").value = spec.sort;
  }

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
      const job = await api("POST", "/api/scans", body());
      window.location.assign("/scans/" + job.id);
    } catch (error) {
      if (error.status === 422) shared.showFieldErrors(error);
      else showError($("form-error"), errorMessage(error));
    } finally {
      button.disabled = false;
    }
  });

  $("f-strategy").addEventListener("change", () => showStrategy(null));
  $("f-costs").addEventListener("change", shared.showCosts);
  $("f-sizing-mode").addEventListener("change", shared.showSizing);

  fill(initial);
  ruleChoices.ready.then(() => {
    const wanted = ruleChoices.valueOf(initial);
    if (wanted && shared.strategies.has(wanted)) {
      $("f-strategy").value = wanted;
      showStrategy(initial.params);
    }
  });
  shared.showSizing();
  window.PTScanForm = { body: body, picker: picker };
})();
