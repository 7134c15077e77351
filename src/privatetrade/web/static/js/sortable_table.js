/* A table sorted by clicking (or pressing Enter/Space on) a column heading: each heading
   is a button, the sorted one carries aria-sort. Missing values sort last either way.

   window.PTSortableTable(table, {caption, columns: [{key, label, numeric, value(row),
   cell(row) -> <td>}], rows, sort: {key, descending}, limit, rowAttributes(row),
   onSorted(key, descending)}) -> {sortBy(key, descending), rows()} */
(function () {
  "use strict";
  const { el } = window.PT;

  function missing(value) {
    return value === null || value === undefined || (typeof value === "number" && !isFinite(value));
  }

  function PTSortableTable(table, options) {
    const columns = options.columns;
    const rows = options.rows.map((row, index) => ({ row: row, index: index }));
    const head = el("tr");
    const body = el("tbody");
    let sortKey = null;
    let descending = false;

    function valueOf(column, row) {
      return column.value ? column.value(row) : row[column.key];
    }

    function fill() {
      const shown = options.limit ? rows.slice(0, options.limit) : rows;
      body.replaceChildren(...shown.map(({ row }) => el("tr", options.rowAttributes ? options.rowAttributes(row) : {},
        ...columns.map((column) => column.cell(row)))));
    }

    function sortBy(key, wantDescending) {
      const column = columns.find((c) => c.key === key);
      if (!column) return;
      sortKey = key;
      descending = Boolean(wantDescending);
      rows.sort((a, b) => {
        const x = valueOf(column, a.row);
        const y = valueOf(column, b.row);
        if (missing(x) || missing(y)) return missing(x) === missing(y) ? a.index - b.index : missing(x) ? 1 : -1;
        const order = x < y ? -1 : x > y ? 1 : 0;
        return (descending ? -order : order) || a.index - b.index;
      });
      for (const th of head.children) {
        if (th.dataset.key === key) th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        else th.removeAttribute("aria-sort");
      }
      fill();
      if (options.onSorted) options.onSorted(key, descending);
    }

    for (const column of columns) {
      const th = el("th", { scope: "col", className: column.numeric ? "num" : "", "data-key": column.key });
      if (column.sortable === false) th.textContent = column.label;
      else {
        th.append(el("button", {
          type: "button", className: "sort", text: column.label,
          /* first click: largest first for numbers, A→Z for text; then it flips */
          onclick: () => sortBy(column.key, sortKey === column.key ? !descending : Boolean(column.numeric)),
        }));
      }
      head.append(th);
    }
    table.replaceChildren(el("caption", { className: "sr-only", text: options.caption }), el("thead", {}, head), body);
    if (options.sort) sortBy(options.sort.key, options.sort.descending);
    else fill();
    return { sortBy: sortBy, rows: () => rows.map((entry) => entry.row) };
  }

  window.PTSortableTable = PTSortableTable;
})();
