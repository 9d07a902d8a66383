// How numbers, money, durations and times read in every page; "—" where there is no value.
const NONE = "—";
const integers = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
// Six significant digits and never an exponent: $0.000123, $1.23457, $1,234.57.
const dollars = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 6 });
const pad = (n, width = 2) => String(n).padStart(width, "0");

function missing(value) {
  return value === null || value === undefined || value === "" || Number.isNaN(Number(value));
}

export const fmt = {
  int: (n) => (missing(n) ? NONE : integers.format(Number(n))),
  cost: (d) => (missing(d) ? NONE : `$${dollars.format(Number(d))}`),
  ms(ms) {
    if (missing(ms)) return NONE;
    const n = Number(ms);
    if (n >= 1000) return `${(n / 1000).toFixed(2)} s`;
    if (n >= 100) return `${Math.round(n)} ms`;
    return `${n.toFixed(n >= 10 ? 1 : 2)} ms`;
  },
  // Local time, ISO-like: 2025-11-14 09:05:57.
  time(epochMs) {
    if (missing(epochMs)) return NONE;
    const d = new Date(Number(epochMs));
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  },
  bytes(n) {
    if (missing(n)) return NONE;
    let value = Number(n);
    for (const unit of ["B", "KB", "MB", "GB"]) {
      if (value < 1024 || unit === "GB") return unit === "B" ? `${value} B` : `${value.toFixed(1)} ${unit}`;
      value /= 1024;
    }
    return NONE;
  },
};

// The value a datetime-local input shows for epochMs (local time, to the minute).
export function toLocalInput(epochMs) {
  const d = new Date(Number(epochMs));
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function csvCell(value) {
  if (value === null || value === undefined) return "";
  let text = typeof value === "object" ? JSON.stringify(value) : String(value);
  // A spreadsheet would run a text cell starting like a formula (=, +, -, @): keep it text.
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

// RFC 4180 CSV of raw values (not the formatted ones): a header of labels, then one line a row.
export function toCsv(columns, rows) {
  const lines = [columns.map((c) => csvCell(c.label ?? c.key)).join(",")];
  for (const row of rows) lines.push(columns.map((c) => csvCell(row[c.key])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}
