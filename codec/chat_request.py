"""Chat completion request JSON <-> ChatParams, losslessly.

`chat_params_to_json(chat_params_from_json(body)) == body` for every body accepted: keys
we don't model (`stream`, `stream_options`, `logit_bias`, vendor extras, ...), modeled keys
holding null, and forms a typed field can't hold (`"stop": "END"`, `"tools": []`, a
`response_format` of unknown type) travel verbatim in the `extras` of their level.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from codec.errors import CodecError, rejects_surrogates
from codec.fields import as_bool, as_float, as_int, as_list, as_object, as_str, plain_str
from codec.messages import fill_message, message_to_json
from codec.tools import fill_tool, fill_tool_choice, tool_choice_to_json, tool_to_json
from codec.values import fill_struct, merge_extras, struct_to_dict
from gateway.v1 import chat_pb2

_FORMAT_FROM_STR: dict[str, chat_pb2.ResponseFormatType.ValueType] = {
    "text": chat_pb2.RESPONSE_FORMAT_TYPE_TEXT,
    "json_object": chat_pb2.RESPONSE_FORMAT_TYPE_JSON_OBJECT,
    "json_schema": chat_pb2.RESPONSE_FORMAT_TYPE_JSON_SCHEMA,
}
_FORMAT_TO_STR: dict[int, str] = {number: name for name, number in _FORMAT_FROM_STR.items()}

# A handler stores one non-null top-level value; what it can't type goes to `extras`.
_Handler = Callable[[chat_pb2.ChatParams, Any, dict[str, Any]], None]


@rejects_surrogates
def chat_params_from_json(body: Mapping[str, Any]) -> chat_pb2.ChatParams:
    """Translate a client's chat completion request; raises CodecError for invalid fields."""
    if not isinstance(body, Mapping):
        raise CodecError("the request body must be a JSON object")
    params = chat_pb2.ChatParams()
    extras: dict[str, Any] = {}
    for key, value in body.items():
        handler = _HANDLERS.get(key)
        if handler is None or value is None:
            extras[key] = value
        else:
            handler(params, value, extras)
    if not params.model:
        raise CodecError("`model` is required", "model")
    if not params.messages:
        raise CodecError("`messages` is required", "messages")
    if extras:
        fill_struct(params.extras, extras, None)
    return params


def chat_params_to_json(params: chat_pb2.ChatParams) -> dict[str, Any]:
    """The request JSON for `params`, extras merged back at every level."""
    out: dict[str, Any] = {
        "model": params.model,
        "messages": [message_to_json(msg) for msg in params.messages],
    }
    if params.tools:
        out["tools"] = [tool_to_json(tool) for tool in params.tools]
    if params.HasField("tool_choice"):
        out["tool_choice"] = tool_choice_to_json(params.tool_choice)
    if params.HasField("temperature"):
        out["temperature"] = params.temperature
    if params.HasField("top_p"):
        out["top_p"] = params.top_p
    if params.HasField("max_tokens"):
        out["max_tokens"] = params.max_tokens
    if params.HasField("max_completion_tokens"):
        out["max_completion_tokens"] = params.max_completion_tokens
    if params.stop:
        out["stop"] = list(params.stop)
    if params.HasField("n"):
        out["n"] = params.n
    if params.HasField("seed"):
        out["seed"] = params.seed
    if params.HasField("presence_penalty"):
        out["presence_penalty"] = params.presence_penalty
    if params.HasField("frequency_penalty"):
        out["frequency_penalty"] = params.frequency_penalty
    if params.HasField("response_format"):
        out["response_format"] = _response_format_to_json(params.response_format)
    if params.HasField("user"):
        out["user"] = params.user
    if params.HasField("parallel_tool_calls"):
        out["parallel_tool_calls"] = params.parallel_tool_calls
    return merge_extras(out, params.extras)


def _model(params: chat_pb2.ChatParams, value: Any, extras: dict[str, Any]) -> None:
    params.model = as_str(value, "", "model")


def _messages(params: chat_pb2.ChatParams, value: Any, extras: dict[str, Any]) -> None:
    messages = as_list(value, "", "messages")
    if not messages:
        raise CodecError("`messages` must contain at least one message", "messages")
    for i, item in enumerate(messages):
        fill_message(params.messages.add(), item, f"messages[{i}]")


def _tools(params: chat_pb2.ChatParams, value: Any, extras: dict[str, Any]) -> None:
    tools = as_list(value, "", "tools")
    if not tools:
        extras["tools"] = tools  # a repeated field can't say "[]"
    for i, item in enumerate(tools):
        fill_tool(params.tools.add(), item, f"tools[{i}]")


def _tool_choice(params: chat_pb2.ChatParams, value: Any, extras: dict[str, Any]) -> None:
    try:
        fill_tool_choice(params.tool_choice, value)
    except CodecError as exc:
        raise CodecError("`tool_choice` is not JSON", "tool_choice") from exc


def _stop(params: chat_pb2.ChatParams, value: Any, extras: dict[str, Any]) -> None:
    if isinstance(value, str) or value == []:
        extras["stop"] = value  # the single-string form and [] can't live in `repeated string`
        return
    for i, item in enumerate(as_list(value, "", "stop")):
        as_str(item, "", f"stop[{i}]")
    params.stop.extend(value)


def _response_format(params: chat_pb2.ChatParams, value: Any, extras: dict[str, Any]) -> None:
    data = as_object(value, "", "response_format")
    type_name = data.get("type")
    kind = _FORMAT_FROM_STR.get(type_name) if isinstance(type_name, str) else None
    if kind is None:
        extras["response_format"] = data  # a type we don't model travels whole
        return
    response_format = params.response_format
    response_format.type = kind
    format_extras: dict[str, Any] = {}
    for key, item in data.items():
        if key == "json_schema" and item is not None:
            schema = as_object(item, "response_format", key)
            # JsonSchema has no extras: its leftovers ride in ResponseFormat.extras["json_schema"].
            schema_extras = _fill_json_schema(response_format.json_schema, schema)
            if schema_extras:
                format_extras[key] = schema_extras
        elif key != "type":
            format_extras[key] = item
    if format_extras:
        fill_struct(response_format.extras, format_extras, "response_format")


def _fill_json_schema(schema: chat_pb2.JsonSchema, data: dict[str, Any]) -> dict[str, Any]:
    where = "response_format.json_schema"
    schema.SetInParent()
    extras: dict[str, Any] = {}
    for key, value in data.items():
        if key == "name":
            schema.name = plain_str(value, extras, where, key)
        elif value is None:
            extras[key] = None
        elif key == "description":
            schema.description = as_str(value, where, key)
        elif key == "schema":
            body = as_object(value, where, key)
            schema.schema.SetInParent()
            fill_struct(schema.schema, body, f"{where}.schema")
        elif key == "strict":
            schema.strict = as_bool(value, where, key)
        else:
            extras[key] = value
    return extras


def _response_format_to_json(response_format: chat_pb2.ResponseFormat) -> dict[str, Any]:
    out: dict[str, Any] = {}
    kind = _FORMAT_TO_STR.get(response_format.type)
    if kind is not None:
        out["type"] = kind
    if response_format.HasField("json_schema"):
        schema = response_format.json_schema
        inner: dict[str, Any] = {}
        if schema.name:
            inner["name"] = schema.name
        if schema.HasField("description"):
            inner["description"] = schema.description
        if schema.HasField("schema"):
            inner["schema"] = struct_to_dict(schema.schema)
        if schema.HasField("strict"):
            inner["strict"] = schema.strict
        out["json_schema"] = inner
    return merge_extras(out, response_format.extras)


def _float(name: str) -> _Handler:
    def handle(params: chat_pb2.ChatParams, value: Any, extras: dict[str, Any]) -> None:
        setattr(params, name, as_float(value, "", name))

    return handle


def _int(name: str) -> _Handler:
    def handle(params: chat_pb2.ChatParams, value: Any, extras: dict[str, Any]) -> None:
        setattr(params, name, as_int(value, "", name))

    return handle


def _user(params: chat_pb2.ChatParams, value: Any, extras: dict[str, Any]) -> None:
    params.user = as_str(value, "", "user")


def _parallel_tool_calls(params: chat_pb2.ChatParams, value: Any, extras: dict[str, Any]) -> None:
    params.parallel_tool_calls = as_bool(value, "", "parallel_tool_calls")


_HANDLERS: dict[str, _Handler] = {
    "model": _model,
    "messages": _messages,
    "tools": _tools,
    "tool_choice": _tool_choice,
    "temperature": _float("temperature"),
    "top_p": _float("top_p"),
    "max_tokens": _int("max_tokens"),
    "max_completion_tokens": _int("max_completion_tokens"),
    "stop": _stop,
    "n": _int("n"),
    "seed": _int("seed"),
    "presence_penalty": _float("presence_penalty"),
    "frequency_penalty": _float("frequency_penalty"),
    "response_format": _response_format,
    "user": _user,
    "parallel_tool_calls": _parallel_tool_calls,
}
