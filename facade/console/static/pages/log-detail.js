// One request log (#/logs/<id>): what was asked and answered, tool calls as structured calls,
// the attempt chain when routing applied, and why bodies are missing when they are.
// Every value is shown as text: bodies and metadata are the callers' data, not markup.
import { chips, copyButton, errorBox, fmt, h, loading, mount } from "../ui.js";
import { isAbort } from "../api.js";
import { LOGS_API } from "./logs.js";

const LOG_REQUEST_KEY = "tfy_log_request";

function pretty(body) {
  // A body cut to fit a page arrives as a JSON string of the start of the text: show it as is.
  return typeof body === "string" ? body : JSON.stringify(body, null, 2);
}

function textOf(content) {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((part) => (part?.type === "text" ? part.text : `[${part?.type || "part"}]`)).join("\n");
  }
  return JSON.stringify(content);
}

function argumentsView(text) {
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not valid JSON (a model can send that): the raw string is what was sent.
    return h("pre", { class: "json" }, String(text ?? ""));
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    return h("pre", { class: "json" }, JSON.stringify(parsed, null, 2));
  }
  const entries = Object.entries(parsed);
  if (!entries.length) return h("p", { class: "hint" }, "No arguments.");
  return h("dl", { class: "arguments" }, entries.map(([name, value]) => [
    h("dt", {}, name),
    h("dd", {}, typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value, null, 2)),
  ]));
}

export function toolCallView(call) {
  const fn = call?.function || {};
  return h("div", { class: "tool-call", role: "group", "aria-label": `Tool call ${fn.name || ""}` },
    h("div", {}, h("span", { class: "tool-call-name" }, `${fn.name || "?"}()`),
      call?.id ? h("span", { class: "tool-call-id" }, call.id) : null),
    argumentsView(fn.arguments));
}

function messageView(message, label) {
  const calls = Array.isArray(message?.tool_calls) ? message.tool_calls : [];
  const text = textOf(message?.content);
  return h("div", { class: "message" },
    h("div", { class: "message-role" }, label || message?.role || "message",
      message?.tool_call_id ? ` · result of ${message.tool_call_id}` : ""),
    text ? h("div", { class: "message-text" }, text) : null,
    calls.map(toolCallView));
}

function conversation(request, response) {
  const asked = Array.isArray(request?.messages) ? request.messages : [];
  const answered = Array.isArray(response?.choices) ? response.choices : [];
  if (!asked.length && !answered.length) return null;
  return h("section", { "aria-labelledby": "conversation-title" },
    h("h2", { id: "conversation-title" }, "Conversation"),
    h("div", { class: "messages" },
      asked.map((m) => messageView(m)),
      answered.map((choice) => messageView(choice.message,
        `${choice.message?.role || "assistant"} (answer${answered.length > 1 ? ` ${choice.index}` : ""}` +
        `${choice.finish_reason ? `, ${choice.finish_reason}` : ""})`))),
    Array.isArray(request?.tools) && request.tools.length
      ? h("p", { class: "hint" }, "Tools offered: ",
        request.tools.map((t) => t?.function?.name || t?.type || "?").join(", "))
      : null);
}

function bodySection(id, title, body) {
  const text = pretty(body);
  return h("section", { "aria-labelledby": id },
    h("div", { class: "section-head" }, h("h2", { id }, title), copyButton(() => text, "Copy JSON")),
    h("pre", { class: "json", tabindex: 0 }, text));
}

function bodies(record) {
  if (record.request === null && record.response === null) {
    const optedOut = record.metadata?.[LOG_REQUEST_KEY] === "false";
    return h("div", { class: "notice", role: "note" },
      h("strong", {}, "Bodies not logged. "),
      optedOut
        ? `This call was made with "${LOG_REQUEST_KEY}": "false" in its metadata, so its request and ` +
          "response bodies were kept out of the log; its tokens and cost are still recorded."
        : "No request or response body was recorded for this call.");
  }
  return [
    record.bodies_truncated
      ? h("div", { class: "notice", role: "note" }, "The bodies were cut to fit one answer of the log API.")
      : null,
    typeof record.request === "object" || typeof record.response === "object"
      ? conversation(record.request, record.response) : null,
    record.request !== null
      ? bodySection("request-title", "Request body", record.request)
      : h("p", { class: "hint" }, "No request body was recorded."),
    record.response !== null
      ? bodySection("response-title", "Response body", record.response)
      : h("p", { class: "hint" }, "No response body was recorded (the call failed before an answer)."),
  ];
}

function routingApplied(record) {
  const attempts = record.attempts || [];
  return attempts.length > 1 || (attempts.length === 1 && attempts[0].model !== record.model);
}

function attemptsSection(record) {
  if (!routingApplied(record)) return null;
  return h("section", { "aria-labelledby": "attempts-title" },
    h("h2", { id: "attempts-title" }, "Attempts"),
    h("ol", { class: "attempts" }, record.attempts.map((a) => {
      const ok = a.http_status >= 200 && a.http_status < 300;
      return h("li", {},
        h("code", {}, a.model), " ",
        h("span", { class: `badge ${ok ? "badge-success" : "badge-error"}` }, String(a.http_status || "—")),
        a.error_code ? ` ${a.error_code}` : "",
        ` · ${fmt.ms(a.latency_ms)} · ${fmt.int(a.input_tokens)} in / ${fmt.int(a.output_tokens)} out · ${fmt.cost(a.cost)}`);
    })));
}

function facts(record) {
  const usage = record.usage || {};
  const pairs = [
    ["Time", fmt.time(record.created_at)],
    ["Model", record.model],
    ["Resolved model", record.resolved_model || "—"],
    ["Provider account", record.provider_account || "—"],
    ["User", record.user],
    ["Key", record.key_id || "—"],
    ["Teams", (record.teams || []).join(", ") || "—"],
    ["Stream", record.stream ? "yes" : "no"],
    ["Status", `${record.status} (HTTP ${record.http_status})`],
    record.error ? ["Error", `${record.error.code}: ${record.error.message}`] : null,
    ["Tokens", `${fmt.int(usage.input_tokens)} in / ${fmt.int(usage.output_tokens)} out / ${fmt.int(usage.total_tokens)} total`],
    ["Cost", fmt.cost(record.cost)],
    ["Latency", fmt.ms(record.latency_ms)],
    ["Time to first token", fmt.ms(record.ttft_ms)],
    ["Waiting on the provider", fmt.ms(record.upstream_latency_ms)],
    ["Metadata", chips(record.metadata) || "—"],
  ];
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

export async function render(view) {
  const { root, api, route, signal } = view;
  const back = h("p", {}, h("a", { href: view.shared.logsListHash || "#/logs" }, "← All requests"));
  root.replaceChildren(back, loading("Loading the request…"));
  let record;
  try {
    record = await api.get(`${LOGS_API}/${encodeURIComponent(route.id)}`, undefined, { signal });
  } catch (err) {
    if (isAbort(err) || err.status === 401) return;
    root.replaceChildren(back, errorBox(err));
    return;
  }
  const ok = record.status === "success";
  mount(root,
    back,
    h("div", { class: "detail-header" },
      h("h1", {}, `Request ${record.id}`),
      h("span", { class: `badge ${ok ? "badge-success" : "badge-error"}` }, ok ? "success" : "error"),
      copyButton(() => record.id, "Copy id")),
    h("div", { class: "panel" }, facts(record)),
    attemptsSection(record),
    bodies(record),
  );
}
