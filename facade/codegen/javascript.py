"""JavaScript and TypeScript (Node.js ES modules): the OpenAI SDK, or `fetch` with SSE parsing.

TypeScript differs only by its types, so one function writes both: `typescript=True` adds the
type annotations. Snippets are ES modules (`.mjs`, `.mts`), so top-level `await` works
whatever the surrounding `package.json` says.
"""

from __future__ import annotations

from facade.codegen.literals import json_literal
from facade.codegen.spec import API_KEY_ENV, METADATA_HEADER, ChatSpec

__all__ = ["render_fetch", "render_openai"]

_KEY = [
    f"const apiKey = process.env.{API_KEY_ENV};",
    f'if (!apiKey) throw new Error("Set {API_KEY_ENV} to a gateway API key.");',
]


_RUN = {"mjs": "node <this file>.mjs", "mts": "npx tsx <this file>.mts"}


def _header(summary: str, extension: str) -> list[str]:
    return [
        f"// {summary}",
        f"// Set {API_KEY_ENV} to a gateway API key, then run: {_RUN[extension]}",
    ]


def render_openai(spec: ChatSpec, *, typescript: bool = False) -> str:
    """The OpenAI SDK snippet (`npm install openai`) for `spec`."""
    extension = "mts" if typescript else "mjs"
    kind = "Streaming" if spec.stream else "NonStreaming"
    cast = f" as OpenAI.Chat.ChatCompletionCreateParams{kind}" if typescript else ""
    options = ""
    if spec.metadata_header is not None:
        metadata = f"{json_literal(METADATA_HEADER)}: {json_literal(spec.metadata_header)}"
        options = f", {{\n  headers: {{ {metadata} }},\n}}"
    params = json_literal(spec.body, 0, len("const params = ;") + len(cast), javascript=True)
    name = "stream" if spec.stream else "completion"
    lines = [
        *_header("Calls the LLM gateway with the OpenAI SDK (npm install openai).", extension),
        'import OpenAI from "openai";',
        "",
        *_KEY,
        "const client = new OpenAI({",
        f"  baseURL: {json_literal(spec.base_url)},",
        "  apiKey,",
        "});",
        "",
        f"const params = {params}{cast};",
        f"const {name} = await client.chat.completions.create(params{options});",
    ]
    if spec.stream:
        lines += _read_stream(spec, typescript, sdk=True)
    else:
        lines += [
            "for (const choice of completion.choices) {",
            "  if (choice.message.content !== null) console.log(choice.message.content);",
        ]
        if spec.has_tools:
            lines += [
                "  for (const call of choice.message.tool_calls ?? []) {",
                '    if (call.type === "function") {',
                "      console.log(`tool call: ${call.function.name} ${call.function.arguments}`);",
                "    }",
                "  }",
            ]
        lines.append("}")
    return "\n".join(lines) + "\n"


def render_fetch(spec: ChatSpec, *, typescript: bool = False) -> str:
    """The `fetch` snippet (Node.js 18 or later, no package) for `spec`."""
    extension = "mts" if typescript else "mjs"
    headers = ["    Authorization: `Bearer ${apiKey}`,", '    "Content-Type": "application/json",']
    if spec.metadata_header is not None:
        value = json_literal(spec.metadata_header)
        headers.append(f"    {json_literal(METADATA_HEADER)}: {value},")
    lines = [
        *_header("Calls the LLM gateway's chat completions API with fetch.", extension),
        *_KEY,
        f"const body = {json_literal(spec.body, 0, len('const body = ;'), javascript=True)};",
        "",
        f"const response = await fetch({json_literal(spec.chat_url)}, {{",
        '  method: "POST",',
        "  headers: {",
        *headers,
        "  },",
        "  body: JSON.stringify(body),",
        "});",
        "if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);",
    ]
    if spec.stream:
        lines += _read_stream(spec, typescript, sdk=False)
    else:
        answer = (
            "(await response.json()) as ChatCompletion" if typescript else "await response.json()"
        )
        lines += [
            *(_COMPLETION_TYPE if typescript else []),
            f"const completion = {answer};",
            "for (const choice of completion.choices) {",
            "  if (choice.message.content !== null) console.log(choice.message.content);",
        ]
        if spec.has_tools:
            lines += [
                "  for (const call of choice.message.tool_calls ?? []) {",
                "    console.log(`tool call: ${call.function.name} ${call.function.arguments}`);",
                "  }",
            ]
        lines.append("}")
    return "\n".join(lines) + "\n"


def _read_stream(spec: ChatSpec, typescript: bool, *, sdk: bool) -> list[str]:
    lines = []
    if spec.include_usage:
        lines.append(f"let usage{': unknown' if typescript else ''};")
    if spec.has_tools:
        calls_type = "<number, { name: string; arguments: string }>" if typescript else ""
        lines.append(f"const calls = new Map{calls_type}();")
    if sdk:
        lines.append("for await (const chunk of stream) {")
        indent = "  "
    else:
        lines += _sse_loop(typescript)
        indent = "    "
    if spec.include_usage:
        lines.append(f"{indent}if (chunk.usage) usage = chunk.usage; // the last chunk")
    lines += [
        f"{indent}for (const choice of chunk.choices) {{",
        f"{indent}  if (choice.delta.content) process.stdout.write(choice.delta.content);",
    ]
    if spec.has_tools:
        lines += [
            f"{indent}  for (const piece of choice.delta.tool_calls ?? []) {{",
            f'{indent}    const call = calls.get(piece.index) ?? {{ name: "", arguments: "" }};',
            f'{indent}    call.name += piece.function?.name ?? "";',
            f'{indent}    call.arguments += piece.function?.arguments ?? "";',
            f"{indent}    calls.set(piece.index, call);",
            f"{indent}  }}",
        ]
    lines.append(f"{indent}}}")
    lines += ["}"] if sdk else ["  }", "}"]
    lines.append('process.stdout.write("\\n");')
    if spec.has_tools:
        lines += [
            "for (const call of calls.values()) {",
            "  console.log(`tool call: ${call.name} ${call.arguments}`);",
            "}",
        ]
    if spec.include_usage:
        lines.append("if (usage) console.log(`usage: ${JSON.stringify(usage)}`);")
    return lines


_COMPLETION_TYPE = [
    "type ChatCompletion = {",
    "  choices: {",
    "    message: {",
    "      content: string | null;",
    "      tool_calls?: { function: { name: string; arguments: string } }[];",
    "    };",
    "  }[];",
    "};",
]


def _sse_loop(typescript: bool) -> list[str]:
    """Opens the loops over the server-sent events' `data:` lines, each parsed into `chunk`."""
    body = "response.body!" if typescript else "response.body"
    return [
        '// Server-sent events: lines of "data: <json>", then "data: [DONE]".',
        'let buffer = "";',
        f"for await (const text of {body}.pipeThrough(new TextDecoderStream())) {{",
        "  buffer += text;",
        '  const lines = buffer.split("\\n");',
        '  buffer = lines.pop() ?? "";',
        "  for (const line of lines) {",
        '    if (!line.startsWith("data: ") || line === "data: [DONE]") continue;',
        "    const chunk = JSON.parse(line.slice(6));",
        "    if (chunk.error) throw new Error(chunk.error.message); // failed after it started",
    ]
