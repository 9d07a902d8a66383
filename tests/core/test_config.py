from __future__ import annotations

import typing
from pathlib import Path

import pytest

from core.config.loader import ConfigError, load_config, parse_config
from core.config.models import ProviderFamily
from core.models import resolve_api_key

MOCK = """
name: mock-main
type: provider-account
provider: mock
models: [{name: echo}]
"""


def test_sample_config_loads() -> None:
    config = load_config(Path("examples/gateway.yaml"))
    assert [a.name for a in config.accounts] == ["mock-main"]
    assert [m.name for m in config.accounts[0].models] == ["echo", "embed"]


def test_documents_are_split_on_separators() -> None:
    config = parse_config(MOCK + "---\n" + MOCK.replace("mock-main", "mock-two"))
    assert [a.name for a in config.accounts] == ["mock-main", "mock-two"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: [", "gw.yaml: invalid YAML"),
        ("- 1\n- 2", "gw.yaml: document 1: expected a mapping"),
        ("name: x\ntype: nonsense", "gw.yaml: document 1 (name=x): "),
        (
            MOCK
            + "---\n"
            + MOCK.replace(
                "models: [{name: echo}]",
                "models: [{name: echo, price: {input_per_million: cheap}}]",
            ),
            "gw.yaml: document 2 (name=mock-main): models[0].price.input_per_million: "
            "Input should be a valid number",
        ),
        (
            MOCK.replace("provider: mock", "provider: nope"),
            "document 1 (name=mock-main): provider: Input should be",
        ),
        (
            MOCK.replace("models: [{name: echo}]", "models: []"),
            "models: List should have at least 1 item",
        ),
        (MOCK + "unknown_field: 1", "unknown_field: Extra inputs are not permitted"),
        (MOCK + "---\n" + MOCK, "duplicate provider account name 'mock-main'"),
        (
            MOCK.replace("provider: mock", "provider: openai\napi_key: sk-secret"),
            "api_key: a literal key is not allowed",
        ),
        (
            MOCK.replace("provider: mock", "provider: azure-openai"),
            "base_url is required for azure-openai",
        ),
        (
            MOCK.replace("provider: mock", "provider: vertex\nproject: p"),
            "project and location are required for vertex",
        ),
        (
            MOCK.replace("provider: mock", "provider: bedrock"),
            "region is required for bedrock",
        ),
        (
            MOCK.replace("[{name: echo}]", "[{name: echo}, {name: echo}]"),
            "each model name may appear once",
        ),
    ],
)
def test_invalid_config_names_file_document_and_field(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(text, source="gw.yaml")
    assert expected in str(raised.value)
    assert "sk-secret" not in str(raised.value)


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml")


def test_api_key_from_env_and_file(tmp_path: Path) -> None:
    env_account = parse_config(
        MOCK.replace("provider: mock", "provider: openai\napi_key_env: K")
    ).accounts[0]
    assert resolve_api_key(env_account, {"K": " sk-1\n"}) == "sk-1"
    with pytest.raises(ConfigError, match="environment variable K"):
        resolve_api_key(env_account, {})
    secret = tmp_path / "key"
    secret.write_text("sk-2\n")
    file_account = parse_config(
        MOCK.replace("provider: mock", f"provider: openai\napi_key_file: {secret}")
    ).accounts[0]
    assert resolve_api_key(file_account, {}) == "sk-2"
    missing = parse_config(
        MOCK.replace("provider: mock", "provider: openai\napi_key_file: /nope")
    ).accounts[0]
    with pytest.raises(ConfigError, match="cannot read api_key_file"):
        resolve_api_key(missing, {})


def test_unquoted_api_version_date_is_text() -> None:
    text = MOCK.replace(
        "provider: mock", "provider: azure-openai\nbase_url: https://x\napi_version: 2024-10-21"
    )
    assert parse_config(text).accounts[0].api_version == "2024-10-21"


def test_the_provider_examples_load_and_cover_every_family() -> None:
    config = load_config(Path(__file__).parents[2] / "examples" / "providers.yaml")
    families = {account.provider for account in config.accounts}
    assert families == set(typing.get_args(ProviderFamily)) - {"mock"}
