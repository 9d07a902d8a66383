"""The gateway YAML documents, as pydantic models (validated once, at load)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ProviderFamily = Literal[
    "openai", "azure-openai", "anthropic", "gemini", "vertex", "bedrock", "mock"
]
ModelKind = Literal["chat", "embedding"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldError(ValueError):
    """A validator's complaint about `path` below the value it checks, in its own words.

    A model validator sees a whole rule, but the message should name the field at fault
    (`load_balance_targets[1].weight`); the loader appends `path` to pydantic's location and
    shows `reason` without pydantic's "Value error, " prefix.
    """

    def __init__(self, reason: str, *path: str | int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path


def model_id(account: str, model: str) -> str:
    """The id callers name a model by: `openai-main/gpt-4o`."""
    return f"{account}/{model}"


class ModelPrice(_Strict):
    """Price in US dollars per million tokens."""

    input_per_million: float = Field(default=0.0, ge=0)
    output_per_million: float = Field(default=0.0, ge=0)


class ModelConfig(_Strict):
    """One model a provider account serves."""

    name: str = Field(min_length=1, pattern=r"^[^\s]+$")
    kind: ModelKind = "chat"
    deployment: str | None = None
    """Azure OpenAI deployment name; defaults to `name`."""
    price: ModelPrice = ModelPrice()


class MockOptions(_Strict):
    """Behaviour of the built-in `mock` provider."""

    latency_ms: float = Field(default=0.0, ge=0)
    """Delay before the answer (and before the first streamed delta)."""
    chunk_delay_ms: float = Field(default=0.0, ge=0)
    """Delay between streamed deltas."""
    output_tokens: int | None = Field(default=None, ge=0)
    """Fixed answer length in tokens; unset echoes the last user message."""


DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024


class ProviderAccount(_Strict):
    """A provider account: `name` is the `openai-main` in `openai-main/gpt-4o`."""

    type: Literal["provider-account"]
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    provider: ProviderFamily
    base_url: str | None = None
    """Root URL of the API; each family has a default (none for azure-openai)."""
    api_key_env: str | None = None
    """Environment variable holding the provider's API key."""
    api_key_file: str | None = None
    """File holding the provider's API key (e.g. a mounted secret)."""
    api_version: str | None = None
    """`api-version` for azure-openai, `anthropic-version` for anthropic."""
    headers: dict[str, str] = {}
    """Extra non-secret headers sent on every upstream request."""
    timeout_seconds: float = Field(default=60.0, gt=0)
    """A non-streaming call's whole upstream exchange, from sending the request (waiting for a
    pooled connection included) to the answer's last byte; for a stream, the same span up to
    the answer's first byte. Bytes trickling in do not extend it. Past it: 504."""
    stream_idle_timeout_seconds: float = Field(default=60.0, gt=0)
    """Longest silence in a stream after its first byte; a stream that keeps sending is never
    cut. Past it: 504 before the first event, an `error` event after it."""
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    """Opening one TCP (and TLS) connection to the provider."""
    max_response_bytes: int = Field(default=DEFAULT_MAX_RESPONSE_BYTES, ge=1024)
    """Largest answer read from the provider (counted after decompression), and largest single
    line or event of a stream. Reading stops as soon as it is passed and the call fails with
    a 502 naming this field, so a broken provider cannot make the gateway buffer without
    bound. The default is GATEWAY_GRPC_MAX_MESSAGE_BYTES's: an answer (or one streamed event)
    goes on to the caller as one gRPC message, and its JSON is seldom smaller than that
    message. Float embeddings are the exception (their JSON is about 4x the message): raise
    it on accounts that serve large embedding batches."""
    max_connections: int = Field(default=100, ge=1)
    project: str | None = None
    """vertex: the Google Cloud project id."""
    location: str | None = None
    """vertex: the region (`us-central1`) or `global`."""
    credentials_file: str | None = None
    """vertex: a service-account JSON file; unset uses Google's application-default
    credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's login, the metadata server)."""
    region: str | None = None
    """bedrock: the AWS region (`us-east-1`)."""
    aws_profile: str | None = None
    """bedrock: a named profile of the shared AWS config; unset uses the standard chain
    (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, the shared files, a role)."""
    models: list[ModelConfig] = Field(min_length=1)
    mock: MockOptions = MockOptions()

    @field_validator("api_version", mode="before")
    @classmethod
    def _date_as_text(cls, value: object) -> object:
        # YAML reads an unquoted `api_version: 2024-10-21` as a date.
        return value.isoformat() if isinstance(value, date) else value

    @model_validator(mode="before")
    @classmethod
    def _refuse_literal_keys(cls, data: object) -> object:
        if isinstance(data, dict) and "api_key" in data:
            raise ValueError(
                "api_key: a literal key is not allowed in config; "
                "name an environment variable in api_key_env or a file in api_key_file"
            )
        return data

    @model_validator(mode="after")
    def _check_family(self) -> ProviderAccount:
        if self.provider == "azure-openai" and not self.base_url:
            raise ValueError(
                "base_url is required for azure-openai (https://<resource>.openai.azure.com)"
            )
        if self.provider == "vertex" and not (self.project and self.location):
            raise ValueError("project and location are required for vertex")
        if self.provider == "bedrock" and not self.region:
            raise ValueError("region is required for bedrock")
        names = [m.name for m in self.models]
        if len(names) != len(set(names)):
            raise ValueError("models: each model name may appear once")
        return self


class ApiKeyEntry(_Strict):
    """A gateway API key, stored as the SHA-256 hex digest of the secret."""

    id: str = Field(min_length=1)
    subject: str = Field(pattern=r"^(user|virtualaccount|team):.+$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ApiKeys(_Strict):
    """Gateway API keys defined in config (the admin key comes from the environment)."""

    type: Literal["gateway-api-keys"]
    name: str
    keys: list[ApiKeyEntry] = []


# The dimensions a metadata key may be rolled up with (core/usage/dimensions.py).
RollupDimension = Literal[
    "model", "resolved_model", "provider_account", "user", "team", "key_id", "status",
    "http_status", "error_code", "stream",
]  # fmt: skip


class MetadataKeyRollup(_Strict):
    """A metadata key to roll up, with the dimensions to roll up beside it."""

    key: str = Field(min_length=1, max_length=128)
    with_: list[RollupDimension] = Field(default=[], alias="with")

    @field_validator("key")
    @classmethod
    def _printable(cls, key: str) -> str:
        # The rule queries apply to `metadata.<key>` (core.metadata.check_key).
        if not key.isprintable():
            raise ValueError("a metadata key is printable text")
        return key


DEFAULT_MAX_LABEL_VALUES = 100
DEFAULT_MAX_SERIES = 2000
DEFAULT_RAW_WINDOW_HOURS = 24.0


class PrometheusOptions(_Strict):
    """Opt-in labels of the request metrics; cardinality stays bounded either way."""

    user_label: bool = False
    """Label request metrics with the caller's subject (`user`)."""
    metadata_labels: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]] = []
    """Metadata keys to add as labels (label names are the keys)."""
    max_label_values: int = Field(default=DEFAULT_MAX_LABEL_VALUES, ge=1, le=10_000)
    """Distinct values per label; further values are counted under `other`."""
    max_series: int = Field(default=DEFAULT_MAX_SERIES, ge=1, le=100_000)
    """Label sets of the request metrics; beyond it, the opt-in labels read `other`."""

    @field_validator("metadata_labels")
    @classmethod
    def _once_each(cls, keys: list[str]) -> list[str]:
        if len(keys) != len(set(keys)):
            raise ValueError("each key may appear once")
        return keys


class MetricsConfig(_Strict):
    """`gateway-metrics-config`: what metrics roll up and export."""

    type: Literal["gateway-metrics-config"]
    name: str
    metadata_keys: list[MetadataKeyRollup] = []
    """Metadata keys to group and filter by from rollups, over any period (a key alone, or
    `{key, with: [dimensions]}`); other keys are read from raw records, over at most
    `raw_window_hours`."""
    raw_window_hours: float = Field(default=DEFAULT_RAW_WINDOW_HOURS, gt=0)
    """Longest period a metrics query may read from raw records."""
    prometheus: PrometheusOptions = PrometheusOptions()

    @field_validator("metadata_keys", mode="before")
    @classmethod
    def _bare_keys(cls, value: object) -> object:
        if isinstance(value, list):
            return [{"key": item} if isinstance(item, str) else item for item in value]
        return value

    @model_validator(mode="after")
    def _unique_keys(self) -> MetricsConfig:
        keys = [k.key for k in self.metadata_keys]
        if len(keys) != len(set(keys)):
            raise ValueError("metadata_keys: each key may appear once")
        return self
