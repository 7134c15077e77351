/* The optimization form: the backtest form (backtest_form.js, window.PTBacktestForm) plus,
   per strategy parameter, what to search (a range, listed values or one fixed value,
   prefilled from the strategy's default grid), the method and the objective, and for a
   walk-forward its windows. Counts a grid's combinations before submitting, as the server
   does (the strategy's ordering rules included); the API's 422 errors appear next to
   their fields. */
(function () {
  "use strict";
  const { config, t, fmt, api, el, errorMessage, showError } = window.PT;
  const shared = window.PTBacktestForm;
  const form = document.getElementById("backtest-form");
  const $ = (id) => document.getElementById(id);
  const strategies = new Map(config.strategies.map((s) => [s.name, s]));
  window.PTRuleChoices.register(strategies); // "My strategies" (rule_choices.js)
  const initial = config.initial || {};
  const isResearchSpec = Object.prototype.hasOwnProperty.call(initial, "space");
  const MODES = ["range", "list", "fixed"];
  const ENUMERATE_UP_TO = 1000000; // combinations counted one by one (per group of ruled parameters)
  let rows = [];

  /* ------------------------------------------------------------ an axis's values */
  /* As domain/research.py ParamRange.values(): start, start + step, ... up to stop. */
  function decimals(value) {
    const text = String(value);
    if (text.includes("e")) return 0;
    const part = text.split(".")[1];
    return part ? part.replace(/0+$/, "").length : 0;
  }

  function rangeValues(start, stop, step) {
    if (![start, stop, step].every((v) => typeof v === "number" && isFinite(v))) return null;
    if (step <= 0 || stop < start || (stop - start) / step > config.limits.choices) return null;
    const count = Math.floor((stop - start) / step + 1e-9) + 1;
    const integral = [start, stop, step].every(Number.isInteger);
    const digits = Math.max(decimals(start), decimals(step));
    const values = [];
    for (let i = 0; i < count; i++) values.push(integral ? start + i * step : Number((start + i * step).toFixed(digits)));
    return values;
  }

  function choice(text) {
    const lowered = text.toLowerCase();
    if (lowered === "true" || lowered === "false") return lowered === "true";
    const value = Number(text);
    return text !== "" && isFinite(value) ? value : text;
  }

  function listValues(text) {
    return text.split(",").map((part) => part.trim()).filter(Boolean).map(choice);
  }

  /* A number input's value: a number, undefined when empty, else the text (the API names it). */
  function number(input) {
    const text = input.value.trim();
    if (text === "") return undefined;
    const value = Number(text);
    return isFinite(value) ? value : text;
  }

  /* About eight even steps between the default grid's ends, rounded to two digits. */
  function niceStep(span, integral) {
    if (integral) return Math.max(1, Math.round(span / 7));
    const raw = span / 7;
    if (!(raw > 0)) return 1;
    const unit = Math.pow(10, Math.floor(Math.log10(raw)) - 1);
    return Number((Math.round(raw / unit) * unit).toFixed(10));
  }

  /* ------------------------------------------------------------ one row per parameter */
  function preset(strategyName, name, schema) {
    const grid = (config.grids[strategyName] || {})[name] || [];
    const params = initial.params || {};
    const base = { mode: "fixed", fixed: name in params ? params[name] : schema.default, start: "", stop: "", step: "", list: grid.join(", ") };
    const numeric = grid.length > 0 && grid.every((v) => typeof v === "number");
    if (numeric) {
      const start = Math.min(...grid);
      const stop = Math.max(...grid);
      Object.assign(base, { start: start, stop: stop, step: niceStep(stop - start, schema.type === "integer") });
    }
    if (isResearchSpec && initial.strategy === strategyName) {
      const axis = (initial.space || {})[name];
      if (Array.isArray(axis)) return Object.assign(base, { mode: "list", list: axis.join(", ") });
      if (axis && typeof axis === "object") return Object.assign(base, { mode: "range", start: axis.start, stop: axis.stop, step: axis.step });
      if (name in params || Object.keys(initial.space || {}).length) return base; // kept fixed
      if (grid.length) base.mode = "list"; // an empty space searched the default grid
      return base;
    }
    if (grid.length) base.mode = numeric ? "range" : "list";
    return base;
  }

  function labelled(id, labelText, input, extraClass) {
    return el("div", { className: "field " + (extraClass || "") }, el("label", { for: id, text: labelText }), input);
  }

  function buildRow(strategyName, name, schema) {
    const start = preset(strategyName, name, schema);
    const field = "space." + name;
    const id = "search-" + name;
    const title = shared.translated(`param.${strategyName}.${name}.title`, schema.title || name);
    const numeric = schema.type === "integer" || schema.type === "number";
    const step = schema.type === "integer" ? "1" : "any";
    const numberInput = (part, value, attributes) => el("input", Object.assign({
      id: `${id}-${part}`, name: `${field}.${part}`, type: "number", step: step, inputmode: "decimal",
      value: value ?? "", "aria-describedby": `${id}-hint err-${field}`,
    }, attributes || {}));
    const mode = el("select", { id: id + "-mode", name: field, "aria-describedby": `${id}-hint err-${field}` },
      ...MODES.map((m) => el("option", { value: m, text: t("research.mode." + m) })));
    if (!numeric) mode.querySelector('option[value="range"]').remove();
    mode.value = numeric || start.mode !== "range" ? start.mode : "list";
    const range = el("div", { className: "row wrap range-inputs", "data-mode": "range" },
      labelled(id + "-start", t("research.start"), numberInput("start", start.start)),
      labelled(id + "-stop", t("research.stop"), numberInput("stop", start.stop)),
      labelled(id + "-step", t("research.step_size"), numberInput("step", start.step, { min: "0" })));
    const list = el("div", { "data-mode": "list" }, labelled(id + "-list", t("research.values"), el("input", {
      id: id + "-list", name: field + ".values", value: start.list, autocomplete: "off", spellcheck: "false",
      placeholder: "5, 10, 20", "aria-describedby": `${id}-hint err-${field}`,
    }), "grow"));
    const fixedInput = numeric
      ? el("input", { id: id + "-fixed", name: "params." + name, type: "number", step: step, inputmode: "decimal", value: start.fixed ?? "", "aria-describedby": `${id}-hint err-params.${name}` })
      : el("input", { id: id + "-fixed", name: "params." + name, value: start.fixed ?? "", "aria-describedby": `${id}-hint err-params.${name}` });
    const fixed = el("div", { "data-mode": "fixed" }, labelled(id + "-fixed", t("research.fixed_value"), fixedInput));
    const hint = el("p", { id: id + "-hint", className: "hint" });
    const node = el("fieldset", { className: "search-param", "data-param": name },
      el("legend", { text: title }),
      el("div", { className: "row wrap" }, labelled(id + "-mode", t("research.how"), mode), range, list, fixed),
      hint,
      el("p", { className: "field-error", id: "err-" + field, "data-error-for": field, role: "alert", hidden: true }),
      el("p", { className: "field-error", id: `err-params.${name}`, "data-error-for": "params." + name, role: "alert", hidden: true }));
    const row = { name, schema, node, mode, range, list, fixed, hint, fixedInput, title };
    mode.addEventListener("change", () => showMode(row));
    showMode(row);
    return row;
  }

  function showMode(row) {
    for (const part of [row.range, row.list, row.fixed]) part.hidden = part.dataset.mode !== row.mode.value;
  }

  /* The values a row searches (null: not a valid axis yet), or undefined when it is fixed. */
  function rowValues(row) {
    const mode = row.mode.value;
    if (mode === "fixed") return undefined;
    if (mode === "list") {
      const values = listValues(row.list.querySelector("input").value);
      return values.length ? values : null;
    }
    const [start, stop, step] = ["start", "stop", "step"].map((part) => number(row.range.querySelector(`[name$=".${part}"]`)));
    return rangeValues(start, stop, step);
  }

  function showRows() {
    const name = $("f-strategy").value;
    const strategy = strategies.get(name);
    const box = $("search-params");
    const properties = (strategy && strategy.parameters_schema.properties) || {};
    rows = Object.entries(properties).map(([param, schema]) => buildRow(name, param, schema));
    box.replaceChildren(...rows.map((row) => row.node));
    if (!rows.length) box.append(el("p", { className: "hint", text: t("research.nothing_to_search") }));
    updateCount();
  }

  /* ------------------------------------------------------------ counting combinations */
  /* Parameters tied by the strategy's ordering rules ("x-ordered": fast < slow) are
     counted together, one combination at a time; independent ones multiply. */
  function fixedValue(row) {
    const value = number(row.fixedInput);
    return value === undefined ? row.schema.default : value;
  }

  function countValid(group, axes, values, rules) {
    const names = group.filter((n) => axes[n]);
    const sizes = names.map((n) => axes[n].length);
    const total = sizes.reduce((a, b) => a * b, 1);
    if (total > ENUMERATE_UP_TO) return { count: total, exact: false };
    const current = Object.assign({}, values);
    let count = 0;
    const walk = (depth) => {
      if (depth === names.length) {
        if (rules.every(([low, high]) => !(low in current && high in current) || current[low] < current[high])) count++;
        return;
      }
      for (const value of axes[names[depth]]) {
        current[names[depth]] = value;
        walk(depth + 1);
      }
    };
    walk(0);
    return { count: count, exact: true };
  }

  function combinations() {
    const strategy = strategies.get($("f-strategy").value);
    const axes = {};
    const values = {};
    for (const row of rows) {
      const found = rowValues(row);
      if (found === null) return null;
      if (found === undefined) values[row.name] = fixedValue(row);
      else axes[row.name] = found;
    }
    const rules = ((strategy && strategy.parameters_schema["x-ordered"]) || []).filter(([low, high]) => low in axes || high in axes);
    const grid = Object.values(axes).reduce((a, v) => a * v.length, 1);
    /* groups of parameters connected by rules */
    const groupOf = new Map(Object.keys(axes).map((n) => [n, [n]]));
    for (const [low, high] of rules) {
      for (const name of [low, high]) if (!groupOf.has(name)) groupOf.set(name, [name]);
      const a = groupOf.get(low);
      const b = groupOf.get(high);
      if (a === b) continue;
      a.push(...b);
      for (const name of b) groupOf.set(name, a);
    }
    let count = 1;
    let exact = true;
    for (const group of new Set(groupOf.values())) {
      const inGroup = rules.filter(([low]) => group.includes(low));
      const found = countValid(group, axes, values, inGroup);
      count *= found.count;
      exact = exact && found.exact;
    }
    return { count: count, grid: grid, exact: exact, searched: Object.keys(axes).length, rules: rules };
  }

  function ruleText(rules) {
    const strategy = $("f-strategy").value;
    return rules.map(([low, high]) => `${window.PT.paramName(strategy, low)} < ${window.PT.paramName(strategy, high)}`).join(", ");
  }

  function updateCount() {
    for (const row of rows) {
      const found = rowValues(row);
      row.hint.textContent = found === undefined ? t("research.kept_fixed")
        : found === null ? t("research.no_values") : t("research.value_count", { count: fmt.int(found.length) });
    }
    const output = $("combination-count");
    const found = rows.length ? combinations() : { count: 1, grid: 1, exact: true, searched: 0, rules: [] };
    if (found === null) {
      output.textContent = t("research.count_unknown");
      return;
    }
    const method = $("f-method").value;
    const parts = [];
    const count = (found.exact ? "" : "≤ ") + fmt.int(found.count);
    if (method === "grid") parts.push(t("research.count_grid", { count: count }));
    else parts.push(t("research.count_sampled", { samples: fmt.int(Number($("f-samples").value) || 0), count: count }));
    if (found.exact && found.count < found.grid) {
      parts.push(t("research.count_ruled_out", { count: fmt.int(found.grid - found.count), rule: ruleText(found.rules) }));
    }
    if (analysis() === "walkforward") parts.push(t("research.count_per_window"));
    output.textContent = parts.join(" · ");
    output.dataset.count = String(found.count);
  }

  /* ------------------------------------------------------------ method and windows */
  function analysis() {
    return $("f-analysis-walkforward").checked ? "walkforward" : "sweep";
  }

  function showMethod() {
    const method = $("f-method").value;
    $("samples-field").hidden = method === "grid";
    $("seed-field").hidden = method === "grid";
    $("hint-method").textContent = t("research.method_hint." + method);
    updateCount();
  }

  function showAnalysis() {
    const walk = analysis() === "walkforward";
    $("walkforward-settings").hidden = !walk;
    $("submit").textContent = t("research.submit." + analysis());
    updateCount();
  }

  function windowText(name) {
    const count = $("f-" + name).value.trim();
    return count === "" ? "" : count + $(`f-${name}-unit`).value;
  }

  function fillWindow(name, value, fallback) {
    const length = value || fallback;
    if (!length) return;
    $("f-" + name).value = length.count;
    $(`f-${name}-unit`).value = length.unit === "bars" ? "b" : "m";
  }

  /* ------------------------------------------------------------ the request */
  function body() {
    const spec = shared.body();
    spec.params = {};
    spec.space = {};
    for (const row of rows) {
      const mode = row.mode.value;
      if (mode === "fixed") {
        const value = row.schema.type === "integer" || row.schema.type === "number" ? number(row.fixedInput) : choice(row.fixedInput.value.trim());
        if (value !== undefined && value !== "") spec.params[row.name] = value;
      } else if (mode === "list") {
        spec.space[row.name] = listValues(row.list.querySelector("input").value);
      } else {
        const range = {};
        for (const part of ["start", "stop", "step"]) range[part] = number(row.range.querySelector(`[name$=".${part}"]`)) ?? null;
        spec.space[row.name] = range;
      }
    }
    spec.method = $("f-method").value;
    if (spec.method !== "grid") {
      spec.samples = number($("f-samples")) ?? null;
      spec.seed = number($("f-seed")) ?? 0;
    }
    spec.objective = $("f-objective").value;
    spec.min_trades = number($("f-min-trades")) ?? 0;
    if (analysis() === "walkforward") {
      spec.in_sample = windowText("in_sample");
      spec.out_of_sample = windowText("out_of_sample");
      if (windowText("step")) spec.step = windowText("step");
      spec.anchored = $("f-anchored").checked;
    }
    return spec;
  }

  function fill(spec) {
    if (spec.method) $("f-method").value = spec.method;
    if (spec.samples != null) $("f-samples").value = spec.samples;
    if (spec.seed != null) $("f-seed").value = spec.seed;
    if (spec.objective) $("f-objective").value = spec.objective;
    if (spec.min_trades != null) $("f-min-trades").value = spec.min_trades;
    fillWindow("in_sample", spec.in_sample, { count: 24, unit: "months" });
    fillWindow("out_of_sample", spec.out_of_sample, { count: 6, unit: "months" });
    fillWindow("step", spec.step, null);
    if (spec.anchored) $("f-anchored").checked = true;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    shared.clearErrors();
    if (!shared.percentChecks()) {
      showError($("form-error"), t("form.fix_errors"));
      form.querySelector("[aria-invalid]").focus();
      return;
    }
    const button = $("submit");
    button.disabled = true;
    try {
      const url = analysis() === "walkforward" ? "/api/walkforwards" : "/api/sweeps";
      const job = await api("POST", url, body());
      window.location.assign("/research/" + job.id);
    } catch (error) {
      if (error.status === 422) shared.showFieldErrors(error);
      else showError($("form-error"), errorMessage(error));
    } finally {
      button.disabled = false;
    }
  });

  $("f-strategy").addEventListener("change", showRows);
  $("f-method").addEventListener("change", showMethod);
  for (const radio of document.querySelectorAll('input[name="analysis"]')) radio.addEventListener("change", showAnalysis);
  $("search-params").addEventListener("input", updateCount);
  $("search-params").addEventListener("change", updateCount);
  $("f-samples").addEventListener("input", updateCount);

  fill(initial);
  showRows();
  showMethod();
  showAnalysis();
})();
