/* Tables that become cards on a phone. Every body cell gets its column's heading as
   data-label; under 40rem site.css lays each row out as a card and shows that label
   above the value, so P&L, Sharpe and drawdown stay on screen instead of off to the
   right. Tables drawn later by the page's scripts are labelled too (a MutationObserver),
   so the scripts that build them need not know. Used by the pages and inlined into the
   offline HTML report (no other script needed). */
(function () {
  "use strict";
  const CARD_TABLES = [
    "table.runs", "table.trades", "table.contribution", "table.ranking", "table.top",
    "table.windows", "table.coverage", "table.rebalances", "table.yearly", "table.drawdowns",
    "table.cards",
    "main > table:has(> thead)", // the status page's tables
  ].join(", ");
  const SORT_MARKS = /[▲▼]/g;

  function headings(table) {
    const row = table.tHead && table.tHead.rows[0];
    if (!row) return [];
    const names = [];
    for (const cell of row.cells) {
      const name = cell.textContent.replace(SORT_MARKS, "").replace(/\s+/g, " ").trim();
      for (let span = 0; span < cell.colSpan; span++) names.push(name);
    }
    return names;
  }

  function label(table) {
    table.classList.add("cards");
    const names = headings(table);
    for (const body of table.tBodies) {
      for (const row of body.rows) {
        let column = 0;
        for (const cell of row.cells) {
          /* a cell across every column (an empty table's message) is no column's value */
          const name = cell.colSpan >= names.length ? "" : names[column] || "";
          if (cell.dataset.label !== name) cell.dataset.label = name;
          column += cell.colSpan;
        }
      }
    }
  }

  function labelAll(root) {
    if (root.matches && root.matches(CARD_TABLES)) label(root);
    for (const table of root.querySelectorAll(CARD_TABLES)) label(table);
  }

  let queued = false;
  function relabelSoon() {
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      labelAll(document);
    });
  }

  labelAll(document);
  new MutationObserver(relabelSoon).observe(document.documentElement, { childList: true, subtree: true });
})();
