"""A tool call's arguments as the JSON object the tool-use APIs (Anthropic, Gemini, Bedrock)
take: OpenAI's are a JSON text, which a caller may send broken."""

from __future__ import annotations

import json
from typing import Any

from core.errors import InvalidRequest


def arguments_object(arguments: str, where: str, family: str) -> dict[str, Any]:
    """`arguments` parsed (empty text is `{}`); 400 naming `<where>.function.arguments` when
    they are not a JSON object, since `family` models would refuse the call."""
    if not arguments.strip():
        return {}
    try:
        parsed = json.loads(arguments)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidRequest(
            f"{where}.function.arguments must be a JSON object for {family} models",
            param=f"{where}.function.arguments",
        )
    return parsed
