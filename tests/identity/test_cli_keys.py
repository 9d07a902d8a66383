"""`llm-gateway keys ...` end to end: real processes sharing one SQLite data dir."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import openai
import pytest

from gateway_cli.keys import parse_duration
from gateway_cli.main import main
from tests.identity.processes import gateway_env, keys_cli, serve


def chat(base_url: str, key: str) -> str | None:
    with openai.OpenAI(base_url=base_url, api_key=key, max_retries=0) as client:
        reply = client.chat.completions.create(
            model="mock-main/echo", messages=[{"role": "user", "content": "via cli key"}]
        )
    return reply.choices[0].message.content


def fields(stdout: str) -> dict[str, str]:
    return {
        name.strip(): value.strip()
        for name, sep, value in (line.partition(":") for line in stdout.splitlines())
        if sep and not name.startswith("gw-")
    }


COLUMNS = ("ID", "SUBJECT", "TEAMS", "PREFIX", "CREATED", "LAST USED", "EXPIRES", "REVOKED")


def table(stdout: str) -> list[dict[str, str]]:
    header, *rows = stdout.splitlines()
    starts = [header.index(column) for column in COLUMNS]
    ends = [*starts[1:], None]
    return [
        {c: row[a:b].strip() for c, a, b in zip(COLUMNS, starts, ends, strict=True)} for row in rows
    ]


def test_key_lifecycle_through_the_cli(tmp_path: Path) -> None:
    env = gateway_env(tmp_path / "data")
    created = keys_cli(
        env,
        "create",
        "--subject", "user:alice@example.com",
        "--team", "ml",
        "--team-admin", "ops",
        "--models", "mock-main/echo,mock-main/embed",
        "--expires-in", "30d",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    secret = created.stdout.splitlines()[-1]
    assert re.fullmatch(r"gw-[A-Za-z0-9_-]{43}", secret)
    shown = fields(created.stdout)
    key_id = shown["id"]
    assert shown["subject"] == "user:alice@example.com"
    assert shown["teams"] == "team:ml, team:ops"
    assert shown["admin teams"] == "team:ops"
    assert shown["models"] == "mock-main/echo, mock-main/embed"
    assert shown["prefix"] == secret[:10]
    assert shown["expires"] != "never"

    listed = keys_cli(env, "list")
    assert listed.returncode == 0, listed.stderr
    [row] = table(listed.stdout)
    assert row["ID"] == key_id
    assert row["SUBJECT"] == "user:alice@example.com"
    assert row["PREFIX"] == secret[:10]
    assert (row["LAST USED"], row["REVOKED"]) == ("never", "-")
    assert secret not in listed.stdout

    with serve(env, tmp_path / "serve.stderr") as served:
        assert chat(served.openai_base_url, secret) == "via cli key"
        rotated = keys_cli(env, "rotate", key_id)
        assert rotated.returncode == 0, rotated.stderr
        new_secret = rotated.stdout.splitlines()[-1]
        assert new_secret.startswith("gw-")
        assert new_secret != secret
        with pytest.raises(openai.AuthenticationError):
            chat(served.openai_base_url, secret)
        assert chat(served.openai_base_url, new_secret) == "via cli key"
        revoked = keys_cli(env, "revoke", key_id)
        assert revoked.returncode == 0, revoked.stderr
        assert revoked.stdout.splitlines()[-1] == "revoked"
        with pytest.raises(openai.AuthenticationError):
            chat(served.openai_base_url, new_secret)

    assert table(keys_cli(env, "list").stdout) == []
    [row] = table(keys_cli(env, "list", "--all", "--subject", "user:alice@example.com").stdout)
    assert row["ID"] == key_id
    assert row["REVOKED"].endswith("Z")
    # The last use was buffered in memory and written when the gateway stopped.
    assert row["LAST USED"].endswith("Z")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["create", "--subject", "alice"], 1, "invalid subject: expected `user:<email>`"),
        (
            ["create", "--subject", "user:a@example.com", "--team", "bad name"],
            1,
            "invalid team 'bad name'",
        ),
        (
            ["create", "--subject", "user:a@example.com", "--models", "mock-main/nope"],
            1,
            "unknown model 'mock-main/nope'",
        ),
        (
            ["create", "--subject", "user:a@example.com", "--expires-in", "10y"],
            2,
            "invalid duration '10y'",
        ),
        (["create"], 2, "--subject"),
        (["revoke", "key_0000000000000000"], 1, "no API key with id 'key_0000000000000000'"),
        (["rotate", "nope"], 1, "no API key with id"),
    ],
)
def test_bad_input_exits_non_zero_with_a_message(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    result = keys_cli(gateway_env(tmp_path / "data"), *args)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_cli_in_process_prints_fields_then_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in gateway_env(tmp_path / "data").items():
        if name.startswith("GATEWAY_"):
            monkeypatch.setenv(name, value)
    args = ["keys", "create", "--subject", "virtualaccount:bot", "--models", "mock-main/echo"]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("gw-")
    assert out[-2] == "secret (shown only now, store it safely):"
    assert fields("\n".join(out))["models"] == "mock-main/echo"
    assert main(["keys", "list", "--subject", "virtualaccount:bot"]) == 0
    [row] = table(capsys.readouterr().out)
    assert (row["SUBJECT"], row["TEAMS"], row["EXPIRES"]) == ("virtualaccount:bot", "-", "never")
    assert main(["keys", "revoke", "key_0000000000000000"]) == 1
    assert "no API key with id" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "ms"), [("30d", 30 * 86_400_000), ("12h", 12 * 3_600_000), ("90m", 90 * 60_000)]
)
def test_durations(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["0d", "1w", "d", "-1h", "1.5h", ""])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="invalid duration"):
        parse_duration(text)
