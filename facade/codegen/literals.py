"""Values written into generated code: every caller-given value goes through one of these.

A value is never pasted into a snippet as text: it becomes a literal of the snippet's language,
escaped so that no string (quotes, backslashes, newlines, `$(...)`, backticks, `</script>`,
bidi controls) can end the literal early or run as code. Printable characters other than the
quote and backslash stay as they are, so the snippet stays readable in any language.
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["json_literal", "python_literal", "python_string", "shell_quote"]

WIDTH = 88
"""A literal that fits on one line within this many characters stays on one."""

_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
"""An object key JavaScript takes unquoted (ASCII only; a reserved word is fine as a key)."""
_PY_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# JSON's escapes, plus `<`, `>` and `&`: a JSON literal stays inert inside HTML `<script>` too.
_JSON_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
}


def python_string(text: str) -> str:
    """`text` as a Python string literal: double-quoted, unless single quotes need fewer
    escapes (ruff's rule)."""
    quote = "'" if text.count('"') > text.count("'") else '"'
    return quote + "".join(_python_char(char, quote) for char in text) + quote


def _python_char(char: str, quote: str) -> str:
    if char == quote:
        return "\\" + char
    if char in _PY_ESCAPES:
        return _PY_ESCAPES[char]
    if char.isprintable():
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _json_string(text: str) -> str:
    return '"' + "".join(_json_char(char) for char in text) + '"'


def _json_char(char: str) -> str:
    if char in _JSON_ESCAPES:
        return _JSON_ESCAPES[char]
    # U+2028 and U+2029 are printable to Python but end a line in pre-2019 JavaScript.
    if char.isprintable() and char not in "\u2028\u2029":
        return char
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # JSON and JavaScript escape an astral character as a surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _number(value: int | float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a JSON number")
    return repr(value)


def python_literal(value: Any, indent: int = 0, extra: int = 0) -> str:
    """A JSON value (dict, list, str, int, float, bool, None) as a Python expression.

    The line it starts on is indented by `indent` and holds `extra` other characters (`x = `,
    a trailing comma); a value too long for one line spreads over several, one item per line
    with a trailing comma, as ruff formats it.
    """
    return _literal(value, indent, _PYTHON, extra)


def json_literal(value: Any, indent: int = 0, extra: int = 0, *, javascript: bool = False) -> str:
    """A JSON value as JSON text, which is also a JavaScript expression.

    With `javascript`, keys that are identifiers go unquoted, and a `__proto__` key is written
    `["__proto__"]`: in an object literal the plain form would set the prototype instead of
    adding the key.
    """
    return _literal(value, indent, _JAVASCRIPT if javascript else _JSON, extra)


def shell_quote(text: str) -> str:
    """`text` as one POSIX shell word: single quotes, each `'` written `'\\''`.

    Nothing is special between single quotes (`$`, backticks, backslashes, newlines), so the
    word is `text` exactly.
    """
    return "'" + text.replace("'", "'\\''") + "'"


class _Syntax:
    def __init__(self, *, python: bool, javascript: bool = False) -> None:
        self.python = python
        self.javascript = javascript
        self.step = 4 if python else 2

    def string(self, text: str) -> str:
        return python_string(text) if self.python else _json_string(text)

    def key(self, key: object) -> str:
        if not isinstance(key, str):
            raise TypeError(f"not a JSON object key: {type(key).__name__}")
        if self.javascript and key == "__proto__":
            return '["__proto__"]'
        if self.javascript and _IDENTIFIER.fullmatch(key):
            return key
        return self.string(key)

    def braces(self, items: str) -> str:
        # Flat objects as ruff (Python, JSON) and prettier (JavaScript) write them.
        return f"{{ {items} }}" if self.javascript and items else f"{{{items}}}"

    def scalar(self, value: Any) -> str:
        if value is None:
            return "None" if self.python else "null"
        if isinstance(value, bool):
            return ("True" if value else "False") if self.python else str(value).lower()
        if isinstance(value, int | float):
            return _number(value)
        if isinstance(value, str):
            return self.string(value)
        raise TypeError(f"not a JSON value: {type(value).__name__}")


_PYTHON = _Syntax(python=True)
_JSON = _Syntax(python=False)
_JAVASCRIPT = _Syntax(python=False, javascript=True)


def _literal(value: Any, indent: int, syntax: _Syntax, extra: int) -> str:
    flat = _flat(value, syntax)
    if indent + extra + len(flat) <= WIDTH or not isinstance(value, dict | list) or not value:
        return flat
    step = indent + syntax.step
    inner = " " * step
    if isinstance(value, dict):
        keys = [syntax.key(k) for k in value]
        items = [
            f"{inner}{key}: {_literal(v, step, syntax, len(key) + 3)}"
            for key, v in zip(keys, value.values(), strict=True)
        ]
        opening, closing = "{", "}"
    else:
        items = [f"{inner}{_literal(v, step, syntax, 1)}" for v in value]
        opening, closing = "[", "]"
    # Python and JavaScript take a trailing comma (ruff and prettier write one); JSON does not.
    last = "" if syntax is _JSON else ","
    body = ",\n".join(items)
    return f"{opening}\n{body}{last}\n{' ' * indent}{closing}"


def _flat(value: Any, syntax: _Syntax) -> str:
    if isinstance(value, dict):
        return syntax.braces(
            ", ".join(f"{syntax.key(k)}: {_flat(v, syntax)}" for k, v in value.items())
        )
    if isinstance(value, list):
        return "[" + ", ".join(_flat(item, syntax) for item in value) + "]"
    return syntax.scalar(value)
