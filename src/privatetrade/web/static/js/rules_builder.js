/* The rule builder (/rules/new, /rules/{id}): a rule strategy's conditions as nested
   rows of real selects, number fields and buttons; its parameters, price and time exits;
   a preview of its signals on a stock's chart; saving (each save of an existing strategy
   is a new version) and links to backtest or optimize it.

   The document (rule_model.js) is the only state: a typed number changes it in place,
   a structural change (a kind chosen, a condition added or removed) draws the builder
   again and puts the focus back on the same control. Every part carries its JSON path
   (data-path, data-error-for), so the API's error paths and the browser's own checks
   show their message next to the part they name. */
(function () {
  "use strict";
  const { config, t, fmt, api, el, errorMessage, showError, hideError } = window.PT;
  const M = window.PTRuleModel;
  const $ = (id) => document.getElementById(id);
  const form = $("rule-form");
  const start = config.rule || null;
  const state = {
    id: start ? start.id : null,
    version: start ? start.version : null,
    doc: start && start.document ? M.clone(start.document) : M.newDocument(),
    dirty: false,
  };
  let shortStash = null; // the short rules while unchecked, to bring them back
  let ids = 0;
  let focusAfter = null;
  const uid = () => "r" + ++ids;

  /* ------------------------------------------------------------ small parts */
  function errorSlot(path) {
    return el("p", { className: "field-error", id: "err-" + path, "data-error-for": path, role: "alert", hidden: true });
  }

  function option(value, text) {
    return el("option", { value: value, text: text });
  }

  function changed() {
    state.dirty = true;
    showVersion();
  }

  function numberText(value, percent) {
    if (typeof value !== "number" || !isFinite(value)) return "";
    return String(percent ? Math.round(value * 1e8) / 1e6 : value);
  }

  /* A number of the rule: typed, or one of the declared parameters ("${name}"). */
  function numField(get, set, path, label, options) {
    const opts = options || {};
    const value = get();
    const ref = M.refName(value);
    const id = uid();
    const integer = M.BAR_FIELDS.has(opts.field);
    const input = el("input", {
      id: id, type: "number", step: integer ? "1" : "any", inputmode: integer ? "numeric" : "decimal",
      min: integer ? "1" : null, value: ref ? "" : numberText(value, opts.percent),
      "data-key": path + "|num", "aria-describedby": "err-" + path, hidden: ref !== null,
    });
    input.addEventListener("input", () => {
      const text = input.value.trim();
      const number = Number(text);
      if (text === "") set(null);
      else set(isFinite(number) ? (opts.percent ? number / 100 : number) : text);
      changed();
    });
    const names = Object.keys(state.doc.parameters || {});
    let source = null;
    if (names.length || ref) {
      source = el("select", { id: id + "-from", className: "num-from", "data-key": path + "|from",
        "aria-label": t("rules.number_from", { label: label }), "aria-describedby": "err-" + path },
      option("", t("rules.number_typed")), ...names.map((name) => option(name, "${" + name + "}")));
      if (ref && !names.includes(ref)) source.append(option(ref, "${" + ref + "}"));
      source.value = ref || "";
      source.addEventListener("change", () => {
        set(source.value ? "${" + source.value + "}" : (opts.fallback ?? null));
        changed();
        focusAfter = path + "|from";
        draw();
      });
    }
    return el("div", { className: "field rule-num", "data-path": path },
      el("label", { for: ref && source ? source.id : id, text: label }),
      el("div", { className: "num-row" }, input, source),
      errorSlot(path));
  }

  function choiceField(get, set, path, label, values, prefix) {
    const id = uid();
    const select = el("select", { id: id, "data-key": path + "|choice", "aria-describedby": "err-" + path },
      ...values.map((value) => option(value, t(prefix + value))));
    select.value = get();
    select.addEventListener("change", () => {
      set(select.value);
      changed();
    });
    return el("div", { className: "field" }, el("label", { for: id, text: label }), select, errorSlot(path));
  }

  /* ------------------------------------------------------------ operands */
  function operandSelect(id, path, kind, seriesOnly) {
    const select = el("select", { id: id, "data-key": path + "|kind", "aria-describedby": "err-" + path });
    if (!seriesOnly) select.append(el("optgroup", { label: t("rules.operand.group.number") }, option("number", t("rules.operand.number"))));
    select.append(el("optgroup", { label: t("rules.operand.group.price") }, ...M.PRICES.map((p) => option("price." + p, t("rules.price." + p)))));
    select.append(el("optgroup", { label: t("rules.operand.group.indicator") },
      ...Object.keys(M.INDICATORS).map((name) => option("indicator." + name, t("rules.indicator." + name)))));
    select.value = kind;
    return select;
  }

  function fieldLabel(indicator, field) {
    if (field === "k") return t(indicator === "range_breakout" ? "rules.field.k_range" : "rules.field.k");
    return t("rules.field." + field);
  }

  function operandEditor(get, set, path, label, seriesOnly) {
    const value = get();
    const kind = M.operandKind(value);
    const id = uid();
    const select = operandSelect(id, path, kind, seriesOnly);
    select.addEventListener("change", () => {
      set(M.changeOperand(get(), select.value, 0));
      changed();
      focusAfter = path + "|kind";
      draw();
    });
    const box = el("div", { className: "rule-operand", "data-path": path },
      el("div", { className: "field" }, el("label", { for: id, text: label }), select));
    if (kind === "number") {
      box.append(numField(get, set, path, t("rules.operand.number"), { fallback: 0 }));
      return box;
    }
    box.append(errorSlot(path));
    if (!value.indicator) return box;
    const spec = M.INDICATORS[value.indicator];
    const parts = el("div", { className: "rule-fields" });
    for (const field of Object.keys(spec.numbers)) {
      parts.append(numField(() => value[field], (v) => { value[field] = v; }, `${path}.${field}`, fieldLabel(value.indicator, field),
        { field: field, fallback: spec.numbers[field] }));
    }
    if (spec.choice) {
      const [field, values] = spec.choice;
      parts.append(choiceField(() => value[field], (v) => { value[field] = v; }, `${path}.${field}`,
        t("rules.field." + field), values, `rules.${field}.`));
    }
    box.append(parts);
    if (spec.source) {
      box.append(el("div", { className: "rule-source" },
        operandEditor(() => value.source, (v) => { value.source = v; }, path + ".source", t("rules.field.source"), true)));
    }
    return box;
  }

  /* ------------------------------------------------------------ conditions */
  function kindSelect(id, path, kind, allowNone) {
    const select = el("select", { id: id, className: "rule-kind", "data-key": path + "|kind", "aria-describedby": "err-" + path });
    if (allowNone) select.append(option("none", t("rules.cond.none")));
    const group = (key, kinds) => el("optgroup", { label: t(key) }, ...kinds.map((k) => option(k, t("rules.cond." + k))));
    select.append(group("rules.group.comparisons", M.LEAF_KINDS), group("rules.group.groups", M.GROUP_KINDS),
      group("rules.group.modifiers", M.WRAPPER_KINDS));
    select.value = kind;
    return select;
  }

  function conditionEditor(get, set, path, options) {
    const opts = options || {};
    const value = get();
    const kind = M.conditionKind(value);
    const id = uid();
    const select = kindSelect(id, path, kind, opts.allowNone);
    select.addEventListener("change", () => {
      set(M.changeCondition(get(), select.value));
      changed();
      focusAfter = path + "|kind";
      draw();
    });
    const leaf = M.LEAF_KINDS.includes(kind);
    const kindField = el("div", { className: "field rule-kind-field" },
      el("label", { for: id, text: t(leaf ? "rules.operator" : "rules.condition") }), select);
    const node = el("div", { className: "rule-node kind-" + kind, "data-path": path });
    const head = el("div", { className: "rule-head" });
    node.append(head);
    if (kind in M.COMPARE) {
      head.append(operandEditor(() => get().left, (v) => { get().left = v; }, path + ".left", t("rules.left")), kindField,
        operandEditor(() => get().right, (v) => { get().right = v; }, path + ".right", t("rules.right")));
    } else if (kind === "crosses_above" || kind === "crosses_below") {
      const pair = value[kind];
      head.append(operandEditor(() => pair[0], (v) => { pair[0] = v; }, `${path}.${kind}[0]`, t("rules.left")), kindField,
        operandEditor(() => pair[1], (v) => { pair[1] = v; }, `${path}.${kind}[1]`, t("rules.right")));
    } else if (kind === "between") {
      head.append(operandEditor(() => get().between, (v) => { get().between = v; }, path + ".between", t("rules.between_value")), kindField,
        operandEditor(() => get().low, (v) => { get().low = v; }, path + ".low", t("rules.low")),
        operandEditor(() => get().high, (v) => { get().high = v; }, path + ".high", t("rules.high")));
    } else {
      head.append(kindField);
    }
    if (opts.onRemove) {
      head.append(el("button", { type: "button", className: "quiet danger-text rule-remove", "data-key": path + "|remove",
        "aria-label": t("rules.remove"), title: t("rules.remove"), text: t("rules.remove_short"), onclick: opts.onRemove }));
    }
    node.append(errorSlot(path));
    if (kind === "all" || kind === "any") node.append(groupEditor(value, kind, path));
    else if (kind === "not") {
      node.append(el("div", { className: "rule-children" },
        conditionEditor(() => get().not, (v) => { get().not = v; }, path + ".not")));
    } else if (kind === "for_bars" || kind === "within_bars") {
      head.insertBefore(numField(() => get()[kind], (v) => { get()[kind] = v; }, `${path}.${kind}`, t("rules.bars"),
        { field: kind, fallback: 3 }), kindField.nextSibling);
      node.append(el("div", { className: "rule-children" },
        conditionEditor(() => get().condition, (v) => { get().condition = v; }, path + ".condition")));
    }
    return node;
  }

  function groupEditor(value, kind, path) {
    const members = value[kind];
    const list = el("ol", { className: "rule-children" });
    members.forEach((member, i) => {
      const memberPath = `${path}.${kind}[${i}]`;
      list.append(el("li", {}, conditionEditor(() => members[i], (v) => { members[i] = v; }, memberPath, {
        onRemove: () => {
          members.splice(i, 1);
          changed();
          focusAfter = members.length ? `${path}.${kind}[${Math.min(i, members.length - 1)}]|kind` : `${path}.${kind}|add`;
          draw();
        },
      })));
    });
    const add = (made) => () => {
      members.push(made());
      changed();
      focusAfter = `${path}.${kind}[${members.length - 1}]|kind`;
      draw();
    };
    return el("div", { className: "rule-group" }, list,
      errorSlot(`${path}.${kind}`),
      el("p", { className: "actions rule-add" },
        el("button", { type: "button", className: "secondary", "data-key": `${path}.${kind}|add`, text: t("rules.add_condition"), onclick: add(M.newComparison) }),
        el("button", { type: "button", className: "secondary", "data-key": `${path}.${kind}|group`, text: t("rules.add_group"),
          onclick: add(() => ({ any: [M.newComparison()] })) })));
  }

  /* ------------------------------------------------------------ parameters */
  function renameParameter(from, to) {
    const old = state.doc.parameters;
    const renamed = {};
    for (const [name, spec] of Object.entries(old)) renamed[name === from ? to : name] = spec;
    state.doc.parameters = renamed;
    M.renameRefs(state.doc, from, to);
  }

  function parameterRow(name, spec, index) {
    const path = "parameters." + name;
    const number = index + 1;
    const nameId = uid();
    const nameInput = el("input", { id: nameId, value: name, autocomplete: "off", spellcheck: "false", maxlength: "32",
      "data-key": `parameters[${index}]|name`, "aria-describedby": `hint-${nameId} err-${path}.name` });
    nameInput.addEventListener("change", () => {
      const to = nameInput.value.trim();
      const slot = form.querySelector(`[data-error-for="${CSS.escape(path + ".name")}"]`);
      hideError(slot);
      nameInput.removeAttribute("aria-invalid");
      if (to === name) return;
      const problem = !M.PARAM_NAME.test(to) ? "rules.err.param_name" : to in state.doc.parameters ? "rules.err.param_duplicate" : null;
      if (problem) {
        showError(slot, t(problem));
        nameInput.setAttribute("aria-invalid", "true");
        return;
      }
      renameParameter(name, to);
      changed();
      focusAfter = `parameters[${index}]|name`;
      draw();
    });
    const typeId = uid();
    const type = el("select", { id: typeId, "data-key": `parameters[${index}]|type`, "aria-describedby": `err-${path}.type` },
      option("int", t("rules.param.type.int")), option("float", t("rules.param.type.float")));
    type.value = spec.type === "float" ? "float" : "int";
    type.addEventListener("change", () => {
      spec.type = type.value;
      changed();
      focusAfter = `parameters[${index}]|type`;
      draw();
    });
    const bound = (part) => {
      const id = uid();
      const input = el("input", { id: id, type: "number", step: spec.type === "float" ? "any" : "1", inputmode: "decimal",
        value: numberText(spec[part]), "data-key": `parameters[${index}]|${part}`, "aria-describedby": `err-${path}.${part}` });
      input.addEventListener("input", () => {
        const text = input.value.trim();
        spec[part] = text === "" ? null : Number(text);
        changed();
      });
      return el("div", { className: "field" }, el("label", { for: id, text: t("rules.param." + part) }), input, errorSlot(`${path}.${part}`));
    };
    const titleId = uid();
    const title = el("input", { id: titleId, value: spec.title || "", maxlength: "100", "data-key": `parameters[${index}]|title`,
      "aria-describedby": `err-${path}.title` });
    title.addEventListener("input", () => {
      spec.title = title.value;
      changed();
    });
    return el("fieldset", { className: "rule-param", "data-path": path },
      el("legend", { text: t("rules.param.legend", { number: number }) }),
      el("div", { className: "row wrap" },
        el("div", { className: "field" }, el("label", { for: nameId, text: t("rules.param.name") }), nameInput,
          el("p", { id: "hint-" + nameId, className: "hint", text: t("rules.param.name_hint") }), errorSlot(path + ".name")),
        el("div", { className: "field" }, el("label", { for: typeId, text: t("rules.param.type") }), type, errorSlot(path + ".type")),
        bound("default"), bound("min"), bound("max"),
        el("div", { className: "field" }, el("label", { for: titleId, text: t("rules.param.title") }), title, errorSlot(path + ".title"))),
      errorSlot(path),
      el("button", { type: "button", className: "quiet danger-text", "data-key": `parameters[${index}]|remove`,
        text: t("rules.remove_parameter", { number: number }),
        onclick: () => {
          delete state.doc.parameters[name];
          changed();
          focusAfter = "parameters|add";
          draw();
        } }));
  }

  function newParameterName() {
    const taken = state.doc.parameters || {};
    for (let n = 1; ; n++) if (!(`p${n}` in taken)) return `p${n}`;
  }

  function drawParameters() {
    const params = state.doc.parameters || (state.doc.parameters = {});
    const rows = Object.entries(params).map(([name, spec], i) => parameterRow(name, spec, i));
    $("rule-params").replaceChildren(...rows);
    $("add-param").disabled = rows.length >= M.MAX_PARAMETERS;
  }

  /* ------------------------------------------------------------ exits */
  function drawExits() {
    const exits = () => state.doc.exits || (state.doc.exits = {});
    $("rule-exits").replaceChildren(...M.EXITS.map((name) => numField(() => (state.doc.exits || {})[name] ?? null,
      (v) => { exits()[name] = v; }, "exits." + name, t("rules.exit." + name),
      { percent: name !== "max_bars_held", field: name, fallback: null })));
  }

  /* ------------------------------------------------------------ the whole builder */
  function side(name) {
    const rules = state.doc[name];
    return [
      conditionEditor(() => state.doc[name].entry, (v) => { state.doc[name].entry = v; }, name + ".entry"),
      conditionEditor(() => state.doc[name].exit ?? null, (v) => { state.doc[name].exit = v; }, name + ".exit", { allowNone: true }),
      rules,
    ];
  }

  function draw() {
    const active = document.activeElement;
    const key = focusAfter || (active && form.contains(active) ? active.dataset.key : null);
    focusAfter = null;
    drawParameters();
    const [longEntry, longExit] = side("long");
    $("rule-long-entry").replaceChildren(longEntry);
    $("rule-long-exit").replaceChildren(longExit);
    const hasShort = Boolean(state.doc.short);
    $("r-short").checked = hasShort;
    $("rule-short-box").hidden = !hasShort;
    if (hasShort) {
      const [shortEntry, shortExit] = side("short");
      $("rule-short-entry").replaceChildren(shortEntry);
      $("rule-short-exit").replaceChildren(shortExit);
    } else {
      $("rule-short-entry").replaceChildren();
      $("rule-short-exit").replaceChildren();
    }
    drawExits();
    if (key) {
      const again = form.querySelector(`[data-key="${CSS.escape(key)}"]`);
      if (again && !again.hidden) again.focus();
    }
  }

  /* ------------------------------------------------------------ messages next to parts */
  function clearProblems() {
    hideError($("rule-error"));
    for (const slot of document.querySelectorAll("#rule-page .field-error")) hideError(slot);
    for (const node of document.querySelectorAll("#rule-page [aria-invalid]")) node.removeAttribute("aria-invalid");
  }

  /* The slot for a path: its own, else the nearest enclosing part's (".x" or "[n]" off). */
  function slotFor(path) {
    for (let at = path; at; at = at.replace(/(\.[^.[\]]*|\[\d+\])$/, "")) {
      const slot = document.querySelector(`#rule-page [data-error-for="${CSS.escape(at)}"]`);
      if (slot) return slot;
      if (!/(\.[^.[\]]*|\[\d+\])$/.test(at)) break;
    }
    return null;
  }

  /* Show [{path, message}] next to their parts; the first marked part gets the focus. */
  function showProblems(problems) {
    let first = null;
    for (const problem of problems) {
      const slot = slotFor(problem.path);
      if (!slot) {
        showError($("rule-error"), problem.message);
        continue;
      }
      showError(slot, slot.hidden ? problem.message : [slot.textContent, problem.message].filter(Boolean).join(" "));
      const holder = slot.closest(".field, .rule-operand, .rule-node, .rule-param, .rule-group, fieldset") || slot.parentElement;
      const control = holder.querySelector("input:not([hidden]), select");
      if (control) {
        control.setAttribute("aria-invalid", "true");
        first = first || control;
      }
    }
    if ($("rule-error").hidden) showError($("rule-error"), t("rules.err.fix"));
    (first || $("rule-error")).focus();
  }

  function browserProblems() {
    return M.check(state.doc).map((p) => ({ path: p.path, message: t(p.key, p.values) }));
  }

  /* An API error: its field errors at their paths, anything else at the top. */
  function showApiError(error) {
    if (error.status !== 422 && !(error.status === 409 && error.field)) { // 409: a name already taken
      showError($("rule-error"), errorMessage(error));
      return;
    }
    const items = error.errors && error.errors.length ? error.errors : [{ field: error.field, message: error.message }];
    showProblems(items.map((item) => ({ path: M.normalizePath(item.field), message: item.message || error.message })));
  }

  /* ------------------------------------------------------------ saving */
  function showVersion() {
    const label = $("rule-version");
    if (!state.id) label.textContent = t("rules.unsaved");
    else label.textContent = t("rules.version", { version: state.version }) + (state.dirty ? " · " + t("rules.changed") : "");
    label.dataset.version = state.version || "";
    for (const [id, page] of [["rule-backtest", "/backtests/new"], ["rule-optimize", "/research/new"]]) {
      const link = $(id);
      link.hidden = !state.id;
      if (state.id) link.href = page + "?" + new URLSearchParams({ rules: state.id });
    }
    $("rule-save-first").hidden = Boolean(state.id);
    $("rule-save").textContent = t(state.id ? "rules.save_new_version" : "rules.save");
  }

  async function save(event) {
    event.preventDefault();
    clearProblems();
    hideError($("rule-saved"));
    const problems = browserProblems();
    const name = $("r-name").value.trim();
    if (!name) problems.unshift({ path: "name", message: t("rules.err.name") });
    if (problems.length) {
      showProblems(problems);
      return;
    }
    const body = { name: name, description: $("r-description").value.trim(), document: M.cleaned(state.doc) };
    const button = $("rule-save");
    button.disabled = true;
    try {
      const saved = state.id
        ? await api("PUT", `/api/rule-strategies/${encodeURIComponent(state.id)}`, body)
        : await api("POST", "/api/rule-strategies", body);
      state.id = saved.id;
      state.version = saved.version;
      state.dirty = false;
      if (window.location.pathname !== "/rules/" + saved.id) history.replaceState(null, "", "/rules/" + saved.id);
      $("rule-heading").textContent = t("rules.builder_edit");
      document.title = `${name} · privatetrade`;
      showVersion();
      showError($("rule-saved"), t("rules.saved", { version: saved.version }));
    } catch (error) {
      showApiError(error);
    } finally {
      button.disabled = false;
    }
  }

  /* ------------------------------------------------------------ preview */
  let symbolTicket = 0;
  async function suggest() {
    const query = $("p-symbol").value.trim();
    const ticket = ++symbolTicket;
    if (!query) return;
    try {
      const found = await api("GET", "/api/symbols?" + new URLSearchParams({ q: query, limit: "8" }));
      if (ticket !== symbolTicket) return;
      $("p-symbol-options").replaceChildren(...found.map((s) => el("option", { value: s.code, text: `${s.name} (${s.market})` })));
    } catch (error) {
      /* suggestions are a convenience; the field still works without them */
    }
  }

  function markerTraces(bars, data) {
    const marks = [
      ["entries", "rules.marker.entry", "triangle-up", "#111827", bars.low],
      ["exits", "rules.marker.exit", "triangle-down", "#f59e0b", bars.high],
      ["short_entries", "rules.marker.short_entry", "triangle-down", "#7c3aed", bars.high],
      ["short_exits", "rules.marker.short_exit", "triangle-up", "#0f766e", bars.low],
    ];
    const traces = [];
    for (const [field, label, symbol, color, at] of marks) {
      const indices = data[field] || [];
      if (!indices.length) continue;
      traces.push({
        type: "scatter", mode: "markers", name: t(label), meta: { signals: field },
        x: indices.map((i) => window.PTPriceChart.plotTime(bars.time[i])), y: indices.map((i) => at[i]),
        marker: { symbol: symbol, size: 11, color: color, line: { color: "#ffffff", width: 1 } },
        text: indices.map((i) => `${t(label)} · ${fmt.date(bars.time[i])}`), hovertemplate: "%{text}<extra></extra>",
      });
    }
    return traces;
  }

  function chartContext(currency) {
    return { t: t, fmt: fmt, currency: currency, colors: config.colors };
  }

  async function preview(event) {
    event.preventDefault();
    clearProblems();
    const summary = $("preview-summary");
    summary.textContent = "";
    const problems = browserProblems();
    const symbol = $("p-symbol").value.trim();
    if (!symbol) problems.push({ path: "symbol", message: t("rules.err.symbol") });
    if (problems.length) {
      showProblems(problems);
      return;
    }
    const body = { symbol: symbol, document: M.cleaned(state.doc), params: M.defaults(state.doc) };
    if ($("p-start").value) body.start = $("p-start").value;
    if ($("p-end").value) body.end = $("p-end").value;
    const button = $("preview-button");
    const chartDiv = $("preview-chart");
    button.disabled = true;
    chartDiv.removeAttribute("data-drawn");
    try {
      const data = await api("POST", "/api/rules/preview", body);
      let currency = "USD";
      try {
        currency = (await api("GET", "/api/symbols/" + encodeURIComponent(symbol))).currency || currency;
      } catch (error) {
        /* the chart's prices only lose their currency sign */
      }
      const bars = { time: data.time, open: data.open, high: data.high, low: data.low, close: data.close, volume: data.volume };
      chartDiv.hidden = false;
      const analysis = data.indicators ? { indicators: data.indicators, bar_count: data.time.length } : null;
      await window.PTPriceChart.draw(chartDiv, chartContext(currency), { bars: bars, fills: [], trades: [], analysis: analysis, params: {} });
      const markers = markerTraces(bars, data);
      if (markers.length) await window.Plotly.addTraces(chartDiv, markers);
      const entries = (data.entries || []).length + (data.short_entries || []).length;
      const exits = (data.exits || []).length + (data.short_exits || []).length;
      chartDiv.dataset.entries = String(entries);
      chartDiv.dataset.exits = String(exits);
      chartDiv.dataset.drawn = "true";
      summary.textContent = t("rules.preview_count", { entries: fmt.int(entries), exits: fmt.int(exits), bars: fmt.int(data.time.length) });
    } catch (error) {
      showApiError(error);
    } finally {
      button.disabled = false;
    }
  }

  /* ------------------------------------------------------------ start */
  $("add-param").addEventListener("click", () => {
    const params = state.doc.parameters || (state.doc.parameters = {});
    const name = newParameterName();
    params[name] = { type: "int", default: 10, min: 1, max: 100 };
    changed();
    focusAfter = `parameters[${Object.keys(params).length - 1}]|name`;
    draw();
  });
  $("r-short").addEventListener("change", () => {
    if ($("r-short").checked) state.doc.short = shortStash || { entry: M.newComparison(), exit: null };
    else {
      shortStash = state.doc.short;
      delete state.doc.short;
    }
    changed();
    draw();
  });
  $("r-name").addEventListener("input", changed);
  $("r-description").addEventListener("input", changed);
  form.addEventListener("submit", save);
  $("preview-form").addEventListener("submit", preview);
  let suggestTimer = null;
  $("p-symbol").addEventListener("input", () => { clearTimeout(suggestTimer); suggestTimer = setTimeout(suggest, 150); });

  if (start) {
    $("r-name").value = start.name || "";
    $("r-description").value = start.description || "";
  }
  draw();
  showVersion();
  form.dataset.ready = "true";
})();
