/* What the portfolio and scan forms share (templates/_run_form_macros.html): strategy
   parameter fields from the registry's JSON Schema, period, prices, capital, costs, stops,
   fill timing; reading them into the API's spec and filling them from an earlier run's
   spec; the API's 422 errors next to their fields.

   window.PTRunForm(form, {strategies}) -> helpers bound to that form. */
(function () {
  "use strict";
  const { t, el, showError, hideError } = window.PT;
  const STOPS = ["stop_loss", "take_profit", "trailing_stop"];
  const SIZING_HINTS = { fraction: "sizing.fraction_hint", amount: "sizing.amount_hint", shares: "sizing.shares_hint" };

  function PTRunForm(form, options) {
    const $ = (id) => document.getElementById(id);
    const strategies = new Map(((options && options.strategies) || []).map((s) => [s.name, s]));

    /* A message of the catalog if it has one, else the registry's own (English) text. */
    function translated(key, fallback) {
      const text = t(key);
      return text === key ? fallback : text;
    }

    /* A number from an input (percent inputs as fractions); undefined when empty. */
    function number(input) {
      const text = input.value.trim();
      if (text === "") return undefined;
      const value = Number(text);
      if (!isFinite(value)) return text; // let the API name the field
      return input.hasAttribute("data-percent") ? value / 100 : value;
    }

    function percentText(value) {
      return value === null || value === undefined ? "" : String(Math.round(value * 1e8) / 1e6);
    }

    /* ------------------------------------------------------------ strategy parameters */
    function paramField(prefix, strategyName, name, schema, value) {
      const id = "param-" + name;
      const field = prefix + name;
      const input = el("input", {
        id: id, name: field, type: "number", inputmode: schema.type === "integer" ? "numeric" : "decimal",
        step: schema.type === "integer" ? "1" : "any",
        min: schema.minimum ?? schema.exclusiveMinimum, max: schema.maximum ?? schema.exclusiveMaximum,
        value: value ?? schema.default, "aria-describedby": `hint-${id} err-${field}`, "data-param": name,
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

    /* Fill box with the fields of strategy name; prefix is the API path ("params.", "rule.params."). */
    function showStrategy(box, description, name, values, prefix) {
      const strategy = strategies.get(name);
      box.replaceChildren();
      if (!strategy) return;
      description.textContent = translated("strategy_desc." + name, strategy.description);
      const properties = strategy.parameters_schema.properties || {};
      for (const [param, schema] of Object.entries(properties)) box.append(paramField(prefix, name, param, schema, values && values[param]));
      if (!Object.keys(properties).length) box.append(el("p", { className: "hint", text: t("form.no_params") }));
    }

    function readParams(box) {
      const params = {};
      for (const input of box.querySelectorAll("input[data-param]")) {
        const value = number(input);
        if (value !== undefined) params[input.dataset.param] = value;
      }
      return params;
    }

    /* ------------------------------------------------------------ costs, sizing, stops */
    function showCosts() {
      const preset = $("f-costs").value;
      for (const part of form.querySelectorAll("#cost-details [data-preset]")) part.hidden = part.dataset.preset !== preset;
    }

    function showSizing() {
      if (!$("f-sizing-mode")) return;
      const mode = $("f-sizing-mode").value;
      $("sizing-value-field").hidden = mode === "all_in";
      $("hint-sizing-value").textContent = SIZING_HINTS[mode] ? t(SIZING_HINTS[mode]) : "";
    }

    function readCosts() {
      const preset = $("f-costs").value;
      if (preset !== "custom") return preset;
      return {
        preset: "custom",
        commission_rate: number($("f-commission")) ?? 0,
        min_commission: number($("f-min-commission")) ?? 0,
        slippage: number($("f-slippage")) ?? 0,
        lot_size: number($("f-lot")) ?? 1,
      };
    }

    function fillCosts(costs) {
      if (typeof costs === "string") $("f-costs").value = costs;
      else if (costs && typeof costs === "object") {
        $("f-costs").value = "custom";
        $("f-commission").value = percentText(costs.commission_rate);
        $("f-min-commission").value = costs.min_commission ?? 0;
        $("f-slippage").value = costs.slippage ?? 0;
        $("f-lot").value = costs.lot_size ?? 1;
      }
      showCosts();
    }

    function readSizing() {
      const mode = $("f-sizing-mode").value;
      return mode === "all_in" ? { mode: mode } : { mode: mode, value: number($("f-sizing-value")) ?? null };
    }

    function readStops() {
      const stops = {};
      for (const name of STOPS) {
        const value = number($("f-" + name));
        if (value !== undefined) stops[name] = value;
      }
      return stops;
    }

    function fillStops(stops) {
      for (const name of STOPS) if (stops && stops[name] != null) $("f-" + name).value = percentText(stops[name]);
    }

    /* Percent inputs are sent as fractions: say what is wrong in percent, not as a fraction. */
    function percentChecks() {
      let ok = true;
      for (const name of ["stop_loss", "trailing_stop"]) {
        const input = $("f-" + name);
        if (!input || input.closest("[hidden]")) continue;
        const value = Number(input.value);
        if (input.value.trim() !== "" && !(value > 0 && value < 100)) {
          showError($("err-stops." + name), t("form.percent_range", { low: 0, high: 100 }));
          input.setAttribute("aria-invalid", "true");
          ok = false;
        }
      }
      return ok;
    }

    /* ------------------------------------------------------------ the common fields */
    function readCommon(spec) {
      const put = (key, value) => { if (value !== undefined && value !== "") spec[key] = value; };
      put("start", $("f-start").value || undefined);
      put("end", $("f-end").value || undefined);
      put("capital", number($("f-capital")));
      spec.adjusted = !$("f-prices-raw").checked;
      spec.fill_at = $("f-fill-at").value;
      spec.close_at_end = $("f-close-end").checked;
      put("risk_free_rate", number($("f-rf")));
      spec.costs = readCosts();
      return spec;
    }

    function fillCommon(spec) {
      if (spec.start) $("f-start").value = spec.start;
      if (spec.end) $("f-end").value = spec.end;
      if (spec.capital) $("f-capital").value = spec.capital;
      if (spec.adjusted === false) $("f-prices-raw").checked = true;
      if (spec.fill_at) $("f-fill-at").value = spec.fill_at;
      if (spec.close_at_end === false) $("f-close-end").checked = false;
      if (spec.risk_free_rate) $("f-rf").value = percentText(spec.risk_free_rate);
      fillCosts(spec.costs);
    }

    /* ------------------------------------------------------------ errors next to fields */
    function clearErrors() {
      hideError($("form-error"));
      for (const node of form.querySelectorAll(".field-error")) hideError(node);
      for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
    }

    /* The slot of an API field: its own, else a listed alias, else the nearest parent's. */
    function errorSlot(field, aliases) {
      const candidates = [field, field + ".value", field + ".mode"];
      for (const [prefix, target] of Object.entries(aliases || {})) {
        if (field === prefix || field.startsWith(prefix + ".")) candidates.push(target);
      }
      for (let parts = field.split("."); parts.length; parts.pop()) candidates.push(parts.join("."));
      for (const name of candidates) {
        const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
        if (slot) return { slot: slot, name: name };
      }
      return null;
    }

    function inputFor(name) {
      return form.querySelector(`[name="${CSS.escape(name)}"]`) || form.querySelector(`[data-input-for="${CSS.escape(name)}"]`);
    }

    /* Each of a 422's errors next to its field, the field marked and the first focused. */
    function showFieldErrors(error, aliases) {
      const errors = error.errors && error.errors.length ? error.errors : [{ field: error.field || "body", message: error.message }];
      let first = null;
      for (const item of errors) {
        const found = errorSlot(item.field || "body", aliases);
        if (!found || found.slot.parentElement.closest("[hidden]")) { // a field the rule hides
          showError($("form-error"), item.message);
          continue;
        }
        showError(found.slot, item.message || error.message);
        const input = inputFor(found.name);
        if (input) {
          input.setAttribute("aria-invalid", "true");
          if (input.closest("details")) input.closest("details").open = true;
          first = first || input;
        }
      }
      if ($("form-error").hidden) showError($("form-error"), t("form.fix_errors"));
      (first || $("form-error")).focus();
    }

    return {
      translated, number, percentText, showStrategy, readParams, showCosts, showSizing, readCosts, fillCosts,
      readSizing, readStops, fillStops, percentChecks, readCommon, fillCommon, clearErrors, showFieldErrors, strategies,
    };
  }

  window.PTRunForm = PTRunForm;
})();
