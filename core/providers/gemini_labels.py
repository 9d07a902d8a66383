"""A caller's `labels` as Vertex AI takes them on a generateContent request.

Vertex refuses the whole request for one bad label: at most 64 labels; keys and values of at
most 63 characters, each a lowercase letter (international ones too), a digit, `_` or `-`;
keys start with a letter. Labels only sort billing, so a request is not failed over one:
what can be made valid is (lower-cased, other characters as `_`, cut to 63), and what cannot
(a key that does not start with a letter, a value that is not text, a number or a boolean,
a key that is another's once cleaned, labels past the 64th) is left out.
"""

from __future__ import annotations

from typing import Any

from core.errors import InvalidRequest

MAX_LABELS = 64
MAX_LENGTH = 63
_PUNCTUATION = frozenset("_-")


def vertex_labels(value: Any) -> dict[str, str]:
    """The labels Vertex will take from `value` (an object of key -> text)."""
    if not isinstance(value, dict):
        raise InvalidRequest("labels must be an object of key -> value", param="labels")
    cleaned = {str(key): _clean(str(key)) for key in value}
    # A request's extras keep no order, so which labels win (two keys the same once cleaned,
    # or past the 64th) is decided by name: keys already valid first, then alphabetically.
    order = sorted(cleaned, key=lambda raw: (cleaned[raw] != raw, raw))
    labels: dict[str, str] = {}
    for raw_key in order:
        key = cleaned[raw_key]
        text = _text(value[raw_key])
        if not key or not key[0].isalpha() or text is None or key in labels:
            continue
        labels[key] = _clean(text)
        if len(labels) == MAX_LABELS:
            break
    return labels


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # JSON numbers arrive as floats: 7, not 7.0
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _clean(text: str) -> str:
    lowered = text.lower()
    return "".join(ch if _allowed(ch) else "_" for ch in lowered)[:MAX_LENGTH]


def _allowed(ch: str) -> bool:
    if ch.isascii():
        return ch.islower() or ch.isdigit() or ch in _PUNCTUATION
    # International letters are allowed; a letter with case only in its lowercase form.
    return ch.isalpha() and not ch.isupper()
