"""Literals: every JSON value comes back from the generated literal exactly as it went in."""

from __future__ import annotations

import ast
import json
import shlex
import shutil
import subprocess
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from facade.codegen.literals import WIDTH, json_literal, python_literal, shell_quote
from tests.codegen.cases import HOSTILE

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)
NESTED = {
    "messages": [{"role": "user", "content": text} for text in HOSTILE],
    "n": [1, 2.5, None, True],
}


@settings(max_examples=150, deadline=None)
@given(json_values, st.integers(0, 40))
def test_a_python_literal_evaluates_to_the_value(value: Any, indent: int) -> None:
    source = python_literal(value, indent)
    assert ast.literal_eval(source) == value
    compile(f"x = {source}\n", "<snippet>", "exec")


@settings(max_examples=150, deadline=None)
@given(json_values, st.integers(0, 40), st.booleans())
def test_a_json_literal_parses_to_the_value(value: Any, indent: int, javascript: bool) -> None:
    source = json_literal(value, indent, javascript=javascript)
    if not javascript:
        assert json.loads(source) == value
    assert "<" not in source  # no `</script>` can close an HTML script element around it
    assert "\u2028" not in source


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_a_shell_word_is_the_text(text: str) -> None:
    assert shlex.split(f"echo {shell_quote(text)}") == ["echo", text]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_stay_inside_python_strings(text: str) -> None:
    tree = ast.parse(f"x = {python_literal(text)}\n")
    assert len(tree.body) == 1  # nothing broke out into a second statement
    assert ast.literal_eval(python_literal(text)) == text


def test_printable_text_stays_readable_and_controls_are_escaped() -> None:
    assert python_literal("é 🚀 'x'") == "\"é 🚀 'x'\""
    assert python_literal("\u202e\x00\u2028") == '"\\u202e\\x00\\u2028"'
    assert json_literal("é </script>\u2028🚀") == '"é \\u003c/script\\u003e\\u2028🚀"'
    assert json_literal("\U000e0001") == '"\\udb40\\udc01"'  # a surrogate pair, as in JSON


def test_long_values_spread_over_lines_as_ruff_writes_them() -> None:
    short = {"role": "user", "content": "hi"}
    assert python_literal(short) == '{"role": "user", "content": "hi"}'
    assert json_literal(short, javascript=True) == '{ role: "user", content: "hi" }'
    long = [{"content": "x" * 40}, {"content": "y" * 40}]
    assert python_literal(long) == (
        '[\n    {"content": "' + "x" * 40 + '"},\n    {"content": "' + "y" * 40 + '"},\n]'
    )
    assert json_literal(long) == (
        '[\n  {"content": "' + "x" * 40 + '"},\n  {"content": "' + "y" * 40 + '"}\n]'
    )
    for line in python_literal(NESTED).splitlines():
        assert len(line) <= WIDTH or '"' in line  # only a long string itself overflows


def test_values_that_are_not_json_are_refused() -> None:
    with pytest.raises(ValueError, match="not a JSON number"):
        python_literal(float("nan"))
    with pytest.raises(TypeError, match="not a JSON value"):
        json_literal({"a": object()})
    with pytest.raises(TypeError, match="not a JSON object key"):
        python_literal({1: "a"})


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_literals_evaluate_to_the_value_in_node() -> None:
    values = [*HOSTILE, NESTED, {"__proto__": {"polluted": True}, "a-b": 1, "$ok_1": 2}]
    program = "".join(
        f"process.stdout.write(JSON.stringify({json_literal(v, 2, javascript=True)}) + '\\n');\n"
        for v in values
    )
    # `polluted` would be inherited, and dropped by JSON.stringify, if `__proto__` set the prototype.
    program += "if ({}.polluted !== undefined) process.exit(3);\n"
    done = subprocess.run(
        ["node", "--input-type=module", "-e", program], capture_output=True, text=True, check=True
    )
    assert [json.loads(line) for line in done.stdout.split("\n")[:-1]] == values


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_shell_words_reach_the_command_unchanged_in_bash() -> None:
    texts = [text for text in HOSTILE if "\x00" not in text]  # no argument can hold NUL
    script = "".join(f"printf '%s\\0' {shell_quote(text)}\n" for text in texts)
    done = subprocess.run(["bash", "-c", script], capture_output=True, check=True)
    assert done.stdout.decode().split("\0")[:-1] == texts
