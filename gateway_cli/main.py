"""`llm-gateway serve|core|facade|keys`: the one composition root of core and facade."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from core.config.loader import ConfigError, load_config
from core.config.settings import Settings
from gateway_cli.admin_key import Origin
from gateway_cli.keys import add_keys_parser, run_keys
from gateway_cli.runner import Endpoints, data_dir_ready, serve


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llm-gateway", description=__doc__)
    parser.add_argument(
        "--config", help="gateway YAML (default: $GATEWAY_CONFIG or examples/gateway.yaml)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run core and the HTTP facade in one process")
    commands.add_parser("core", help="run only the gRPC core")
    commands.add_parser("facade", help="run only the HTTP facade (GATEWAY_CORE_TARGET names core)")
    add_keys_parser(commands)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs every upstream request at INFO: a formatted line per call on the hot path.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        settings = Settings(**({"config": args.config} if args.config else {}))
        config = load_config(settings.config)
        data_dir_ready(settings.data_dir)
    except (ConfigError, ValidationError) as exc:
        print(f"llm-gateway: {exc}", file=sys.stderr)
        return 2
    if args.command == "keys":
        return run_keys(args, settings, config)
    run_core = args.command in ("serve", "core")
    run_facade = args.command in ("serve", "facade")
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(
                serve(settings, config, run_core=run_core, run_facade=run_facade, on_ready=_ready)
            )
    except ConfigError as exc:
        print(f"llm-gateway: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def banner(endpoints: Endpoints) -> str:
    """What `serve`, `core` and `facade` print once ready; `API key:` is always the last line.

    It shows the admin key itself only on the start that generated it (see AdminKey.shown).
    """
    lines = []
    if endpoints.http_url:
        lines.append(f"Web console:     {endpoints.http_url}/")
        lines.append(f"OpenAI base URL: {endpoints.http_url}/api/inference/openai")
    if endpoints.grpc_target:
        lines.append(f"gRPC target:     {endpoints.grpc_target}")
    if endpoints.metrics_url:
        access = "open; set GATEWAY_METRICS_TOKEN to require a token"
        if not endpoints.metrics_open:
            access = "scrapes send Authorization: Bearer <GATEWAY_METRICS_TOKEN>"
        lines.append(f"Metrics:         {endpoints.metrics_url} ({access})")
    key = endpoints.admin_key
    if key.origin is Origin.GENERATED:
        lines.append(f"Admin key file:  {key.path} (generated now; the key is printed only now)")
    lines.append(f"API key:         {key.shown()}")
    return "llm-gateway is ready\n  " + "\n  ".join(lines)


def _ready(endpoints: Endpoints) -> None:
    print(banner(endpoints), flush=True)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is not built for every platform
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    raise SystemExit(main())
