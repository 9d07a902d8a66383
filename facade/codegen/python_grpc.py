"""Python over gRPC with the gateway's typed client (`gateway_client`, clients/python)."""

from __future__ import annotations

from facade.codegen.literals import python_string
from facade.codegen.protos import ProtoSource
from facade.codegen.pysource import API_KEY, assignment, header
from facade.codegen.spec import GRPC_TARGET_ENV, ChatSpec

__all__ = ["render"]


def render(spec: ChatSpec) -> str:
    """The snippet for `spec`."""
    protos = ProtoSource()
    params = protos.expression(spec.params, 0, len("PARAMS = "))
    metadata = ", metadata=METADATA" if spec.metadata else ""
    lines = [
        header(
            "Calls the LLM gateway over gRPC with its typed Python client",
            "gateway_client",
            "gateway_client and gateway.v1 come with the gateway's own Python package",
            "(pip install <the llm-gateway checkout>). The gRPC address is read from",
            f"{GRPC_TARGET_ENV}, with the default below.",
        ),
        "import asyncio",
        "import os",
        "",
        *protos.import_lines(),
        "from gateway_client import GatewayClient",
        "",
        f"API_KEY = {API_KEY}",
        f"TARGET = os.environ.get({python_string(GRPC_TARGET_ENV)}, "
        f"{python_string(spec.grpc_target)})",
        *([assignment("METADATA", spec.metadata)] if spec.metadata else []),
        f"PARAMS = {params}",
        "",
        "",
        "async def main() -> None:",
    ]
    if spec.stream:
        lines += _read_stream(spec, metadata)
    else:
        lines += _read_answer(spec, metadata)
    lines += ["", "", "asyncio.run(main())"]
    return "\n".join(lines) + "\n"


def _read_answer(spec: ChatSpec, metadata: str) -> list[str]:
    lines = [
        "    async with GatewayClient(TARGET, api_key=API_KEY) as client:",
        f"        answer = await client.route(PARAMS{metadata})",
        "    for choice in answer.result.choices:",
        '        if choice.message.HasField("text"):',
        "            print(choice.message.text)",
    ]
    if spec.has_tools:
        lines += _print_calls("choice.message.tool_calls", "        ")
    return lines


def _read_stream(spec: ChatSpec, metadata: str) -> list[str]:
    lines = [
        "    async with (",
        "        GatewayClient(TARGET, api_key=API_KEY) as client,",
        f"        client.stream_route(PARAMS{metadata}) as stream,",
        "    ):",
        "        async for event in stream:",
        '            if event.HasField("delta"):',
        '                if event.delta.HasField("content"):',
        '                    print(event.delta.content, end="", flush=True)',
        "                continue",
        "            # The last event: the assembled answer, its finish reason and usage.",
        "            print()",
    ]
    if spec.has_tools:
        lines += [
            "            for choice in event.result.choices:",
            *_print_calls("choice.message.tool_calls", "                "),
        ]
    if spec.include_usage:
        lines += [
            "            usage = event.result.usage",
            "            print(",
            '                f"usage: input_tokens={usage.input_tokens} "',
            '                f"output_tokens={usage.output_tokens} "',
            '                f"total_tokens={usage.total_tokens}"',
            "            )",
        ]
    return lines


def _print_calls(calls: str, indent: str) -> list[str]:
    return [
        f"{indent}for call in {calls}:",
        f'{indent}    print("tool call:", call.function.name, call.function.arguments)',
    ]
