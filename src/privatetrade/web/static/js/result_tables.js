/* The tables of a result: the run's settings (what was actually applied, like a
   trading platform's Properties tab), yearly returns, drawdown periods and the trades
   (sortable, 50 a page, a gap through a stop marked on its trade). Shared by the result
   page and the offline HTML report; needs only PTElement and PTCharts.tone.

   ctx = {t(key), fmt (PTFormat), currency, colors} */
(function (global) {
  "use strict";
  const el = global.PTElement;
  const PAGE_SIZE = 50;

  function tone(value) {
    return global.PTCharts.tone(value);
  }

  function signedCell(ctx, value, extra) {
    return el("td", { className: "num " + tone(value) + (extra ? " " + extra : ""), text: ctx.fmt.signedPct(value) });
  }

  /* ------------------------------------------------------------ settings */
  function pct(ctx, value, digits) {
    return ctx.fmt.pct(value, digits === undefined ? 3 : digits).replace(/([.,]\d*?)0+%/, "$1%").replace(/[.,]%/, "%");
  }

  /* The sell-tax steps in force during the run: the one at the first bar, then later ones. */
  function taxSteps(ctx, costs, data) {
    const steps = (costs.sell_tax || []).slice().sort((a, b) => (a.since < b.since ? -1 : 1));
    if (!steps.length) return ctx.t("settings.none");
    const first = data ? data.first_bar.slice(0, 10) : "";
    const last = data ? data.last_bar.slice(0, 10) : "9999";
    const inForce = steps.filter((step, i) => step.since <= last && (i === steps.length - 1 || steps[i + 1].since > first));
    /* the step in force when the run began is shown from the run's first day */
    return inForce.map((step) => ctx.t("settings.tax_step", { rate: pct(ctx, step.rate), since: ctx.fmt.date(step.since < first ? first : step.since) })).join(" · ");
  }

  function sizingText(ctx, sizing) {
    if (sizing.mode === "fraction") return ctx.t("settings.sizing_fraction", { value: pct(ctx, sizing.value, 2) });
    if (sizing.mode === "amount") return ctx.t("settings.sizing_amount", { value: ctx.fmt.money(sizing.value, ctx.currency) });
    if (sizing.mode === "shares") return ctx.t("settings.sizing_shares", { value: ctx.fmt.int(sizing.value) });
    return ctx.t("sizing.all_in");
  }

  function stopsText(ctx, stops) {
    const parts = ["stop_loss", "take_profit", "trailing_stop"]
      .filter((key) => stops[key] !== null && stops[key] !== undefined)
      .map((key) => `${ctx.t("stops." + key)} ${pct(ctx, stops[key], 2)}`);
    return parts.length ? parts.join(" · ") : ctx.t("settings.none");
  }

  function slippageText(ctx, costs) {
    if (!costs.slippage) return ctx.t("settings.none");
    return ctx.t(costs.slippage_unit === "ticks" ? "settings.slippage_ticks" : "settings.slippage_bps", { value: ctx.fmt.num(costs.slippage, 1).replace(/[.,]0$/, "") });
  }

  function periodText(ctx, request) {
    if (!request || (!request.start && !request.end)) return ctx.t("settings.all_data");
    return `${request.start ? ctx.fmt.date(request.start) : "…"} – ${request.end ? ctx.fmt.date(request.end) : "…"}`;
  }

  function pricesText(ctx, doc) {
    const used = doc.data ? doc.data.adjusted : null;
    const asked = doc.run && doc.run.request ? doc.run.request.adjusted : null;
    if (used === null || used === undefined) return ctx.t("settings.unknown");
    const text = ctx.t(used ? "settings.adjusted" : "settings.raw");
    return asked === true && used === false ? `${text} (${ctx.t("settings.raw_fallback")})` : text;
  }

  function settingsRows(ctx, doc) {
    const settings = doc.spec.settings;
    const costs = settings.costs;
    const data = doc.data;
    const request = doc.run ? doc.run.request : null;
    const sellFees = [];
    if (costs.sell_fee_rate) sellFees.push(pct(ctx, costs.sell_fee_rate, 4));
    if (costs.sell_fee_per_share) {
      const cap = costs.sell_fee_per_share_max ? ` (${ctx.t("settings.fee_cap", { cap: ctx.fmt.money(costs.sell_fee_per_share_max, ctx.currency) })})` : "";
      sellFees.push(ctx.t("settings.per_share", { value: ctx.fmt.money(costs.sell_fee_per_share, ctx.currency) }) + cap);
    }
    return [
      ["capital", [
        ["initial_cash", ctx.t("form.capital"), ctx.fmt.money(settings.initial_cash, ctx.currency)],
        ["period", ctx.t("settings.period"), periodText(ctx, request)],
        ["bars", ctx.t("settings.bars"), ctx.t("settings.bars_value", { count: ctx.fmt.int(data.bar_count), first: ctx.fmt.date(data.first_bar), last: ctx.fmt.date(data.last_bar) })],
        ["prices", ctx.t("prices.label"), pricesText(ctx, doc)],
        ["benchmark", ctx.t("form.benchmark"), doc.spec.benchmark || ctx.t("settings.none")],
        ["risk_free_rate", ctx.t("settings.risk_free"), pct(ctx, settings.risk_free_rate, 2)],
      ]],
      ["costs", [
        ["preset", ctx.t("form.costs"), ctx.t("costs." + costs.preset) + (costs.market ? ` (${costs.market})` : "")],
        ["commission_rate", ctx.t("settings.commission"), pct(ctx, costs.commission_rate, 4)],
        ["min_commission", ctx.t("costs.min_commission"), ctx.fmt.money(costs.min_commission, ctx.currency)],
        ["sell_tax", ctx.t("settings.sell_tax"), taxSteps(ctx, costs, data)],
        ["sell_fees", ctx.t("settings.sell_fees"), sellFees.length ? sellFees.join(" + ") : ctx.t("settings.none")],
        ["slippage", ctx.t("settings.slippage"), slippageText(ctx, costs)],
        ["tick_table", ctx.t("settings.tick_table"), ctx.t("settings.tick." + costs.tick_table)],
        ["price_limit", ctx.t("settings.price_limit"), costs.price_limit ? ctx.t("settings.price_limit_value", { value: pct(ctx, costs.price_limit, 0) }) : ctx.t("settings.none")],
        ["lot_size", ctx.t("costs.lot_size"), ctx.fmt.int(costs.lot_size)],
      ]],
      ["orders", [
        ["sizing", ctx.t("form.sizing"), sizingText(ctx, settings.sizing)],
        ["stops", ctx.t("settings.stops"), stopsText(ctx, settings.stops)],
        ["fill_at", ctx.t("form.fill_at"), ctx.t("fill." + settings.fill_at)],
        ["allow_short", ctx.t("settings.short"), ctx.t(settings.allow_short ? "settings.yes" : "settings.no")],
        ["close_at_end", ctx.t("form.close_at_end"), ctx.t(settings.close_at_end ? "settings.yes" : "settings.no")],
      ]],
    ];
  }

  function settingsPanel(ctx, doc) {
    const section = el("section", { className: "result-part run-settings", id: "run-settings", "aria-labelledby": "run-settings-title" },
      el("h3", { id: "run-settings-title", text: ctx.t("settings.title") }));
    for (const [group, rows] of settingsRows(ctx, doc)) {
      const list = el("dl", { className: "facts settings-group", "data-group": group });
      for (const [key, label, value] of rows) list.append(el("div", { "data-setting": key }, el("dt", { text: label }), el("dd", { text: value })));
      section.append(el("h4", { text: ctx.t("settings.group." + group) }), list);
    }
    return section;
  }

  /* ------------------------------------------------------------ yearly and drawdowns */
  function yearlyTable(ctx, doc, analysis) {
    const rows = analysis ? analysis.yearly : doc.yearly_returns.map((row) => ({ period: row.period, return: row.return }));
    const withBench = rows.some((row) => row.benchmark !== null && row.benchmark !== undefined);
    const withHeld = rows.some((row) => row.buy_and_hold !== null && row.buy_and_hold !== undefined);
    const head = [ctx.t("result.year"), ctx.t("chart.strategy")];
    if (withHeld) head.push(ctx.t("chart.buy_and_hold"));
    if (withBench) head.push(ctx.t("chart.benchmark"));
    const table = el("table", { className: "yearly", id: "yearly-table" },
      el("caption", { className: "sr-only", text: ctx.t("result.yearly") }),
      el("thead", {}, el("tr", {}, ...head.map((text, i) => el("th", { scope: "col", className: i ? "num" : "", text: text })))));
    const body = el("tbody");
    for (const row of rows) {
      const tr = el("tr", { "data-period": row.period }, el("th", { scope: "row", text: row.period }), signedCell(ctx, row.return));
      if (withHeld) tr.append(signedCell(ctx, row.buy_and_hold));
      if (withBench) tr.append(signedCell(ctx, row.benchmark));
      body.append(tr);
    }
    table.append(body);
    return el("div", { className: "table-wrap" }, table);
  }

  function drawdownsTable(ctx, analysis) {
    const wrap = el("div", { className: "table-wrap" });
    if (!analysis) return wrap;
    if (!analysis.drawdowns.length) {
      wrap.append(el("p", { className: "empty", text: ctx.t("result.no_drawdowns") }));
      return wrap;
    }
    const columns = ["rank", "start", "trough", "recovery", "depth", "bars", "days"];
    const table = el("table", { className: "drawdowns", id: "drawdowns-table" },
      el("caption", { className: "sr-only", text: ctx.t("result.drawdowns") }),
      el("thead", {}, el("tr", {}, ...columns.map((key) => el("th", { scope: "col", className: ["depth", "bars", "days", "rank"].includes(key) ? "num" : "", text: ctx.t("drawdown." + key) })))));
    const body = el("tbody");
    analysis.drawdowns.forEach((period, i) => {
      body.append(el("tr", { "data-start": period.start },
        el("td", { className: "num", text: String(i + 1) }),
        el("td", { text: ctx.fmt.date(period.start) }),
        el("td", { text: ctx.fmt.date(period.trough) }),
        el("td", { className: period.recovery ? "" : "muted", text: period.recovery ? ctx.fmt.date(period.recovery) : ctx.t("drawdown.not_recovered") }),
        signedCell(ctx, period.depth),
        el("td", { className: "num", text: ctx.fmt.int(period.bars) }),
        el("td", { className: "num", text: ctx.fmt.int(period.days) })));
    });
    table.append(body);
    wrap.append(table);
    if (analysis.drawdown_count > analysis.drawdowns.length) {
      wrap.append(el("p", { className: "muted", text: ctx.t("result.drawdowns_shown", { shown: analysis.drawdowns.length, count: ctx.fmt.int(analysis.drawdown_count) }) }));
    }
    return wrap;
  }

  /* ------------------------------------------------------------ trades */
  const TRADE_COLUMNS = [
    ["entry_time", "date"], ["exit_time", "date"], ["direction", "label"], ["quantity", "int"],
    ["entry_price", "money"], ["exit_price", "money"], ["net_pnl", "signed-money"], ["return", "signed"],
    ["fees", "money"], ["holding_days", "int"], ["exit_reason", "label"], ["mae", "signed"], ["mfe", "signed"],
  ];

  function gapText(ctx, trade, level) {
    const long = trade.direction === "long";
    const beyond = Math.abs(trade.exit_price / level.exit_stop - 1);
    return ctx.t(long ? "trade.gap_long" : "trade.gap_short", {
      open: ctx.fmt.price(level.exit_open, ctx.currency), stop: ctx.fmt.price(level.exit_stop, ctx.currency),
      price: ctx.fmt.price(trade.exit_price, ctx.currency), beyond: ctx.fmt.pct(beyond, 1),
    });
  }

  function tradeCell(ctx, key, kind, trade, level, select) {
    const value = trade[key];
    if (key === "entry_time") {
      return el("td", {}, el("button", { type: "button", className: "link trade-select", text: ctx.fmt.date(value),
        "aria-label": ctx.t("trade.show", { date: ctx.fmt.date(value) }), onclick: select }));
    }
    if (kind === "date") return el("td", { text: ctx.fmt.date(value) });
    if (key === "exit_reason") {
      const cell = el("td", { text: ctx.t("exit." + value) });
      if (level && level.gap) {
        const explanation = gapText(ctx, trade, level);
        cell.append(" ", el("span", { className: "badge gap", title: explanation, tabindex: "0", "data-gap": "true" },
          ctx.t("trade.gap"), el("span", { className: "sr-only", text: ": " + explanation })));
      }
      return cell;
    }
    if (kind === "label") return el("td", { text: ctx.t("direction." + value) });
    if (kind === "int") return el("td", { className: "num", text: ctx.fmt.int(value) });
    if (kind === "money") return el("td", { className: "num", text: ctx.fmt.money(value, ctx.currency) });
    if (kind === "signed-money") return el("td", { className: "num " + tone(value), text: ctx.fmt.money(value, ctx.currency) });
    return el("td", { className: "num " + tone(value), text: ctx.fmt.signedPct(value) });
  }

  /* The trades, sorted by a column and shown a page at a time. options.onSelect(index)
     is called when a row's trade is chosen; returns {node, show(index)}: show turns to
     the page holding trade `index` and marks its row. */
  function tradesTable(ctx, trades, levels, options) {
    const wrap = el("div", { className: "trades-block" });
    if (!trades.length) {
      wrap.append(el("p", { className: "empty", text: ctx.t("result.no_trades") }));
      return { node: wrap, show: () => undefined };
    }
    const table = el("table", { className: "trades", id: "trades-table" });
    const head = el("tr");
    const body = el("tbody");
    const rows = trades.map((trade, index) => index);
    const pages = () => Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    let page = 0;
    let sortKey = null;
    let ascending = true;
    let selected = null;
    const status = el("span", { className: "pager-status", "aria-live": "polite" });
    const previous = el("button", { type: "button", className: "secondary", text: ctx.t("pager.previous"), onclick: () => turn(page - 1) });
    const next = el("button", { type: "button", className: "secondary", text: ctx.t("pager.next"), onclick: () => turn(page + 1) });
    const jump = el("input", { type: "number", min: "1", max: String(pages()), value: "1", id: "trades-page", inputmode: "numeric" });
    jump.addEventListener("change", () => turn(Number(jump.value) - 1));
    const pager = el("nav", { className: "pager trades-pager", "aria-label": ctx.t("pager.trades") },
      previous, el("label", { for: "trades-page", className: "pager-jump" }, ctx.t("pager.page"), " ", jump), status, next);

    function fill() {
      body.replaceChildren();
      for (const index of rows.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE)) {
        const trade = trades[index];
        const level = levels ? levels[index] : null;
        const choose = () => choose_(index);
        const tr = el("tr", { "data-trade": String(index), className: index === selected ? "selected" : "", "aria-selected": index === selected ? "true" : "false" });
        for (const [key, kind] of TRADE_COLUMNS) tr.append(tradeCell(ctx, key, kind, trade, level, choose));
        tr.addEventListener("click", (event) => {
          if (event.target.closest("button, a, input, .badge")) return;
          choose();
        });
        body.append(tr);
      }
      const first = page * PAGE_SIZE + 1;
      const last = Math.min(rows.length, (page + 1) * PAGE_SIZE);
      status.textContent = ctx.t("pager.status", { first: ctx.fmt.int(first), last: ctx.fmt.int(last), count: ctx.fmt.int(rows.length), page: page + 1, pages: pages() });
      previous.disabled = page === 0;
      next.disabled = page >= pages() - 1;
      jump.value = String(page + 1);
      pager.hidden = rows.length <= PAGE_SIZE;
    }

    function turn(to) {
      const target = Math.min(Math.max(0, Number.isFinite(to) ? to : 0), pages() - 1);
      page = target;
      fill();
    }

    function choose_(index) {
      selected = index;
      for (const tr of body.rows) {
        const mine = Number(tr.dataset.trade) === index;
        tr.classList.toggle("selected", mine);
        tr.setAttribute("aria-selected", mine ? "true" : "false");
      }
      if (options && options.onSelect) options.onSelect(index);
    }

    function sortBy(key, th) {
      ascending = sortKey === key ? !ascending : true;
      sortKey = key;
      rows.sort((a, b) => {
        const x = trades[a][key];
        const y = trades[b][key];
        const order = x < y ? -1 : x > y ? 1 : a - b;
        return ascending ? order : -order;
      });
      for (const other of head.children) other.removeAttribute("aria-sort");
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      page = 0;
      fill();
    }

    for (const [key, kind] of TRADE_COLUMNS) {
      const th = el("th", { scope: "col", className: kind === "date" || kind === "label" ? "" : "num" });
      const attributes = { type: "button", className: "sort", text: ctx.t("trade." + key), onclick: () => sortBy(key, th) };
      if (key === "mae" || key === "mfe") attributes.title = ctx.t("trade." + key + "_hint");
      th.append(el("button", attributes));
      head.append(th);
    }
    table.append(el("caption", { className: "sr-only", text: ctx.t("result.trades_caption") }), el("thead", {}, head), body);
    wrap.append(el("div", { className: "table-wrap" }, table), pager);
    fill();
    return {
      node: wrap,
      show(index) {
        const position = rows.indexOf(index);
        if (position < 0) return;
        page = Math.floor(position / PAGE_SIZE);
        selected = index;
        fill();
        const row = body.querySelector(`tr[data-trade="${index}"]`);
        if (row && row.scrollIntoView) row.scrollIntoView({ block: "nearest" });
      },
    };
  }

  /* What the chart shows for the selected trade, in words. */
  function selectedTradeText(ctx, trade, level) {
    const parts = [ctx.t("trade.selected", {
      direction: ctx.t("direction." + trade.direction), entry: ctx.fmt.date(trade.entry_time), entry_price: ctx.fmt.price(trade.entry_price, ctx.currency),
      exit: ctx.fmt.date(trade.exit_time), exit_price: ctx.fmt.price(trade.exit_price, ctx.currency), reason: ctx.t("exit." + trade.exit_reason),
    })];
    if (level) {
      if (level.stop_loss !== null) parts.push(`${ctx.t("stops.stop_loss")} ${ctx.fmt.price(level.stop_loss, ctx.currency)}`);
      if (level.take_profit !== null) parts.push(`${ctx.t("stops.take_profit")} ${ctx.fmt.price(level.take_profit, ctx.currency)}`);
      if (level.trailing) parts.push(`${ctx.t("stops.trailing_stop")} ${ctx.fmt.price(level.trailing[level.trailing.length - 1], ctx.currency)}`);
      if (level.gap) parts.push(gapText(ctx, trade, level));
    }
    return parts.join(" · ");
  }

  global.PTResultTables = { settingsPanel, settingsRows, yearlyTable, drawdownsTable, tradesTable, selectedTradeText, PAGE_SIZE };
})(window);
