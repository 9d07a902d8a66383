"""ChatParams -> a Gemini `generateContent` request body (pure: no I/O).

Serves the Gemini API and Vertex AI alike: both take the same `GenerateContentRequest`; only
the URL (which names the model) and the credentials differ. Whatever the request asks for
that Gemini cannot do is refused with InvalidRequest naming the parameter, never dropped.
"""

from __future__ import annotations

import json
import mimetypes
from typing import Any
from urllib.parse import urlsplit

from codec import struct_to_dict, value_to_python
from core.errors import InvalidRequest
from core.providers.gemini_labels import vertex_labels
from core.providers.tool_arguments import arguments_object
from gateway.v1.chat_pb2 import (
    RESPONSE_FORMAT_TYPE_JSON_OBJECT,
    RESPONSE_FORMAT_TYPE_JSON_SCHEMA,
    ROLE_ASSISTANT,
    ROLE_DEVELOPER,
    ROLE_SYSTEM,
    ROLE_TOOL,
    ROLE_USER,
    TOOL_CHOICE_MODE_AUTO,
    TOOL_CHOICE_MODE_NONE,
    TOOL_CHOICE_MODE_REQUIRED,
    ChatParams,
    ContentPart,
    Message,
    Tool,
)

SYNTHETIC_ID_PREFIX = "call_gmn_"
"""Prefix of the tool-call ids the gateway makes up when Gemini sends none. Such an id is
the gateway's, not Gemini's, so it is never sent back as a `functionCall.id`."""

SIGNATURE_KEY = "thought_signature"
"""Where a functionCall's `thoughtSignature` travels in a tool call's extras, under
`extra_content.google` (the shape Google's own OpenAI-compatible endpoint uses)."""

SKIP_SIGNATURE = "skip_thought_signature_validator"
"""The value Google documents for a function call whose signature the client could not keep
(e.g. it came through a stream, or from another provider): Gemini 3 refuses a function call
turn without one."""

_UNSIGNED_MODELS = ("gemini-1", "gemini-2")
"""Models that predate required signatures: they get no stand-in (a real one still goes)."""

# Extras that change nothing Gemini generates: how the gateway talks to its caller, or
# OpenAI-side storage. Every other extra is Gemini's (below) or refused.
_NO_EFFECT_EXTRAS = frozenset({"stream", "stream_options", "store", "metadata"})

# Gemini-native request fields a caller may send as extras: OpenAI-style snake_case or the
# wire's camelCase -> (where it goes, its wire name). `generation_config` merges last.
_GENERATION_EXTRAS = {
    "top_k": "topK",
    "topK": "topK",
    "thinking_config": "thinkingConfig",
    "thinkingConfig": "thinkingConfig",
    "response_modalities": "responseModalities",
    "responseModalities": "responseModalities",
    "media_resolution": "mediaResolution",
    "mediaResolution": "mediaResolution",
}
_TOP_LEVEL_EXTRAS = {
    "safety_settings": "safetySettings",
    "safetySettings": "safetySettings",
    "cached_content": "cachedContent",
    "cachedContent": "cachedContent",
}
_GENERATION_CONFIG_EXTRAS = ("generation_config", "generationConfig")

# OpenAI's `reasoning_effort` in Gemini's terms (see `_thinking_for`). Budgets are the ones
# Google's own OpenAI-compatible endpoint documents; levels are `ThinkingLevel` names, only
# the two every Gemini 3 model takes (3 Pro has no MINIMAL or MEDIUM).
_THINKING_BUDGETS = {"none": 0, "minimal": 0, "low": 1024, "medium": 8192, "high": 24576}
_THINKING_LEVELS = {"none": "LOW", "minimal": "LOW", "low": "LOW", "medium": "HIGH", "high": "HIGH"}
_PRO_MIN_BUDGET = 128
"""The smallest budget Gemini 2.5 Pro takes: it cannot stop thinking, and refuses 0."""
_THINKING_KNOBS = ("thinkingBudget", "thinking_budget", "thinkingLevel", "thinking_level")
"""How much to think, in a thinkingConfig (Gemini reads either spelling): one is enough."""

_MODES = {
    TOOL_CHOICE_MODE_AUTO: "AUTO",
    TOOL_CHOICE_MODE_REQUIRED: "ANY",
    TOOL_CHOICE_MODE_NONE: "NONE",
}


def generate_body(params: ChatParams, model: str, *, vertex: bool = False) -> dict[str, Any]:
    """The `generateContent` request for `params` to `model` (which the URL names), for
    Vertex AI when `vertex`, else for the Gemini API."""
    stand_in = None if model.startswith(_UNSIGNED_MODELS) else SKIP_SIGNATURE
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names_by_id: dict[str, str] = {}
    for position, message in enumerate(params.messages):
        where = f"messages[{position}]"
        if message.role in (ROLE_SYSTEM, ROLE_DEVELOPER):
            system.extend(_parts(message, where))
        elif message.role == ROLE_USER:
            contents.append({"role": "user", "parts": _parts(message, where)})
        elif message.role == ROLE_ASSISTANT:
            turn = _model_turn(message, where, names_by_id, stand_in)
            if turn is not None:
                contents.append(turn)
        elif message.role == ROLE_TOOL:
            _append_tool_result(contents, message, where, names_by_id)
        else:
            raise InvalidRequest(f"{where}.role is not set", param=f"{where}.role")

    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    generation = _generation_config(params)
    if params.tools:
        body["tools"] = _tools(params)
        config = _tool_config(params)
        if config is not None:
            body["toolConfig"] = config
    elif params.HasField("tool_choice"):
        raise InvalidRequest("tool_choice needs tools", param="tool_choice")
    _apply_extras(body, generation, params, model, vertex=vertex)
    if generation:
        body["generationConfig"] = generation
    return body


# -- messages ---------------------------------------------------------------------------


def _parts(message: Message, where: str) -> list[dict[str, Any]]:
    kind = message.WhichOneof("content")
    if kind == "text":
        return [{"text": message.text}]
    if kind is None:
        return []
    return [_part(part, f"{where}.content[{i}]") for i, part in enumerate(message.parts.parts)]


def _part(part: ContentPart, where: str) -> dict[str, Any]:
    kind = part.WhichOneof("part")
    if kind == "text":
        return {"text": part.text.text}
    if kind == "image_url":
        return _media(part.image_url.url, f"{where}.image_url.url")
    if kind == "other":
        return _other_part(struct_to_dict(part.other), where)
    raise InvalidRequest(f"{where} is empty", param=where)


def _media(url: str, where: str) -> dict[str, Any]:
    """A `data:` URL is sent inline; any other URL as `fileData`, which Gemini fetches itself
    (Vertex reads `gs://` and public https URLs; the Gemini API its Files API URIs and public
    URLs): the gateway never downloads a caller's URL."""
    if url.startswith("data:"):
        header, sep, data = url[len("data:") :].partition(",")
        mime_type, _, encoding = header.partition(";")
        if not sep or encoding != "base64" or not mime_type:
            raise InvalidRequest(
                f"{where}: data URLs must be `data:<type>;base64,<data>`", param=where
            )
        return {"inlineData": {"mimeType": mime_type, "data": data}}
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https", "gs"):
        raise InvalidRequest(f"{where}: use an https://, gs:// or data: URL", param=where)
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    if guessed is None:
        # Gemini requires the type of a file it fetches; only the path's extension tells it.
        raise InvalidRequest(
            f"{where}: the media type of this URL is unknown (no file extension): "
            "send the image as a data: URL",
            param=where,
        )
    return {"fileData": {"mimeType": guessed, "fileUri": url}}


def _other_part(part: dict[str, Any], where: str) -> dict[str, Any]:
    kind = part.get("type")
    if kind == "file":
        data = (part.get("file") or {}).get("file_data")
        if isinstance(data, str) and data.startswith("data:"):
            return _media(data, f"{where}.file.file_data")
    if kind == "input_audio":
        audio = part.get("input_audio") or {}
        if isinstance(audio.get("data"), str) and isinstance(audio.get("format"), str):
            mime_type = f"audio/{audio['format']}"
            return {"inlineData": {"mimeType": mime_type, "data": audio["data"]}}
    raise InvalidRequest(
        f"{where}: content parts of type {kind!r} are not supported by gemini models "
        "(text, image_url, input_audio and file with file_data are)",
        param=f"{where}.type",
    )


def _model_turn(
    message: Message, where: str, names_by_id: dict[str, str], stand_in: str | None
) -> dict[str, Any] | None:
    parts = [part for part in _parts(message, where) if part.get("text") != ""]
    for i, call in enumerate(message.tool_calls):
        spot = f"{where}.tool_calls[{i}]"
        if not call.function.name:
            raise InvalidRequest(f"{spot}.function.name is required", param=f"{spot}.function.name")
        names_by_id[call.id] = call.function.name
        function_call: dict[str, Any] = {
            "name": call.function.name,
            "args": arguments_object(call.function.arguments, spot, "gemini"),
        }
        if call.id and not call.id.startswith(SYNTHETIC_ID_PREFIX):
            function_call["id"] = call.id
        part: dict[str, Any] = {"functionCall": function_call}
        signature = _signature(struct_to_dict(call.extras)) if i == 0 else None
        if i == 0 and (signature or stand_in):
            # Gemini signs the first function call of a turn and wants the signature back.
            part["thoughtSignature"] = signature or stand_in
        parts.append(part)
    if not parts:
        # An assistant message with no content at all says nothing; Gemini refuses empty turns.
        return None
    return {"role": "model", "parts": parts}


def _signature(extras: dict[str, Any]) -> str | None:
    google = (extras.get("extra_content") or {}).get("google") or {}
    signature = google.get(SIGNATURE_KEY) if isinstance(google, dict) else None
    return signature if isinstance(signature, str) and signature else None


def _append_tool_result(
    contents: list[dict[str, Any]], message: Message, where: str, names_by_id: dict[str, str]
) -> None:
    if not message.HasField("tool_call_id"):
        raise InvalidRequest(f"{where}.tool_call_id is required", param=f"{where}.tool_call_id")
    call_id = message.tool_call_id
    name = names_by_id.get(call_id)
    if name is None:
        # Gemini matches a result to its call by function name, which only the assistant
        # message that made the call knows.
        raise InvalidRequest(
            f"{where}.tool_call_id {call_id!r} matches no tool call of an earlier assistant "
            "message",
            param=f"{where}.tool_call_id",
        )
    response: dict[str, Any] = {"name": name, "response": _tool_output(message, where)}
    if call_id and not call_id.startswith(SYNTHETIC_ID_PREFIX):
        response["id"] = call_id
    part = {"functionResponse": response}
    last = contents[-1] if contents else None
    # All results of one model turn go back together, in one user turn.
    if (
        last is not None
        and last["role"] == "user"
        and last["parts"]
        and all("functionResponse" in p for p in last["parts"])
    ):
        last["parts"].append(part)
    else:
        contents.append({"role": "user", "parts": [part]})


def _tool_output(message: Message, where: str) -> dict[str, Any]:
    texts: list[str] = []
    for part in _parts(message, where):
        if "text" not in part:
            raise InvalidRequest(
                f"{where}.content: a tool result sent to gemini models may hold only text",
                param=f"{where}.content",
            )
        texts.append(part["text"])
    text = "".join(texts)
    # `response` is a JSON object: a result that is one is sent as it is; any other text
    # under `output`, the key Google's docs use for a function's output.
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"output": text}


# -- tools ------------------------------------------------------------------------------


def _tools(params: ChatParams) -> list[dict[str, Any]]:
    declarations = [_declaration(tool, f"tools[{i}]") for i, tool in enumerate(params.tools)]
    return [{"functionDeclarations": declarations}]


def _declaration(tool: Tool, where: str) -> dict[str, Any]:
    if tool.type not in ("", "function"):
        raise InvalidRequest(
            f"{where}.type {tool.type!r} is not supported by gemini models (only function)",
            param=f"{where}.type",
        )
    function = tool.function
    declaration: dict[str, Any] = {"name": function.name}
    if function.HasField("description"):
        declaration["description"] = function.description
    if function.HasField("parameters"):
        # `parametersJsonSchema` takes JSON Schema as OpenAI callers write it (`$ref`,
        # `anyOf`, `additionalProperties`, ...); `parameters` takes only Google's OpenAPI
        # subset, so sending that would mean rewriting, or dropping, schema keywords.
        declaration["parametersJsonSchema"] = struct_to_dict(function.parameters)
    return declaration


def _tool_config(params: ChatParams) -> dict[str, Any] | None:
    if params.HasField("parallel_tool_calls") and not params.parallel_tool_calls:
        raise InvalidRequest(
            "gemini models cannot be kept to one tool call per turn: "
            "parallel_tool_calls=false is not supported",
            param="parallel_tool_calls",
        )
    if not params.HasField("tool_choice"):
        return None
    choice = params.tool_choice
    kind = choice.WhichOneof("choice")
    name: str | None = None
    if kind == "mode":
        mode = _MODES.get(choice.mode)
        if mode is None:
            return None
        return {"functionCallingConfig": {"mode": mode}}
    if kind == "function_name":
        name = choice.function_name
    elif kind == "other":
        other = value_to_python(choice.other)
        if isinstance(other, dict) and other.get("type") == "function":
            found = (other.get("function") or {}).get("name")
            name = found if isinstance(found, str) else None
    if not name:
        raise InvalidRequest(
            "tool_choice has a form gemini models do not take", param="tool_choice"
        )
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}


# -- generation config and extras -------------------------------------------------------


def _generation_config(params: ChatParams) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if params.HasField("temperature"):
        config["temperature"] = params.temperature
    if params.HasField("top_p"):
        config["topP"] = params.top_p
    if params.HasField("max_completion_tokens"):
        config["maxOutputTokens"] = params.max_completion_tokens
    elif params.HasField("max_tokens"):
        config["maxOutputTokens"] = params.max_tokens
    if params.stop:
        config["stopSequences"] = list(params.stop)
    if params.HasField("n"):
        config["candidateCount"] = params.n
    if params.HasField("seed"):
        config["seed"] = params.seed
    if params.HasField("presence_penalty"):
        config["presencePenalty"] = params.presence_penalty
    if params.HasField("frequency_penalty"):
        config["frequencyPenalty"] = params.frequency_penalty
    if params.HasField("response_format"):
        kind = params.response_format.type
        if kind == RESPONSE_FORMAT_TYPE_JSON_OBJECT:
            config["responseMimeType"] = "application/json"
        elif kind == RESPONSE_FORMAT_TYPE_JSON_SCHEMA:
            config["responseMimeType"] = "application/json"
            schema = params.response_format.json_schema
            if schema.HasField("schema"):
                # JSON Schema as given (see `_declaration` for why not `responseSchema`).
                config["responseJsonSchema"] = struct_to_dict(schema.schema)
    return config


def _apply_extras(
    body: dict[str, Any],
    generation: dict[str, Any],
    params: ChatParams,
    model: str,
    *,
    vertex: bool,
) -> None:
    extras = struct_to_dict(params.extras)
    merged: dict[str, Any] = {}
    effort: str | None = None
    for key, value in extras.items():
        if value is None or key in _NO_EFFECT_EXTRAS:
            continue  # null means unset; the rest change nothing Gemini generates
        if key == "stop" and isinstance(value, str):
            generation["stopSequences"] = [value]
        elif key == "tools" and value == []:
            continue
        elif key in _GENERATION_EXTRAS:
            generation[_GENERATION_EXTRAS[key]] = value
        elif key in _TOP_LEVEL_EXTRAS:
            body[_TOP_LEVEL_EXTRAS[key]] = value
        elif key == "labels":
            # Billing labels: only Vertex has them (the Gemini API refuses the field), and
            # they change nothing generated, so on the Gemini API they are left out.
            labels = vertex_labels(value) if vertex else {}
            if labels:
                body["labels"] = labels
        elif key in _GENERATION_CONFIG_EXTRAS and isinstance(value, dict):
            merged.update(value)
        elif key == "reasoning_effort" and value in _THINKING_BUDGETS:
            effort = value
        else:
            raise InvalidRequest(
                f"{key} is not supported by gemini models", param=_param_name(key, value)
            )
    # An explicit generation_config is the caller's last word on Gemini's own settings.
    generation.update(merged)
    if effort is not None:
        thinking = generation.setdefault("thinkingConfig", {})
        # A thinkingConfig the caller gave that already says how much to think wins: adding
        # the other knob would be refused (Gemini takes a budget or a level, never both).
        if isinstance(thinking, dict) and not any(knob in thinking for knob in _THINKING_KNOBS):
            thinking.update(_thinking_for(effort, model))


def _thinking_for(effort: str, model: str) -> dict[str, Any]:
    """`reasoning_effort` as the thinkingConfig `model` takes: Gemini 3 a `thinkingLevel`
    (it still reads budgets, but thinks worse on them), earlier models a `thinkingBudget`.
    Never both: Gemini 3 refuses a config with both."""
    if "gemini-3" in model:
        return {"thinkingLevel": _THINKING_LEVELS[effort]}
    budget = _THINKING_BUDGETS[effort]
    if budget == 0 and "pro" in model.split("-"):
        # "Budget 0 is invalid. This model only works in thinking mode."
        budget = _PRO_MIN_BUDGET
    return {"thinkingBudget": budget}


def _param_name(key: str, value: Any) -> str:
    if key == "response_format" and isinstance(value, dict):
        return "response_format.type"
    return key
