"""Process settings from the environment (GATEWAY_*), read once at start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    """Admin API key (GATEWAY_ADMIN_KEY); generated once into the data dir when unset."""
    key_cache_ttl_seconds: float = Field(default=5.0, ge=0)
    """How long a key lookup is cached (GATEWAY_KEY_CACHE_TTL_SECONDS): the bound on how long
    a key revoked elsewhere keeps working on this instance; 0 checks the store every call."""
    host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    core_target: str | None = None
    """gRPC address of a separate core, for `llm-gateway facade` (default host:grpc_port)."""
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    grpc_max_message_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    log_queue_size: int = Field(default=10_000, ge=0)
    """Log records held in memory for the writer; beyond it they go to the journal (0: always)."""
    log_batch_size: int = Field(default=2000, ge=1)
    """Most log records per store insert. Batches only grow this big when the writer is behind
    (otherwise one holds what came in a flush interval); then a big one spreads the rollups'
    row updates over more records: ~35% more records/s into SQLite than 500 (bench-logs)."""
    log_flush_interval_seconds: float = Field(default=0.2, gt=0)
    """Longest a log record waits in memory for its batch to fill."""
    log_drain_seconds: float = Field(default=10.0, ge=0)
    """At shutdown, how long to keep writing queue and journal to the store; the rest stays
    in the journal (under the data dir) for the next start."""
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
