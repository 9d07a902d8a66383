"""The floor gRPC sets under the split deployment: CPU per call of grpc.aio alone.

A server process whose handlers do nothing (one unary RPC; one server-streaming RPC of 8
messages, what a 7-chunk chat answer and its result cost) and a client process, both pinned
to one CPU as the split gateway's core and facade are, 16 calls in flight. Prints CPU µs per
call of the two processes together: what any gateway built on grpc.aio pays per request
before doing any work of its own. Uses the gateway's own messages and generated stubs.

    .venv/bin/python -m bench.grpc_floor
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc

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


class Empty(pb_grpc.RouteServiceServicer):
    async def Route(self, request: pb.RouteRequest, context: Any) -> pb.RouteResponse:
        await context.send_initial_metadata((("x-request-id", "r"),))
        return pb.RouteResponse(result=RESULT)

    async def StreamRoute(
        self, request: pb.StreamRouteRequest, context: Any
    ) -> AsyncIterator[pb.StreamRouteResponse]:
        await context.send_initial_metadata((("x-request-id", "r"),))
        for _ in range(7):
            yield pb.StreamRouteResponse(delta=DELTA)
        yield pb.StreamRouteResponse(result=RESULT)


async def serve(port: int) -> None:
    server = grpc.aio.server()
    pb_grpc.add_RouteServiceServicer_to_server(Empty(), server)  # type: ignore[abstract]
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

        for name, one in (("unary", unary), ("stream of 8", stream)):
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
        return
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.grpc_floor", "--serve", str(port)], stdout=subprocess.PIPE
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()
        pin(server.pid, 0)
        pin(0, 0)
        asyncio.run(drive(port, args.calls, args.concurrency, args.rounds, server.pid))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
