"""Merges streamed ChatDelta pieces into the ChatResult every stream ends with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codec import finish_reason_from_str, struct_from_dict, struct_to_dict
from gateway.v1.chat_pb2 import ROLE_ASSISTANT, ChatDelta, ChatResult, Role, ToolCallDelta, Usage


@dataclass(slots=True)
class _ToolCallState:
    id: str = ""
    type: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _ChoiceState:
    role: Role.ValueType = ROLE_ASSISTANT
    content: list[str] | None = None
    tool_calls: dict[int, _ToolCallState] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    finish_reason: str | None = None


class StreamAssembler:
    """Accumulates one streamed completion: `add` each delta, `finish` each choice, then `result`.

    Content is appended per choice; tool calls merge by index (id, type and name set once,
    arguments appended); delta extras merge into the message's extras, string values appended
    because streamed extras such as `reasoning_content` arrive in pieces like content does.
    """

    def __init__(self) -> None:
        self._choices: dict[int, _ChoiceState] = {}

    def _choice(self, index: int) -> _ChoiceState:
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = _ChoiceState()
        return state

    def add(self, delta: ChatDelta) -> None:
        """Merges one delta into its choice."""
        state = self._choice(delta.choice_index)
        if delta.role:
            state.role = delta.role
        if delta.HasField("content"):
            if state.content is None:
                state.content = []
            state.content.append(delta.content)
        for piece in delta.tool_calls:
            self._add_tool_call(state, piece)
        if delta.extras.fields:
            for key, value in struct_to_dict(delta.extras).items():
                current = state.extras.get(key)
                if isinstance(current, str) and isinstance(value, str):
                    state.extras[key] = current + value
                else:
                    state.extras[key] = value

    @staticmethod
    def _add_tool_call(state: _ChoiceState, piece: ToolCallDelta) -> None:
        call = state.tool_calls.get(piece.index)
        if call is None:
            call = state.tool_calls[piece.index] = _ToolCallState()
        if piece.HasField("id") and not call.id:
            call.id = piece.id
        if piece.HasField("type") and not call.type:
            call.type = piece.type
        if piece.HasField("name") and not call.name:
            call.name = piece.name
        if piece.HasField("arguments"):
            call.arguments.append(piece.arguments)

    def finish(self, choice_index: int, reason: str) -> None:
        """Records why a choice stopped, in OpenAI's words (`stop`, `length`, `tool_calls`)."""
        self._choice(choice_index).finish_reason = reason

    @property
    def finished(self) -> bool:
        """Whether at least one choice was seen and every choice has a finish reason."""
        return bool(self._choices) and all(
            c.finish_reason is not None for c in self._choices.values()
        )

    def result(
        self,
        usage: Usage,
        *,
        id: str = "",
        model: str = "",
        extras: dict[str, Any] | None = None,
    ) -> ChatResult:
        """The assembled completion; `id` and `model` may be left for the caller to set."""
        result = ChatResult(id=id, model=model)
        result.usage.CopyFrom(usage)
        if extras:
            result.extras.CopyFrom(struct_from_dict(extras))
        for index in sorted(self._choices):
            state = self._choices[index]
            choice = result.choices.add(index=index)
            message = choice.message
            message.role = state.role
            if state.content is not None:
                message.text = "".join(state.content)
            for position in sorted(state.tool_calls):
                call = state.tool_calls[position]
                tool_call = message.tool_calls.add(id=call.id, type=call.type or "function")
                tool_call.function.name = call.name
                tool_call.function.arguments = "".join(call.arguments)
            if state.extras:
                message.extras.CopyFrom(struct_from_dict(state.extras))
            if state.finish_reason is not None:
                reason, raw = finish_reason_from_str(state.finish_reason)
                choice.finish_reason = reason
                if raw is not None:
                    choice.extras.CopyFrom(struct_from_dict({"finish_reason": raw}))
        return result
