"""Encryption at rest of destination credentials (access tokens, signing secrets).

Credentials are sealed with Fernet (AES-128-CBC + HMAC-SHA256) before they reach
ClickHouse and opened only by the process that sends to the platform. The key comes from
`GURULU_ENCRYPTION_KEY` — several comma-separated keys rotate: the first seals, any opens —
or, when unset, from a key generated on first use and kept in the data dir (readable by its
owner only), like the admin token. Every process that reads the same credentials must use
the same key: the API seals them when a destination is connected and the destinations
service opens them, so with a ClickHouse server — where those are separate processes with
data dirs of their own — a generated key is refused and `GURULU_ENCRYPTION_KEY` must be set.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gurulu.common.settings import Settings

KEY_FILE = "encryption_key"
GENERATE_KEY = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


class CannotDecrypt(Exception):
    """Sealed with a key this process does not have."""


class NoSharedKey(Exception):
    """ClickHouse is a server, so the processes must share a key, and none is set."""


class Vault:
    def __init__(self, keys: list[str]) -> None:
        self._fernet = MultiFernet([Fernet(key.strip()) for key in keys])

    def seal(self, values: dict[str, str]) -> str:
        return self._fernet.encrypt(orjson.dumps(values)).decode()

    def open(self, token: str) -> dict[str, str]:
        if not token:
            return {}
        try:
            return orjson.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as error:
            raise CannotDecrypt(
                "the credentials cannot be decrypted with this process's encryption key"
                " (GURULU_ENCRYPTION_KEY)"
            ) from error


def require_shared_key(settings: Settings) -> None:
    """Refuse to generate a key where other processes could not have it: with a ClickHouse
    server, whatever one container seals another must open."""
    if settings.encryption_key is None and not settings.embedded_clickhouse:
        raise NoSharedKey(
            "GURULU_ENCRYPTION_KEY is not set: with a ClickHouse server (GURULU_CLICKHOUSE_URL)"
            " the api, which encrypts destination credentials, and the destinations service,"
            " which decrypts them, must share one key. Set the same GURULU_ENCRYPTION_KEY on"
            f" both; make one with: {GENERATE_KEY}"
        )


def vault(settings: Settings) -> Vault:
    """The process's vault for these settings (built once per key source)."""
    require_shared_key(settings)
    if settings.encryption_key is not None:
        return _vault_of(settings.encryption_key.get_secret_value(), None)
    return _vault_of(None, str(settings.data_path / KEY_FILE))


@functools.cache
def _vault_of(keys: str | None, path: str | None) -> Vault:
    if keys is not None:
        return Vault(keys.split(","))
    assert path is not None
    return Vault([_key_file(Path(path))])


def _key_file(path: Path) -> str:
    """The data dir's key, created (owner-only) on first use; a concurrent creator wins."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(Fernet.generate_key().decode() + "\n")
    for _ in range(50):  # another process may have created it and be writing it now
        if key := path.read_text().strip():
            return key
        time.sleep(0.02)
    raise CannotDecrypt(f"the encryption key file {path} is empty")


def hint(secret: str) -> str:
    """What the API shows of a credential: its last four characters."""
    return "…" + secret[-4:] if len(secret) >= 12 else "…"
