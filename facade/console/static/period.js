// The period a page looks at: a preset ("last 24 hours", always ending now) or a fixed range.
// value: {preset: "1h"|"24h"|"7d"|"30d"} or {from, to} in epoch ms.
import { h, uid } from "./dom.js";
import { toLocalInput } from "./format.js";

const HOUR = 3600 * 1000;
export const PRESETS = {
  "1h": { label: "Last 1 hour", ms: HOUR },
  "24h": { label: "Last 24 hours", ms: 24 * HOUR },
  "7d": { label: "Last 7 days", ms: 7 * 24 * HOUR },
  "30d": { label: "Last 30 days", ms: 30 * 24 * HOUR },
};
const DEFAULT = { preset: "24h" };

// {start_time, end_time} in epoch ms, as the metrics and logs APIs take them.
export function periodRange(value, now = Date.now()) {
  if (value && Number.isFinite(value.from) && Number.isFinite(value.to)) {
    return { start_time: value.from, end_time: value.to };
  }
  const preset = PRESETS[value?.preset] || PRESETS[DEFAULT.preset];
  return { start_time: now - preset.ms, end_time: now };
}

// The URL form: {period: "24h"} or {from, to}.
export function periodToParams(value) {
  if (value && Number.isFinite(value.from) && Number.isFinite(value.to)) {
    return { from: String(value.from), to: String(value.to) };
  }
  return { period: PRESETS[value?.preset] ? value.preset : DEFAULT.preset };
}

export function periodFromParams(params, fallback = DEFAULT) {
  const from = Number(params.get("from"));
  const to = Number(params.get("to"));
  if (params.has("from") && params.has("to") && Number.isFinite(from) && Number.isFinite(to) && from < to) {
    return { from, to };
  }
  const preset = params.get("period");
  return PRESETS[preset] ? { preset } : { ...fallback };
}

function parseLocal(text) {
  const ms = text ? new Date(text).getTime() : NaN;
  return Number.isFinite(ms) ? ms : null;
}

// A select of presets plus "Custom range", which shows two datetime-local inputs.
export function periodPicker({ value = DEFAULT, onChange }) {
  let current = value;
  const selectId = uid("period");
  const fromId = uid("period-from");
  const toId = uid("period-to");
  const isCustom = () => !current.preset;

  const from = h("input", { type: "datetime-local", id: fromId, onchange: changeRange });
  const to = h("input", { type: "datetime-local", id: toId, onchange: changeRange });
  const custom = h("span", { class: "period-custom", hidden: !isCustom() },
    h("label", { for: fromId }, "From"), from, h("label", { for: toId }, "To"), to);

  function fillInputs() {
    const range = periodRange(current);
    from.value = toLocalInput(range.start_time);
    to.value = toLocalInput(range.end_time);
  }

  function changeRange() {
    const start = parseLocal(from.value);
    const end = parseLocal(to.value);
    const valid = start !== null && end !== null && start < end;
    for (const input of [from, to]) input.setAttribute("aria-invalid", String(!valid));
    if (!valid) return;
    current = { from: start, to: end };
    onChange?.(current);
  }

  const select = h("select", {
    id: selectId,
    value: isCustom() ? "custom" : current.preset,
    onchange: () => {
      if (select.value === "custom") {
        fillInputs(); // start from the range on screen
        custom.hidden = false;
        changeRange();
      } else {
        custom.hidden = true;
        current = { preset: select.value };
        onChange?.(current);
      }
    },
  },
  Object.entries(PRESETS).map(([key, preset]) => h("option", { value: key }, preset.label)),
  h("option", { value: "custom" }, "Custom range"));

  if (isCustom()) fillInputs();
  return h("div", { class: "period", role: "group", "aria-label": "Period" },
    h("label", { for: selectId }, "Period"), select, custom);
}
