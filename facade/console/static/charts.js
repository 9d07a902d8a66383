// Time-series line charts drawn as our own SVG (the issue rules out copying a chart library
// into the repository, and one chart kind does not justify a declared JS dependency).
//
// A chart plots exactly the points it is given: `data-series` on the figure holds them as
// JSON, so a test can compare what is drawn with what the metrics API answered. Nothing is
// aggregated here; the only extra drawing is a line back to zero across empty buckets of an
// additive metric (no calls in a minute means 0 requests), which adds no point to the data.

import { h, svg } from "./ui.js";

const WIDTH_FALLBACK = 560;
const HEIGHT = 220;
const MARGIN = { top: 12, right: 14, bottom: 30 }; // the left one fits the value labels
// Ten hues that stay apart for the common kinds of colour blindness (Tableau 10 order);
// "other" is always grey so the folded groups never look like a real one.
const PALETTE = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#2f4b7c",
];
const OTHER_COLOR = "#8c8c8c";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Fixed bucket lengths; a month has none, so no zero-fill is drawn for it. */
export const INTERVAL_MS = { minute: MINUTE, hour: HOUR, day: DAY, week: 7 * DAY };
const TIME_STEPS = [
  MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
  DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY,
];

/** The colour of the i-th series (stable for a given order, grey for "other"). */
export function seriesColor(index, isOther) {
  return isOther ? OTHER_COLOR : PALETTE[index % PALETTE.length];
}

/**
 * A line chart of time series.
 *
 * @param {object} options
 * @param {string} options.title - heading, also the start of the accessible summary
 * @param {string} options.metric - machine name, put in `data-metric`
 * @param {{name: string, other?: boolean, points: [number, number|null][]}[]} options.series
 *   points are [bucket_start ms, value]; a null value is "not measured" and breaks the line
 * @param {[number, number]} options.domain - [start_time, end_time] of the query, in ms
 * @param {number|null} options.step - bucket length in ms, or null when not fixed (month)
 * @param {boolean} options.additive - whether a missing bucket means zero (counts, cost)
 * @param {(v: number) => string} options.format - value formatter for the tooltip and summary
 * @param {(v: number) => string} [options.axisFormat] - shorter formatter for the axis ticks
 * @param {AbortSignal} [options.signal] - stops watching the width when the page is left
 * @returns {HTMLElement} a <figure> that redraws itself when its width changes
 */
export function lineChart({ title, metric, series, domain, step, additive, format, axisFormat = format, signal }) {
  const tooltip = h("div", { class: "chart-tooltip", role: "status", "aria-live": "polite" });
  tooltip.hidden = true;
  const plot = h("div", {
    class: "chart-plot",
    tabindex: "0",
    role: "img",
    "aria-roledescription": "chart",
    "aria-label": summary(title, series, format),
  });
  const legend = h(
    "ul",
    { class: "chart-legend", "aria-label": `${title} legend` },
    ...series.map((s, i) =>
      h(
        "li",
        {},
        swatch(seriesColor(i, s.other)),
        h("span", { class: "chart-legend-name" }, s.name),
      ),
    ),
  );
  const figure = h(
    "figure",
    {
      class: "chart",
      "data-metric": metric,
      // What is plotted, as given: the tests compare it with the API's answer.
      "data-series": JSON.stringify(series.map((s) => ({ name: s.name, other: !!s.other, points: s.points }))),
    },
    h("figcaption", { class: "chart-title" }, title),
    plot,
    tooltip,
    series.length ? legend : h("p", { class: "chart-empty" }, "No calls in this period."),
  );

  // Every distinct bucket, in order: the positions the keyboard cursor steps through.
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  let cursor = -1;
  let geometry = null;

  function draw() {
    const width = Math.max(plot.clientWidth || WIDTH_FALLBACK, 240);
    geometry = layout(width, domain, series, additive, axisFormat);
    plot.replaceChildren(render(geometry, series, step, additive, axisFormat));
    if (cursor >= 0) showAt(cursor);
  }

  function showAt(index) {
    if (!xs.length || !geometry) return;
    cursor = Math.max(0, Math.min(xs.length - 1, index));
    const x = xs[cursor];
    const rows = series
      .map((s, i) => ({ s, i, point: s.points.find((p) => p[0] === x) }))
      .filter((r) => r.point);
    tooltip.replaceChildren(
      h("div", { class: "chart-tooltip-time" }, formatTime(x, "full")),
      ...rows.map((r) =>
        h(
          "div",
          { class: "chart-tooltip-row" },
          swatch(seriesColor(r.i, r.s.other)),
          h("span", { class: "chart-tooltip-name" }, r.s.name),
          h("span", { class: "chart-tooltip-value" }, r.point[1] == null ? "–" : format(r.point[1])),
        ),
      ),
    );
    tooltip.hidden = false;
    const px = geometry.x(x);
    // Keep the box inside the figure: flip it to the left of the cursor past mid-width.
    const left = px > geometry.width / 2 ? px - 12 : px + 12;
    tooltip.style.left = `${left + plot.offsetLeft}px`;
    tooltip.style.transform = px > geometry.width / 2 ? "translateX(-100%)" : "none";
    tooltip.style.top = `${MARGIN.top + plot.offsetTop}px`;
    const guide = plot.querySelector(".chart-guide");
    if (guide) {
      guide.setAttribute("x1", px);
      guide.setAttribute("x2", px);
      guide.setAttribute("visibility", "visible");
    }
  }

  function hide() {
    cursor = -1;
    tooltip.hidden = true;
    const guide = plot.querySelector(".chart-guide");
    if (guide) guide.setAttribute("visibility", "hidden");
  }

  plot.addEventListener("pointermove", (event) => {
    if (!xs.length || !geometry) return;
    const rect = plot.getBoundingClientRect();
    const t = geometry.xInverse(event.clientX - rect.left);
    showAt(nearest(xs, t));
  });
  plot.addEventListener("pointerleave", () => {
    if (document.activeElement !== plot) hide();
  });
  plot.addEventListener("focus", () => showAt(cursor >= 0 ? cursor : xs.length - 1));
  plot.addEventListener("blur", hide);
  plot.addEventListener("keydown", (event) => {
    const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowDown: -1, ArrowUp: 1 };
    if (event.key in moves) showAt(cursor + moves[event.key]);
    else if (event.key === "Home") showAt(0);
    else if (event.key === "End") showAt(xs.length - 1);
    else if (event.key === "Escape") hide();
    else return;
    event.preventDefault();
  });

  // Redraw at the real width (text stays readable at 390 px, which a scaled viewBox is not).
  let lastWidth = 0;
  const observer = new ResizeObserver(() => {
    if (plot.clientWidth && plot.clientWidth !== lastWidth) {
      lastWidth = plot.clientWidth;
      draw();
    }
  });
  observer.observe(plot);
  signal?.addEventListener("abort", () => observer.disconnect());
  draw();
  return figure;
}

function swatch(color) {
  const el = h("span", { class: "chart-swatch", "aria-hidden": "true" });
  el.style.background = color; // CSSOM, allowed by the CSP (a style attribute would not be)
  return el;
}

function layout(width, domain, series, additive, axisFormat) {
  const [t0, t1raw] = domain;
  const t1 = t1raw > t0 ? t1raw : t0 + 1;
  const values = series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => v != null);
  let max = values.length ? Math.max(...values) : 0;
  if (additive || max > 0) max = Math.max(max, 0);
  const ticks = niceTicks(0, max > 0 ? max : 1, 4);
  const top = ticks[ticks.length - 1];
  // Room for the longest value label ("$0.00025"), at about 6.6 px a character of 11 px text.
  const longest = Math.max(...ticks.map((v) => axisFormat(v).length));
  const left = Math.min(96, Math.max(32, Math.ceil(longest * 6.6) + 12));
  const innerW = width - left - MARGIN.right;
  const innerH = HEIGHT - MARGIN.top - MARGIN.bottom;
  return {
    width,
    t0,
    t1,
    yTicks: ticks,
    left,
    x: (t) => left + ((t - t0) / (t1 - t0)) * innerW,
    xInverse: (px) => t0 + ((px - left) / innerW) * (t1 - t0),
    y: (v) => MARGIN.top + innerH - (v / top) * innerH,
    innerW,
    innerH,
  };
}

function render(g, series, step, additive, format) {
  const root = svg("svg", {
    width: g.width,
    height: HEIGHT,
    viewBox: `0 0 ${g.width} ${HEIGHT}`,
    "aria-hidden": "true", // the wrapper's aria-label and the tooltip speak for it
    focusable: "false",
  });
  const bottom = MARGIN.top + g.innerH;
  // Y axis: grid lines with value ticks.
  for (const v of g.yTicks) {
    const y = g.y(v);
    root.append(
      svg("line", { class: "chart-grid", x1: g.left, x2: g.width - MARGIN.right, y1: y, y2: y }),
      svg("text", { class: "chart-tick", x: g.left - 6, y: y + 4, "text-anchor": "end" }, format(v)),
    );
  }
  // X axis: time ticks on round UTC multiples, as many as fit.
  root.append(svg("line", { class: "chart-axis", x1: g.left, x2: g.width - MARGIN.right, y1: bottom, y2: bottom }));
  const xTicks = timeTicks(g.t0, g.t1, Math.max(2, Math.floor(g.innerW / 90)));
  for (const t of xTicks.ticks) {
    const x = g.x(t);
    // A label near the right edge ends at its tick instead of being cut by the box.
    const anchor = x > g.width - MARGIN.right - 30 ? "end" : "middle";
    root.append(
      svg("line", { class: "chart-axis", x1: x, x2: x, y1: bottom, y2: bottom + 4 }),
      svg("text", { class: "chart-tick", x, y: bottom + 17, "text-anchor": anchor }, formatTime(t, xTicks.style)),
    );
  }
  series.forEach((s, i) => {
    const color = seriesColor(i, s.other);
    for (const run of segments(s.points, step, additive)) {
      const d = run.map(([t, v], j) => `${j ? "L" : "M"}${g.x(t).toFixed(1)},${g.y(v).toFixed(1)}`).join("");
      root.append(svg("path", { class: "chart-line", d, fill: "none", stroke: color, "stroke-width": 2 }));
    }
    for (const [t, v] of s.points) {
      if (v == null) continue;
      root.append(svg("circle", { class: "chart-point", cx: g.x(t), cy: g.y(v), r: 2.5, fill: color }));
    }
  });
  root.append(
    svg("line", { class: "chart-guide", x1: 0, x2: 0, y1: MARGIN.top, y2: bottom, visibility: "hidden" }),
  );
  return root;
}

/** The drawn polylines of one series: additive ones fall to zero across empty buckets,
 * others break there (no measurement is not a measurement of zero). */
function segments(points, step, additive) {
  const runs = [];
  let run = [];
  let previous = null;
  for (const [t, v] of points) {
    if (v == null) {
      if (run.length) runs.push(run);
      run = [];
      previous = null;
      continue;
    }
    if (previous && step && t - previous[0] > step) {
      if (additive) {
        run.push([previous[0] + step, 0]);
        if (t - step > previous[0] + step) run.push([t - step, 0]);
      } else {
        runs.push(run);
        run = [];
      }
    }
    run.push([t, v]);
    previous = [t, v];
  }
  if (run.length) runs.push(run);
  return runs;
}

function summary(title, series, format) {
  if (!series.length) return `${title}: no calls in this period.`;
  const parts = series.map((s) => {
    const measured = s.points.filter((p) => p[1] != null);
    if (!measured.length) return `${s.name}: no data`;
    const peak = measured.reduce((a, b) => (b[1] > a[1] ? b : a));
    return `${s.name}: ${measured.length} points, peak ${format(peak[1])} at ${formatTime(peak[0], "full")}`;
  });
  return `${title}, ${series.length} series. ${parts.join("; ")}. Focus and use the arrow keys to read each point.`;
}

function nearest(sorted, t) {
  let best = 0;
  for (let i = 1; i < sorted.length; i++) {
    if (Math.abs(sorted[i] - t) < Math.abs(sorted[best] - t)) best = i;
  }
  return best;
}

/** Round value ticks from `lo` to at least `hi` (1, 2, 2.5 or 5 times a power of ten). */
export function niceTicks(lo, hi, count) {
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks = [];
  for (let v = Math.floor(lo / step) * step; v < hi + step * 0.999; v += step) {
    ticks.push(Number(v.toPrecision(12)));
    if (v >= hi) break;
  }
  return ticks;
}

function timeTicks(t0, t1, maxTicks) {
  const step = TIME_STEPS.find((s) => (t1 - t0) / s <= maxTicks) ?? TIME_STEPS[TIME_STEPS.length - 1];
  const ticks = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) ticks.push(t);
  const style = step >= DAY ? "date" : t1 - t0 > DAY ? "datetime" : "time";
  return { ticks, style };
}

const FORMATS = {
  time: new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" }),
  date: new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" }),
  datetime: new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }),
  full: new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
  }),
};

/** A time in the browser's zone, in one of the styles above. */
export function formatTime(ms, style) {
  return FORMATS[style].format(new Date(ms));
}

/** Short numbers for axes: 1.2k, 3.4M; small values keep their significant digits. */
export function compactNumber(v) {
  if (v === 0) return "0";
  const abs = Math.abs(v);
  if (abs >= 1e9) return `${trim(v / 1e9)}B`;
  if (abs >= 1e6) return `${trim(v / 1e6)}M`;
  if (abs >= 1e3) return `${trim(v / 1e3)}k`;
  if (abs >= 1) return trim(v);
  return String(Number(v.toPrecision(2)));
}

function trim(v) {
  return String(Number(v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)));
}
