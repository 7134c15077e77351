/* Locale-aware formatting of money, percentages, numbers and dates, and a tiny DOM builder.
   Used by the pages and inlined into the offline HTML report. */
(function (global) {
  "use strict";

  function PTFormat(locale) {
    const cache = new Map();
    function numberFormat(options) {
      const key = JSON.stringify(options);
      if (!cache.has(key)) cache.set(key, new Intl.NumberFormat(locale, options));
      return cache.get(key);
    }
    const missing = "—";
    const isNumber = (v) => typeof v === "number" && isFinite(v);
    /* A negative number that rounds to zero at `digits` prints as 0, never -0 (-0.00, -0%). */
    const unsignedZero = (v, digits) => (Math.round(Math.abs(v) * 10 ** digits) === 0 ? 0 : v);

    return {
      locale: locale,
      /* Money in its currency: KRW as ₩ without decimals, USD with cents. */
      money(value, currency) {
        if (!isNumber(value)) return missing;
        const format = numberFormat({ style: "currency", currency: currency || "USD" });
        return format.format(unsignedZero(value, format.resolvedOptions().maximumFractionDigits));
      },
      /* A price: like money, but cents for KRW prices are never shown either. */
      price(value, currency) {
        return this.money(value, currency);
      },
      pct(value, digits) {
        if (!isNumber(value)) return missing;
        const d = digits === undefined ? 2 : digits;
        return numberFormat({ style: "percent", minimumFractionDigits: d, maximumFractionDigits: d }).format(unsignedZero(value, d + 2));
      },
      signedPct(value, digits) {
        if (!isNumber(value)) return missing;
        const d = digits === undefined ? 2 : digits;
        return numberFormat({
          style: "percent", minimumFractionDigits: d, maximumFractionDigits: d, signDisplay: "exceptZero",
        }).format(unsignedZero(value, d + 2));
      },
      num(value, digits) {
        if (!isNumber(value)) return missing;
        const d = digits === undefined ? 2 : digits;
        return numberFormat({ minimumFractionDigits: d, maximumFractionDigits: d }).format(unsignedZero(value, d));
      },
      int(value) {
        if (!isNumber(value)) return missing;
        return numberFormat({ maximumFractionDigits: 0 }).format(unsignedZero(value, 0));
      },
      /* A calendar date, from "YYYY-MM-DD..." (the exchange's local date; no time-zone shift). */
      date(iso) {
        const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || "");
        if (!match) return iso || missing;
        const day = new Date(Date.UTC(+match[1], +match[2] - 1, +match[3]));
        return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeZone: "UTC" }).format(day);
      },
      /* A moment (UTC timestamp from the server), shown in the browser's time zone. */
      datetime(iso) {
        if (!iso) return missing;
        const moment = new Date(iso);
        if (isNaN(moment.getTime())) return iso;
        return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(moment);
      },
      /* A duration in seconds in the page's language: "1 min 5 sec", "1분 5초", "<1초", "2시간 5분". */
      seconds(value) {
        if (!isNumber(value)) return missing;
        const unit = (amount, name) => numberFormat({ style: "unit", unit: name, unitDisplay: "short" }).format(amount);
        if (value < 1) return "<" + unit(1, "second");
        const list = (parts) => new Intl.ListFormat(locale, { style: "narrow", type: "unit" }).format(parts);
        const seconds = Math.round(value);
        if (seconds >= 86400) return list([unit(Math.floor(seconds / 86400), "day"), unit(Math.floor(seconds % 86400 / 3600), "hour")]);
        if (seconds >= 3600) return list([unit(Math.floor(seconds / 3600), "hour"), unit(Math.floor(seconds % 3600 / 60), "minute")]);
        if (seconds >= 60) return list([unit(Math.floor(seconds / 60), "minute"), unit(seconds % 60, "second")]);
        return unit(seconds, "second");
      },
      isNumber: isNumber,
    };
  }

  /* Build an element: el("a", {href: "/"}, "text", child). */
  function PTElement(tag, attributes) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of Array.prototype.slice.call(arguments, 2)) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /* t(key, {name: value}) over a message catalog; an unknown key is shown as itself.
     t.notice(text) says an English sentence of the server (a result's warning, a scan
     row's reason) in the catalog's language: `notices` are the English templates
     ("notice.<name>": "Only {count} closed trades ..."); the sentence matching one is
     told with the catalog's "notice.<name>", its values translated through the
     "notice.part.<name>" templates ("{list} and {count} more") and lists split at ", ".
     A sentence no template matches is shown as it is. */
  function PTTranslator(messages, notices) {
    function t(key, values) {
      const text = (messages && messages[key]) || key;
      if (!values) return text;
      return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
    }
    const templates = Object.entries(notices || {}).map(([key, english]) => {
      const names = [];
      // A value inside a part never spans a list's ", " (so "A (x), B (y)" is two items).
      const value = key.startsWith("notice.part.") ? "((?:(?!, ).)+?)" : "(.+?)";
      const source = english.split(/(\{\w+\})/).map((piece) => {
        const name = /^\{(\w+)\}$/.exec(piece);
        if (!name) return piece.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        names.push(name[1]);
        return value;
      }).join("");
      const literal = english.replace(/\{\w+\}/g, "").length;
      return { key: key, names: names, pattern: new RegExp("^" + source + "$"), part: key.startsWith("notice.part."), literal: literal };
    }).sort((a, b) => b.literal - a.literal);

    function told(text, parts) {
      for (const template of templates) {
        if (template.part !== parts) continue;
        const match = template.pattern.exec(text);
        if (!match) continue;
        const values = {};
        template.names.forEach((name, i) => { values[name] = part(match[i + 1]); });
        return t(template.key, values);
      }
      return null;
    }
    function part(value) {
      const whole = told(value, true);
      if (whole !== null) return whole;
      return value.includes(", ") ? value.split(", ").map(part).join(", ") : value;
    }
    t.notice = (text) => (typeof text === "string" ? told(text, false) ?? text : String(text));
    return t;
  }

  global.PTFormat = PTFormat;
  global.PTElement = PTElement;
  global.PTTranslator = PTTranslator;
})(window);
