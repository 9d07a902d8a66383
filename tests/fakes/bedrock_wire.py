"""A fake Bedrock runtime on 127.0.0.1 (ephemeral port), strict where real Bedrock is.

Every request's SigV4 signature is recomputed with botocore from the test credentials and the
bytes that arrived (403 on any mismatch, as AWS answers). Converse answers JSON;
ConverseStream answers real binary event-stream frames with their prelude and message CRCs,
each frame split across writes; InvokeModel serves Titan and Cohere embeddings. Behaviour is
picked by words in the model id:

    tools         calls every declared tool (one tool declared: a single call); after tool
                  results, answers with their text
    image         describes the images it got (format and decoded size)
    cache         reports cache read and write tokens
    throttle      429 ThrottlingException (with Retry-After: 2)
    invalid       400 ValidationException     denied   403 AccessDeniedException
    unavailable   503 ServiceUnavailableException
    model-timeout 408 ModelTimeoutException
    midstream     (stream) a delta, then a throttlingException frame
    cut           (stream) ends without messageStop
    no-usage      (stream) ends after messageStop, without the metadata (usage) event
    corrupt       (stream) a frame whose message CRC is wrong
    otherwise     echoes the last user text: `echo: <text>`

Every InvokeModel answer carries the `X-Amzn-Bedrock-Input-Token-Count` header (a word count
of the texts), and the fake records the most InvokeModel calls it ever had in flight at once.
A signature it refuses is answered as AWS does, quoting the canonical request (session token
included) and the string to sign.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import socket
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pytest
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCESS_KEY = "AKIDFAKEBEDROCK0001"
SECRET_KEY = "fake-bedrock-SECRET-7c1e9a"
"""Distinctive, so a test can assert it never appears anywhere."""
REGION = "us-east-1"
_START_TIMEOUT = 10.0
_IMAGE_FORMATS = {"png", "jpeg", "gif", "webp"}
_CONVERSE_KEYS = {
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "additionalModelResponseFieldPaths",
    "promptVariables",
    "requestMetadata",
    "performanceConfig",
    "serviceTier",
    "outputConfig",
}
_INFERENCE_KEYS = {"maxTokens", "temperature", "topP", "stopSequences"}
_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_METADATA_KEY = re.compile(r"[a-zA-Z0-9\s:_@$#=/+,\-.]{1,256}", re.ASCII)
_METADATA_VALUE = re.compile(r"[a-zA-Z0-9\s:_@$#=/+,\-.]{0,256}", re.ASCII)
COHERE_MAX_TEXTS = 96
INPUT_TOKENS_HEADER = "X-Amzn-Bedrock-Input-Token-Count"


def isolate_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test credentials in the environment, and nothing of the developer's: no ~/.aws
    files, no profile, no instance metadata lookups (no network)."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CREDENTIAL_EXPIRATION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws/credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@dataclass(frozen=True)
class BedrockRequest:
    """One request as the fake received it (after its signature was checked)."""

    operation: str
    """`converse`, `converse-stream` or `invoke`."""
    model: str
    """The model id, percent-decoded."""
    raw_path: str
    headers: dict[str, str]
    body: Any


class FakeBedrock:
    """The running fake: `base_url`, the `requests` it accepted, `bad_signatures` it refused
    (and the message of the last), the most InvokeModel calls it had in flight at once."""

    def __init__(self) -> None:
        self.base_url = ""
        self._lock = threading.Lock()
        self._requests: list[BedrockRequest] = []
        self.bad_signatures = 0
        self.last_signature_error = ""
        self._invokes_in_flight = 0
        self.max_invokes_in_flight = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="fake-bedrock", daemon=True)

    @property
    def requests(self) -> list[BedrockRequest]:
        with self._lock:
            return list(self._requests)

    def last_request(self, model: str) -> BedrockRequest:
        found = [r for r in self.requests if r.model == model]
        assert found, f"the fake bedrock saw no request for {model!r}"
        return found[-1]

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT) or not self.base_url:
            raise RuntimeError("the fake bedrock did not start")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(_START_TIMEOUT)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_post("/model/{model}/{operation}", self._handle)
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

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        problem = _signature_problem(request, raw)
        if problem is not None:
            with self._lock:
                self.bad_signatures += 1
                self.last_signature_error = problem
            return _error(403, "InvalidSignatureException", problem)
        _, _, model_raw, operation = request.raw_path.split("?")[0].split("/", 3)
        model = unquote(model_raw)
        body = json.loads(raw) if raw else None
        with self._lock:
            self._requests.append(
                BedrockRequest(
                    operation=operation,
                    model=model,
                    raw_path=request.raw_path,
                    headers={k.lower(): v for k, v in request.headers.items()},
                    body=body,
                )
            )
        if operation == "invoke":
            with self._lock:
                self._invokes_in_flight += 1
                self.max_invokes_in_flight = max(
                    self.max_invokes_in_flight, self._invokes_in_flight
                )
            try:
                # Yields once, so calls that arrived together can overlap here and be counted.
                await asyncio.sleep(0)
                return _invoke(model, body)
            finally:
                with self._lock:
                    self._invokes_in_flight -= 1
        refused = _http_failure(model)
        if refused is not None:
            return refused
        problem = converse_problem(body)
        if problem is not None:
            return _error(400, "ValidationException", problem)
        answer = _answer(model, body)
        if operation == "converse":
            return web.json_response(answer)
        if operation == "converse-stream":
            return await _stream(request, model, answer)
        return _error(404, "UnknownOperationException", operation)


def _signature_problem(request: web.Request, body: bytes) -> str | None:
    """What is wrong with the request's SigV4 signature, recomputed from what arrived."""
    authorization = request.headers.get("Authorization", "")
    algorithm, _, fields = authorization.partition(" ")
    parts = dict(p.strip().split("=", 1) for p in fields.split(",") if "=" in p)
    if algorithm != "AWS4-HMAC-SHA256" or not {"Credential", "SignedHeaders", "Signature"} <= set(
        parts
    ):
        return "missing or malformed Authorization header"
    access_key, date, region, service, terminator = parts["Credential"].split("/")
    amz_date = request.headers.get("X-Amz-Date", "")
    if (access_key, region, service, terminator) != (ACCESS_KEY, REGION, "bedrock", "aws4_request"):
        return f"wrong credential scope {parts['Credential']}"
    if not amz_date.startswith(date):
        return "X-Amz-Date does not match the credential scope"
    signed = parts["SignedHeaders"].split(";")
    if not {"host", "x-amz-date"} <= set(signed):
        return "host and x-amz-date must be signed"
    url = f"http://{request.headers['Host']}{request.raw_path}"
    aws_request = AWSRequest(
        method=request.method,
        url=url,
        data=body,
        headers={name: request.headers.get(name, "") for name in signed},
    )
    aws_request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "bedrock", REGION)
    canonical = signer.canonical_request(aws_request)
    expected = signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
    if expected != parts["Signature"]:
        # AWS's own wording: the quoted canonical request holds every signed header,
        # the session token too.
        return (
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.\n\nThe Canonical String for this request should have "
            f"been\n'{canonical}'\n\nThe String-to-Sign should have been\n"
            f"'{signer.string_to_sign(aws_request, canonical)}'\n"
        )
    return None


def _error(
    status: int, kind: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"message": message},
        status=status,
        headers={
            "x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/",
            **(headers or {}),
        },
    )


_FAILURES = {
    "throttle": (429, "ThrottlingException", "Too many requests, please wait before trying again."),
    "invalid": (400, "ValidationException", "The provided model identifier is invalid."),
    "denied": (403, "AccessDeniedException", "You don't have access to the model."),
    "unavailable": (503, "ServiceUnavailableException", "Bedrock is unavailable."),
    "model-timeout": (408, "ModelTimeoutException", "Model has timed out in processing."),
}


def _http_failure(model: str) -> web.Response | None:
    for word, (status, kind, message) in _FAILURES.items():
        if word in model:
            headers = {"Retry-After": "2"} if status == 429 else None
            return _error(status, kind, message, headers)
    return None


def converse_problem(body: Any) -> str | None:
    """Why real Converse would refuse `body` (the subset a translation could get wrong), in
    the words of its 400 ValidationException; None when it would take it."""
    if not isinstance(body, dict) or not body.get("messages"):
        return "messages: at least one message is required"
    unknown = set(body) - _CONVERSE_KEYS
    if unknown:
        return f"extraneous key [{sorted(unknown)[0]}] is not permitted"
    if set(body.get("inferenceConfig", {})) - _INFERENCE_KEYS:
        return "inferenceConfig: extraneous key"
    for block in body.get("system", []):
        if "text" in block and not block["text"].strip():
            return "The text field in the SystemContentBlock object is blank."
    tool_ids: set[str] = set()
    uses_tools = False
    for i, message in enumerate(body["messages"]):
        if message.get("role") != ("user" if i % 2 == 0 else "assistant"):
            return "A conversation must alternate between user and assistant roles."
        if not message.get("content"):
            return f"messages.{i}.content: must not be empty"
        for block in message["content"]:
            if _blank_text(block):
                return "The text field in the ContentBlock object is blank."
            if "image" in block:
                image = block["image"]
                if image.get("format") not in _IMAGE_FORMATS:
                    return "image.format is invalid"
                try:
                    base64.b64decode(image["source"]["bytes"], validate=True)
                except ValueError:
                    return "image.source.bytes is not valid base64"
            if "toolUse" in block:
                uses_tools = True
                if not isinstance(block["toolUse"].get("input"), dict):
                    return "toolUse.input must be an object"
                tool_ids.add(block["toolUse"]["toolUseId"])
            if "toolResult" in block:
                uses_tools = True
                result = block["toolResult"]
                if result.get("toolUseId") not in tool_ids:
                    return "toolResult has no matching toolUse"
                if any(_blank_text(part) for part in result.get("content", [])):
                    return "The text field in the ToolResultContentBlock object is blank."
    if uses_tools and "toolConfig" not in body:
        return (
            "The toolConfig field must be defined when using toolUse and toolResult content blocks."
        )
    if "toolConfig" in body:
        problem = _tool_config_problem(body["toolConfig"])
        if problem is not None:
            return problem
    if "requestMetadata" in body:
        problem = _metadata_problem(body["requestMetadata"])
        if problem is not None:
            return problem
    return None


def _blank_text(block: dict[str, Any]) -> bool:
    return "text" in block and not block["text"].strip()


def _tool_config_problem(config: Any) -> str | None:
    tools = config.get("tools") if isinstance(config, dict) else None
    if not isinstance(tools, list) or not tools:
        return "toolConfig.tools: must hold at least one tool"
    names = set()
    for tool in tools:
        spec = tool.get("toolSpec", {})
        if not _TOOL_NAME.fullmatch(str(spec.get("name", ""))):
            return "toolSpec.name: must match [a-zA-Z0-9_-]{1,64}"
        if not isinstance(spec.get("inputSchema", {}).get("json"), dict):
            return "toolSpec.inputSchema.json: must be an object"
        if "description" in spec and not spec["description"]:
            return "toolSpec.description: must not be empty"
        names.add(spec["name"])
    choice = config.get("toolChoice")
    if choice is not None:
        if len(choice) != 1 or next(iter(choice)) not in {"auto", "any", "tool"}:
            return "toolChoice: must be one of auto, any, tool"
        if "tool" in choice and choice["tool"].get("name") not in names:
            return "toolChoice.tool.name: names no declared tool"
    return None


def _metadata_problem(metadata: Any) -> str | None:
    if not isinstance(metadata, dict) or not 1 <= len(metadata) <= 16:
        return "requestMetadata: must hold 1 to 16 entries"
    for key, value in metadata.items():
        if not _METADATA_KEY.fullmatch(key):
            return "requestMetadata: a key fails to match [a-zA-Z0-9\\s:_@$#=/+,-.]{1,256}"
        if not isinstance(value, str) or not _METADATA_VALUE.fullmatch(value):
            return "requestMetadata: a value fails to match [a-zA-Z0-9\\s:_@$#=/+,-.]{0,256}"
    return None


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body["messages"]):
        if message["role"] == "user":
            texts = [b["text"] for b in message["content"] if "text" in b]
            if texts:
                return " ".join(texts)
    return ""


def _answer(model: str, body: dict[str, Any]) -> dict[str, Any]:
    """The whole Converse answer; streams send the same answer as events."""
    content: list[dict[str, Any]] = []
    stop = "end_turn"
    last = body["messages"][-1]["content"]
    results = [b["toolResult"] for b in last if "toolResult" in b]
    if "tools" in model and results:
        texts = [c.get("text", json.dumps(c.get("json"))) for r in results for c in r["content"]]
        content.append({"text": "results: " + "; ".join(texts)})
    elif "tools" in model and "toolConfig" in body:
        tools = [t["toolSpec"]["name"] for t in body["toolConfig"]["tools"]]
        forced = body["toolConfig"].get("toolChoice", {}).get("tool", {}).get("name")
        content.append({"text": "Calling tools."})
        for i, name in enumerate([forced] if forced else tools):
            content.append(
                {"toolUse": {"toolUseId": f"tooluse_{i}", "name": name, "input": {"call": i}}}
            )
        stop = "tool_use"
    elif "image" in model:
        images = [b["image"] for m in body["messages"] for b in m["content"] if "image" in b]
        described = [
            f"{i['format']}/{len(base64.b64decode(i['source']['bytes']))} bytes" for i in images
        ]
        content.append({"text": "images: " + ", ".join(described)})
    else:
        content.append({"text": f"echo: {_last_user_text(body)}"})
    words = sum(len(json.dumps(m).split()) for m in body["messages"])
    output_words = sum(len(json.dumps(b).split()) for b in content)
    usage: dict[str, Any] = {
        "inputTokens": words,
        "outputTokens": output_words,
        "totalTokens": words + output_words,
    }
    if "cache" in model:
        usage.update(cacheReadInputTokens=3, cacheWriteInputTokens=2)
        usage["totalTokens"] += 5
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": usage,
        "metrics": {"latencyMs": 12},
    }


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream frame: prelude (total and header lengths) + its CRC, headers (all
    strings, type 7), payload, and the CRC of everything before it."""
    encoded = b"".join(
        struct.pack(">B", len(name))
        + name.encode()
        + b"\x07"
        + struct.pack(">H", len(value))
        + value.encode()
        for name, value in headers.items()
    )
    prelude = struct.pack(">II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event_frame(kind: str, event: dict[str, Any]) -> bytes:
    # Real Bedrock pads every event with a `p` field (hides lengths); parsers must ignore it.
    payload = json.dumps({**event, "p": "abcdefgh"}).encode()
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    return frame(headers, payload)


def exception_frame(kind: str, message: str) -> bytes:
    headers = {
        ":exception-type": kind,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return frame(headers, json.dumps({"message": message}).encode())


def stream_events(answer: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """ConverseStream's events for a whole answer, as Bedrock orders them."""
    events: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant"})]
    for index, block in enumerate(answer["output"]["message"]["content"]):
        if "text" in block:
            text = block["text"]
            for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
                events.append(
                    ("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}})
                )
        else:
            use = block["toolUse"]
            start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
            events.append(("contentBlockStart", {"contentBlockIndex": index, "start": start}))
            arguments = json.dumps(use["input"])
            for piece in (arguments[:3], arguments[3:]):
                delta = {"toolUse": {"input": piece}}
                events.append(("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        events.append(("contentBlockStop", {"contentBlockIndex": index}))
    events.append(("messageStop", {"stopReason": answer["stopReason"]}))
    events.append(("metadata", {"usage": answer["usage"], "metrics": answer["metrics"]}))
    return events


async def _stream(request: web.Request, model: str, answer: dict[str, Any]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "application/vnd.amazon.eventstream"})
    await response.prepare(request)
    frames = [event_frame(kind, event) for kind, event in stream_events(answer)]
    if "midstream" in model:
        frames = [
            *frames[:2],
            exception_frame("throttlingException", "Too many tokens, slow down."),
        ]
    elif "cut" in model:
        frames = frames[:-2]
    elif "no-usage" in model:
        frames = frames[:-1]
    elif "corrupt" in model:
        broken = bytearray(frames[1])
        broken[-1] ^= 0xFF
        frames = [frames[0], bytes(broken), *frames[2:]]
    try:
        for data in frames:
            # Split each frame across two writes, so the reader must reassemble frames.
            for piece in (data[:7], data[7:]):
                await response.write(piece)
        await response.write_eof()
    except ConnectionError:
        pass  # the client left (it stops reading at an exception or a broken frame)
    return response


def fake_vector(text: str, size: int) -> list[float]:
    """The vector the fake answers for `text` (a function of the text alone)."""
    seed = zlib.crc32(text.encode())
    return [((seed >> (i % 24)) % 1000) / 1000.0 for i in range(size)]


def _invoke(model: str, body: Any) -> web.Response:
    refused = _http_failure(model)
    if refused is not None:
        return refused
    if "amazon.titan-embed" in model:
        if set(body) - {"inputText", "dimensions", "normalize", "embeddingTypes"}:
            return _error(400, "ValidationException", "extraneous key in Titan body")
        size = body.get("dimensions", 1024)
        if size not in (256, 512, 1024):
            return _error(400, "ValidationException", "dimensions must be 256, 512 or 1024")
        text = body["inputText"]
        tokens = len(text.split())
        return web.json_response(
            {"embedding": fake_vector(text, size), "inputTextTokenCount": tokens},
            headers={INPUT_TOKENS_HEADER: str(tokens)},
        )
    if "cohere.embed" in model:
        if "input_type" not in body or not isinstance(body.get("texts"), list):
            return _error(400, "ValidationException", "texts and input_type are required")
        if not 0 < len(body["texts"]) <= COHERE_MAX_TEXTS:
            return _error(
                400,
                "ValidationException",
                f"Malformed input request: expected maxLength: {COHERE_MAX_TEXTS}, "
                f"actual: {len(body['texts'])}, please reformat your input and try again.",
            )
        vectors = [fake_vector(text, 8) for text in body["texts"]]
        tokens = sum(len(text.split()) for text in body["texts"])
        return web.json_response(
            {
                "embeddings": vectors,
                "id": "emb-1",
                "texts": body["texts"],
                "response_type": "embeddings_floats",
            },
            headers={INPUT_TOKENS_HEADER: str(tokens)},
        )
    return _error(400, "ValidationException", f"{model} does not support InvokeModel embeddings")


@contextlib.contextmanager
def run_fake_bedrock() -> Iterator[FakeBedrock]:
    """Starts the fake for the `with` block."""
    fake = FakeBedrock()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
