// Code: ready-to-run snippets for the playground's request (or an example one), one tab per
// language and library. Every snippet comes from the codegen API, which the console shares
// with any other tool (POST /api/svc/v1/llm-gateway/codegen); the page shows its answer as
// text and writes no code itself.
import { copyButton, errorBox, h, loading, uid } from "../ui.js";

const CODEGEN_PATH = "/api/svc/v1/llm-gateway/codegen";

// Install and run hints per tab; the snippet itself says the same in its header comment.
export const TABS = [
  { id: "python-openai", label: "Python · OpenAI SDK", language: "python", library: "openai", install: "pip install openai", run: (f) => `python ${f}` },
  { id: "python-requests", label: "Python · requests", language: "python", library: "requests", install: "pip install requests", run: (f) => `python ${f}` },
  { id: "python-langchain", label: "Python · LangChain", language: "python", library: "langchain", install: "pip install langchain-openai", run: (f) => `python ${f}` },
  { id: "javascript-openai", label: "JavaScript · OpenAI SDK", language: "javascript", library: "openai", install: "npm install openai", run: (f) => `node ${f}` },
  { id: "typescript-openai", label: "TypeScript · OpenAI SDK", language: "typescript", library: "openai", install: "npm install openai", run: (f) => `npx tsx ${f}` },
  { id: "javascript-fetch", label: "JavaScript · fetch", language: "javascript", library: "fetch", install: null, note: "Node.js 18 or later, no package", run: (f) => `node ${f}` },
  { id: "curl", label: "curl", language: "curl", library: null, install: null, run: (f) => `sh ${f}` },
  { id: "python-grpc", label: "Python · gRPC", language: "python", library: "grpc", install: "pip install <your llm-gateway checkout>", note: "Set LLM_GATEWAY_GRPC_TARGET if the gRPC port is not this host's 50051", run: (f) => `python ${f}` },
];

/** What the page shows when the playground has made no request yet. */
export const EXAMPLE_REQUEST = {
  model: "mock-main/echo",
  messages: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "Hello, gateway" },
  ],
  metadata: { application: "my-app" },
};

export async function render(view) {
  const { root, api, params, setParams, signal, shared, navigate } = view;
  const fromPlayground = !!shared.playgroundRequest;
  const request = shared.playgroundRequest || EXAMPLE_REQUEST;
  const answers = new Map(); // tab id -> Promise of the API's answer: one call per tab per visit
  let selected = TABS.find((t) => t.id === params.get("tab")) || TABS[0];

  const tabIds = Object.fromEntries(TABS.map((t) => [t.id, uid(`code-tab-${t.id}`)]));
  const panelId = uid("code-panel");
  const panel = h("div", { class: "code-panel", id: panelId, role: "tabpanel", tabindex: "0" });
  const buttons = TABS.map((tab) => h("button", {
    type: "button",
    role: "tab",
    id: tabIds[tab.id],
    class: "code-tab",
    "aria-controls": panelId,
    "data-tab": tab.id,
    onclick: () => select(tab, { focus: false, remember: true }),
  }, tab.label));
  const tablist = h("div", { class: "code-tabs", role: "tablist", "aria-label": "Language and library" }, buttons);
  // Arrow keys move between tabs (and select them); Tab leaves the list for the panel.
  tablist.addEventListener("keydown", (event) => {
    const index = TABS.indexOf(selected);
    const moves = { ArrowRight: index + 1, ArrowDown: index + 1, ArrowLeft: index - 1, ArrowUp: index - 1, Home: 0, End: TABS.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    select(TABS[(moves[event.key] + TABS.length) % TABS.length], { focus: true, remember: true });
  });

  function fetchCode(tab) {
    if (!answers.has(tab.id)) {
      const body = { request, language: tab.language, library: tab.library };
      const promise = api.post(CODEGEN_PATH, body, { signal });
      promise.catch(() => answers.delete(tab.id)); // a failure is asked again on the next visit
      answers.set(tab.id, promise);
    }
    return answers.get(tab.id);
  }

  // `remember`: a tab the user picked goes in the URL (not the first one shown, so loading the
  // page never rewrites an address the user has since moved to).
  async function select(tab, { focus, remember }) {
    selected = tab;
    if (remember) setParams({ tab: tab.id });
    for (const [i, button] of buttons.entries()) {
      const on = TABS[i] === tab;
      button.setAttribute("aria-selected", String(on));
      button.tabIndex = on ? 0 : -1; // roving tabindex: one tab stop for the whole list
    }
    if (focus) buttons[TABS.indexOf(tab)].focus();
    panel.setAttribute("aria-labelledby", tabIds[tab.id]);
    panel.dataset.tab = tab.id;
    panel.setAttribute("aria-busy", "true");
    panel.replaceChildren(loading("Generating the snippet…"));
    let answer;
    try {
      answer = await fetchCode(tab);
    } catch (err) {
      if (signal.aborted || selected !== tab) return;
      panel.setAttribute("aria-busy", "false");
      panel.replaceChildren(errorBox(err));
      return;
    }
    if (signal.aborted || selected !== tab) return; // another tab was picked meanwhile
    panel.setAttribute("aria-busy", "false");
    panel.replaceChildren(...snippetView(tab, answer));
  }

  root.append(
    h("h1", {}, "Code"),
    h("p", { class: "code-source" },
      fromPlayground
        ? "Snippets for the request of the Playground, through this gateway."
        : "Snippets for an example request. Build your own in the Playground, then press Get code.",
      " ",
      h("button", { type: "button", onclick: () => navigate("#/playground") }, fromPlayground ? "Back to the Playground" : "Open the Playground")),
    h("details", { class: "code-request" },
      h("summary", {}, "The request"),
      h("pre", {}, h("code", {}, JSON.stringify(request, null, 2)))),
    tablist,
    panel,
  );
  await select(selected, { focus: false, remember: false });
}

function snippetView(tab, answer) {
  const env = answer.api_key_env;
  const code = h("code", { class: `language-${tab.language}` }, answer.code);
  const hints = [
    h("li", {}, "Set your key: ", h("code", {}, `export ${env}=<your API key>`)),
  ];
  if (tab.install) hints.push(h("li", {}, "Install: ", h("code", {}, tab.install)));
  if (tab.note) hints.push(h("li", {}, tab.note));
  hints.push(h("li", {}, "Run: ", h("code", {}, tab.run(answer.filename))));
  return [
    h("div", { class: "code-head" },
      h("span", { class: "code-filename", title: "File name" }, answer.filename),
      copyButton(() => answer.code, "Copy code")),
    h("ul", { class: "code-hints", "data-env": env }, hints),
    h("pre", { class: "code-snippet" }, code),
  ];
}
