// The console's one way to the gateway: the public HTTP APIs, with the key as a Bearer header.
// Every non-2xx answer becomes an ApiError built from OpenAI's envelope {"error": {...}}; a 401
// also tells the shell (onUnauthorized), which drops the key and shows the key prompt.

// The envelope of an error inside an SSE stream has no HTTP status: guess it from its type.
const STATUS_BY_TYPE = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  rate_limit_error: 429,
  timeout_error: 504,
  api_error: 502,
};

export class ApiError extends Error {
  constructor(status, error = {}) {
    super(error.message || (status ? `The gateway answered HTTP ${status}.` : "Request failed."));
    this.name = "ApiError";
    this.status = status;
    this.type = error.type ?? null;
    this.code = error.code ?? null;
    this.param = error.param ?? null;
  }
}

export function isAbort(err) {
  return err?.name === "AbortError";
}

function withQuery(path, query) {
  if (!query) return path;
  const params = query instanceof URLSearchParams ? new URLSearchParams(query) : new URLSearchParams();
  if (!(query instanceof URLSearchParams)) {
    for (const [name, value] of Object.entries(query)) {
      if (value === undefined || value === null) continue;
      for (const one of Array.isArray(value) ? value : [value]) params.append(name, String(one));
    }
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's page, an empty body): the status alone has to do.
  }
  const envelope = body && typeof body.error === "object" && body.error ? body.error : {};
  return new ApiError(response.status, envelope);
}

// Builds the client; `getKey()` reads the current key, `onUnauthorized(err)` runs on any 401.
export function createApi({ getKey, onUnauthorized }) {
  // options: query, body, signal, headers (extra ones, e.g. X-TFY-METADATA; they cannot
  // replace the key's), key (a candidate key, at sign-in), accept.
  async function send(method, path, { query, body, signal, key, accept, headers: extra } = {}) {
    const headers = { ...extra, Accept: accept || "application/json" };
    for (const name of Object.keys(headers)) {
      if (name.toLowerCase() === "authorization") delete headers[name];
    }
    const secret = key ?? getKey();
    if (secret) headers.Authorization = `Bearer ${secret}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(withQuery(path, query), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        credentials: "omit", // the key header is the only credential; no cookie ever goes
        cache: "no-store",
      });
    } catch (err) {
      if (isAbort(err)) throw err;
      throw new ApiError(0, { message: "The gateway could not be reached. Is it running?" });
    }
    if (!response.ok) {
      const err = await errorFrom(response);
      // A key checked at sign-in is not the session's yet: its refusal is the prompt's message.
      if (response.status === 401 && key === undefined) onUnauthorized(err);
      throw err;
    }
    return response;
  }

  async function json(response) {
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }

  async function stream(path, body, { onEvent, signal, headers } = {}) {
    const response = await send("POST", path, { body, signal, headers, accept: "text/event-stream" });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
        // Events end with a blank line; keep a partial one for the next chunk.
        const events = buffer.split(/\r?\n\r?\n/);
        buffer = done ? "" : events.pop();
        for (const block of events) {
          const data = block
            .split(/\r?\n/)
            .filter((line) => line.startsWith("data:"))
            .map((line) => line.slice(5).replace(/^ /, ""))
            .join("\n");
          if (!data) continue;
          if (data === "[DONE]") return;
          const event = JSON.parse(data);
          if (event && typeof event.error === "object" && event.error) {
            throw new ApiError(STATUS_BY_TYPE[event.error.type] ?? 0, event.error);
          }
          onEvent?.(event);
        }
        if (done) return;
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  // get(path, query?, options?), post(path, body, options?), del(path, options?): options are
  // {signal, headers}; stream(path, body, {onEvent, signal, headers}).
  return {
    get: async (path, query, options = {}) => json(await send("GET", path, { ...options, query })),
    post: async (path, body, options = {}) => json(await send("POST", path, { ...options, body })),
    del: async (path, options = {}) => json(await send("DELETE", path, options)),
    stream,
    // Checks a candidate key without making it the session's (sign-in).
    checkKey: async (key) => json(await send("GET", "/v1/models", { key })),
  };
}
