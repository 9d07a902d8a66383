"""A real HTTP fake of the Gemini API, Vertex AI and Google's OAuth token endpoint, on
127.0.0.1, strict about what real Gemini refuses (roles, function call/response turns,
unknown fields), answering in Gemini's shapes: JSON answers, SSE streams (`\\r\\n\\r\\n`
framed, usage in the last chunk), Google error bodies, 429 with RetryInfo and Retry-After.

Behaviour is picked by the model name, with tests/fakes/script.py's markers (`fail-<status>`,
`retryafter-<s>`, `slow-<ms>`, `drop`, `cut-<n>`, `trunc-<n>`, `streamerror-<n>`, `tools`)
plus Gemini's own:

    safety      the candidate is stopped by the safety filter (finishReason SAFETY)
    blocked     the prompt is blocked (promptFeedback.blockReason, no candidates)
    withids     function calls carry ids (as Gemini 3 sends them); otherwise none
    thinking    a thought-summary part first, and thoughtsTokenCount in the usage
    cache       usage reports cachedContentTokenCount
    gather-<n>  requests wait until n of them (for this model) are in flight at once, to
                prove a client sends them concurrently (`max_in_flight` says how many it did)

and by the model's own name, as Google checks it: a `pro` model refuses a thinking budget of
0, only `gemini-3` models take a thinking level and refuse a function call turn of the
current turn without a thought signature, and on Vertex a `gemini-embedding` model embeds one
text per request. The Gemini API refuses `labels` (only Vertex takes them).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import re
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from tests.fakes.script import Behaviour, Plan, plan, words
from tests.fakes.upstream import RecordedRequest

_START_TIMEOUT = 10.0
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_TOP_LEVEL = frozenset(
    {
        "contents",
        "systemInstruction",
        "tools",
        "toolConfig",
        "generationConfig",
        "safetySettings",
        "cachedContent",
    }
)
_VERTEX_TOP_LEVEL = _TOP_LEVEL | {"labels"}
_GENERATION = frozenset(
    {
        "temperature",
        "topP",
        "topK",
        "maxOutputTokens",
        "stopSequences",
        "candidateCount",
        "responseMimeType",
        "responseSchema",
        "responseJsonSchema",
        "presencePenalty",
        "frequencyPenalty",
        "seed",
        "thinkingConfig",
        "responseModalities",
        "mediaResolution",
    }
)
_THINKING = frozenset({"includeThoughts", "thinkingBudget", "thinkingLevel"})
_THINKING_LEVELS = frozenset({"MINIMAL", "LOW", "MEDIUM", "HIGH"})
_PART_DATA = ("text", "inlineData", "fileData", "functionCall", "functionResponse")
_SIGNATURE = "sig-fake-0"
EMBEDDING_DIMENSIONS = 8
GEMINI_EMBED_BATCH = 100
"""Requests per batchEmbedContents the Gemini API takes."""
VERTEX_EMBED_BATCH = 250
VERTEX_EMBED_TOKENS = 20_000
"""Instances, and their tokens (counted here as words), per :predict of a text-embedding
model; a gemini-embedding model takes one instance."""
_MAX_LABELS = 64
_LABEL = re.compile(r"[a-z0-9_-]{0,63}")


def error_response(status: int, message: str, *, retry_after: int | None = None) -> web.Response:
    """Google's error body; a 429 carries RetryInfo as Google sends it."""
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": _STATUS.get(status, "UNKNOWN"),
    }
    headers = {}
    if retry_after is not None:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_after}s"}
        ]
        headers["retry-after"] = str(retry_after)
    return web.json_response({"error": error}, status=status, headers=headers)


def _problem(body: Any, model: str, *, vertex: bool) -> str | None:
    """What real Gemini refuses with a 400 (the subset a translation could get wrong)."""
    if not isinstance(body, dict):
        return "Invalid JSON payload received."
    for key in body:
        if key not in (_VERTEX_TOP_LEVEL if vertex else _TOP_LEVEL):
            return f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.'
    if "labels" in body:
        problem = _labels_problem(body["labels"])
        if problem:
            return problem
    for key in body.get("generationConfig") or {}:
        if key not in _GENERATION:
            return (
                f'Invalid JSON payload received. Unknown name "{key}" at '
                "'generation_config': Cannot find field."
            )
    config = body.get("generationConfig") or {}
    if "responseJsonSchema" in config and config.get("responseMimeType") != "application/json":
        return "response_mime_type must be application/json when a response schema is set"
    problem = _thinking_problem(config.get("thinkingConfig"), model)
    if problem:
        return problem
    contents = body.get("contents")
    if not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    system = body.get("systemInstruction")
    if system is not None:
        if system.get("role") not in (None, "user", "system"):
            return f"systemInstruction.role: {system['role']!r} is not a valid role"
        if not system.get("parts") or not all("text" in p for p in system["parts"]):
            return "systemInstruction must be parts of text"
    problem = _tools_problem(body)
    if problem:
        return problem
    previous_calls: list[str] = []
    previous_role = ""
    previous_responses = False
    for i, content in enumerate(contents):
        role = content.get("role")
        if role not in ("user", "model"):
            return f"Please use a valid role: user, model. (contents[{i}].role: {role!r})"
        parts = content.get("parts")
        if not parts:
            return (
                f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty."
            )
        for j, part in enumerate(parts):
            problem = _part_problem(part, f"contents[{i}].parts[{j}]")
            if problem:
                return problem
        calls = [p["functionCall"]["name"] for p in parts if "functionCall" in p]
        responses = [p["functionResponse"]["name"] for p in parts if "functionResponse" in p]
        if calls and not (previous_role == "user" or previous_responses):
            return (
                "Please ensure that function call turn comes immediately after a user turn "
                "or after a function response turn."
            )
        if responses:
            if role != "user":
                return f"contents[{i}]: function responses belong in a user turn"
            if len(responses) != len(previous_calls):
                return (
                    "Please ensure that the number of function response parts is equal to the "
                    "number of function call parts of the function call turn."
                )
            if sorted(responses) != sorted(previous_calls):
                return f"contents[{i}]: function response names do not match the calls"
        previous_calls, previous_role, previous_responses = calls, role, bool(responses)
    if "gemini-3" in model:
        return _signature_problem(contents)
    return None


def _thinking_problem(thinking: Any, model: str) -> str | None:
    if thinking is None:
        return None
    for key in thinking:
        if key not in _THINKING:
            return (
                f'Invalid JSON payload received. Unknown name "{key}" at '
                "'generation_config.thinking_config': Cannot find field."
            )
    if "thinkingBudget" in thinking and "thinkingLevel" in thinking:
        return "You can only set only one of thinking budget and thinking level."
    if "thinkingLevel" in thinking:
        if str(thinking["thinkingLevel"]).upper() not in _THINKING_LEVELS:
            return (
                f"Invalid value at 'thinking_config.thinking_level': {thinking['thinkingLevel']!r}"
            )
        if "gemini-3" not in model:
            return "Thinking level is not supported for this model."
    if thinking.get("thinkingBudget") == 0 and re.search(r"(^|-)pro(-|$)", model):
        return "Budget 0 is invalid. This model only works in thinking mode."
    return None


def _signature_problem(contents: list[dict[str, Any]]) -> str | None:
    """Gemini 3 checks the current turn (since the last user text): the first function call
    of each of its model turns must carry the thought signature it came with."""
    start = 0
    for i, content in enumerate(contents):
        if content["role"] == "user" and any("text" in p for p in content["parts"]):
            start = i
    for i in range(start, len(contents)):
        calls = [p for p in contents[i]["parts"] if "functionCall" in p]
        if calls and not calls[0].get("thoughtSignature"):
            name = calls[0]["functionCall"]["name"]
            return (
                f"Function call `{name}` in the {i + 1}. content block is missing a "
                "`thought_signature`."
            )
    return None


def _labels_problem(labels: Any) -> str | None:
    if not isinstance(labels, dict):
        return "Invalid JSON payload received. labels must be a map"
    if len(labels) > _MAX_LABELS:
        return f"At most {_MAX_LABELS} labels are allowed"
    for key, value in labels.items():
        if not (_label_text(key) and key[0].isalpha()):
            return f"Label key {key!r} is invalid"
        if not isinstance(value, str) or not _label_text(value, empty=True):
            return f"Label value {value!r} of {key!r} is invalid"
    return None


def _label_text(text: str, *, empty: bool = False) -> bool:
    """Lowercase letters (international ones too), digits, `_` and `-`; up to 63."""
    if not text:
        return empty
    ascii_only = "".join(ch if ch.isascii() else "a" for ch in text)
    international = all(ch.isalpha() and not ch.isupper() for ch in text if not ch.isascii())
    return bool(_LABEL.fullmatch(ascii_only)) and international


def _part_problem(part: Any, where: str) -> str | None:
    data = [key for key in _PART_DATA if key in part]
    if len(data) != 1:
        return f"{where}: a part must hold exactly one of {', '.join(_PART_DATA)}"
    if "inlineData" in part:
        inline = part["inlineData"]
        if not inline.get("mimeType"):
            return f"{where}.inlineData.mimeType is required"
        try:
            base64.b64decode(inline.get("data") or "", validate=True)
        except ValueError:
            return f"{where}.inlineData.data: Invalid value (bytes): base64 decoding failed"
    if "fileData" in part and not (
        part["fileData"].get("mimeType") and part["fileData"].get("fileUri")
    ):
        return f"{where}.fileData needs mimeType and fileUri"
    if "functionCall" in part:
        call = part["functionCall"]
        if not call.get("name"):
            return f"{where}.functionCall.name: Name cannot be empty."
        if not isinstance(call.get("args", {}), dict):
            return f"{where}.functionCall.args must be an object"
    if "functionResponse" in part:
        response = part["functionResponse"]
        if not response.get("name"):
            return f"{where}.functionResponse.name: Name cannot be empty."
        if not isinstance(response.get("response"), dict):
            return f"{where}.functionResponse.response must be an object"
    return None


def _tools_problem(body: dict[str, Any]) -> str | None:
    names = set()
    for tool in body.get("tools") or []:
        for declaration in tool.get("functionDeclarations") or []:
            if not declaration.get("name"):
                return "tools[].function_declarations[].name: Name cannot be empty."
            if "parameters" in declaration and "parametersJsonSchema" in declaration:
                return "parameters and parameters_json_schema are mutually exclusive"
            names.add(declaration["name"])
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig")
    if calling is not None:
        if calling.get("mode") not in ("AUTO", "ANY", "NONE", "VALIDATED"):
            return f"Invalid value at 'tool_config.function_calling_config.mode': {calling.get('mode')!r}"
        allowed = calling.get("allowedFunctionNames")
        if allowed is not None and calling["mode"] != "ANY":
            return "allowed_function_names may be set only when the mode is ANY"
        if allowed and not set(allowed) <= names:
            return "allowed_function_names must name declared functions"
    return None


def _text(parts: list[dict[str, Any]]) -> str:
    return " ".join(p["text"] for p in parts if isinstance(p.get("text"), str) and p["text"])


def _media(parts: list[dict[str, Any]]) -> list[str]:
    found = []
    for part in parts:
        if "inlineData" in part:
            size = len(base64.b64decode(part["inlineData"]["data"]))
            found.append(f"[{part['inlineData']['mimeType']} {size} bytes]")
        if "fileData" in part:
            found.append(f"[{part['fileData']['mimeType']} {part['fileData']['fileUri']}]")
    return found


def _plan(body: dict[str, Any], behaviour: Behaviour) -> Plan:
    contents = body["contents"]
    last = contents[-1]["parts"]
    results = [
        f"{p['functionResponse']['name']}="
        + str(
            p["functionResponse"]["response"].get(
                "output", json.dumps(p["functionResponse"]["response"])
            )
        )
        for p in last
        if "functionResponse" in p
    ]
    user_turns = [c["parts"] for c in contents if c["role"] == "user"]
    last_text = next((_text(p) for p in reversed(user_turns) if _text(p)), "")
    media = _media(user_turns[-1]) if user_turns else []
    if media:
        last_text = " ".join([last_text, *media]).strip()
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    names = [
        d["name"] for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []
    ]
    if calling.get("mode") == "NONE":
        names = []
    elif calling.get("allowedFunctionNames"):
        names = list(calling["allowedFunctionNames"])
    config = body.get("generationConfig") or {}
    system = _text((body.get("systemInstruction") or {}).get("parts") or [])
    answer = plan(
        last_user_text=last_text,
        tool_results=results or None,
        tool_names=names,
        force_tools=behaviour.tools and calling.get("mode") != "NONE",
        parallel=True,
        max_tokens=config.get("maxOutputTokens"),
        input_tokens=len(system.split()) + sum(len(_text(c["parts"]).split()) for c in contents),
    )
    if config.get("responseMimeType") == "application/json" and not answer.tool_calls:
        answer.pieces = words(json.dumps({"echo": last_text}))
    return answer


def _usage(answer: Plan, name: str, *, final: bool) -> dict[str, Any]:
    usage: dict[str, Any] = {"promptTokenCount": answer.input_tokens}
    if final:
        usage["candidatesTokenCount"] = answer.output_tokens
        total = answer.input_tokens + answer.output_tokens
        if "thinking" in name:
            usage["thoughtsTokenCount"] = 5
            total += 5
        usage["totalTokenCount"] = total
    if "cache" in name:
        usage["cachedContentTokenCount"] = 2
    return usage


def _finish(answer: Plan, name: str) -> str:
    if "safety" in name:
        return "SAFETY"
    return "MAX_TOKENS" if answer.truncated else "STOP"


def _call_parts(answer: Plan, name: str) -> list[dict[str, Any]]:
    parts = []
    for i, (function, arguments) in enumerate(answer.tool_calls):
        call: dict[str, Any] = {"name": function, "args": json.loads(arguments)}
        if "withids" in name:
            call["id"] = f"fc-{i}"
        part: dict[str, Any] = {"functionCall": call}
        if i == 0:
            part["thoughtSignature"] = _SIGNATURE
        parts.append(part)
    return parts


def _thought(name: str) -> list[dict[str, Any]]:
    return [{"text": "Thinking it over.", "thought": True}] if "thinking" in name else []


def _candidates(count: int, parts: list[dict[str, Any]], finish: str | None) -> list[Any]:
    out = []
    for index in range(count):
        candidate: dict[str, Any] = {"index": index}
        if parts:
            candidate["content"] = {"role": "model", "parts": parts}
        if finish:
            candidate["finishReason"] = finish
        out.append(candidate)
    return out


def _whole(body: dict[str, Any], name: str, answer: Plan) -> dict[str, Any]:
    base = {"modelVersion": name, "responseId": "resp-fake"}
    if "blocked" in name:
        return {
            **base,
            "promptFeedback": {"blockReason": "SAFETY"},
            "usageMetadata": _usage(answer, name, final=True),
        }
    count = int((body.get("generationConfig") or {}).get("candidateCount") or 1)
    parts = _thought(name)
    if "safety" not in name:
        parts += [{"text": "".join(answer.pieces)}, *_call_parts(answer, name)]
    return {
        **base,
        "candidates": _candidates(count, parts, _finish(answer, name)),
        "usageMetadata": _usage(answer, name, final=True),
    }


def _chunks(body: dict[str, Any], name: str, answer: Plan) -> list[dict[str, Any]]:
    base = {"modelVersion": name, "responseId": "resp-fake"}
    if "blocked" in name:
        return [
            {
                **base,
                "promptFeedback": {"blockReason": "SAFETY"},
                "usageMetadata": _usage(answer, name, final=True),
            }
        ]
    count = int((body.get("generationConfig") or {}).get("candidateCount") or 1)
    running = {"usageMetadata": _usage(answer, name, final=False)}
    chunks = [
        {**base, "candidates": _candidates(count, [part], None), **running}
        for part in _thought(name)
    ]
    if "safety" not in name:
        chunks += [
            {**base, "candidates": _candidates(count, [{"text": piece}], None), **running}
            for piece in answer.pieces
        ]
        calls = _call_parts(answer, name)
        if calls:
            # Parallel calls arrive together, whole, in one chunk.
            chunks.append({**base, "candidates": _candidates(count, calls, None), **running})
    final = {"usageMetadata": _usage(answer, name, final=True)}
    chunks.append(
        {**base, "candidates": _candidates(count, [{"text": ""}], _finish(answer, name)), **final}
    )
    return chunks


def _frame(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\r\n\r\n"


async def _stream(
    request: web.Request, behaviour: Behaviour, chunks: list[dict[str, Any]]
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    for count, chunk in enumerate(chunks):
        if count == behaviour.cut_after:
            if request.transport is not None:
                request.transport.close()
            return response
        if count == behaviour.trunc_after:
            break
        if count == behaviour.error_after:
            error = {
                "error": {
                    "code": 503,
                    "message": "The model is overloaded.",
                    "status": "UNAVAILABLE",
                }
            }
            await response.write(_frame(error))
            break
        await response.write(_frame(chunk))
    await response.write_eof()
    return response


def fake_vector(text: str, dimensions: int) -> list[float]:
    """The embedding the fake answers for `text`, the same on every call."""
    digest = hashlib.sha256(text.encode()).digest() * (dimensions // 8 + 1)
    return [struct.unpack("b", digest[i : i + 1])[0] / 128 for i in range(dimensions)]


class FakeGemini:
    """The running fake: `base_url`, the `requests` it saw, the tokens it issued."""

    def __init__(self) -> None:
        self.base_url = ""
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self.issued_tokens: list[str] = []
        self._in_flight: dict[str, int] = {}
        self._max_in_flight: dict[str, int] = {}
        self._gathered: dict[str, asyncio.Event] = {}
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="fake-gemini", daemon=True)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def max_in_flight(self, model: str) -> int:
        """The most requests for `model` the fake was answering at once."""
        with self._lock:
            return self._max_in_flight.get(model, 0)

    def requests_for(self, model: str) -> list[RecordedRequest]:
        return [r for r in self.requests if f"/{model}:" in r.path]

    def last_request(self, model: str) -> RecordedRequest:
        found = self.requests_for(model)
        assert found, f"the fake saw no request for {model!r}"
        return found[-1]

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError("the fake Gemini did not start")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(_START_TIMEOUT)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_post("/v1beta/models/{action}", self._gemini)
        vertex = "/v1/projects/{project}/locations/{location}/publishers/google/models/{action}"
        app.router.add_post(vertex, self._vertex)
        app.router.add_post("/token", self._token)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
        await web.SockSite(runner, sock).start()
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    async def _record(self, request: web.Request) -> Any:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            peer="",
        )
        with self._lock:
            self._requests.append(recorded)
        return body

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        with self._lock:
            self._requests.append(
                RecordedRequest("POST", request.path, {}, dict(request.headers), dict(form), "")
            )
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        assertion = str(form.get("assertion") or "")
        if assertion.count(".") != 2:
            return web.json_response({"error": "invalid_grant"}, status=400)
        with self._lock:
            token = f"ya29.fake-{len(self.issued_tokens)}"
            self.issued_tokens.append(token)
        return web.json_response(
            {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
        )

    async def _gemini(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        if "authorization" in request.headers or not request.headers.get("x-goog-api-key"):
            return error_response(
                403, "Method doesn't allow unregistered callers. Please use API Key."
            )
        return await self._answer(request, body, "models/")

    async def _vertex(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or len(auth) <= len("Bearer "):
            return error_response(401, "Request is missing required authentication credential.")
        return await self._answer(request, body, "")

    async def _answer(self, request: web.Request, body: Any, prefix: str) -> web.StreamResponse:
        model = request.match_info["action"].rpartition(":")[0]
        with self._lock:
            self._in_flight[model] = count = self._in_flight.get(model, 0) + 1
            self._max_in_flight[model] = max(count, self._max_in_flight.get(model, 0))
        try:
            await self._gather(model, count)
            return await self._respond(request, body, prefix)
        finally:
            with self._lock:
                self._in_flight[model] -= 1

    async def _gather(self, model: str, count: int) -> None:
        wanted = re.search(r"gather-(\d+)", model)
        if wanted is None:
            return
        gathered = self._gathered.setdefault(model, asyncio.Event())
        if count >= int(wanted.group(1)):
            gathered.set()  # and stays set: later requests go straight through
        await gathered.wait()

    async def _respond(self, request: web.Request, body: Any, prefix: str) -> web.StreamResponse:
        model, _, action = request.match_info["action"].rpartition(":")
        behaviour = Behaviour.from_name(model)
        if behaviour.slow_ms:
            await asyncio.sleep(behaviour.slow_ms / 1000)
        if behaviour.drop:
            if request.transport is not None:
                request.transport.close()
            return web.Response()
        if behaviour.fail_status:
            return error_response(
                behaviour.fail_status,
                f"fake failure {behaviour.fail_status} for {model}",
                retry_after=behaviour.retry_after,
            )
        if action == "batchEmbedContents" and prefix:
            return self._embed_gemini(body, model)
        if action == "predict" and not prefix:
            return self._embed_vertex(body, model)
        if action not in ("generateContent", "streamGenerateContent"):
            return error_response(404, f"unknown action {action!r}")
        problem = _problem(body, model, vertex=not prefix)
        if problem:
            return error_response(400, problem)
        answer = _plan(body, behaviour)
        if action == "generateContent":
            return web.json_response(_whole(body, model, answer))
        if request.query.get("alt") != "sse":
            # Without alt=sse Gemini streams one JSON array, which the gateway does not read.
            return error_response(400, "the fake streams only with alt=sse")
        return await _stream(request, behaviour, _chunks(body, model, answer))

    def _embed_gemini(self, body: dict[str, Any], model: str) -> web.Response:
        items = body.get("requests") or []
        if len(items) > GEMINI_EMBED_BATCH:
            return error_response(
                400,
                "* BatchEmbedContentsRequest.requests: at most "
                f"{GEMINI_EMBED_BATCH} requests can be in one batch",
            )
        embeddings = []
        for i, item in enumerate(items):
            if item.get("model") != f"models/{model}":
                return error_response(400, f"requests[{i}].model must be models/{model}")
            text = _text((item.get("content") or {}).get("parts") or [])
            size = int(item.get("outputDimensionality") or EMBEDDING_DIMENSIONS)
            embeddings.append({"values": fake_vector(text, size)})
        return web.json_response({"embeddings": embeddings})

    def _embed_vertex(self, body: dict[str, Any], model: str) -> web.Response:
        size = int(
            (body.get("parameters") or {}).get("outputDimensionality") or EMBEDDING_DIMENSIONS
        )
        instances = body.get("instances") or []
        limit = 1 if "gemini-embedding" in model else VERTEX_EMBED_BATCH
        if len(instances) > limit:
            return error_response(
                400, f"Unable to submit request because it has more than {limit} instances."
            )
        tokens = sum(len(instance["content"].split()) for instance in instances)
        if tokens > VERTEX_EMBED_TOKENS:
            return error_response(
                400,
                f"Unable to submit request because the input token count is {tokens} but "
                f"the model supports up to {VERTEX_EMBED_TOKENS}.",
            )
        predictions = []
        for instance in instances:
            text = instance["content"]
            statistics = {"token_count": len(text.split()), "truncated": False}
            predictions.append(
                {"embeddings": {"values": fake_vector(text, size), "statistics": statistics}}
            )
        return web.json_response({"predictions": predictions})


@contextlib.contextmanager
def run_fake_gemini() -> Iterator[FakeGemini]:
    """Starts the fake for the `with` block."""
    fake = FakeGemini()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="session")
def fake_gemini() -> Iterator[FakeGemini]:
    """The fake for the session (import it into a test module or conftest to use it)."""
    with run_fake_gemini() as fake:
        yield fake
