"""Process settings from the environment (GATEWAY_*), read once at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_GRPC_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Largest gRPC message, both ways, unless GATEWAY_GRPC_MAX_MESSAGE_BYTES says otherwise."""


class Settings(BaseSettings):
    """Where the gateway listens, what it loads, and its limits."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", frozen=True)

    config: Path = Path("examples/gateway.yaml")
    """The gateway YAML (GATEWAY_CONFIG)."""
    data_dir: Path = Path(".gateway")
    """Embedded store and generated admin key live here (GATEWAY_DATA_DIR)."""
    store_uri: str | None = None
    """`mongodb://...` to keep keys and logs in MongoDB (GATEWAY_STORE_URI); unset: SQLite."""
    admin_key: SecretStr | None = None
    """Admin API key (GATEWAY_ADMIN_KEY); generated once into the data dir when unset or empty."""
    key_cache_ttl_seconds: float = Field(default=5.0, ge=0)
    """How long a key lookup is cached (GATEWAY_KEY_CACHE_TTL_SECONDS): the bound on how long
    a key revoked elsewhere keeps working on this instance; 0 checks the store every call."""
    host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    core_target: str | None = None
    """gRPC address of a separate core, for `llm-gateway facade` (default host:grpc_port)."""
    facade_transport: Literal["in-process", "grpc"] = "in-process"
    """How `serve`'s facade reaches its core (GATEWAY_FACADE_TRANSPORT): `in-process` calls the
    servicers directly (no socket, no serialization: the fast default); `grpc` goes over the
    local gRPC port, as a split `core` + `facade` deployment does. Core's gRPC port serves
    other clients either way."""
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    """Largest HTTP request body the facade reads (GATEWAY_MAX_BODY_BYTES); bigger ones get 413.
    At most `grpc_max_message_bytes`, so a body the facade accepts can reach core."""
    grpc_max_message_bytes: int = Field(
        default=DEFAULT_GRPC_MAX_MESSAGE_BYTES, ge=1024, le=2**31 - 1
    )
    """Largest gRPC message between facade (or any gateway client) and core, both directions
    (GATEWAY_GRPC_MAX_MESSAGE_BYTES): core's server and the facade's client use this one value.
    An answer over it is a 502 `response_too_large`, a request over it a 413; a log page over
    it has its largest bodies shortened (`bodies_truncated`)."""
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    request_logging: bool = True
    """Whether each call becomes a log record (GATEWAY_REQUEST_LOGGING). `false` keeps no
    records: no log API entries and no metrics API data (it reads the records' rollups);
    Prometheus metrics are still counted. For gateways whose logs live elsewhere, and to
    measure what logging costs (`make bench-suite` runs both)."""
    log_queue_size: int = Field(default=10_000, ge=0)
    """Log records held in memory for the writer (each is in the journal too); beyond it the
    writer reads them back from the journal (0: always)."""
    log_batch_size: int = Field(default=2000, ge=1)
    """Most log records per store insert. Batches only grow this big when the writer is behind
    (otherwise one holds what came in a flush interval); then a big one spreads the rollups'
    row updates over more records: ~35% more records/s into SQLite than 500 (bench-logs)."""
    log_flush_interval_seconds: float = Field(default=0.05, gt=0)
    """Longest a log record waits for its batch to fill before the store insert (it is in the
    journal, on disk, meanwhile). Short, so each insert is small: the writer thread shares
    the GIL and the CPU with the request loop, and a 0.2 s batch at one connection made its
    p99 2.6-2.7 ms against 1.9 ms at 0.05 s, at the same CPU per request and throughput
    (`bench.suite`, alternating runs)."""
    log_drain_seconds: float = Field(default=10.0, ge=0)
    """At shutdown, how long to keep writing queue and journal to the store; the rest stays
    in the journal (under the data dir) for the next start."""
    mongodb_server_selection_timeout_seconds: float = Field(default=5.0, gt=0)
    """How long a MongoDB operation waits for a reachable server before it fails
    (GATEWAY_MONGODB_SERVER_SELECTION_TIMEOUT_SECONDS; PyMongo's own default is 30): bounds
    how long a down MongoDB holds a key lookup, a log insert (the record is journaled
    anyway) or the exit. A `serverSelectionTimeoutMS` in GATEWAY_STORE_URI wins. Raise it if
    your replica set's elections take longer and requests should wait them out."""
    log_retention_days: float = Field(default=30.0, ge=0)
    """Log records older than this are deleted in the background; 0 keeps them forever."""
    shared_limits: bool = False
    """Keep rate-limit and budget counters in `data_dir/limits.db` (GATEWAY_SHARED_LIMITS), so
    several gateway processes on this host sharing the data dir admit exactly `limit_to`
    together; unset, an SQLite gateway counts in memory (exact for this one process, and
    cheaper). With MongoDB (`store_uri`) counters are always kept in the store, shared."""
    config_reload_seconds: float = Field(default=1.0, ge=0)
    """How often the config file is checked for changes (GATEWAY_CONFIG_RELOAD_SECONDS); a
    valid change applies to new requests without a restart; 0 turns reloading off."""
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    """Serves Prometheus metrics on this port (GATEWAY_METRICS_PORT); `serve` also has /metrics."""
    metrics_token: SecretStr | None = None
    """When set (GATEWAY_METRICS_TOKEN), /metrics and the metrics port answer only scrapes that
    send `Authorization: Bearer <token>`; unset or empty, they answer anyone who reaches them."""

    @field_validator("admin_key", "metrics_token", mode="after")
    @classmethod
    def _empty_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        # `VAR=` in an env file or `${VAR:-}` in compose means "not set", never "the empty
        # secret" (which a bare `Bearer ` would then match); surrounding blanks never count.
        if value is None or not value.get_secret_value().strip():
            return None
        return SecretStr(value.get_secret_value().strip())

    @model_validator(mode="after")
    def _body_fits_a_message(self) -> Self:
        # A body over the message limit could never reach core: refuse the pair at start-up
        # rather than answer 413 to bodies the facade claims to accept.
        if self.max_body_bytes > self.grpc_max_message_bytes:
            raise ValueError(
                f"max_body_bytes ({self.max_body_bytes}) must not exceed "
                f"grpc_max_message_bytes ({self.grpc_max_message_bytes})"
            )
        return self
