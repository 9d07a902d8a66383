"""How tests reach core: in process (what `serve` does) or over a gRPC socket (split mode).

`make test` runs the suite once with each: GATEWAY_TEST_TRANSPORT=in-process (the default)
or =grpc. Fixtures that put a facade or a client in front of a core ask here.
"""

from __future__ import annotations

import os
from typing import Any

import grpc

from core.server import Core
from gateway_client import GatewayClient

TRANSPORT = os.environ.get("GATEWAY_TEST_TRANSPORT", "in-process")
if TRANSPORT not in ("in-process", "grpc"):
    raise RuntimeError(f"GATEWAY_TEST_TRANSPORT must be in-process or grpc, not {TRANSPORT!r}")
IN_PROCESS = TRANSPORT == "in-process"


def core_target(core: Core) -> str:
    return f"127.0.0.1:{core.port}"


def core_channel(core: Core) -> grpc.aio.Channel:
    """A channel to `core` over this run's transport; the caller closes it."""
    if IN_PROCESS:
        return core.in_process_channel()
    return grpc.aio.insecure_channel(core_target(core))


def core_client(core: Core, **options: Any) -> GatewayClient:
    """A `GatewayClient` of `core` over this run's transport."""
    if IN_PROCESS:
        return GatewayClient(core_target(core), channel=core.in_process_channel(), **options)
    return GatewayClient(core_target(core), **options)
