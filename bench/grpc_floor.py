"""The floor gRPC sets under the split deployment: CPU per call of grpc.aio alone.

A server process whose handlers do nothing (one unary RPC; one server-streaming RPC of 8
messages, what a 7-chunk chat answer and its result cost) and a client process, both pinned
to one CPU as the split gateway's core and facade are, 16 calls in flight. Prints CPU µs per
call of the two processes together: what any gateway built on grpc.aio pays per request
before doing any work of its own. Uses the gateway's own messages and generated stubs, and
uvloop, as the gateway does.

A third case sends the same unary calls multiplexed over one long-lived bidi stream (each
message tagged with its call's number; raw bytes, parsed with the same messages): what a
facade-to-core hop could cost inside gRPC without a call object, metadata and status per
request.

`--upstream-call` makes the unary handler POST once to a local upstream (aiohttp, as the
gateway's providers do) before answering: what the hop costs when core's loop also serves
the sockets of real work. Compare with `make bench-upstream-client` (the call alone).

    .venv/bin/python -m bench.grpc_floor [--upstream-call]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import aiohttp
import grpc
import uvloop

from bench.procstat import cpu_seconds, pin
from bench.throughput import free_port
from gateway.v1 import chat_pb2, route_service_pb2 as pb, route_service_pb2_grpc as pb_grpc

RESULT = chat_pb2.ChatResult(
    id="chatcmpl-bench",
    model="local/bench",
    choices=[
        chat_pb2.Choice(
            message=chat_pb2.Message(role=chat_pb2.ROLE_ASSISTANT, text="The quick brown fox.")
        )
    ],
    usage=chat_pb2.Usage(input_tokens=12, output_tokens=5, total_tokens=17),
)
DELTA = chat_pb2.ChatDelta(content=" quick")
UPSTREAM_BODY = b'{"model": "bench", "messages": [{"role": "user", "content": "Say hi."}]}'


class Empty(pb_grpc.RouteServiceServicer):
    def __init__(self, upstream: str | None) -> None:
        self._upstream = upstream
        self._session: aiohttp.ClientSession | None = None

    async def Route(self, request: pb.RouteRequest, context: Any) -> pb.RouteResponse:
        if self._upstream:
            if self._session is None:
                self._session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
            async with self._session.post(self._upstream, data=UPSTREAM_BODY) as answer:
                await answer.read()
        await context.send_initial_metadata((("x-request-id", "r"),))
        return pb.RouteResponse(result=RESULT)

    async def StreamRoute(
        self, request: pb.StreamRouteRequest, context: Any
    ) -> AsyncIterator[pb.StreamRouteResponse]:
        await context.send_initial_metadata((("x-request-id", "r"),))
        for _ in range(7):
            yield pb.StreamRouteResponse(delta=DELTA)
        yield pb.StreamRouteResponse(result=RESULT)


async def multiplexed(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
    """Answers each tagged RouteRequest on the stream with a tagged RouteResponse."""
    answer = pb.RouteResponse(result=RESULT).SerializeToString()
    async for message in requests:
        pb.RouteRequest.FromString(message[TAG:])
        yield message[:TAG] + answer


TAG = 8
MUX_METHOD = "/bench.Mux/Calls"


async def serve(port: int, upstream: str | None) -> None:
    server = grpc.aio.server()
    pb_grpc.add_RouteServiceServicer_to_server(Empty(upstream), server)  # type: ignore[abstract]
    mux = grpc.stream_stream_rpc_method_handler(multiplexed)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("bench.Mux", {"Calls": mux}),)
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


async def drive(port: int, calls: int, concurrency: int, rounds: int, server_pid: int) -> None:
    params = chat_pb2.ChatParams(
        model="smart", messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, text="Say hi.")]
    )
    metadata = (("authorization", "Bearer bench"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.RouteServiceStub(channel)

        async def unary() -> None:
            call = stub.Route(pb.RouteRequest(params=params), metadata=metadata)
            await call
            await call.initial_metadata()

        async def stream() -> None:
            call = stub.StreamRoute(pb.StreamRouteRequest(params=params), metadata=metadata)
            await call.initial_metadata()
            async for _ in call:
                pass

        mux = channel.stream_stream(MUX_METHOD)()
        answers: dict[bytes, asyncio.Future[bytes]] = {}
        writing = asyncio.Lock()  # grpc.aio allows one write in flight per call
        numbers = iter(range(1 << 62))

        async def read_answers() -> None:
            async for message in mux:
                answers.pop(message[:TAG]).set_result(message[TAG:])

        reader = asyncio.create_task(read_answers())
        request = pb.RouteRequest(params=params).SerializeToString()

        async def multiplexed_unary() -> None:
            tag = next(numbers).to_bytes(TAG, "big")
            answer = answers[tag] = asyncio.get_running_loop().create_future()
            async with writing:
                await mux.write(tag + request)
            pb.RouteResponse.FromString(await answer)

        cases = (("unary", unary), ("stream of 8", stream), ("multiplexed", multiplexed_unary))
        for name, one in cases:
            figures = []
            for _ in range(rounds):
                remaining = calls

                async def worker(one: Any = one) -> None:
                    nonlocal remaining
                    while remaining > 0:
                        remaining -= 1
                        await one()

                before = cpu_seconds([server_pid]) + time.process_time()
                await asyncio.gather(*(worker() for _ in range(concurrency)))
                used = cpu_seconds([server_pid]) + time.process_time() - before
                figures.append(used / calls * 1e6)
            print(
                f"grpc.aio {name:<12} {statistics.median(figures):7.1f} µs CPU per call "
                f"(client + server, median of {rounds})"
            )
        await mux.done_writing()
        await reader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--upstream-call", action="store_true", help="see above")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run_on_uvloop(serve(args.serve, args.upstream))
        return
    port = free_port()
    command = [sys.executable, "-m", "bench.grpc_floor", "--serve", str(port)]
    upstream = None
    if args.upstream_call:
        up_port = free_port()
        upstream = subprocess.Popen([sys.executable, "-m", "bench.upstream", str(up_port)])
        pin(upstream.pid, 1)
        command += ["--upstream", f"http://127.0.0.1:{up_port}/v1/chat/completions"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE)
    try:
        assert server.stdout is not None
        server.stdout.readline()
        pin(server.pid, 0)
        pin(0, 0)
        run_on_uvloop(drive(port, args.calls, args.concurrency, args.rounds, server.pid))
    finally:
        for process in (server, upstream):
            if process is not None:
                process.terminate()
                process.wait(10)


def run_on_uvloop(main: Coroutine[Any, Any, None]) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


if __name__ == "__main__":
    main()
