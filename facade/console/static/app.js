// The console's shell: the key prompt, the hash router and the page lifecycle.
// Routes: #/metrics #/logs #/logs/<id> #/playground #/code #/keys, with a page's filters in the
// query after "?" (#/logs?model=mock-main/echo&period=24h) so a view can be shared.
// A page is pages/<name>.js exporting `async render(view)`; view = {root, api, params,
// setParams, signal, shared, navigate, route}.
import { ApiError, createApi, isAbort } from "./api.js";
import { errorBox, h, loading } from "./ui.js";
import { clearKey, getKey, setKey } from "./session.js";

const PAGES = {
  metrics: { title: "Metrics", module: () => import("./pages/metrics.js") },
  logs: { title: "Logs", module: () => import("./pages/logs.js") },
  log: { title: "Request log", nav: "logs", module: () => import("./pages/log-detail.js") },
  playground: { title: "Playground", module: () => import("./pages/playground.js") },
  code: { title: "Code", module: () => import("./pages/code.js") },
  keys: { title: "API keys", module: () => import("./pages/keys.js"), adminOnly: true },
};
const DEFAULT_ROUTE = "#/metrics";
const REFUSED = "Your key was refused (expired or revoked?). Paste a key again.";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const signOutButton = document.getElementById("sign-out");
const announcer = document.getElementById("announcer");

const state = { isAdmin: false, current: null, shared: {}, refused: false };
const api = createApi({ getKey, onUnauthorized: () => endSession(REFUSED) });

// "#/logs/abc?model=x" -> {page: "log", id: "abc", path: "logs/abc", params}
function parseRoute(hash = location.hash) {
  const text = hash.replace(/^#\/?/, "");
  const mark = text.indexOf("?");
  const path = mark < 0 ? text : text.slice(0, mark);
  const params = new URLSearchParams(mark < 0 ? "" : text.slice(mark + 1));
  const [first, ...rest] = path.split("/");
  if (first === "logs" && rest.length && rest.join("/")) {
    return { page: "log", id: decodeURIComponent(rest.join("/")), path, params };
  }
  return { page: PAGES[first] && first !== "log" ? first : null, id: null, path, params };
}

function paramsFrom(values) {
  if (values instanceof URLSearchParams) return new URLSearchParams(values);
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values || {})) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== undefined && one !== null && one !== "") params.append(name, String(one));
    }
  }
  return params;
}

function announce(text) {
  announcer.textContent = text;
}

function setChrome(signedIn) {
  nav.hidden = !signedIn;
  signOutButton.hidden = !signedIn;
  nav.querySelector('[data-page="keys"]').hidden = !(signedIn && state.isAdmin);
}

function markNav(page) {
  const active = PAGES[page]?.nav || page;
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.page === active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function leavePage() {
  state.current?.abort();
  state.current = null;
}

function endSession(message) {
  if (state.refused && message === REFUSED) return; // several calls refused at once
  state.refused = message === REFUSED;
  leavePage();
  clearKey();
  state.isAdmin = false;
  state.shared = {}; // it may hold what the previous key saw
  showPrompt(message);
}

function showPrompt(message) {
  setChrome(false);
  markNav(null);
  document.title = "Sign in · LLM gateway console";
  const input = h("input", {
    id: "api-key", type: "password", name: "api-key", autocomplete: "off", spellcheck: "false",
    required: true, placeholder: "gw-…", "aria-describedby": "key-help",
  });
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const note = h("p", { id: "key-message", class: "prompt-message", role: "alert" }, message || "");
  const say = (text, isError = true) => {
    note.textContent = text;
    note.className = isError ? "prompt-message" : "hint";
  };
  const form = h("form", { class: "key-prompt", onsubmit: submit },
    h("h1", {}, "Sign in"),
    h("label", { for: "api-key" }, "API key"),
    input,
    h("p", { id: "key-help", class: "hint" },
      "Paste an API key of this gateway. It stays in this tab's session storage and is sent " +
      "only as an Authorization header to this gateway."),
    note,
    button);

  async function submit(event) {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      say("Paste a key first.");
      return;
    }
    button.disabled = true;
    say("Checking the key…", false);
    try {
      await api.checkKey(key);
    } catch (err) {
      button.disabled = false;
      say(err instanceof ApiError && err.status === 401
        ? "That key was refused: it is unknown, expired or revoked."
        : `The key could not be checked: ${err.message}`);
      input.focus();
      return;
    }
    setKey(key);
    state.refused = false;
    await startSession();
  }

  main.replaceChildren(form);
  input.focus();
}

async function detectAdmin() {
  // Only the admin key may list keys: 200 for it, 403 for any other key.
  try {
    await api.get("/api/svc/v1/keys");
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) return false;
    throw err;
  }
}

async function startSession() {
  try {
    state.isAdmin = await detectAdmin();
  } catch (err) {
    if (!getKey()) return; // refused: the prompt is showing
    main.replaceChildren(errorBox(err));
    return;
  }
  setChrome(true);
  await show();
}

async function show() {
  if (!getKey()) {
    showPrompt();
    return;
  }
  const route = parseRoute();
  if (!route.page) {
    history.replaceState(null, "", DEFAULT_ROUTE);
    await show();
    return;
  }
  leavePage();
  const controller = new AbortController();
  state.current = controller;
  const page = PAGES[route.page];
  markNav(route.page);
  document.title = `${page.title} · LLM gateway console`;
  const root = h("div", { class: `page page-${route.page}` });
  main.replaceChildren(root);
  if (page.adminOnly && !state.isAdmin) {
    root.append(errorBox(new Error("Only the admin key can manage API keys.")));
    return;
  }
  root.append(loading());
  const view = {
    root,
    api,
    params: route.params,
    setParams(values) {
      if (controller.signal.aborted) return; // a page left behind must not rewrite the URL
      const params = paramsFrom(values);
      const query = params.toString();
      history.replaceState(null, "", `#/${route.path}${query ? `?${query}` : ""}`);
      // The view's params object stays the same one, now holding the new values.
      for (const name of [...view.params.keys()]) view.params.delete(name);
      for (const [name, value] of params) view.params.append(name, value);
    },
    signal: controller.signal,
    shared: state.shared,
    navigate: (hash) => { location.hash = hash.startsWith("#") ? hash : `#${hash}`; },
    route: { page: route.page, id: route.id },
  };
  try {
    const module = await page.module();
    if (controller.signal.aborted) return;
    root.replaceChildren();
    await module.render(view);
    announce(`${page.title} loaded`);
  } catch (err) {
    if (controller.signal.aborted || isAbort(err)) return;
    if (err instanceof ApiError && err.status === 401) return; // back at the prompt
    root.replaceChildren(errorBox(err));
  }
}

signOutButton.addEventListener("click", () => endSession("Signed out."));
window.addEventListener("hashchange", () => {
  // Move focus to the new page (as a full load would), unless the key prompt took it.
  show().then(() => { if (getKey()) main.focus({ preventScroll: true }); });
});

if (getKey()) startSession();
else showPrompt();
