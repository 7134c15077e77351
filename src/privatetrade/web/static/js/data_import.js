/* Import a file of bars: preview how its columns are read and what the quality check finds,
   then import it (with replace or merge when the symbol's series is stored already). */
(function () {
  "use strict";
  const { t, el, fmt, config, ApiError, errorMessage, showError, hideError } = window.PT;
  const FIELDS = ["time", "open", "high", "low", "close", "volume"];
  const byId = (id) => document.getElementById(id);
  const form = byId("import-form");
  const controls = {
    file: byId("import-file"),
    symbol: byId("import-symbol"),
    market: byId("import-market"),
    name: byId("import-name"),
    date_format: byId("import-date-format"),
    tz: byId("import-tz"),
  };
  const adjusted = byId("import-adjusted");
  const status = byId("import-status");
  const problem = byId("import-error");
  const section = byId("preview");
  const facts = byId("preview-facts");
  const mappingBox = byId("mapping");
  const rowsTable = byId("preview-rows");
  const qualityBox = byId("preview-quality");
  const errorsBox = byId("preview-errors");
  const modeBox = byId("mode-box");
  const modeLegend = byId("mode-legend");
  const commitButton = byId("commit-button");
  const previewButton = byId("preview-button");
  let chosenColumns = {}; // field -> the file's column, as the user picked them
  let preview = null;
  let ticket = 0;

  /* POST the form as multipart (the file and the fields) with the session's CSRF token. */
  async function send(url, forImport) {
    const body = new FormData();
    body.append("file", controls.file.files[0]);
    body.append("symbol", controls.symbol.value.trim());
    for (const name of ["market", "date_format", "tz"]) {
      if (controls[name].value.trim()) body.append(name, controls[name].value.trim());
    }
    body.append("adjusted", adjusted.checked ? "true" : "false");
    for (const [field, column] of Object.entries(chosenColumns)) body.append("column", `${field}=${column}`);
    if (forImport) {
      if (controls.name.value.trim()) body.append("name", controls.name.value.trim());
      const mode = document.querySelector("input[name=mode]:checked");
      if (preview && preview.needs_mode && mode) body.append("mode", mode.value);
    }
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": config.csrf },
      });
    } catch (error) {
      throw new ApiError(0, { detail: t("error.network") });
    }
    const type = response.headers.get("content-type") || "";
    const data = type.includes("json") ? await response.json().catch(() => null) : null;
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function clearErrors() {
    hideError(problem);
    for (const node of document.querySelectorAll(".field-error")) hideError(node);
    for (const node of document.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  }

  /* An API error next to the field it names (or above the preview). */
  function showApiError(error) {
    const field = error instanceof ApiError ? error.field : null;
    const message = error instanceof ApiError && error.status === 413
      ? t("data.too_large", { mib: Math.floor(config.maxBytes / 1048576) })
      : errorMessage(error);
    const slot = field ? byId("error-" + field) : null;
    if (!slot) {
      showError(problem, message);
      return;
    }
    showError(slot, message);
    const control = controls[field] || (field === "mode" ? byId("mode-replace") : null);
    if (control) {
      control.setAttribute("aria-invalid", "true");
      control.focus();
    }
  }

  function fieldName(field) {
    return t("data.field." + field);
  }

  function findingName(name) {
    const key = "data.finding." + name;
    const text = t(key);
    return text === key ? name.replace(/_/g, " ") : text;
  }

  function fact(label, value) {
    return el("div", {}, el("dt", { text: label }), el("dd", { text: value }));
  }

  function renderFacts(data) {
    facts.replaceChildren(
      fact(t("data.file"), `${data.file.name} (${fmt.int(data.file.size)} B)`),
      fact(t("stocks.bars"), fmt.int(data.bar_count)),
      fact(t("data.col.first"), data.first_bar ? fmt.date(data.first_bar) : "—"),
      fact(t("data.col.last"), data.last_bar ? fmt.date(data.last_bar) : "—"),
      fact(t("stocks.market"), data.market),
      fact(t("data.col.series"), t("data.series." + data.kind)),
      fact(t("data.tz"), data.timezone));
  }

  /* One select per field, listing the file's columns; a change reads the file again. */
  function renderMapping(data) {
    const fields = FIELDS.map((field) => {
      const id = "map-" + field;
      const select = el("select", { id: id, name: id });
      select.append(el("option", { value: "", text: t("data.not_in_file") }));
      for (const column of data.columns) {
        select.append(el("option", { value: column, text: column, selected: data.mapping[field] === column }));
      }
      if (!data.mapping[field]) select.value = "";
      select.addEventListener("change", () => {
        if (select.value) chosenColumns[field] = select.value;
        else delete chosenColumns[field];
        runPreview();
      });
      return el("div", { className: "field mapping-field" }, el("label", { for: id, text: fieldName(field) }), select);
    });
    mappingBox.replaceChildren(...fields);
  }

  /* The file's first rows as text, each column headed by the field it is read as. */
  function renderRows(data) {
    const readAs = {};
    for (const [field, column] of Object.entries(data.mapping)) readAs[column] = field;
    const head = el("thead", {},
      el("tr", {}, ...data.columns.map((column) => el("th", { scope: "col", text: column }))),
      el("tr", {}, ...data.columns.map((column) => el("td", {
        className: readAs[column] ? "" : "muted",
        text: readAs[column] ? "→ " + fieldName(readAs[column]) : t("data.ignored"),
      }))));
    const body = el("tbody", {}, ...data.head.map((row) => el("tr", {}, ...row.map((cell) => el("td", { text: cell })))));
    rowsTable.replaceChildren(el("caption", { className: "sr-only", text: t("data.first_rows") }), head, body);
  }

  function renderQuality(data) {
    if (!data.findings.length) {
      qualityBox.replaceChildren(el("p", { className: "muted", text: t("data.quality_unknown") }));
      return;
    }
    const problems = data.findings.filter((finding) => finding.problem && finding.count > 0);
    const summary = el("p", {
      id: "quality-summary",
      className: problems.length ? "error" : "",
      text: problems.length ? t("data.quality_problems", { count: problems.length }) : t("data.quality_none"),
    });
    const items = data.findings.map((finding) => {
      const days = finding.examples.map((day) => fmt.date(day)).join(", ");
      const text = !finding.checked ? t("data.not_checked")
        : finding.count ? `${fmt.int(finding.count)}${days ? " · " + days : ""}${finding.count > finding.examples.length ? " …" : ""}`
          : "0";
      return el("li", {
        className: finding.problem && finding.count ? "problem-item" : "",
        "data-finding": finding.name,
      }, el("strong", { text: findingName(finding.name) + ": " }), text);
    });
    qualityBox.replaceChildren(summary, el("ul", { className: "quality-list" }, ...items));
  }

  function renderErrors(data) {
    const list = errorsBox.querySelector("ul");
    const items = data.errors.map((error) => el("li", { text: t.notice(error.text) }));
    const more = data.error_count - data.errors.length;
    if (more > 0) items.push(el("li", { className: "muted", text: t("data.more_errors", { count: more }) }));
    list.replaceChildren(...items);
    errorsBox.hidden = data.errors.length === 0;
  }

  function renderMode(data) {
    modeBox.hidden = !data.needs_mode;
    if (!data.needs_mode) return;
    const stored = data.stored;
    modeLegend.textContent = t("data.exists", {
      code: data.symbol,
      count: fmt.int(stored.bar_count),
      series: t("data.series." + data.kind),
      first: fmt.date(stored.first_bar),
      last: fmt.date(stored.last_bar),
    });
  }

  function render(data) {
    preview = data;
    renderFacts(data);
    renderMapping(data);
    renderRows(data);
    renderQuality(data);
    renderErrors(data);
    renderMode(data);
    commitButton.disabled = !data.ok;
    section.hidden = false;
    status.textContent = data.ok ? t("data.preview_ready", { count: fmt.int(data.bar_count) }) : t("data.fix_errors");
  }

  async function runPreview() {
    clearErrors();
    if (!controls.file.files.length) {
      showApiError(new ApiError(422, { field: "file", detail: t("data.choose_file") }));
      return;
    }
    const mine = ++ticket;
    status.textContent = t("data.previewing");
    previewButton.disabled = true;
    try {
      const data = await send("/api/data/imports/preview", false);
      if (mine === ticket) render(data);
    } catch (error) {
      if (mine !== ticket) return;
      status.textContent = "";
      showApiError(error);
    } finally {
      if (mine === ticket) previewButton.disabled = false;
    }
  }

  async function runImport() {
    clearErrors();
    if (!preview || !preview.ok) {
      showError(problem, t("data.fix_errors"));
      return;
    }
    if (preview.needs_mode && !document.querySelector("input[name=mode]:checked")) {
      showApiError(new ApiError(422, { field: "mode", detail: t("data.choose_mode") }));
      return;
    }
    commitButton.disabled = true;
    status.textContent = t("data.committing");
    try {
      const done = await send("/api/data/imports", true);
      const target = `/data/symbols/${encodeURIComponent(done.symbol.code)}?imported=${done.mode}`;
      window.location.assign(target);
    } catch (error) {
      status.textContent = "";
      commitButton.disabled = false;
      showApiError(error);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    runPreview();
  });
  controls.file.addEventListener("change", () => {
    chosenColumns = {};
    preview = null;
    section.hidden = true;
  });
  // Once a preview is shown, it follows every change of the form.
  for (const control of [controls.symbol, controls.market, adjusted, controls.date_format, controls.tz]) {
    control.addEventListener("change", () => {
      if (preview) runPreview();
    });
  }
  commitButton.addEventListener("click", runImport);
})();
