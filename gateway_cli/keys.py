"""`llm-gateway keys create|list|revoke|rotate`: manage API keys directly in the store.

No running gateway is needed; the config is read only to check model names. A new secret is
printed alone on the last line of stdout, so scripts can take it with `tail -n 1`.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from core.config.loader import GatewayConfig
from core.config.settings import Settings
from core.errors import GatewayError
from core.identity.keys import IssuedKey, KeyManager
from core.identity.rules import configured_models
from core.store.base import ApiKeyRecord
from core.store.factory import open_store

_DURATION = re.compile(r"^(\d+)([dhm])$")
_UNIT_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000}


def add_keys_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `keys` and its subcommands to the CLI."""
    keys = commands.add_parser("keys", help="create, list, revoke and rotate API keys")
    actions = keys.add_subparsers(dest="keys_command", required=True)
    create = actions.add_parser("create", help="create a key; its secret is printed last")
    create.add_argument("--subject", required=True, help="user:<email> or virtualaccount:<name>")
    create.add_argument(
        "--team", action="append", default=[], metavar="NAME", help="team membership (repeat)"
    )
    create.add_argument(
        "--team-admin",
        action="append",
        default=[],
        metavar="NAME",
        help="team whose logs and metrics the key may read; implies membership (repeat)",
    )
    create.add_argument(
        "--models", type=_csv, default=[], help="allow-list: account/model,account/model"
    )
    create.add_argument(
        "--expires-in", type=parse_duration, metavar="30d|12h|90m", help="default: never"
    )
    listing = actions.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--subject", help="only this subject's keys")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    for name, text in (("revoke", "revoke a key"), ("rotate", "give a key a new secret")):
        actions.add_parser(name, help=text).add_argument("id", help="key id (key_...)")


def parse_duration(text: str) -> int:
    """`30d`, `12h`, `90m` -> milliseconds."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: use e.g. 30d, 12h or 90m")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def run_keys(args: argparse.Namespace, settings: Settings, config: GatewayConfig) -> int:
    """Runs one `keys` subcommand; 1 with a message on stderr when core refuses it."""
    try:
        lines = asyncio.run(_run(args, settings, config))
    except GatewayError as error:
        print(f"llm-gateway keys: {error.message}", file=sys.stderr)
        return 1
    print("\n".join(lines), flush=True)
    return 0


async def _run(args: argparse.Namespace, settings: Settings, config: GatewayConfig) -> list[str]:
    store = open_store(uri=settings.store_uri, data_dir=settings.data_dir)
    await store.open()
    try:
        keys = KeyManager(store, configured_models(config))
        command = args.keys_command
        if command == "create":
            expires = None if args.expires_in is None else _now_ms() + args.expires_in
            return _issued(
                await keys.create(
                    subject=args.subject,
                    teams=args.team,
                    admin_teams=args.team_admin,
                    models=args.models,
                    expires_at=expires,
                )
            )
        if command == "list":
            return key_table(await keys.list(subject=args.subject, include_revoked=args.all))
        if command == "revoke":
            return [*_fields(await keys.revoke(args.id)), "revoked"]
        return _issued(await keys.rotate(args.id))
    finally:
        await store.close()


def _issued(issued: IssuedKey) -> list[str]:
    return [*_fields(issued.record), "secret (shown only now, store it safely):", issued.secret]


def _fields(key: ApiKeyRecord) -> list[str]:
    rows = (
        ("id", key.id),
        ("subject", key.subject),
        ("teams", ", ".join(key.teams) or "-"),
        ("admin teams", ", ".join(key.admin_teams) or "-"),
        ("models", ", ".join(key.models) or "all"),
        ("prefix", key.prefix),
        ("created", _when(key.created_at)),
        ("expires", _when(key.expires_at, "never")),
        ("revoked", _when(key.revoked_at)),
    )
    return [f"{name + ':':<13}{value}" for name, value in rows]


def key_table(keys: Sequence[ApiKeyRecord]) -> list[str]:
    """The keys as an aligned text table."""
    header = ("ID", "SUBJECT", "TEAMS", "PREFIX", "CREATED", "LAST USED", "EXPIRES", "REVOKED")
    rows = [header] + [
        (
            k.id,
            k.subject,
            ",".join(k.teams) or "-",
            k.prefix,
            _when(k.created_at),
            _when(k.last_used_at, "never"),
            _when(k.expires_at, "never"),
            _when(k.revoked_at),
        )
        for k in keys
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def _when(ms: int | None, unset: str = "-") -> str:
    if ms is None:
        return unset
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
