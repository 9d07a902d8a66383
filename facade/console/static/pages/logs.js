// Request logs: a paged table sorted by the log API, with its filters (period, model, user,
// status, metadata key = value, several at once) kept in the URL. A row opens #/logs/<id>.
import {
  chips, empty, errorBox, filterEditor, mount, filtersFromParams, filtersToParams, fmt, h, loading,
  periodFromParams, periodPicker, periodRange, periodToParams, table,
} from "../ui.js";
import { isAbort } from "../api.js";

export const LOGS_API = "/api/svc/v1/llm-gateway/requests";
const PAGE_SIZES = [25, 50, 100];
const DEFAULT_SORT = { key: "created_at", dir: "descending" };
const EDITABLE = (field) => ["model", "user", "status"].includes(field) || field.startsWith("metadata.");

function parseSort(text) {
  const [key, order] = (text || "").split(":");
  if (!key) return { ...DEFAULT_SORT };
  return { key, dir: order === "asc" ? "ascending" : "descending" };
}

function split(filter) {
  const edited = {};
  const other = {};
  for (const [field, conditions] of Object.entries(filter)) {
    (EDITABLE(field) ? edited : other)[field] = conditions;
  }
  return { edited, other };
}

function statusBadge(record) {
  const ok = record.status === "success";
  return h("span", { class: `badge ${ok ? "badge-success" : "badge-error"}` },
    ok ? "success" : `error ${record.http_status || ""}`.trim());
}

function modelCell(record) {
  const resolved = record.resolved_model;
  if (!resolved || resolved === record.model) return record.model;
  return h("span", {}, record.model, h("span", { class: "resolved" }, ` → ${resolved}`));
}

export function rowOf(record) {
  return {
    id: record.id,
    created_at: record.created_at,
    model: record.model,
    user: record.user,
    status: record.status,
    input_tokens: record.usage?.input_tokens ?? null,
    output_tokens: record.usage?.output_tokens ?? null,
    cost: record.cost,
    latency_ms: record.latency_ms,
    ttft_ms: record.ttft_ms,
    metadata: record.metadata,
    record,
  };
}

const COLUMNS = [
  {
    key: "created_at",
    label: "Time",
    nowrap: true,
    format: (v, row) => h("a", { href: `#/logs/${encodeURIComponent(row.id)}` }, fmt.time(v)),
  },
  { key: "model", label: "Model → resolved", format: (v, row) => modelCell(row.record) },
  { key: "user", label: "User" },
  { key: "status", label: "Status", format: (v, row) => statusBadge(row.record) },
  { key: "input_tokens", label: "Tokens in", align: "right", format: fmt.int },
  { key: "output_tokens", label: "Tokens out", align: "right", format: fmt.int },
  { key: "cost", label: "Cost", align: "right", format: fmt.cost },
  { key: "latency_ms", label: "Latency", align: "right", format: fmt.ms },
  { key: "ttft_ms", label: "TTFT", align: "right", format: fmt.ms },
  { key: "metadata", label: "Metadata", sortable: false, format: (v) => chips(v) },
];

async function modelIds(api, signal) {
  try {
    const models = await api.get("/v1/models", undefined, { signal });
    return models.data.map((m) => m.id);
  } catch {
    return []; // only suggestions: the page works without them
  }
}

export async function render(view) {
  const { root, api, params, signal } = view;
  let period = periodFromParams(params);
  let { edited, other } = split(filtersFromParams(params));
  let sort = parseSort(params.get("sort"));
  let limit = PAGE_SIZES.includes(Number(params.get("limit"))) ? Number(params.get("limit")) : PAGE_SIZES[0];
  let offset = Math.max(0, Number.parseInt(params.get("offset") || "0", 10) || 0);
  let loads = 0;
  let refocusSort = false;

  const results = h("div", { class: "log-results" });
  const summary = h("p", { class: "hint", role: "status", "aria-live": "polite" });

  function remember() {
    view.setParams({
      ...periodToParams(period),
      ...filtersToParams({ ...other, ...edited }),
      sort: sort.key === DEFAULT_SORT.key && sort.dir === DEFAULT_SORT.dir
        ? null : `${sort.key}:${sort.dir === "ascending" ? "asc" : "desc"}`,
      limit: limit === PAGE_SIZES[0] ? null : limit,
      offset: offset || null,
    });
    if (!signal.aborted) view.shared.logsListHash = location.hash; // the detail's way back
  }

  function query() {
    const range = periodRange(period);
    const filter = { ...other, ...edited };
    filter.created_at = [
      ...(filter.created_at || []),
      { key: "created_at", value: range.start_time, operator: "GTE" },
      { key: "created_at", value: range.end_time, operator: "LT" },
    ];
    return {
      filter,
      sort: [{ key: sort.key, order: sort.dir === "ascending" ? "ASC" : "DESC" }],
      limit,
      offset,
    };
  }

  function pager(pagination, shown) {
    const { total } = pagination;
    const sizeSelect = h("select", {
      id: "log-page-size",
      value: String(limit),
      onchange: (e) => { limit = Number(e.target.value); offset = 0; load(); },
    }, PAGE_SIZES.map((n) => h("option", { value: String(n) }, String(n))));
    return h("nav", { class: "pager", "aria-label": "Pages" },
      h("button", {
        type: "button", disabled: offset === 0,
        onclick: () => { offset = Math.max(0, offset - limit); load(); },
      }, "Previous"),
      h("span", {}, `${fmt.int(offset + 1)}–${fmt.int(offset + shown)} of ${fmt.int(total)}`),
      h("button", {
        type: "button", disabled: offset + shown >= total,
        onclick: () => { offset += limit; load(); },
      }, "Next"),
      h("label", { for: "log-page-size" }, "Per page"), sizeSelect);
  }

  async function load() {
    const mine = ++loads;
    remember();
    results.replaceChildren(loading("Loading requests…"));
    let page;
    try {
      page = await api.post(LOGS_API, query(), { signal });
    } catch (err) {
      if (isAbort(err) || mine !== loads || err.status === 401) return;
      summary.textContent = "";
      results.replaceChildren(errorBox(err));
      return;
    }
    if (mine !== loads) return; // a newer query is on its way
    const rows = page.data.map(rowOf);
    summary.textContent = `${fmt.int(page.pagination.total)} requests`;
    if (!rows.length) {
      results.replaceChildren(empty(offset
        ? "No more requests on this page."
        : "No requests match these filters in this period."));
      if (offset) results.append(pager(page.pagination, 0));
      return;
    }
    results.replaceChildren(
      table({
        columns: COLUMNS,
        rows,
        sort,
        caption: "Requests",
        stack: true,
        onSort: (next) => { sort = next; offset = 0; refocusSort = true; load(); },
        onRowClick: (row) => view.navigate(`#/logs/${encodeURIComponent(row.id)}`),
        rowLabel: (row) => `Request ${row.id}`,
      }),
      pager(page.pagination, rows.length),
    );
    if (refocusSort) {
      // The table was rebuilt with the new order: keep the keyboard on the header it used.
      refocusSort = false;
      results.querySelector('th[aria-sort="ascending"] button, th[aria-sort="descending"] button')?.focus();
    }
  }

  const models = await modelIds(api, signal);
  if (signal.aborted) return;
  const otherNote = Object.keys(other).length
    ? h("p", { class: "hint" }, "Also filtered by: ",
      Object.entries(filtersToParams(other)).map(([name, values]) => `${name} = ${values.join(", ")}`).join("; "))
    : null;

  mount(root,
    h("div", { class: "toolbar" },
      h("h1", {}, "Request logs"),
      h("span", { class: "spacer" }),
      periodPicker({ value: period, onChange: (value) => { period = value; offset = 0; load(); } }),
      h("button", { type: "button", onclick: () => load() }, "Refresh")),
    h("div", { class: "panel" },
      filterEditor({
        fields: [
          { name: "model", suggest: models },
          "user",
          { name: "status", options: ["success", "error"] },
        ],
        value: edited,
        onChange: (value) => { edited = value; offset = 0; load(); },
      }),
      otherNote),
    summary,
    results,
  );
  await load();
}
