"""One settings model for every process, read from `GURULU_*` environment variables or a
`.env` file. The defaults run the embedded setup: chDB and a redis-server under the data dir."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from urllib.parse import urlparse

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_PLACEHOLDERS = {
    "changeme",
    "change-me",
    "secret",
    "admin",
    "password",
    "replace-with-a-secret",
    "",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GURULU_", env_file=".env", extra="ignore", allow_inf_nan=False
    )

    data_dir: Path = Path(".gurulu")
    clickhouse_url: str | None = None
    clickhouse_database: str = "gurulu"
    clickhouse_cluster: str | None = None
    redis_url: str | None = None
    admin_token: SecretStr | None = None
    # Fernet key(s) for destination credentials; comma-separated to rotate (the first
    # encrypts, all decrypt). Unset: a key generated on first use, kept in the data dir —
    # on the embedded default only; with a ClickHouse server it must be set (crypto.py).
    encryption_key: SecretStr | None = None
    # May destinations send to loopback, private and link-local addresses? Unset: yes on
    # the embedded default (one machine, its owner's), no with a ClickHouse server.
    destination_private_networks: bool | None = None
    tick_interval_seconds: int = Field(default=3600, ge=1, le=7 * 86400)
    claim_idle_seconds: float = Field(default=60.0, gt=0, le=3600)
    stuck_after_seconds: float = Field(default=300.0, gt=0, le=86400)
    max_deliveries: int = Field(default=5, ge=1, le=100)
    lock_ttl_seconds: float = Field(default=60.0, gt=0, le=3600)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    # Proxies (IPs or CIDRs, comma-separated, or *) whose X-Forwarded-For/-Proto the API
    # believes, so that logs and the app see the browser's address and scheme.
    forwarded_allow_ips: str = "127.0.0.1"
    # The listener of /healthz, /readyz and /metrics of a service without the API.
    metrics_port: int = Field(default=9464, ge=0, le=65535)

    @field_validator("clickhouse_database")
    @classmethod
    def _database(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError("must be letters, digits and underscores, starting with a letter")
        return value

    @field_validator("clickhouse_cluster")
    @classmethod
    def _cluster(cls, value: str | None) -> str | None:
        # Blank is no cluster: manifests write `GURULU_CLICKHOUSE_CLUSTER: ""` for unset,
        # and everything downstream tells a cluster from none by `is None`.
        if value is None or not value.strip():
            return None
        if not _IDENTIFIER.match(value.strip()):
            raise ValueError("must be letters, digits and underscores, starting with a letter")
        return value.strip()

    @field_validator("admin_token")
    @classmethod
    def _admin_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            secret = value.get_secret_value()
            if secret.lower() in _PLACEHOLDERS or len(secret) < 16:
                raise ValueError("must be a real secret of at least 16 characters")
        return value

    @field_validator("encryption_key")
    @classmethod
    def _encryption_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from cryptography.fernet import Fernet  # only where a key is actually set

            for key in value.get_secret_value().split(","):
                try:
                    Fernet(key.strip())
                except ValueError as error:
                    raise ValueError(
                        "must be Fernet keys (32 url-safe base64-encoded bytes), comma-separated"
                    ) from error
        return value

    @cached_property
    def data_path(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def clickhouse_dsn(self) -> str:
        return self.clickhouse_url or f"chdb://{self.data_path / 'clickhouse'}"

    @property
    def embedded_clickhouse(self) -> bool:
        """False when ClickHouse is a server (http(s)://), which other processes share."""
        return urlparse(self.clickhouse_dsn).scheme not in ("http", "https")

    @property
    def destinations_may_reach_private_networks(self) -> bool:
        if self.destination_private_networks is not None:
            return self.destination_private_networks
        return self.embedded_clickhouse

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url is None
