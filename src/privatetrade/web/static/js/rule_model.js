/* The rule document of a rule strategy (docs/rules.md, schema "privatetrade.rules/1")
   as the builder edits it: the kinds of conditions and operands, their defaults, turning
   one kind into another while keeping what fits, checks before the API is asked, and the
   API's JSON paths ("$.long.entry.all[1].left.period") as the builder's own paths.
   No DOM here: rules_builder.js draws the document and edits it through these helpers.

   window.PTRuleModel */
(function (global) {
  "use strict";
  const SCHEMA = "privatetrade.rules/1";
  const PARAM_NAME = /^[a-z][a-z0-9_]{0,31}$/;
  const REF = /^\$\{([a-z][a-z0-9_]{0,31})\}$/;
  const MAX_PARAMETERS = 8;
  const MAX_BARS = 1000;
  const COMPARE = { gt: ">", lt: "<", ge: ">=", le: "<=" };
  const COMPARE_KIND = { ">": "gt", "<": "lt", ">=": "ge", "<=": "le" };
  const LEAF_KINDS = ["gt", "lt", "ge", "le", "crosses_above", "crosses_below", "between"];
  const GROUP_KINDS = ["all", "any"];
  const WRAPPER_KINDS = ["not", "for_bars", "within_bars"];
  const PRICES = ["close", "open", "high", "low", "volume"];
  /* Each indicator's fields, in the order the builder shows them, with their defaults. */
  const INDICATORS = {
    sma: { source: true, numbers: { period: 20 } },
    ema: { source: true, numbers: { period: 20 } },
    wma: { source: true, numbers: { period: 20 } },
    rsi: { source: true, numbers: { period: 14 } },
    roc: { source: true, numbers: { period: 10 } },
    macd: { source: true, numbers: { fast: 12, slow: 26, signal: 9 }, choice: ["output", ["line", "signal", "histogram"], "line"] },
    bollinger: { source: true, numbers: { period: 20, k: 2 }, choice: ["band", ["upper", "middle", "lower"], "middle"] },
    atr: { source: false, numbers: { period: 14 } },
    donchian: { source: false, numbers: { period: 20 }, choice: ["band", ["upper", "lower"], "upper"] },
    volume_average: { source: false, numbers: { period: 20 } },
    previous: { source: true, numbers: { bars: 1 }, defaultSource: "high" },
    range_breakout: { source: false, numbers: { k: 0.5 } },
  };
  /* Numbers that count bars (whole, 1 to 1000); the others are any finite number. */
  const BAR_FIELDS = new Set(["period", "fast", "slow", "signal", "bars", "for_bars", "within_bars", "max_bars_held"]);
  const EXITS = ["stop_loss", "take_profit", "trailing_stop", "max_bars_held"];

  const clone = (value) => JSON.parse(JSON.stringify(value));

  /* ------------------------------------------------------------ operands */
  function operandKind(operand) {
    if (typeof operand === "number" || typeof operand === "string") return "number";
    if (operand && typeof operand === "object") {
      if ("price" in operand) return "price." + operand.price;
      if ("indicator" in operand) return "indicator." + operand.indicator;
    }
    return "number";
  }

  function newIndicator(name, source) {
    const spec = INDICATORS[name];
    const made = { indicator: name };
    if (spec.source) made.source = source && typeof source === "object" ? source : { price: spec.defaultSource || "close" };
    Object.assign(made, clone(spec.numbers));
    if (spec.choice) made[spec.choice[0]] = spec.choice[2];
    return made;
  }

  /* An operand of another kind, keeping the source and the numbers that fit. */
  function changeOperand(operand, kind, fallbackNumber) {
    if (kind === "number") return typeof operand === "number" || typeof operand === "string" ? operand : fallbackNumber ?? 0;
    if (kind.startsWith("price.")) return { price: kind.slice(6) };
    const name = kind.slice(10);
    const old = operand && typeof operand === "object" ? operand : null;
    const made = newIndicator(name, old && (old.source || ("price" in old ? old : null)));
    if (old && old.indicator) {
      for (const field of Object.keys(INDICATORS[name].numbers)) if (field in old) made[field] = old[field];
    }
    return made;
  }

  /* ------------------------------------------------------------ conditions */
  function conditionKind(condition) {
    if (condition === null || condition === undefined) return "none";
    if ("compare" in condition) return COMPARE_KIND[condition.compare] || "gt";
    for (const kind of ["crosses_above", "crosses_below", "between", "all", "any", "not", "for_bars", "within_bars"]) {
      if (kind in condition) return kind;
    }
    return "none";
  }

  function operandsOf(condition) {
    const kind = conditionKind(condition);
    if (kind in COMPARE) return [condition.left, condition.right];
    if (kind === "crosses_above" || kind === "crosses_below") return condition[kind].slice();
    if (kind === "between") return [condition.between, condition.low, condition.high];
    return [];
  }

  function childOf(condition) {
    const kind = conditionKind(condition);
    if (kind === "not") return condition.not;
    if (kind === "for_bars" || kind === "within_bars") return condition.condition;
    return null;
  }

  function newComparison() {
    return { compare: ">", left: { price: "close" }, right: newIndicator("sma") };
  }

  /* The condition as another kind, keeping what fits: a comparison keeps its operands, a
     group its members; a comparison made a group (or a modifier) becomes its first member. */
  function changeCondition(condition, kind) {
    const from = conditionKind(condition);
    if (kind === from) return condition;
    if (kind === "none") return null;
    const operands = operandsOf(condition);
    const left = operands[0] ?? { price: "close" };
    if (kind in COMPARE) return { compare: COMPARE[kind], left: left, right: operands[1] ?? newIndicator("sma") };
    if (kind === "crosses_above" || kind === "crosses_below") return { [kind]: [left, operands[1] ?? newIndicator("sma")] };
    if (kind === "between") {
      const rsi = operands.length ? left : newIndicator("rsi");
      return { between: rsi, low: operands.length === 3 ? operands[1] : 30, high: operands.length === 3 ? operands[2] : 70 };
    }
    const inner = from === "none" ? newComparison() : childOf(condition) || condition;
    if (kind === "all" || kind === "any") {
      if (from === "all" || from === "any") return { [kind]: condition[from] };
      return { [kind]: [inner] };
    }
    const single = from === "all" || from === "any" ? condition : inner;
    if (kind === "not") return { not: single };
    const bars = from === "for_bars" || from === "within_bars" ? condition[from] : 3;
    return { [kind]: bars, condition: single };
  }

  /* ------------------------------------------------------------ parameters */
  function refName(value) {
    const match = typeof value === "string" ? REF.exec(value) : null;
    return match ? match[1] : null;
  }

  /* Every "${old}" in the document becomes "${new}" (a parameter was renamed). */
  function renameRefs(node, from, to) {
    if (Array.isArray(node)) {
      node.forEach((item, i) => {
        if (refName(item) === from) node[i] = "${" + to + "}";
        else renameRefs(item, from, to);
      });
    } else if (node && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if (key === "parameters") continue;
        if (refName(value) === from) node[key] = "${" + to + "}";
        else renameRefs(value, from, to);
      }
    }
  }

  function newDocument() {
    return {
      schema: SCHEMA,
      parameters: {},
      long: { entry: newComparison(), exit: null },
    };
  }

  /* ------------------------------------------------------------ paths */
  /* An API error's field as the builder's path: "$.long.entry.all[1].left.period",
     "document.long.entry", "rules.document.$.exits.stop_loss" or "long.entry.all.1"
     all become "long.entry.all[1].left.period" style paths ("" for the whole document). */
  function normalizePath(field) {
    let path = String(field || "");
    const at = path.indexOf("$");
    if (at >= 0) path = path.slice(at + 1);
    else path = path.replace(/^(body\.)?(rules\.)?(document\.?)?/, "");
    path = path.replace(/^\./, "").replace(/\.(\d+)(?=\.|$)/g, "[$1]");
    return path;
  }

  /* ------------------------------------------------------------ checks in the browser */
  /* What the API would refuse that the browser can tell at once: [{path, key, values}]. */
  function check(doc) {
    const problems = [];
    const say = (path, key, values) => problems.push({ path: path, key: key, values: values || {} });
    const declared = doc.parameters || {};
    const names = Object.keys(declared);
    if (names.length > MAX_PARAMETERS) say("parameters", "rules.err.too_many_params", { max: MAX_PARAMETERS });
    names.forEach((name) => {
      const spec = declared[name];
      const path = `parameters.${name}`;
      if (!PARAM_NAME.test(name)) say(path + ".name", "rules.err.param_name");
      for (const part of ["default", "min", "max"]) {
        const value = spec[part];
        if (typeof value !== "number" || !isFinite(value)) say(`${path}.${part}`, "rules.err.number");
        else if (spec.type === "int" && !Number.isInteger(value)) say(`${path}.${part}`, "rules.err.integer");
      }
      if ([spec.default, spec.min, spec.max].every((v) => typeof v === "number") && !(spec.min <= spec.default && spec.default <= spec.max)) {
        say(path + ".default", "rules.err.param_bounds");
      }
    });

    function number(value, path, field) {
      const ref = refName(value);
      if (typeof value === "string") {
        if (!ref || !(ref in declared)) say(path, "rules.err.unknown_param", { name: ref || value });
        return;
      }
      if (typeof value !== "number" || !isFinite(value)) {
        say(path, "rules.err.number");
        return;
      }
      if (BAR_FIELDS.has(field)) {
        if (!Number.isInteger(value)) say(path, "rules.err.integer");
        else if (value < 1) say(path, "rules.err.at_least", { min: 1 });
        else if (value > MAX_BARS) say(path, "rules.err.at_most", { max: MAX_BARS });
      }
    }

    function operand(value, path) {
      if (typeof value === "number" || typeof value === "string") return number(value, path, "value");
      if (!value || typeof value !== "object" || "price" in value) return;
      const spec = INDICATORS[value.indicator];
      if (!spec) return;
      if (spec.source) operand(value.source, path + ".source");
      for (const field of Object.keys(spec.numbers)) number(value[field], `${path}.${field}`, field);
    }

    function condition(value, path) {
      const kind = conditionKind(value);
      if (kind === "none") return;
      if (kind in COMPARE) {
        operand(value.left, path + ".left");
        operand(value.right, path + ".right");
      } else if (kind === "crosses_above" || kind === "crosses_below") {
        value[kind].forEach((item, i) => operand(item, `${path}.${kind}[${i}]`));
      } else if (kind === "between") {
        operand(value.between, path + ".between");
        operand(value.low, path + ".low");
        operand(value.high, path + ".high");
      } else if (kind === "all" || kind === "any") {
        if (!value[kind].length) say(`${path}.${kind}`, "rules.err.empty_group");
        value[kind].forEach((item, i) => condition(item, `${path}.${kind}[${i}]`));
      } else if (kind === "not") {
        condition(value.not, path + ".not");
      } else {
        number(value[kind], `${path}.${kind}`, kind);
        condition(value.condition, path + ".condition");
      }
    }

    for (const side of ["long", "short"]) {
      if (!doc[side]) continue;
      condition(doc[side].entry, `${side}.entry`);
      condition(doc[side].exit, `${side}.exit`);
    }
    for (const name of EXITS) {
      const value = doc.exits && doc.exits[name];
      if (value === null || value === undefined) continue;
      number(value, `exits.${name}`, name);
      if (typeof value === "number" && name !== "max_bars_held" && name !== "take_profit" && !(value > 0 && value < 1)) {
        say(`exits.${name}`, "rules.err.percent");
      }
      if (typeof value === "number" && name === "take_profit" && !(value > 0)) say(`exits.${name}`, "rules.err.percent");
    }
    return problems;
  }

  /* The document as the API takes it: no empty parameters or exits. */
  function cleaned(doc) {
    const out = clone(doc);
    if (out.parameters && !Object.keys(out.parameters).length) delete out.parameters;
    if (out.parameters) {
      for (const spec of Object.values(out.parameters)) if (!spec.title) delete spec.title;
    }
    if (out.exits) {
      for (const name of EXITS) if (out.exits[name] === null || out.exits[name] === undefined) delete out.exits[name];
      if (!Object.keys(out.exits).length) delete out.exits;
    }
    if (out.short === null) delete out.short;
    return out;
  }

  /* The parameters' defaults: the values a preview runs with. */
  function defaults(doc) {
    const values = {};
    for (const [name, spec] of Object.entries(doc.parameters || {})) values[name] = spec.default;
    return values;
  }

  global.PTRuleModel = {
    SCHEMA, PARAM_NAME, MAX_PARAMETERS, COMPARE, LEAF_KINDS, GROUP_KINDS, WRAPPER_KINDS, PRICES, INDICATORS, BAR_FIELDS, EXITS,
    clone, operandKind, newIndicator, changeOperand, conditionKind, changeCondition, newComparison, refName, renameRefs,
    newDocument, normalizePath, check, cleaned, defaults,
  };
})(window);
