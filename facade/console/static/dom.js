// Building the page from data without ever parsing markup: elements are created one by one and
// every string becomes a text node, so a log body holding "<script>" stays text. No innerHTML,
// no inline style attribute (the CSP refuses both); styling is by class, in style.css.
import { ApiError } from "./api.js";

const SVG_NS = "http://www.w3.org/2000/svg";

// Attributes h() sets; anything else (innerHTML, style, src, srcdoc...) is a programming error.
const HTML_ATTRIBUTES = new Set([
  "class", "id", "for", "type", "value", "placeholder", "role", "tabindex", "title", "name",
  "min", "max", "step", "rows", "cols", "href", "hidden", "colspan", "rowspan", "scope", "lang",
  "autocomplete", "spellcheck", "required", "readonly", "multiple", "selected", "open", "list",
  "maxlength", "pattern", "inputmode", "wrap", "download", "datetime", "width", "height", "alt",
  "disabled", "checked", "form", "label", "size", "dir",
]);
// Set as properties: their attribute only holds the initial state.
const PROPERTIES = new Set(["value", "checked", "disabled", "selected", "open", "hidden"]);
const SAFE_HREF = /^(#|\/(?!\/)|https?:|mailto:|blob:)/i;

function setAttributes(el, attrs, isSvg) {
  let value;
  for (const [name, raw] of Object.entries(attrs || {})) {
    if (raw === undefined || raw === null || raw === false) continue;
    if (name.startsWith("on")) {
      if (typeof raw !== "function") throw new TypeError(`${name} must be a function`);
      el.addEventListener(name.slice(2).toLowerCase(), raw);
    } else if (name === "value") {
      value = raw; // after the children: a <select> needs its options first
    } else if (name === "style" || name.endsWith("href") && !SAFE_HREF.test(String(raw))) {
      throw new TypeError(`h(): refusing ${name}=${String(raw).slice(0, 40)}`);
    } else if (isSvg) {
      el.setAttribute(name, String(raw));
    } else if (name.startsWith("aria-") || name.startsWith("data-") || HTML_ATTRIBUTES.has(name)) {
      if (PROPERTIES.has(name)) el[name] = raw === true ? true : raw;
      else el.setAttribute(name, raw === true ? "" : String(raw));
    } else {
      throw new TypeError(`h(): unknown attribute ${name}`);
    }
  }
  return value;
}

function appendChildren(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) appendChildren(el, child);
    else if (child instanceof Node) el.append(child);
    else el.append(document.createTextNode(String(child)));
  }
}

// h("button", {class: "primary", onclick: go}, "Go") -> <button class="primary">Go</button>
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  const value = setAttributes(el, attrs, false);
  appendChildren(el, children);
  if (value !== undefined) el.value = value;
  return el;
}

// The same in the SVG namespace (charts, icons): any attribute but inline styles and handlers
// given as strings.
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  const value = setAttributes(el, attrs, true);
  if (value !== undefined) el.setAttribute("value", String(value));
  appendChildren(el, children);
  return el;
}

export function loading(text = "Loading…") {
  return h("div", { class: "state state-loading", role: "status", "aria-live": "polite" },
    h("span", { class: "spinner", "aria-hidden": "true" }), text);
}

export function empty(text) {
  return h("div", { class: "state state-empty", role: "status" }, text);
}

export function errorBox(err) {
  const details = [];
  if (err instanceof ApiError) {
    if (err.status) details.push(`HTTP ${err.status}`);
    if (err.code) details.push(String(err.code));
    if (err.param) details.push(`param: ${err.param}`);
  }
  const message = err?.message || String(err);
  return h("div", { class: "state state-error", role: "alert" },
    h("strong", {}, "Something went wrong. "), message,
    details.length ? h("div", { class: "state-details" }, details.join(" · ")) : null);
}

async function writeClipboard(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No permission or no secure context: copy from a selected, off-screen textarea.
    const area = h("textarea", { class: "offscreen", readonly: true, "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    let copied = false;
    try {
      copied = document.execCommand("copy");
    } finally {
      area.remove();
    }
    return copied;
  }
}

// A button that copies getText()'s string (or promise of one) and says "Copied" for a moment.
export function copyButton(getText, label = "Copy") {
  let timer;
  const button = h("button", {
    type: "button",
    class: "copy",
    onclick: async () => {
      const copied = await writeClipboard(String(await getText()));
      button.textContent = copied ? "Copied" : "Copy failed";
      clearTimeout(timer);
      timer = setTimeout(() => { button.textContent = label; }, 2000);
    },
  }, label);
  button.setAttribute("aria-live", "polite");
  return button;
}

export function download(filename, text, mime = "text/plain") {
  const url = URL.createObjectURL(new Blob([text], { type: mime }));
  const link = h("a", { href: url, download: filename, class: "offscreen" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

// A chip per metadata entry: "key = value", all text.
export function chips(metadata) {
  const entries = Object.entries(metadata || {});
  if (!entries.length) return null;
  return h("span", { class: "chips" },
    entries.map(([key, value]) => h("span", { class: "chip", title: `${key} = ${value}` },
      h("span", { class: "chip-key" }, key), " = ", value)));
}

let counter = 0;
// A document-unique id, to tie a <label> to its control.
export function uid(prefix = "id") {
  counter += 1;
  return `${prefix}-${counter}`;
}

// Replaces el's children like replaceChildren, with h()'s rules: arrays flattened, null and
// false skipped, strings as text.
export function mount(el, ...children) {
  el.replaceChildren();
  appendChildren(el, children);
  return el;
}
