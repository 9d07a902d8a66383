"""ChatDelta pieces and the final ChatResult -> the Responses API's stream events.

The sequence: `response.created` and `response.in_progress`; for the text, the message item's
`response.output_item.added` and `response.content_part.added`, then
`response.output_text.delta`s; for each tool call (by its index) a `function_call` item's
`output_item.added` and `response.function_call_arguments.delta`s. At the end every open item
is finished (`output_text.done`, `content_part.done`, `function_call_arguments.done`,
`output_item.done`) and `response.completed` (or `response.incomplete`) carries the whole
response with its usage; a failure after the start is `response.failed` with its `error`.
Each event is `(type, payload)`, the payload holding `type` and `sequence_number`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from codec.completions import message_text
from codec.responses_response import (
    function_call_item,
    message_item,
    response_object,
    response_status,
    usage_to_responses,
)
from gateway.v1 import chat_pb2

__all__ = ["Event", "ResponseEvents"]

Event = tuple[str, dict[str, Any]]

_IN_PROGRESS = "in_progress"


class ResponseEvents:
    """The events of one streamed response: `start`, `delta` for each piece, then `finish`
    (or `fail`)."""

    def __init__(
        self, echo: Mapping[str, Any], *, response_id: str, model: str, created_at: int
    ) -> None:
        self._echo = echo
        self._response_id = response_id
        self._model = model
        self._created_at = created_at
        self._sequence = 0
        self._items: list[dict[str, Any]] = []
        """Output items in output order, as added (their text and arguments grow)."""
        self._text_index: int | None = None
        """The message item's output index, once text came."""
        self._calls: dict[int, int] = {}
        """Tool call index -> its item's output index."""

    def start(self) -> list[Event]:
        """`response.created` and `response.in_progress`: the response, empty."""
        response = self._response(_IN_PROGRESS, [])
        return [
            self._event("response.created", response=response),
            self._event("response.in_progress", response=response),
        ]

    def delta(self, delta: chat_pb2.ChatDelta) -> list[Event]:
        """The events for one piece of the answer (none for a piece without text or tool
        call, e.g. a role alone, or another choice than the first)."""
        if delta.choice_index:
            return []
        events: list[Event] = []
        if delta.content:
            events.extend(self._text(delta.content))
        for piece in delta.tool_calls:
            events.extend(self._call(piece))
        return events

    def finish(self, result: chat_pb2.ChatResult) -> list[Event]:
        """Finishes every item, then `response.completed` (or `response.incomplete`) with the
        whole response. What the answer holds that no delta brought is sent whole first."""
        choice = result.choices[0] if result.choices else chat_pb2.Choice()
        status, details = response_status(choice)
        events = self._unstreamed(choice.message)
        for index, item in enumerate(self._items):
            events.extend(self._done(index, item, status))
        response = self._response(
            status, self._items, usage=usage_to_responses(result.usage), details=details
        )
        kind = "response.completed" if status == "completed" else "response.incomplete"
        events.append(self._event(kind, response=response))
        return events

    def fail(self, code: str, message: str) -> list[Event]:
        """`response.failed`: the response so far, with its `error`."""
        error = {"code": code, "message": message}
        response = self._response("failed", self._items, error=error)
        return [self._event("response.failed", response=response)]

    def _text(self, text: str) -> list[Event]:
        events = self._open_message()
        assert self._text_index is not None  # opened just now, or before
        item = self._items[self._text_index]
        item["content"][0]["text"] += text
        events.append(
            self._event(
                "response.output_text.delta",
                item_id=item["id"],
                output_index=self._text_index,
                content_index=0,
                delta=text,
                logprobs=[],
            )
        )
        return events

    def _open_message(self) -> list[Event]:
        """The message item and its text part, unless they are open already."""
        if self._text_index is not None:
            return []
        events: list[Event] = []
        item = message_item(self._response_id, "", status=_IN_PROGRESS)
        part = item["content"].pop()
        self._text_index = self._add(events, item)
        events.append(self._part_event("response.content_part.added", part))
        item["content"].append(part)
        return events

    def _call(self, piece: chat_pb2.ToolCallDelta) -> list[Event]:
        events: list[Event] = []
        index = self._calls.get(piece.index)
        if index is None:
            item = function_call_item(
                self._response_id,
                piece.index,
                call_id=piece.id,
                name=piece.name,
                arguments="",
                status=_IN_PROGRESS,
            )
            index = self._calls[piece.index] = self._add(events, item)
        item = self._items[index]
        if piece.name and not item["name"]:
            item["name"] = piece.name
        if piece.arguments:
            item["arguments"] += piece.arguments
            events.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=item["id"],
                    output_index=index,
                    delta=piece.arguments,
                )
            )
        return events

    def _add(self, events: list[Event], item: dict[str, Any]) -> int:
        index = len(self._items)
        self._items.append(item)
        events.append(
            self._event("response.output_item.added", output_index=index, item=_copy(item))
        )
        return index

    def _unstreamed(self, message: chat_pb2.Message) -> list[Event]:
        """The text and tool calls of the final `message` that came in no delta (a provider
        may send an answer whole), as if they had; an empty message when there is nothing."""
        events: list[Event] = []
        text = message_text(message)
        if text and self._text_index is None:
            events.extend(self._text(text))
        for index, call in enumerate(message.tool_calls):
            if index not in self._calls:
                piece = chat_pb2.ToolCallDelta(
                    index=index,
                    id=call.id,
                    name=call.function.name,
                    arguments=call.function.arguments,
                )
                events.extend(self._call(piece))
        if not self._items:
            events.extend(self._open_message())
        return events

    def _done(self, index: int, item: dict[str, Any], status: str) -> list[Event]:
        item["status"] = status
        ids = {"item_id": item["id"], "output_index": index}
        events: list[Event] = []
        if item["type"] == "message":
            part = item["content"][0]
            events.append(
                self._event(
                    "response.output_text.done",
                    **ids,
                    content_index=0,
                    text=part["text"],
                    logprobs=[],
                )
            )
            events.append(self._part_event("response.content_part.done", part))
        else:
            events.append(
                self._event(
                    "response.function_call_arguments.done", **ids, arguments=item["arguments"]
                )
            )
        events.append(
            self._event("response.output_item.done", output_index=index, item=_copy(item))
        )
        return events

    def _part_event(self, kind: str, part: dict[str, Any]) -> Event:
        assert self._text_index is not None
        item_id = self._items[self._text_index]["id"]
        return self._event(
            kind,
            item_id=item_id,
            output_index=self._text_index,
            content_index=0,
            part=dict(part),
        )

    def _response(
        self,
        status: str,
        output: list[dict[str, Any]],
        *,
        usage: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return response_object(
            self._echo,
            response_id=self._response_id,
            model=self._model,
            created_at=self._created_at,
            status=status,
            output=[_copy(item) for item in output],
            usage=usage,
            incomplete_details=details,
            error=error,
        )

    def _event(self, kind: str, **fields: Any) -> Event:
        payload = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return kind, payload


def _copy(item: dict[str, Any]) -> dict[str, Any]:
    if item["type"] == "message":
        return {**item, "content": [dict(part) for part in item["content"]]}
    return dict(item)
