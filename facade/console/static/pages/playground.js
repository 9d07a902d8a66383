// Playground: build a chat request, send it through the gateway (streamed or not), read the
// answer, and keep a conversation going, tool calls included: an answer with tool calls is
// shown as structured calls and adds one "tool result" turn per call, which the user fills in
// and sends (the seed's "simulate the call within the response"; the gateway runs no tool).
//
// The form lives in `shared.playgroundDraft` (so leaving for the Code tab and coming back
// keeps it) and the request it makes, metadata included, in `shared.playgroundRequest`, which
// the Code page turns into snippets.
import { isAbort } from "../api.js";
import { errorBox, fmt, h, loading, uid } from "../ui.js";

const CHAT_PATH = "/v1/chat/completions";
const MODELS_PATH = "/v1/models";
const METADATA_HEADER = "X-TFY-METADATA";
const NAME = /^[A-Za-z0-9_-]{1,64}$/; // OpenAI's rule for function and schema names

const EXAMPLE_TOOLS = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "The current weather in a city.",
      parameters: {
        type: "object",
        properties: { city: { type: "string", description: "The city, e.g. Paris" } },
        required: ["city"],
      },
    },
  },
];
const EXAMPLE_SCHEMA = {
  type: "object",
  properties: { answer: { type: "string" }, confidence: { type: "number" } },
  required: ["answer"],
  additionalProperties: false,
};

function freshDraft() {
  return {
    model: "",
    messages: [
      { role: "system", content: "" },
      { role: "user", content: "" },
    ],
    temperature: "",
    max_tokens: "",
    top_p: "",
    stop: "",
    format: "text",
    schemaName: "answer",
    schemaText: "",
    toolsText: "",
    metadata: [],
    stream: true,
  };
}

/**
 * The request the form describes, or the problems that stop it being sent.
 * @returns {{request: object|null, headers: object, problems: {field: string, message: string}[]}}
 */
export function buildRequest(draft) {
  const problems = [];
  const problem = (field, message) => problems.push({ field, message });
  const request = { model: draft.model };
  if (!draft.model) problem("model", "Pick a model.");

  // Empty text turns are left out (an unused system prompt, the follow-up not written yet);
  // tool results are always sent, empty or not, since each call needs its answer.
  const messages = [];
  for (const m of draft.messages) {
    if (m.role === "tool") {
      messages.push({ role: "tool", tool_call_id: m.tool_call_id, content: m.content });
    } else if (m.role === "assistant" && m.tool_calls?.length) {
      const message = { role: "assistant", tool_calls: m.tool_calls };
      if (m.content) message.content = m.content;
      messages.push(message);
    } else if (m.content.trim()) {
      messages.push({ role: m.role, content: m.content });
    }
  }
  if (!messages.some((m) => m.role === "user" || m.role === "tool")) {
    const lastUser = draft.messages.map((m) => m.role).lastIndexOf("user");
    problem(`message-${Math.max(lastUser, 0)}`, "Write a user message to send.");
  }
  request.messages = messages;

  const number = (field, label, text, { min, max, integer }) => {
    if (!String(text).trim()) return undefined;
    const value = Number(text);
    if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || (max !== undefined && value > max)) {
      const range = max === undefined ? `at least ${min}` : `between ${min} and ${max}`;
      problem(field, `${label} must be ${integer ? "a whole number" : "a number"} ${range}.`);
      return undefined;
    }
    return value;
  };
  const temperature = number("temperature", "Temperature", draft.temperature, { min: 0, max: 2 });
  const maxTokens = number("max_tokens", "Max tokens", draft.max_tokens, { min: 1, integer: true });
  const topP = number("top_p", "Top P", draft.top_p, { min: 0, max: 1 });
  if (temperature !== undefined) request.temperature = temperature;
  if (maxTokens !== undefined) request.max_tokens = maxTokens;
  if (topP !== undefined) request.top_p = topP;
  // One stop sequence per line: a sequence may hold commas or spaces, never a line break.
  const stops = draft.stop.split("\n").filter((s) => s !== "");
  if (stops.length > 4) problem("stop", "At most 4 stop sequences.");
  else if (stops.length) request.stop = stops.length === 1 ? stops[0] : stops;

  if (draft.format === "json_object") {
    request.response_format = { type: "json_object" };
  } else if (draft.format === "json_schema") {
    const schema = parseJson(draft.schemaText);
    if (!NAME.test(draft.schemaName)) {
      problem("schema_name", "Schema name: 1 to 64 letters, digits, _ or -.");
    }
    if (schema.error) {
      problem("schema", `Response format: the JSON schema is not valid JSON (${schema.error}).`);
    } else if (!isObject(schema.value)) {
      problem("schema", "Response format: the JSON schema must be a JSON object, e.g. {\"type\": \"object\", …}.");
    } else {
      request.response_format = { type: "json_schema", json_schema: { name: draft.schemaName, schema: schema.value } };
    }
  }

  const tools = parseTools(draft.toolsText);
  if (tools.error) problem("tools", tools.error);
  else if (tools.value) request.tools = tools.value;

  const metadata = {};
  draft.metadata.forEach((row, i) => {
    const key = row.key.trim();
    if (!key && !row.value) return; // an empty row
    if (!key) problem(`metadata-${i}`, `Metadata row ${i + 1} has a value but no key.`);
    else if (key in metadata) problem(`metadata-${i}`, `Metadata key "${key}" is given twice.`);
    else metadata[key] = row.value;
  });
  const headers = {};
  if (Object.keys(metadata).length) {
    request.metadata = metadata; // the codegen API's shape; sent as a header, never in the body
    headers[METADATA_HEADER] = JSON.stringify(metadata);
  }
  if (draft.stream) {
    request.stream = true;
    request.stream_options = { include_usage: true }; // so the usage arrives at the end
  }
  return { request: problems.length ? null : request, headers, problems };
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function parseJson(text) {
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    return { error: err.message };
  }
}

/** Tools from the textarea: a JSON array of OpenAI tool definitions (or one of them); a bare
 * function definition ({name, parameters}) is wrapped as {type: "function", function: …}. */
function parseTools(text) {
  if (!text.trim()) return { value: null };
  const parsed = parseJson(text);
  if (parsed.error) return { error: `Tools are not valid JSON (${parsed.error}).` };
  const list = Array.isArray(parsed.value) ? parsed.value : [parsed.value];
  const tools = [];
  for (const [i, tool] of list.entries()) {
    const where = `Tool ${i + 1}`;
    if (!isObject(tool)) return { error: `${where} must be a JSON object.` };
    const fn = isObject(tool.function) ? tool.function : (typeof tool.name === "string" ? tool : null);
    if (!fn || typeof fn.name !== "string") {
      return { error: `${where} needs a function name: {"type": "function", "function": {"name": …, "parameters": {…}}}.` };
    }
    if (!NAME.test(fn.name)) return { error: `${where}: the name "${fn.name}" must be 1 to 64 letters, digits, _ or -.` };
    if (fn.parameters !== undefined && !isObject(fn.parameters)) {
      return { error: `${where} (${fn.name}): "parameters" must be a JSON schema object.` };
    }
    tools.push(tool.function ? tool : { type: "function", function: fn });
  }
  return { value: tools.length ? tools : null };
}

/** Adds one streamed chunk to the answer being assembled (as the OpenAI SDKs assemble it:
 * strings concatenated, tool calls by their index). */
function accumulate(answer, chunk) {
  if (chunk.model) answer.model = chunk.model;
  if (chunk.usage) answer.usage = chunk.usage;
  const choice = (chunk.choices || []).find((c) => (c.index ?? 0) === 0);
  if (!choice) return;
  const delta = choice.delta || {};
  if (typeof delta.content === "string") answer.content += delta.content;
  for (const call of delta.tool_calls || []) {
    const slot = (answer.toolCalls[call.index ?? 0] ||= { id: "", type: "function", function: { name: "", arguments: "" } });
    if (call.id) slot.id = call.id;
    if (call.type) slot.type = call.type;
    if (call.function?.name) slot.function.name += call.function.name;
    if (call.function?.arguments) slot.function.arguments += call.function.arguments;
  }
  if (choice.finish_reason) answer.finish = choice.finish_reason;
}

function prettyArguments(text) {
  const parsed = parseJson(text);
  return parsed.error ? text : JSON.stringify(parsed.value, null, 2);
}

/** A tool call as the model asked for it: name, id, arguments pretty-printed (all text). */
function toolCallView(call) {
  return h("div", { class: "pg-toolcall", "data-tool-call-id": call.id },
    h("div", { class: "pg-toolcall-head" },
      h("span", { class: "pg-toolcall-label" }, "Tool call"),
      h("code", { class: "pg-toolcall-name" }, call.function.name),
      h("span", { class: "pg-toolcall-id" }, call.id)),
    h("pre", { class: "pg-toolcall-args", "aria-label": `Arguments of ${call.function.name}` },
      h("code", {}, prettyArguments(call.function.arguments))));
}

export async function render(view) {
  const { root, api, signal, shared, navigate } = view;
  const draft = (shared.playgroundDraft ||= freshDraft());
  let running = null; // the AbortController of the call in flight

  const turns = h("ol", { class: "pg-turns", "aria-label": "Conversation" });
  const problemsBox = h("div", { class: "pg-problems", role: "alert" });
  const outcome = h("div", { class: "pg-outcome", "aria-live": "polite" });
  const sendButton = h("button", { type: "submit", class: "primary" }, "Send");
  const stopButton = h("button", { type: "button", hidden: true, onclick: () => running?.abort() }, "Stop");
  const modelArea = h("div", { class: "pg-field" }, loading("Loading models…"));
  const fieldIds = {}; // problem field -> control id, to mark it invalid and focus it

  // Every edit: the shared request follows the form; a form with problems keeps the last one.
  function changed() {
    const built = buildRequest(draft);
    if (built.request) shared.playgroundRequest = built.request;
    for (const [field, id] of Object.entries(fieldIds)) {
      const el = document.getElementById(id);
      if (el && el.getAttribute("aria-invalid") === "true" && !built.problems.some((p) => p.field === field)) {
        el.removeAttribute("aria-invalid");
      }
    }
  }

  function showProblems(problems) {
    problemsBox.replaceChildren();
    for (const id of Object.values(fieldIds)) document.getElementById(id)?.removeAttribute("aria-invalid");
    if (!problems.length) return;
    problemsBox.append(h("div", { class: "state state-error" },
      h("strong", {}, problems.length === 1 ? "Fix this first: " : "Fix these first:"),
      problems.length === 1 ? problems[0].message : h("ul", {}, problems.map((p) => h("li", {}, p.message)))));
    for (const p of problems) {
      const el = fieldIds[p.field] && document.getElementById(fieldIds[p.field]);
      if (el) el.setAttribute("aria-invalid", "true");
    }
    const first = fieldIds[problems[0].field] && document.getElementById(fieldIds[problems[0].field]);
    first?.focus();
  }

  function textarea(field, label, value, onInput, attrs = {}) {
    const id = uid("pg");
    fieldIds[field] = id;
    return [
      h("label", { for: id }, label),
      h("textarea", { id, rows: 3, spellcheck: "false", value, oninput: (e) => { onInput(e.target.value); changed(); }, ...attrs }),
    ];
  }

  function input(field, label, value, onInput, attrs = {}) {
    const id = uid("pg");
    fieldIds[field] = id;
    return h("div", { class: "pg-field" },
      h("label", { for: id }, label),
      h("input", { id, value, oninput: (e) => { onInput(e.target.value); changed(); }, ...attrs }));
  }

  // --- the conversation ---------------------------------------------------------------
  function turnView(message, index) {
    const n = index + 1;
    const remove = h("button", {
      type: "button",
      class: "icon-button",
      "aria-label": `Remove message ${n}`,
      title: "Remove",
      onclick: () => { draft.messages.splice(index, 1); drawTurns(); changed(); },
    }, "✕");
    if (message.role === "tool") {
      const call = toolCallOf(message.tool_call_id);
      return h("li", { class: "pg-turn pg-turn-tool", "data-role": "tool" },
        h("div", { class: "pg-turn-head" },
          h("span", { class: "pg-role" }, "Tool result"),
          h("code", {}, call?.function.name || "tool"),
          h("span", { class: "pg-toolcall-id" }, message.tool_call_id),
          remove),
        textarea(`message-${index}`, `Result of ${call?.function.name || "the tool"} (${message.tool_call_id})`,
          message.content, (v) => { message.content = v; }, { placeholder: '{"temperature_c": 21}', rows: 2 }));
    }
    if (message.role === "assistant" && message.tool_calls?.length) {
      return h("li", { class: "pg-turn pg-turn-assistant", "data-role": "assistant" },
        h("div", { class: "pg-turn-head" }, h("span", { class: "pg-role" }, "Assistant"), remove),
        message.content ? h("p", { class: "pg-text" }, message.content) : null,
        h("div", { class: "pg-toolcalls" }, message.tool_calls.map(toolCallView)));
    }
    const roleId = uid("pg-role");
    return h("li", { class: `pg-turn pg-turn-${message.role}`, "data-role": message.role },
      h("div", { class: "pg-turn-head" },
        h("label", { for: roleId, class: "visually-hidden" }, `Role of message ${n}`),
        h("select", {
          id: roleId,
          value: message.role,
          onchange: (e) => { message.role = e.target.value; drawTurns(); changed(); },
        }, ["system", "user", "assistant"].map((r) => h("option", { value: r }, r[0].toUpperCase() + r.slice(1)))),
        remove),
      textarea(`message-${index}`, `Message ${n} (${message.role})`, message.content, (v) => { message.content = v; },
        { placeholder: message.role === "system" ? "You are a helpful assistant." : "Write a message…", class: "pg-message" }));
  }

  function toolCallOf(id) {
    for (const m of draft.messages) {
      const call = m.tool_calls?.find((c) => c.id === id);
      if (call) return call;
    }
    return null;
  }

  function drawTurns() {
    turns.replaceChildren(...draft.messages.map(turnView));
  }

  function addTurn(role) {
    draft.messages.push({ role, content: "" });
    drawTurns();
    changed();
    turns.lastElementChild?.querySelector("textarea")?.focus();
  }

  // --- sending ------------------------------------------------------------------------
  async function send(event) {
    event?.preventDefault();
    if (running) return;
    const built = buildRequest(draft);
    showProblems(built.problems);
    if (!built.request) return;
    shared.playgroundRequest = built.request;
    const { metadata, ...body } = built.request; // metadata travels as X-TFY-METADATA
    const controller = new AbortController();
    const stopWithPage = () => controller.abort();
    signal.addEventListener("abort", stopWithPage);
    running = controller;
    sendButton.disabled = true;
    stopButton.hidden = false;

    const answer = { content: "", toolCalls: [], usage: null, model: null, finish: null };
    const text = h("p", { class: "pg-text" });
    const calls = h("div", { class: "pg-toolcalls" });
    const pending = h("li", { class: "pg-turn pg-turn-assistant pg-pending", "data-role": "assistant", "aria-busy": "true" },
      h("div", { class: "pg-turn-head" }, h("span", { class: "pg-role" }, "Assistant"), h("span", { class: "hint" }, "answering…")),
      text, calls);
    turns.append(pending);
    outcome.replaceChildren(loading(body.stream ? "Streaming the answer…" : "Waiting for the answer…"));
    const options = { signal: controller.signal, headers: built.headers };
    try {
      if (body.stream) {
        await api.stream(CHAT_PATH, body, {
          ...options,
          onEvent: (chunk) => {
            accumulate(answer, chunk);
            text.textContent = answer.content;
            if (answer.toolCalls.length) calls.replaceChildren(...answer.toolCalls.filter(Boolean).map(toolCallView));
          },
        });
      } else {
        const reply = await api.post(CHAT_PATH, body, options);
        const choice = reply.choices?.[0] || {};
        answer.content = choice.message?.content ?? "";
        answer.toolCalls = choice.message?.tool_calls || [];
        answer.finish = choice.finish_reason ?? null;
        answer.usage = reply.usage ?? null;
        answer.model = reply.model ?? null;
      }
    } catch (err) {
      pending.remove();
      if (isAbort(err)) {
        if (!signal.aborted) outcome.replaceChildren(h("p", { class: "hint" }, "Stopped; nothing was added to the conversation."));
      } else {
        outcome.replaceChildren(errorBox(err));
      }
      return;
    } finally {
      signal.removeEventListener("abort", stopWithPage);
      running = null;
      sendButton.disabled = false;
      stopButton.hidden = true;
    }
    pending.remove();
    const toolCalls = answer.toolCalls.filter(Boolean);
    draft.messages.push(toolCalls.length
      ? { role: "assistant", content: answer.content, tool_calls: toolCalls }
      : { role: "assistant", content: answer.content });
    // The next turn to fill in: a result per tool call, else the user's follow-up.
    if (toolCalls.length) {
      for (const call of toolCalls) draft.messages.push({ role: "tool", tool_call_id: call.id, content: "" });
    } else {
      draft.messages.push({ role: "user", content: "" });
    }
    drawTurns();
    changed();
    outcome.replaceChildren(usageView(answer, toolCalls.length));
    const next = draft.messages.length - (toolCalls.length || 1);
    turns.children[next]?.querySelector("textarea")?.focus();
  }

  function usageView(answer, toolCallCount) {
    const u = answer.usage;
    const parts = [];
    if (answer.model) parts.push(`Model ${answer.model}`);
    if (answer.finish) parts.push(`finish: ${answer.finish}`);
    if (u) parts.push(`input ${fmt.int(u.prompt_tokens)} · output ${fmt.int(u.completion_tokens)} · total ${fmt.int(u.total_tokens)} tokens`);
    else parts.push("no usage reported");
    return h("div", { class: "pg-usage", "data-usage": u ? JSON.stringify(u) : "" },
      h("p", {}, parts.join(" · ")),
      toolCallCount
        ? h("p", { class: "hint" }, `The model asked for ${toolCallCount === 1 ? "a tool call" : `${toolCallCount} tool calls`}: write each result below its call, then Send to continue.`)
        : null);
  }

  // --- settings -----------------------------------------------------------------------
  function formatControls() {
    const box = h("div", { class: "pg-schema" });
    const selectId = uid("pg");
    fieldIds.format = selectId;
    function drawSchema() {
      box.hidden = draft.format !== "json_schema";
      if (box.hidden) return box.replaceChildren();
      box.replaceChildren(
        input("schema_name", "Schema name", draft.schemaName, (v) => { draft.schemaName = v; }, { type: "text", autocomplete: "off" }),
        h("div", { class: "pg-field" },
          textarea("schema", "JSON schema", draft.schemaText, (v) => { draft.schemaText = v; }, { rows: 6, class: "mono" }),
          h("button", {
            type: "button",
            onclick: () => {
              draft.schemaText = JSON.stringify(EXAMPLE_SCHEMA, null, 2);
              drawSchema();
              changed();
            },
          }, "Insert an example schema")));
      return null;
    }
    drawSchema();
    return h("div", { class: "pg-field" },
      h("label", { for: selectId }, "Response format"),
      h("select", {
        id: selectId,
        value: draft.format,
        onchange: (e) => { draft.format = e.target.value; drawSchema(); changed(); },
      },
      h("option", { value: "text" }, "Text"),
      h("option", { value: "json_object" }, "JSON object"),
      h("option", { value: "json_schema" }, "JSON schema")),
      box);
  }

  function toolsControls() {
    const area = textarea("tools", "Tools (JSON array of function definitions)", draft.toolsText,
      (v) => { draft.toolsText = v; }, { rows: 6, class: "mono", placeholder: '[{"type": "function", "function": {"name": …, "parameters": {…}}}]' });
    return h("div", { class: "pg-field" }, area,
      h("button", {
        type: "button",
        onclick: () => {
          draft.toolsText = JSON.stringify(EXAMPLE_TOOLS, null, 2);
          area[1].value = draft.toolsText;
          changed();
        },
      }, "Insert an example tool"));
  }

  const metadataRows = h("div", { class: "pg-metadata-rows" });
  function drawMetadata() {
    metadataRows.replaceChildren(...draft.metadata.map((row, i) => {
      const keyId = uid("pg-meta-key");
      const valueId = uid("pg-meta-value");
      fieldIds[`metadata-${i}`] = keyId;
      return h("div", { class: "pg-metadata-row", role: "group", "aria-label": `Metadata ${i + 1}` },
        h("label", { for: keyId, class: "visually-hidden" }, `Metadata ${i + 1} key`),
        h("input", { id: keyId, type: "text", value: row.key, placeholder: "key", autocomplete: "off", oninput: (e) => { row.key = e.target.value; changed(); } }),
        h("label", { for: valueId, class: "visually-hidden" }, `Metadata ${i + 1} value`),
        h("input", { id: valueId, type: "text", value: row.value, placeholder: "value", autocomplete: "off", maxlength: 128, oninput: (e) => { row.value = e.target.value; changed(); } }),
        h("button", {
          type: "button",
          class: "icon-button",
          "aria-label": `Remove metadata ${i + 1}`,
          title: "Remove",
          onclick: () => { draft.metadata.splice(i, 1); drawMetadata(); changed(); },
        }, "✕"));
    }));
  }

  async function loadModels() {
    let models;
    try {
      models = (await api.get(MODELS_PATH, undefined, { signal })).data || [];
    } catch (err) {
      if (isAbort(err)) return;
      modelArea.replaceChildren(errorBox(err));
      return;
    }
    if (!models.length) {
      modelArea.replaceChildren(h("p", { class: "state state-empty" }, "This key may call no model."));
      return;
    }
    const ids = models.map((m) => m.id);
    // Embedding models answer no chat: start on a chat model when there is one.
    if (!ids.includes(draft.model)) draft.model = ids.find((id) => !/embed/i.test(id)) || ids[0];
    const id = uid("pg-model");
    fieldIds.model = id;
    modelArea.replaceChildren(
      h("label", { for: id }, "Model"),
      h("select", { id, value: draft.model, onchange: (e) => { draft.model = e.target.value; changed(); } },
        ids.map((m) => h("option", { value: m }, m))));
    changed();
  }

  const streamId = uid("pg-stream");
  root.append(
    h("h1", {}, "Playground"),
    h("div", { class: "pg-layout" },
      h("form", { class: "pg-chat", onsubmit: send, "aria-label": "Conversation" },
        turns,
        h("div", { class: "pg-add" },
          h("button", { type: "button", onclick: () => addTurn("user") }, "Add user message"),
          h("button", { type: "button", onclick: () => addTurn("system") }, "Add system message")),
        problemsBox,
        h("div", { class: "pg-actions" },
          h("span", { class: "pg-check" },
            h("input", { id: streamId, type: "checkbox", checked: draft.stream, onchange: (e) => { draft.stream = e.target.checked; changed(); } }),
            h("label", { for: streamId }, "Stream the answer")),
          sendButton,
          stopButton,
          h("button", {
            type: "button",
            onclick: () => {
              const built = buildRequest(draft);
              showProblems(built.problems);
              if (!built.request) return;
              shared.playgroundRequest = built.request;
              navigate("#/code");
            },
          }, "Get code"),
          h("button", {
            type: "button",
            class: "pg-reset",
            onclick: () => {
              running?.abort(); // a call in flight must not land in the fresh conversation
              const model = draft.model;
              Object.assign(draft, freshDraft(), { model });
              delete shared.playgroundRequest; // the Code page falls back to its example
              root.replaceChildren();
              render(view);
            },
          }, "Clear")),
        outcome),
      h("section", { class: "pg-settings", "aria-labelledby": "pg-settings-title" },
        h("h2", { id: "pg-settings-title" }, "Settings"),
        modelArea,
        h("div", { class: "pg-params" },
          input("temperature", "Temperature", draft.temperature, (v) => { draft.temperature = v; }, { type: "number", min: 0, max: 2, step: 0.1, inputmode: "decimal", placeholder: "default" }),
          input("max_tokens", "Max tokens", draft.max_tokens, (v) => { draft.max_tokens = v; }, { type: "number", min: 1, step: 1, inputmode: "numeric", placeholder: "default" }),
          input("top_p", "Top P", draft.top_p, (v) => { draft.top_p = v; }, { type: "number", min: 0, max: 1, step: 0.05, inputmode: "decimal", placeholder: "default" })),
        h("div", { class: "pg-field" },
          textarea("stop", "Stop sequences (one per line)", draft.stop, (v) => { draft.stop = v; }, { rows: 2 })),
        formatControls(),
        toolsControls(),
        h("fieldset", { class: "pg-metadata" },
          h("legend", {}, "Metadata (sent as X-TFY-METADATA)"),
          metadataRows,
          h("button", {
            type: "button",
            onclick: () => {
              draft.metadata.push({ key: "", value: "" });
              drawMetadata();
              metadataRows.lastElementChild?.querySelector("input")?.focus();
            },
          }, "Add metadata")))),
  );
  drawTurns();
  drawMetadata();
  changed();
  await loadModels();
}
