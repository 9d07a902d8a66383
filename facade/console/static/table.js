// A sortable table: headers are buttons (keyboard reachable), the sorted column says so with
// aria-sort. Sorting is local by default; with onSort the caller sorts (a server-side page).
import { h } from "./dom.js";

const NEXT = { none: "ascending", ascending: "descending", descending: "ascending" };

function compare(a, b) {
  const empty = (v) => v === null || v === undefined || v === "";
  if (empty(a) || empty(b)) return empty(a) - empty(b); // missing values last either way
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

function sortRows(rows, sort) {
  if (!sort?.key) return [...rows];
  const sign = sort.dir === "descending" ? -1 : 1;
  return [...rows].sort((x, y) => {
    const a = x[sort.key];
    const b = y[sort.key];
    const order = compare(a, b);
    const bothPresent = ![a, b].some((v) => v === null || v === undefined || v === "");
    return bothPresent ? sign * order : order;
  });
}

function cell(column, row, tag = "td") {
  const value = row[column.key];
  const shown = column.format ? column.format(value, row) : value;
  const classes = [column.align === "right" ? "num" : column.align === "center" ? "center" : "",
    column.nowrap ? "nowrap" : ""].filter(Boolean).join(" ");
  return h(tag, { class: classes || null, "data-label": tag === "td" ? column.label : null },
    shown === null || shown === undefined || shown === "" ? "—" : shown);
}

// columns: [{key, label, align?, format?(value, row), sortable?, nowrap?}]; rows: plain objects.
// Options: sortable (default true), onRowClick(row), totals (an object like a row),
// sort {key, dir: "ascending"|"descending"} to start with, onSort({key, dir}) to sort elsewhere,
// caption (for screen readers), rowLabel(row) (an accessible name for a clickable row),
// stack (cards instead of a wide table on narrow screens).
// The element's sortedRows() gives the rows in the order shown (for an export).
export function table({ columns, rows, sortable = true, onRowClick, totals, sort, onSort, caption, rowLabel, stack = false }) {
  let state = sort ? { ...sort } : null;
  // stack: on a narrow screen each row becomes a card of "label value" lines (style.css).
  const wrap = h("div", { class: stack ? "table-wrap stack" : "table-wrap" });
  const shownRows = () => (onSort ? [...rows] : sortRows(rows, state));

  function header(column) {
    const current = state?.key === column.key ? state.dir : "none";
    const attrs = { scope: "col", class: column.align === "right" ? "num" : null };
    if (!sortable || column.sortable === false) return h("th", attrs, column.label);
    attrs["aria-sort"] = current;
    const indicator = current === "ascending" ? "▲" : current === "descending" ? "▼" : "↕";
    return h("th", attrs, h("button", {
      type: "button",
      class: "sort",
      onclick: () => {
        state = { key: column.key, dir: NEXT[current] };
        if (onSort) onSort({ ...state });
        render();
        wrap.querySelector(`th[aria-sort="${state.dir}"] button`)?.focus();
      },
    }, column.label, h("span", { class: "sort-indicator", "aria-hidden": "true" }, indicator)));
  }

  function bodyRow(row) {
    const cells = columns.map((column) => cell(column, row));
    if (!onRowClick) return h("tr", {}, cells);
    return h("tr", {
      class: "clickable",
      tabindex: 0,
      "aria-label": rowLabel ? rowLabel(row) : null,
      onclick: (event) => {
        if (event.target.closest("a, button")) return; // their own action
        onRowClick(row);
      },
      onkeydown: (event) => {
        if ((event.key === "Enter" || event.key === " ") && event.target === event.currentTarget) {
          event.preventDefault();
          onRowClick(row);
        }
      },
    }, cells);
  }

  function render() {
    const body = shownRows().map(bodyRow);
    const foot = totals
      ? h("tfoot", {}, h("tr", {}, columns.map((column, i) => {
        const td = cell(column, totals, i === 0 ? "th" : "td");
        if (i === 0 && (totals[column.key] === undefined || totals[column.key] === null)) td.textContent = "Total";
        if (i === 0) td.setAttribute("scope", "row");
        return td;
      })))
      : null;
    wrap.replaceChildren(h("table", {},
      caption ? h("caption", { class: "visually-hidden" }, caption) : null,
      h("thead", {}, h("tr", {}, columns.map(header))),
      h("tbody", {}, body),
      foot));
  }

  render();
  wrap.sortedRows = shownRows;
  return wrap;
}
