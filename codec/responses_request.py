"""OpenAI Responses API request JSON -> ChatParams (the inbound `POST /v1/responses`).

The request is checked in the Responses API's terms (a 400 names its field, `input[2].call_id`)
and rewritten as the equivalent chat completion request, which `chat_params_from_json` then
stores: one way into ChatParams for every wire format. `input` items become chat messages in
order (codec/responses_input.py). Features a chat model cannot serve are refused, never
dropped (`UNSUPPORTED_FIELDS`, built-in tools, file inputs, reasoning summaries); unknown
top-level keys travel in the extras, as on the chat route. `reasoning.effort` becomes chat's
`reasoning_effort`; `max_tool_calls` (a bound on built-in tools) is accepted.
`previous_response_id` and `store` are read here and acted on by the caller: the stored
conversation goes between the instructions and the new input (`with_history`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from codec.chat_request import chat_params_from_json
from codec.errors import CodecError, rejects_surrogates
from codec.fields import as_bool, as_int, as_list, as_object, as_str
from codec.responses_input import messages_from_input
from gateway.v1 import chat_pb2

__all__ = ["UNSUPPORTED_FIELDS", "ResponsesRequest", "responses_request_from_json"]

UNSUPPORTED_FIELDS = {
    "conversation": "conversations are not supported by this gateway; send the whole "
    "conversation in `input`",
    "prompt": "stored prompts are not supported by this gateway",
    "context_management": "context management is not supported by this gateway",
    "moderation": "moderation is not supported by this gateway",
}
"""Top-level fields answered with 400 whenever they are set (not null), and why."""

# Read here, never passed on: the rest of the top level travels as extras.
_MODELED = frozenset(
    {
        *UNSUPPORTED_FIELDS,
        "previous_response_id",
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "text",
        "max_output_tokens",
        "max_tool_calls",
        "temperature",
        "top_p",
        "user",
        "parallel_tool_calls",
        "metadata",
        "store",
        "stream",
        "stream_options",
        "background",
        "include",
        "truncation",
        "reasoning",
    }
)
_SIMPLE_CHOICES = ("auto", "none", "required")


@dataclass(frozen=True, slots=True)
class ResponsesRequest:
    """A Responses API request as the chat call that serves it."""

    params: chat_pb2.ChatParams
    echo: dict[str, Any]
    """The request's settings as a `response` object repeats them (`instructions`, `tools`,
    `tool_choice`, `text`, `metadata`, ...), defaults filled in."""
    previous_response_id: str | None = None
    """The stored response this one continues."""
    store: bool = True
    """Whether the response is stored for a later `previous_response_id` (OpenAI's default)."""
    instruction_messages: int = 0
    """How many of `params.messages` come from `instructions` (they lead the list)."""

    def input_messages(self) -> list[chat_pb2.Message]:
        """The messages of this request's `input` (its instructions left out)."""
        return list(self.params.messages[self.instruction_messages :])

    def with_history(self, history: list[chat_pb2.Message]) -> chat_pb2.ChatParams:
        """The chat request with a stored conversation between instructions and input."""
        params = chat_pb2.ChatParams()
        params.CopyFrom(self.params)
        del params.messages[:]
        params.messages.extend(self.params.messages[: self.instruction_messages])
        params.messages.extend(history)
        params.messages.extend(self.input_messages())
        return params


@rejects_surrogates
def responses_request_from_json(body: Mapping[str, Any]) -> ResponsesRequest:
    """Translate a client's Responses request; raises CodecError naming the field at fault."""
    if not isinstance(body, Mapping):
        raise CodecError("the request body must be a JSON object")
    _refuse_unsupported(body)
    model = body.get("model")
    if model is None:
        raise CodecError("`model` is required", "model")
    chat: dict[str, Any] = {"model": as_str(model, "", "model")}
    messages = _instructions(body.get("instructions"))
    instruction_messages = len(messages)
    previous = _previous_response_id(body.get("previous_response_id"))
    store = True if body.get("store") is None else as_bool(body["store"], "", "store")
    messages.extend(messages_from_input(body.get("input")))
    chat["messages"] = messages
    raw_tools = [] if body.get("tools") is None else as_list(body["tools"], "", "tools")
    tools = [_tool(tool, f"tools[{i}]") for i, tool in enumerate(raw_tools)]
    if tools:
        chat["tools"] = tools
    echo_choice = _tool_choice(body.get("tool_choice"), chat)
    text = _text(body.get("text"), chat)
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = as_int(body["max_output_tokens"], "", "max_output_tokens", low=1)
    for key in ("temperature", "top_p", "user"):
        if body.get(key) is not None:
            chat[key] = body[key]
    parallel = body.get("parallel_tool_calls")
    if parallel is not None:
        parallel = as_bool(parallel, "", "parallel_tool_calls")
        if tools:  # OpenAI's chat refuses it without tools
            chat["parallel_tool_calls"] = parallel
    reasoning = _reasoning(body.get("reasoning"), chat)
    metadata = _metadata(body.get("metadata"))
    chat.update((k, v) for k, v in body.items() if k not in _MODELED)
    echo = {
        "background": False,
        "instructions": body.get("instructions"),
        "max_output_tokens": chat.get("max_tokens"),
        "max_tool_calls": _max_tool_calls(body.get("max_tool_calls")),
        "metadata": metadata,
        "parallel_tool_calls": True if parallel is None else parallel,
        "previous_response_id": previous,
        "reasoning": reasoning,
        "temperature": body.get("temperature"),
        "text": text,
        "tool_choice": echo_choice,
        "tools": [_tool_echo(tool) for tool in tools],
        "top_p": body.get("top_p"),
        "truncation": "disabled",
        "user": body.get("user"),
    }
    return ResponsesRequest(
        params=chat_params_from_json(chat),
        echo=echo,
        previous_response_id=previous,
        store=store,
        instruction_messages=instruction_messages,
    )


def _previous_response_id(value: Any) -> str | None:
    if value is None:
        return None
    response_id = as_str(value, "", "previous_response_id")
    if not response_id:
        raise CodecError("`previous_response_id` must not be empty", "previous_response_id")
    return response_id


def _refuse_unsupported(body: Mapping[str, Any]) -> None:
    for field, why in UNSUPPORTED_FIELDS.items():
        if body.get(field) is not None:
            raise CodecError(f"`{field}`: {why}", field)
    background = body.get("background")
    if background is not None and as_bool(background, "", "background"):
        raise CodecError("`background` mode is not supported by this gateway", "background")
    include = body.get("include")
    if include is not None and as_list(include, "", "include"):
        raise CodecError(
            "`include` is not supported by this gateway: it adds only outputs of built-in "
            "tools, logprobs and encrypted reasoning, which chat models do not return",
            "include",
        )
    truncation = body.get("truncation")
    if truncation is not None and truncation != "disabled":
        raise CodecError(
            '`truncation` must be "disabled": this gateway does not truncate the input',
            "truncation",
        )


def _max_tool_calls(value: Any) -> int | None:
    # It bounds built-in tool calls, which the gateway has none of: checked and echoed only.
    return None if value is None else as_int(value, "", "max_tool_calls", low=0)


def _instructions(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    return [{"role": "system", "content": as_str(value, "", "instructions")}]


def _tool(tool: Any, where: str) -> dict[str, Any]:
    data = as_object(tool, "", where)
    kind = data.get("type")
    if kind != "function":
        raise CodecError(
            f"`{where}`: `{kind}` tools are not supported by this gateway; declare function "
            "tools (`type: function`, `name`, `parameters`)",
            f"{where}.type",
        )
    function: dict[str, Any] = {"name": as_str(data.get("name"), where, "name")}
    if data.get("description") is not None:
        function["description"] = as_str(data["description"], where, "description")
    if data.get("parameters") is not None:
        function["parameters"] = as_object(data["parameters"], where, "parameters")
    if data.get("strict") is not None:
        function["strict"] = as_bool(data["strict"], where, "strict")
    return {"type": "function", "function": function}


def _tool_echo(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool["function"]
    return {
        "type": "function",
        "name": function["name"],
        "description": function.get("description"),
        "parameters": function.get("parameters"),
        "strict": function.get("strict"),
    }


def _tool_choice(value: Any, chat: dict[str, Any]) -> Any:
    """Puts the chat `tool_choice` in `chat`; returns the choice as the response echoes it."""
    if value is None:
        return "auto"
    if isinstance(value, str) and value in _SIMPLE_CHOICES:
        if "tools" in chat:  # OpenAI's chat refuses a tool_choice without tools
            chat["tool_choice"] = value
        return value
    data = value if isinstance(value, dict) else {}
    if data.get("type") == "function":
        name = as_str(data.get("name"), "tool_choice", "name")
        chat["tool_choice"] = {"type": "function", "function": {"name": name}}
        return {"type": "function", "name": name}
    raise CodecError(
        '`tool_choice` must be "auto", "none", "required" or {"type": "function", "name": ...}; '
        "other choices (built-in tools, allowed_tools) are not supported by this gateway",
        "tool_choice",
    )


def _text(value: Any, chat: dict[str, Any]) -> dict[str, Any]:
    """Puts `text.format` in `chat` as `response_format`; returns `text` as echoed."""
    if value is None:
        return {"format": {"type": "text"}}
    data = as_object(value, "", "text")
    echo: dict[str, Any] = {"format": {"type": "text"}}
    if data.get("verbosity") is not None:
        chat["verbosity"] = echo["verbosity"] = as_str(data["verbosity"], "text", "verbosity")
    if data.get("format") is None:
        return echo
    fmt = as_object(data["format"], "text", "format")
    kind = fmt.get("type")
    if kind == "text":
        return echo
    if kind == "json_object":
        chat["response_format"] = {"type": "json_object"}
    elif kind == "json_schema":
        schema: dict[str, Any] = {
            "name": as_str(fmt.get("name"), "text.format", "name"),
            "schema": as_object(fmt.get("schema"), "text.format", "schema"),
        }
        for key in ("description", "strict"):
            if fmt.get(key) is not None:
                schema[key] = fmt[key]
        chat["response_format"] = {"type": "json_schema", "json_schema": schema}
    else:
        raise CodecError(
            "`text.format.type` must be one of text, json_object, json_schema", "text.format.type"
        )
    echo["format"] = fmt
    return echo


def _reasoning(value: Any, chat: dict[str, Any]) -> dict[str, Any] | None:
    """`reasoning.effort` is chat's `reasoning_effort` (the provider refuses it for a model
    that does not reason); a summary is refused: chat models return none."""
    if value is None:
        return None
    data = as_object(value, "", "reasoning")
    for key in ("summary", "generate_summary"):
        if data.get(key) is not None:
            raise CodecError(
                f"`reasoning.{key}` is not supported by this gateway: chat models return no "
                "reasoning summary",
                f"reasoning.{key}",
            )
    effort = data.get("effort")
    if effort is not None and as_str(effort, "reasoning", "effort") != "none":
        chat["reasoning_effort"] = effort
    return {"effort": effort, "summary": None}


def _metadata(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    data = as_object(value, "", "metadata")
    for key, item in data.items():
        as_str(item, "metadata", key)
    return data
