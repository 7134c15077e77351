/* Shared by every page: configuration, messages, the JSON API client, formatting. */
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("pt-config").textContent);
  const fmt = window.PTFormat(config.locale);

  const t = window.PTTranslator(config.messages, config.notices);

  const plainNumber = new Intl.NumberFormat(config.locale, { maximumFractionDigits: 6 });

  /* Problem params that are a choice of the forms, named as the forms name them. */
  const CHOICES = { mode: "sizing.", size: "position_size.", rule: "rule." };
  /* Codes that only say which kind of error it is: the API's sentence says more. */
  const GENERAL = ["invalid_input", "bad_request", "conflict", "data_error", "value_error"];

  /* A problem's values for its message: numbers in the page's locale, a strategy
     parameter ("param", "low", "high" beside "strategy") by its translated name. */
  function problemParams(params) {
    const values = {};
    for (const [name, value] of Object.entries(params || {})) {
      if (typeof value === "number") values[name] = plainNumber.format(value);
      else if (params.strategy && ["param", "low", "high"].includes(name)) values[name] = paramName(params.strategy, value);
      else if (CHOICES[name] && config.messages[CHOICES[name] + value]) values[name] = t(CHOICES[name] + value);
      else values[name] = value;
    }
    return values;
  }

  /* A problem (or one of its field errors) in the page's language. English pages show the
     API's own sentence; other languages the sentence as the catalog tells it when it is one
     of the server's known sentences (t.notice), else the catalog's "problem.<code>" with
     the problem's params, or for a code the catalog lacks a general sentence and then the
     API's. */
  function problemText(item) {
    const english = (item && (item.message || item.detail)) || "";
    if (!item || config.lang === "en") return english;
    const known = t.notice(english); // a sentence the catalog also knows (a file's problem)
    if (!item.code || known !== english) return known;
    const key = "problem." + item.code;
    if (GENERAL.includes(item.code) && english) return t("problem.untranslated", { detail: english });
    if (config.messages[key]) return t(key, problemParams(item.params));
    return english ? t("problem.untranslated", { detail: english }) : t("problem.invalid_input");
  }

  class ApiError extends Error {
    constructor(status, problem) {
      super(problemText(problem));
      this.status = status;
      this.field = (problem && problem.field) || null;
      this.errors = ((problem && problem.errors) || []).map((item) => ({ ...item, message: problemText(item) }));
      this.problem = problem || {};
    }
  }

  /* Call the JSON API with the session cookie (and the CSRF header on writes). */
  async function api(method, url, body) {
    const headers = { Accept: "application/json" };
    if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = config.csrf;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method: method,
        headers: headers,
        credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new ApiError(0, { detail: t("error.network") });
    }
    const type = response.headers.get("content-type") || "";
    const data = type.includes("json") ? await response.json().catch(() => null) : null;
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  /* A sentence for the user, never raw JSON or a stack trace. */
  function errorMessage(error) {
    if (!(error instanceof ApiError)) return t("error.unexpected");
    const status = error.status;
    if (status === 0) return t("error.network");
    if (status === 401) return t("error.signed_out");
    if (status === 404) return t("error.not_found");
    if (status === 413) return t("error.too_large");
    if (status === 429) return t("error.too_many");
    if (status >= 500) return t("error.server");
    return error.message || t("error.unexpected");
  }

  /* A sentence of the server (a failed run's detail) in the page's language when the
     catalog knows it, else as it is, marked as English. */
  function showServerText(element, text) {
    const told = t.notice(text);
    element.textContent = told;
    if (told === text && text && config.lang !== "en") element.setAttribute("lang", "en");
    else element.removeAttribute("lang");
  }

  function showError(element, message) {
    if (!element) return;
    element.textContent = message;
    element.hidden = false;
  }

  function hideError(element) {
    if (!element) return;
    element.textContent = "";
    element.hidden = true;
  }

  const el = window.PTElement;

  /* A strategy parameter's name in the page's language (its key when the catalog has none). */
  function paramName(strategy, key) {
    const titleKey = `param.${strategy}.${key}.title`;
    const title = t(titleKey);
    return title === titleKey ? key : title;
  }

  /* A run's parameters: "Fast window 5, Slow window 20" ("단기 기간 5, 장기 기간 20"). */
  function paramsText(strategy, params) {
    return Object.entries(params || {})
      .map(([key, value]) => t("params.pair", { name: paramName(strategy, key), value: value }))
      .join(", ");
  }

  /* Re-format server-rendered values ([data-fmt]) in the page's locale. */
  function applyFormats(root) {
    for (const node of root.querySelectorAll("[data-fmt]")) {
      const kind = node.dataset.fmt;
      const value = node.dataset.value === undefined ? null : Number(node.dataset.value);
      if (kind === "date") node.textContent = fmt.date(node.getAttribute("datetime"));
      else if (kind === "datetime") node.textContent = fmt.datetime(node.getAttribute("datetime"));
      else if (kind === "pct") node.textContent = fmt.pct(value);
      else if (kind === "signed-pct") {
        node.textContent = fmt.signedPct(value);
        node.classList.toggle("up", value > 0);
        node.classList.toggle("down", value < 0);
      } else if (kind === "num") node.textContent = fmt.num(value, Number(node.dataset.digits || 2));
      else if (kind === "int") node.textContent = fmt.int(value);
      else if (kind === "duration") node.textContent = fmt.seconds(value);
      else if (kind === "money") node.textContent = fmt.money(value, node.dataset.currency);
    }
  }

  const FINAL_STATES = ["succeeded", "failed", "cancelled"];

  /* Follow a job until a final state: its event stream, or polling where there is none.
     options: url (the job, e.g. /api/jobs/ID; its stream is url + "/events"), onView(view),
     onError(error), onDeleted(). Returns { close() } to stop following. */
  function followJob(options) {
    let source = null;
    let timer = null;
    const close = () => {
      if (source) source.close();
      if (timer) clearInterval(timer);
    };
    const poll = () => {
      timer = setInterval(async () => {
        try {
          const view = await api("GET", options.url);
          options.onView(view);
          if (FINAL_STATES.includes(view.state)) clearInterval(timer);
        } catch (error) {
          options.onError(error);
          if (error.status === 404) clearInterval(timer);
        }
      }, 1000);
    };
    if (!window.EventSource) {
      poll();
      return { close };
    }
    source = new EventSource(options.url + "/events");
    const onEvent = (event) => {
      const view = JSON.parse(event.data);
      options.onView(view);
      if (FINAL_STATES.includes(view.state)) source.close();
    };
    source.addEventListener("state", onEvent);
    source.addEventListener("progress", onEvent);
    source.addEventListener("deleted", () => {
      source.close();
      options.onDeleted();
    });
    source.onerror = () => {
      // A broken stream: the browser reconnects by itself and the server resumes after
      // the last event id it saw (Last-Event-ID). An answer that is not a stream closes
      // the source: fall back to polling until a final state.
      if (source.readyState !== EventSource.CLOSED) return;
      api("GET", options.url).then((view) => {
        options.onView(view);
        if (!FINAL_STATES.includes(view.state)) poll();
      }).catch(options.onError);
    };
    return { close };
  }

  window.PT = {
    config, t, fmt, api, ApiError, errorMessage, showError, hideError, el, applyFormats,
    followJob, FINAL_STATES, paramName, paramsText, showServerText,
  };
  applyFormats(document);
})();
