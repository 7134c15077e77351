/* "My strategies" in the strategy pickers of the run forms (backtest, optimization,
   portfolio, scan): the caller's saved rule strategies (GET /api/rule-strategies) as a
   group of options after the built-ins, valued "rules:<id>". Each is also described as
   the registry describes a built-in (parameters_schema from the rule's declared
   parameters, with their defaults and bounds), so the forms generate its parameter
   fields, and the optimization form gets a default grid (minimum to maximum).
   A form sends such a choice as strategy "rules" with rules {saved: {id, version: null}}:
   the API runs the latest version and stores the exact rule with the run.

   window.PTRuleChoices = {ready, isRule(value), choice(value), valueOf(spec), describe(entry)} */
(function () {
  "use strict";
  const { config, t, api, el } = window.PT;
  const PREFIX = "rules:";
  const select = document.getElementById("f-strategy");

  function isRule(value) {
    return typeof value === "string" && value.startsWith(PREFIX);
  }

  /* What a form sends for the picker's value (null for a built-in). */
  function choice(value) {
    if (!isRule(value)) return null;
    return { strategy: "rules", rules: { saved: { id: value.slice(PREFIX.length), version: null } } };
  }

  /* The picker's value for a spec (an earlier run, ?rules=<id>), or null. */
  function valueOf(spec) {
    const saved = spec && spec.strategy === "rules" && spec.rules && spec.rules.saved;
    return saved && saved.id ? PREFIX + saved.id : null;
  }

  /* A saved rule strategy described like a registry strategy (GET /api/strategies). */
  function describe(entry) {
    const properties = {};
    for (const [name, spec] of Object.entries(entry.parameters || {})) {
      properties[name] = {
        type: spec.type === "float" ? "number" : "integer",
        default: spec.default, minimum: spec.min, maximum: spec.max, title: spec.title || name,
      };
    }
    return {
      name: PREFIX + entry.id, title: entry.name, rule: entry,
      description: t("form.rule_strategy_desc", { version: entry.version }),
      parameters_schema: { type: "object", properties: properties },
    };
  }

  function addOptions(described) {
    if (!select || !described.length) return;
    /* Moving the chosen option into the group unselects it (Chromium then selects the
       last option moved): the picker would show another strategy than its fields. */
    const chosen = select.value;
    const builtIn = Array.from(select.children).filter((node) => node.tagName === "OPTION");
    if (builtIn.length) {
      const group = el("optgroup", { label: t("form.builtin_strategies") });
      select.insertBefore(group, builtIn[0]);
      group.append(...builtIn);
    }
    select.append(el("optgroup", { label: t("form.my_strategies"), "data-rules": "" },
      ...described.map((entry) => el("option", { value: entry.name, text: entry.title }))));
    select.value = chosen;
  }

  function addGrids(described) {
    if (!config.grids) return;
    for (const entry of described) {
      const grid = {};
      for (const [name, schema] of Object.entries(entry.parameters_schema.properties)) {
        if (typeof schema.minimum === "number" && typeof schema.maximum === "number") grid[name] = [schema.minimum, schema.maximum];
      }
      config.grids[entry.name] = grid;
    }
  }

  /* The forms' maps of strategies by name, given the rule strategies when they arrive
     (before any form's own .then of ready runs). */
  const maps = [];
  function register(map) {
    maps.push(map);
  }

  const ready = select
    ? api("GET", "/api/rule-strategies").then((list) => {
      const described = (list || []).map(describe);
      for (const map of maps) for (const entry of described) map.set(entry.name, entry);
      addOptions(described);
      addGrids(described);
      select.dataset.ruleStrategies = String(described.length);
      return described;
    }).catch(() => {
      if (select) select.dataset.ruleStrategies = "0";
      return []; // the built-ins still work
    })
    : Promise.resolve([]);

  window.PTRuleChoices = { ready, register, isRule, choice, valueOf, describe, PREFIX };
})();
