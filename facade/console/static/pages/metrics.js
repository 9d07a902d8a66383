// Metrics: charts and a table of the metrics query API for a period, filters and a grouping.
//
// Two queries per view, both straight from POST /metrics/query: `interval: "auto"` for the
// charts (one series per group) and `interval: null` for the table (one row per group, plus
// the API's totals). Nothing the API answers is recomputed here; the only derived number is
// the error rate, errors / requests of a point or row.
//
// The whole view lives in the URL (period, filters, group), so a link reopens the same view.
import {
  download, empty, errorBox, filterEditor, filtersFromParams, filtersToParams, fmt, h, loading,
  periodFromParams, periodPicker, periodRange, periodToParams, table, toCsv, uid,
} from "../ui.js";
import { compactNumber, INTERVAL_MS, lineChart } from "../charts.js";

const QUERY_PATH = "/api/svc/v1/llm-gateway/metrics/query";
const METADATA = "metadata";
const DEFAULT_GROUP = "model";
const NO_GROUP = "none"; // "no grouping" in the URL (an empty parameter would be dropped)
// What a user groups by most; any other metadata key is typed in.
const GROUPS = [
  ["", "Nothing (all calls)"],
  ["model", "Model"],
  ["user", "User"],
  ["provider_account", "Provider account"],
  ["resolved_model", "Resolved model"],
  ["team", "Team"],
  ["status", "Status"],
  [METADATA, "Metadata key…"],
];
const FILTER_FIELDS = [
  { name: "model", label: "model" },
  { name: "user", label: "user" },
  { name: "status", label: "status", options: ["success", "error"] },
  { name: "provider_account", label: "provider account" },
];

const percent = (v) => (v == null ? "—" : `${Number((v * 100).toPrecision(3))}%`);
const axisCost = (v) => (v === 0 ? "$0" : `$${Number(v.toPrecision(2))}`);
const axisMs = (v) => (v >= 1000 ? `${Number((v / 1000).toPrecision(3))} s` : `${Number(v.toPrecision(3))} ms`);
const errorRate = (r) => (r.requests ? r.errors / r.requests : null);
const percentile = (name, p) => (r) => r[name]?.[p] ?? null;

// One chart per figure the issue lists. `additive`: a bucket without calls counts as zero.
const CHARTS = [
  { metric: "requests", title: "Requests", value: (r) => r.requests, additive: true, axis: compactNumber, tip: fmt.int },
  { metric: "input_tokens", title: "Input tokens", value: (r) => r.input_tokens, additive: true, axis: compactNumber, tip: fmt.int },
  { metric: "output_tokens", title: "Output tokens", value: (r) => r.output_tokens, additive: true, axis: compactNumber, tip: fmt.int },
  { metric: "cost", title: "Cost (USD)", value: (r) => r.cost, additive: true, axis: axisCost, tip: fmt.cost },
  { metric: "error_rate", title: "Error rate", value: errorRate, additive: false, axis: percent, tip: percent },
  { metric: "latency_p50", title: "Latency p50", value: percentile("latency_ms", "p50"), additive: false, axis: axisMs, tip: fmt.ms },
  { metric: "latency_p99", title: "Latency p99", value: percentile("latency_ms", "p99"), additive: false, axis: axisMs, tip: fmt.ms },
  { metric: "ttft_p50", title: "Time to first token p50", value: percentile("ttft_ms", "p50"), additive: false, axis: axisMs, tip: fmt.ms },
  { metric: "ttft_p99", title: "Time to first token p99", value: percentile("ttft_ms", "p99"), additive: false, axis: axisMs, tip: fmt.ms },
];

// The table's figures, flattened from the API's row (percentiles are nested objects there).
const FIGURES = [
  { key: "requests", label: "Requests", align: "right", format: fmt.int, from: (r) => r.requests },
  { key: "errors", label: "Errors", align: "right", format: fmt.int, from: (r) => r.errors },
  { key: "error_rate", label: "Error rate", align: "right", format: percent, from: errorRate },
  { key: "input_tokens", label: "Input tokens", align: "right", format: fmt.int, from: (r) => r.input_tokens },
  { key: "output_tokens", label: "Output tokens", align: "right", format: fmt.int, from: (r) => r.output_tokens },
  { key: "cost", label: "Cost (USD)", align: "right", format: fmt.cost, from: (r) => r.cost },
  { key: "latency_p50", label: "Latency p50", align: "right", format: fmt.ms, from: percentile("latency_ms", "p50") },
  { key: "latency_p99", label: "Latency p99", align: "right", format: fmt.ms, from: percentile("latency_ms", "p99") },
  { key: "ttft_p50", label: "TTFT p50", align: "right", format: fmt.ms, from: percentile("ttft_ms", "p50") },
  { key: "ttft_p99", label: "TTFT p99", align: "right", format: fmt.ms, from: percentile("ttft_ms", "p99") },
];

/** The group field named by the URL: a known one, `metadata.<key>`, or "" (no grouping). */
function groupFromParams(params) {
  if (!params.has("group")) return DEFAULT_GROUP;
  const group = params.get("group").trim();
  if (group === NO_GROUP) return "";
  if (group.startsWith("metadata.") && group.length > 9) return group;
  return GROUPS.some(([value]) => value === group && value !== METADATA) ? group : DEFAULT_GROUP;
}

/** A group's display name: its value, "(none)" where calls had none, "other" for the fold. */
function groupLabel(row, group) {
  if (row.other) return "other";
  if (!group) return "all calls";
  const value = row[group];
  return value === null || value === undefined ? "(none)" : String(value);
}

export async function render(view) {
  const { root, api, params, setParams, signal } = view;
  const state = {
    period: periodFromParams(params),
    filter: filtersFromParams(params),
    group: groupFromParams(params),
  };
  // Each load has its own AbortController, aborted by the next load or by leaving the page:
  // a slow answer for an old view never lands, and its charts stop watching their size.
  let current = null;

  const chartsArea = h("div", { class: "metrics-charts", "aria-live": "polite", "aria-busy": "false" });
  const tableArea = h("div", { class: "metrics-table" });
  const exportButton = h("button", { type: "button", disabled: true }, "Export CSV");
  const summary = h("p", { class: "hint metrics-summary" });
  // A preset period ends "now": Refresh asks again with the current time (the URL is unchanged).
  const refreshButton = h("button", { type: "button", onclick: () => load() }, "Refresh");

  function saveUrl() {
    setParams({
      ...periodToParams(state.period),
      group: state.group || NO_GROUP,
      ...filtersToParams(state.filter),
    });
  }

  root.append(
    h("h1", {}, "Metrics"),
    h("section", { class: "metrics-controls", "aria-label": "What to show" },
      periodPicker({ value: state.period, onChange: (value) => { state.period = value; reload(); } }),
      groupControl(state.group, (group) => { state.group = group; reload(); }),
      filterEditor({ fields: FILTER_FIELDS, value: state.filter, onChange: (filter) => { state.filter = filter; reload(); } })),
    h("div", { class: "metrics-status" }, summary, refreshButton),
    h("section", { class: "metrics-section", "aria-labelledby": "metrics-charts-title" },
      h("h2", { id: "metrics-charts-title" }, "Over time"),
      chartsArea),
    h("section", { class: "metrics-section", "aria-labelledby": "metrics-table-title" },
      h("div", { class: "metrics-table-head" },
        h("h2", { id: "metrics-table-title" }, "Table"),
        exportButton),
      tableArea),
  );

  let exportCsv = null;
  exportButton.addEventListener("click", () => exportCsv?.());

  function reload() {
    saveUrl();
    return load();
  }

  async function load() {
    current?.abort();
    const mine = new AbortController();
    current = mine;
    const stop = () => mine.abort();
    signal.addEventListener("abort", stop, { once: true });
    mine.signal.addEventListener("abort", () => signal.removeEventListener("abort", stop), { once: true });
    const range = periodRange(state.period);
    const base = { ...range, filter: state.filter, group_by: state.group ? [state.group] : [] };
    const chartQuery = { ...base, interval: "auto" };
    const tableQuery = { ...base, interval: null };
    // The exact queries, for whoever reads the page (a test compares them with the API).
    chartsArea.dataset.query = JSON.stringify(chartQuery);
    tableArea.dataset.query = JSON.stringify(tableQuery);
    chartsArea.setAttribute("aria-busy", "true");
    chartsArea.replaceChildren(loading("Loading charts…"));
    tableArea.replaceChildren(loading("Loading the table…"));
    exportButton.disabled = true;
    exportCsv = null;
    summary.textContent = "";
    let charts;
    let totals;
    try {
      [charts, totals] = await Promise.all([
        api.post(QUERY_PATH, chartQuery, { signal: mine.signal }),
        api.post(QUERY_PATH, tableQuery, { signal: mine.signal }),
      ]);
    } catch (err) {
      if (mine.signal.aborted) return;
      chartsArea.setAttribute("aria-busy", "false");
      chartsArea.replaceChildren(errorBox(err));
      tableArea.replaceChildren();
      return;
    }
    if (mine.signal.aborted) return;
    chartsArea.setAttribute("aria-busy", "false");
    summary.textContent = describe(totals, state.group);
    if (!totals.totals.requests) {
      chartsArea.replaceChildren(empty("No calls in this period with these filters."));
      tableArea.replaceChildren(empty("Nothing to tabulate."));
      return;
    }
    chartsArea.replaceChildren(...chartFigures(charts, state.group, mine.signal));
    const built = tableOf(totals, state.group);
    tableArea.replaceChildren(built.element);
    exportButton.disabled = false;
    exportCsv = () => {
      const rows = [...built.element.sortedRows(), { ...built.totals, group: "Total" }];
      const stamp = new Date(totals.start_time).toISOString().slice(0, 16).replace(":", "");
      download(`metrics-${state.group || "all"}-${stamp}.csv`, toCsv(built.csvColumns, rows), "text/csv");
    };
  }

  // The URL is written on a change only: a link without parameters means the defaults, and
  // writing it now could overwrite a newer address the user went to while this page loaded.
  await load();
}

/** A select of groupings, with a free-typed key for "Metadata key…". */
function groupControl(initial, onChange) {
  const selectId = uid("group");
  const keyId = uid("group-key");
  const isMeta = initial.startsWith("metadata.");
  const keyInput = h("input", {
    id: keyId,
    type: "text",
    class: "metrics-group-key",
    placeholder: "customer_id",
    autocomplete: "off",
    spellcheck: "false",
    value: isMeta ? initial.slice(9) : "",
  });
  const keyLabel = h("label", { for: keyId }, "Metadata key");
  const keyForm = h("form", {
    class: "metrics-group-meta",
    hidden: !isMeta,
    onsubmit: (event) => {
      event.preventDefault();
      const key = keyInput.value.trim();
      keyInput.setAttribute("aria-invalid", String(!key));
      if (key) onChange(`metadata.${key}`);
    },
  }, keyLabel, keyInput, h("button", { type: "submit" }, "Group"));
  const select = h("select", {
    id: selectId,
    value: isMeta ? METADATA : initial,
    onchange: () => {
      keyForm.hidden = select.value !== METADATA;
      if (select.value === METADATA) {
        keyInput.focus();
        if (keyInput.value.trim()) onChange(`metadata.${keyInput.value.trim()}`);
      } else {
        onChange(select.value);
      }
    },
  }, GROUPS.map(([value, label]) => h("option", { value }, label)));
  return h("div", { class: "metrics-group", role: "group", "aria-label": "Grouping" },
    h("label", { for: selectId }, "Group by"), select, keyForm);
}

function describe(answer, group) {
  const t = answer.totals;
  const by = group ? `, grouped by ${group}` : "";
  return `${fmt.int(t.requests)} requests, ${fmt.int(t.errors)} errors, ${fmt.cost(t.cost)} from ` +
    `${fmt.time(answer.start_time)} to ${fmt.time(answer.end_time)}${by}.`;
}

/** One figure per chart; a series per group, in the API's order ("other" last). */
function chartFigures(answer, group, signal) {
  const groups = new Map();
  for (const row of answer.rows) {
    const id = row.other ? "\u0000other" : JSON.stringify(group ? row[group] ?? null : "");
    if (!groups.has(id)) groups.set(id, { name: groupLabel(row, group), other: !!row.other, rows: [] });
    groups.get(id).rows.push(row);
  }
  const step = INTERVAL_MS[answer.interval] ?? null;
  const domain = [answer.start_time, answer.end_time];
  const by = group ? ` by ${group}` : "";
  return CHARTS.map((chart) => lineChart({
    title: `${chart.title}${by}`,
    metric: chart.metric,
    series: [...groups.values()].map((g) => ({
      name: g.name,
      other: g.other,
      points: g.rows.map((r) => [r.bucket_start, chart.value(r)]),
    })),
    domain,
    step,
    additive: chart.additive,
    format: (v) => chart.tip(v),
    axisFormat: chart.axis,
    signal,
  }));
}

/** The sortable table of the `interval: null` answer, with the API's totals in its footer. */
function tableOf(answer, group) {
  const flatten = (r) => Object.fromEntries(FIGURES.map((f) => [f.key, f.from(r)]));
  const rows = answer.rows.map((r) => ({ group: groupLabel(r, group), ...flatten(r) }));
  const totals = flatten(answer.totals);
  const label = group || "Calls";
  const columns = [{ key: "group", label }, ...FIGURES.map(({ key, label: l, align, format }) => ({ key, label: l, align, format }))];
  const element = table({
    columns,
    rows,
    sortable: true,
    totals: { ...totals, group: "Total" },
    sort: { key: "requests", dir: "descending" },
    caption: `Metrics${group ? ` by ${group}` : ""}, one row per group, totals last`,
  });
  // CSV: raw numbers (not the formatted text), the group under its field name.
  const csvColumns = [{ key: "group", label: group || "group" }, ...FIGURES.map(({ key }) => ({ key, label: key }))];
  return { element, totals, csvColumns };
}
