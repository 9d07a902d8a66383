// The logs and metrics APIs' `filter` object, edited as rows of "field operator value" and kept
// in the page's URL. Shape (README "Read the request logs"):
//   {"model": [{"key": "model", "value": "mock-main/echo", "operator": "EQ"}],
//    "metadata.customer_id": [{"key": "metadata.customer_id", "value": ["1", "2"], "operator": "IN"}]}
// In the URL an EQ condition is `field=value`, another operator `field:OP=value`, a list one
// repeated `field:IN=a&field:IN=b` parameter.
import { h, uid } from "./dom.js";

const STRING_FIELDS = ["model", "resolved_model", "provider_account", "user", "key_id", "team",
  "status", "error_code", "id"];
const NUMBER_FIELDS = ["created_at", "http_status", "input_tokens", "output_tokens",
  "total_tokens", "cost", "latency_ms", "ttft_ms"];
const OPERATORS = ["EQ", "NEQ", "LT", "LTE", "GT", "GTE", "IN", "NOT_IN", "CONTAINS"];
const LIST_OPERATORS = new Set(["IN", "NOT_IN"]);
const OPERATOR_LABELS = { EQ: "=", NEQ: "≠", CONTAINS: "contains", IN: "in", NOT_IN: "not in" };
const METADATA = "metadata";

function isFilterField(name) {
  return name.startsWith("metadata.") && name.length > 9 ||
    STRING_FIELDS.includes(name) || NUMBER_FIELDS.includes(name) || name === "stream";
}

function typed(field, text) {
  if (NUMBER_FIELDS.includes(field)) {
    const n = Number(text);
    return Number.isFinite(n) ? n : text;
  }
  if (field === "stream") return text === "true";
  return text;
}

function add(filter, field, operator, value) {
  (filter[field] ||= []).push({ key: field, value, operator });
}

// filter object -> {paramName: [values]} for setParams().
export function filtersToParams(filter) {
  const params = {};
  for (const [field, conditions] of Object.entries(filter || {})) {
    for (const { operator = "EQ", value } of conditions) {
      // A field whose own name ends like ":OP" always spells its operator out.
      const plain = operator === "EQ" && !/:[A-Z_]+$/.test(field);
      const name = plain ? field : `${field}:${operator}`;
      for (const one of Array.isArray(value) ? value : [value]) (params[name] ||= []).push(String(one));
    }
  }
  return params;
}

// URLSearchParams -> filter object; parameters that are not filters (period, sort...) are left.
export function filtersFromParams(params) {
  const filter = {};
  const lists = {};
  for (const [name, text] of params) {
    const colon = name.lastIndexOf(":");
    const suffix = colon > 0 ? name.slice(colon + 1) : "";
    const operator = OPERATORS.includes(suffix) ? suffix : "EQ";
    const field = OPERATORS.includes(suffix) ? name.slice(0, colon) : name;
    if (!isFilterField(field)) continue;
    if (LIST_OPERATORS.has(operator)) {
      const key = `${field}\u0000${operator}`;
      if (!lists[key]) {
        lists[key] = [];
        add(filter, field, operator, lists[key]);
      }
      lists[key].push(typed(field, text));
    } else {
      add(filter, field, operator, typed(field, text));
    }
  }
  return filter;
}

function rowsOf(filter) {
  const rows = [];
  for (const [field, conditions] of Object.entries(filter || {})) {
    for (const { operator = "EQ", value } of conditions) {
      const isMeta = field.startsWith("metadata.");
      rows.push({
        field: isMeta ? METADATA : field,
        metaKey: isMeta ? field.slice(9) : "",
        operator,
        value: Array.isArray(value) ? value.join(", ") : String(value),
      });
    }
  }
  return rows;
}

function filterOf(rows) {
  const filter = {};
  for (const row of rows) {
    const field = row.field === METADATA ? `metadata.${row.metaKey.trim()}` : row.field;
    const text = row.value.trim();
    if (!field || field === "metadata." || !text) continue; // an unfinished row
    if (LIST_OPERATORS.has(row.operator)) {
      const values = text.split(",").map((v) => v.trim()).filter(Boolean);
      add(filter, field, row.operator, values.map((v) => typed(field, v)));
    } else {
      add(filter, field, row.operator, typed(field, text));
    }
  }
  return filter;
}

function normalize(field) {
  return typeof field === "string" ? { name: field, label: field } : { label: field.name, ...field };
}

// fields: names or {name, label?, options?: [values] (a select), suggest?: [values] (a datalist)};
// a "metadata key" field with a free-typed key is always offered.
export function filterEditor({ fields = ["model", "user", "status"], value, onChange }) {
  const specs = fields.map(normalize);
  const byName = Object.fromEntries(specs.map((s) => [s.name, s]));
  let rows = rowsOf(value);
  const list = h("div", { class: "filter-rows" });
  // Enter in a value both commits it (change) and submits the form: report a filter once.
  let last = JSON.stringify(filterOf(rows));
  const emit = () => {
    const filter = filterOf(rows);
    const text = JSON.stringify(filter);
    if (text === last) return;
    last = text;
    onChange?.(filter);
  };

  function operatorsFor(row) {
    const spec = byName[row.field];
    return spec?.options ? ["EQ", "NEQ"] : ["EQ", "NEQ", "CONTAINS", "IN", "NOT_IN"];
  }

  function valueControl(row, id) {
    const spec = byName[row.field];
    const update = (event) => { row.value = event.target.value; };
    if (spec?.options) {
      if (!spec.options.includes(row.value)) row.value = spec.options[0];
      return h("select", { id, value: row.value, onchange: (e) => { update(e); emit(); } },
        spec.options.map((o) => h("option", { value: o }, o)));
    }
    const listId = spec?.suggest?.length ? uid("suggest") : null;
    return [
      h("input", {
        id, type: "text", value: row.value, list: listId, autocomplete: "off",
        placeholder: LIST_OPERATORS.has(row.operator) ? "a, b, c" : "value",
        oninput: update, onchange: emit,
      }),
      listId ? h("datalist", { id: listId }, spec.suggest.map((s) => h("option", { value: s }))) : null,
    ];
  }

  function rowElement(row, index) {
    const fieldId = uid("filter-field");
    const keyId = uid("filter-key");
    const opId = uid("filter-op");
    const valueId = uid("filter-value");
    const n = index + 1;
    const fieldSelect = h("select", {
      id: fieldId,
      value: row.field,
      onchange: (e) => { row.field = e.target.value; draw(); emit(); },
    }, specs.map((s) => h("option", { value: s.name }, s.label)),
    h("option", { value: METADATA }, "metadata key"));
    return h("div", { class: "filter-row", role: "group", "aria-label": `Filter ${n}` },
      h("label", { for: fieldId, class: "visually-hidden" }, `Filter ${n} field`), fieldSelect,
      row.field === METADATA ? [
        h("label", { for: keyId, class: "visually-hidden" }, `Filter ${n} metadata key`),
        h("input", {
          id: keyId, type: "text", value: row.metaKey, placeholder: "key", autocomplete: "off",
          class: "filter-key", oninput: (e) => { row.metaKey = e.target.value; }, onchange: emit,
        }),
      ] : null,
      h("label", { for: opId, class: "visually-hidden" }, `Filter ${n} operator`),
      h("select", {
        id: opId,
        value: row.operator,
        onchange: (e) => { row.operator = e.target.value; draw(); emit(); },
      }, operatorsFor(row).map((op) => h("option", { value: op }, OPERATOR_LABELS[op]))),
      h("label", { for: valueId, class: "visually-hidden" }, `Filter ${n} value`),
      valueControl(row, valueId),
      h("button", {
        type: "button", class: "icon-button", "aria-label": `Remove filter ${n}`, title: "Remove",
        onclick: () => { rows = rows.filter((r) => r !== row); draw(); emit(); },
      }, "✕"));
  }

  function draw() {
    for (const row of rows) if (!operatorsFor(row).includes(row.operator)) row.operator = "EQ";
    list.replaceChildren(...(rows.length
      ? rows.map(rowElement)
      : [h("p", { class: "hint" }, "No filters yet: add one to narrow the list.")]));
  }

  const addButton = h("button", {
    type: "button",
    onclick: () => {
      rows.push({ field: specs[0]?.name || METADATA, metaKey: "", operator: "EQ", value: "" });
      draw();
      list.lastElementChild?.querySelector("input, select:last-of-type")?.focus();
    },
  }, "Add filter");

  draw();
  return h("form", {
    class: "filter-editor",
    "aria-label": "Filters",
    onsubmit: (event) => { event.preventDefault(); emit(); },
  }, list, h("div", { class: "filter-actions" }, addButton, h("button", { type: "submit" }, "Apply")));
}
