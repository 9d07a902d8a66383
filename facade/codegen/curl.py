"""curl: one command, every value a single-quoted shell word (`'` written `'\\''`)."""

from __future__ import annotations

from facade.codegen.literals import json_literal, shell_quote
from facade.codegen.spec import API_KEY_ENV, METADATA_HEADER, ChatSpec

__all__ = ["render"]


def render(spec: ChatSpec) -> str:
    """The snippet for `spec`: prints the JSON answer, or the server-sent events as they come."""
    # The key's variable is the one thing the shell expands; `:?` stops when it is unset.
    options = [
        f'-H "Authorization: Bearer ${{{API_KEY_ENV}:?set {API_KEY_ENV} to a gateway API key}}"',
        "-H 'Content-Type: application/json'",
    ]
    if spec.metadata_header is not None:
        options.append(f"-H {shell_quote(f'{METADATA_HEADER}: {spec.metadata_header}')}")
    if spec.stream:
        options.append("--no-buffer")
    options.append(f"-d {shell_quote(json_literal(spec.body))}")
    lines = [
        "# Calls the LLM gateway's chat completions API with curl.",
        f"# Set {API_KEY_ENV} to a gateway API key, then run this command.",
        f"curl -sS --fail-with-body {shell_quote(spec.chat_url)} \\",
        *(f"  {option} \\" for option in options[:-1]),
        f"  {options[-1]}",
    ]
    return "\n".join(lines) + "\n"
