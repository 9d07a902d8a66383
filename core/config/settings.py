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
    host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    core_target: str | None = None
    """gRPC address of a separate core, for `llm-gateway facade` (default host:grpc_port)."""
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    grpc_max_message_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
