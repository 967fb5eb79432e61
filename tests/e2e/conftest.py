"""A running system for end-to-end tests: `gurulu up` in a child process (its own chDB
path and embedded redis-server), with a short tick interval, and a fresh workspace per
test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest


@dataclass
class System:
    url: str
    admin_token: str
    data_dir: Path
    process: subprocess.Popen
    log: IO[bytes]

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.admin_token}"}, timeout=30
        )

    def workspace(self, plan: str = "custom") -> tuple[str, str]:
        """A new workspace: (workspace id, secret key)."""
        with self.admin() as admin:
            created = admin.post("/v1/admin/workspaces", json={"name": "e2e", "plan": plan})
            created.raise_for_status()
            body = created.json()
        return body["workspace_id"], body["secret_key"]

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_system(
    data_dir: Path,
    tick_seconds: int = 3600,
    extra_env: dict | None = None,
    flags: bool = True,
) -> System:
    """`gurulu up` on a free port and `data_dir`, given as flags, or with `flags` false as
    GURULU_HTTP_PORT and GURULU_DATA_DIR."""
    port = free_port()
    env = {
        **os.environ,
        "GURULU_TICK_INTERVAL_SECONDS": str(tick_seconds),
        "GURULU_DATA_DIR": str(data_dir),
        "GURULU_HTTP_PORT": str(port),
        **(extra_env or {}),
    }
    env.pop("GURULU_ADMIN_TOKEN", None)
    log = open(data_dir.parent / f"{data_dir.name}.log", "wb")  # noqa: SIM115
    args = ["--port", str(port), "--data-dir", str(data_dir)] if flags else []
    process = subprocess.Popen(
        [sys.executable, "-m", "gurulu.cli.main", "up", *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.close()
            raise RuntimeError(f"gurulu up exited with {process.returncode}; see {log.name}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    else:
        process.kill()
        log.close()
        raise RuntimeError(f"gurulu up did not become ready; see {log.name}")
    token = (data_dir / "admin_token").read_text().strip()
    return System(url, token, data_dir, process, log)


def stop_system(system: System) -> int:
    system.process.terminate()
    try:
        return system.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        system.process.kill()
        return system.process.wait()
    finally:
        system.log.close()


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    running = start_system(tmp_path_factory.mktemp("system") / "data")
    yield running
    stop_system(running)


@pytest.fixture
def workspace(system: System) -> tuple[str, str]:
    return system.workspace()


@pytest.fixture
def api(system: System, workspace: tuple[str, str]) -> Iterator[httpx.Client]:
    with system.client(workspace[1]) as client:
        yield client
