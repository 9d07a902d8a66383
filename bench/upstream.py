"""A minimal OpenAI-compatible upstream for benchmarks: fixed answers, fast as aiohttp allows.

Non-streaming calls get one JSON answer; `"stream": true` gets 7 chunks (role, four words,
finish reason, usage: what `stream_options.include_usage` asks for) and `[DONE]`, written in
one go so the upstream's own cost per call stays small beside the gateway's.
"""

from __future__ import annotations

import sys

import orjson
from aiohttp import web

ANSWER = orjson.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "bench",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "The quick brown fox."},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    }
)


def _chunk(delta: dict[str, object], finish: str | None = None, usage: bool = False) -> bytes:
    body: dict[str, object] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "bench",
        "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage:
        body["usage"] = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
    return b"data: " + orjson.dumps(body) + b"\n\n"


STREAM = b"".join(
    [
        _chunk({"role": "assistant", "content": ""}),
        *(_chunk({"content": word}) for word in ("The", " quick", " brown", " fox.")),
        _chunk({}, finish="stop"),
        _chunk({}, usage=True),
        b"data: [DONE]\n\n",
    ]
)


async def chat(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    if b'"stream":true' not in body.replace(b" ", b""):
        return web.Response(body=ANSWER, content_type="application/json")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    try:
        await response.prepare(request)
        await response.write(STREAM)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the load generator closes its connections when its time is up
    return response


def main() -> None:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
