"""The destinations service, the API and a shop with an audience, on real chDB and a real
redis-server, in the test's event loop; only the platforms are fakes (tests/destinations).

`Harness` refreshes the audience with the evaluator's own `refresh` and announces it on the
refreshed stream exactly as the evaluator does; the destinations service, registered on a
real broker, picks it up. The API is the real app over the same stores, called in process.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
from faststream.redis import RedisBroker
from prometheus_client import REGISTRY

from gurulu.api.app import create_app
from gurulu.api.context import ApiContext
from gurulu.common import crypto, requests
from gurulu.common import redis as redis_support
from gurulu.common.clickhouse import ClickHouse
from gurulu.common.clock import utcnow
from gurulu.common.messages import (
    DESTINATION_SYNC_STREAM,
    DESTINATIONS_GROUP,
    REFRESHED_STREAM,
    AudienceRefreshed,
)
from gurulu.common.settings import Settings
from gurulu.common.store import people, runs, syncs, workspaces
from gurulu.common.store.audiences import Audience
from gurulu.common.store.runs import Run
from gurulu.common.store.syncs import Sync
from gurulu.common.streams import consumer_name, ensure_groups, publish
from gurulu.destinations import guard
from gurulu.destinations.platforms.base import DeliveryPolicy
from gurulu.destinations.service import DestinationsConfig, DestinationsService
from gurulu.destinations.sync import Checkpoint, Syncer, _no_checkpoint
from gurulu.evaluator.refresh import refresh
from tests.integration.services.conftest import eventually, redis, redis_url  # noqa: F401
from tests.support import audience, cohort

GROUPS = [(REFRESHED_STREAM, DESTINATIONS_GROUP), (DESTINATION_SYNC_STREAM, DESTINATIONS_GROUP)]
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"gurulu-test-signing-key-32bytes!").decode()
FAST = DeliveryPolicy(attempts=3, backoff_seconds=0.01, max_wait_seconds=2.0)


@dataclass
class Harness:
    db: ClickHouse
    redis: aioredis.Redis
    broker: RedisBroker
    api: httpx.AsyncClient
    workspace_id: str
    audience: Audience

    @property
    def base(self) -> str:
        return f"/v1/audiences/{self.audience.audience_id}/destinations"

    def people(self, first: int, count: int, plan: str = "gold", **extra: Any) -> None:
        """People p{first}…: a `plan` (what the audience's cohort selects) and an email."""
        found = [
            people.Person(f"p{i:06d}", {"plan": plan, "email": f"Person.{i}@Example.com ", **extra})
            for i in range(first, first + count)
        ]
        people.upsert_persons(self.db, self.workspace_id, found)

    async def refresh(self) -> Run:
        """A refresh by the evaluator's code, announced as the evaluator announces it."""
        aud = self.audience
        run = requests.queued(self.workspace_id, aud.audience_id, "manual", utcnow())
        runs.record_requests(self.db, [run])
        done = await asyncio.to_thread(
            refresh, self.db, self.workspace_id, aud.audience_id, run.run_id
        )
        event = AudienceRefreshed(
            workspace_id=done.workspace_id,
            audience_id=done.audience_id,
            run_id=done.run_id,
            reason="manual",
            status="succeeded",
            requested_at=done.requested_at,
            evaluated_at=done.evaluated_at,
            finished_at=done.finished_at,
            member_count=done.member_count,
            joined_count=done.joined_count,
            left_count=done.left_count,
        )
        await publish(self.broker, REFRESHED_STREAM, event)
        await self.settled()
        return done

    async def settled(self, timeout: float = 60) -> None:
        """Until the destinations service has handled every refresh announced so far, so a
        destination connected next is not also synced by a refresh from before it."""

        async def idle() -> bool:
            last = (await self.redis.xinfo_stream(REFRESHED_STREAM))["last-generated-id"]
            for group in await self.redis.xinfo_groups(REFRESHED_STREAM):
                if group["name"] in (DESTINATIONS_GROUP, DESTINATIONS_GROUP.encode()):
                    return group["pending"] == 0 and group["last-delivered-id"] == last
            return False

        deadline = asyncio.get_running_loop().time() + timeout
        while not await idle():
            assert asyncio.get_running_loop().time() < deadline, "refresh not handled in time"
            await asyncio.sleep(0.05)

    async def connect(self, kind: str, config: dict, **body: Any) -> dict:
        reply = await self.api.post(self.base, json={"type": kind, "config": config, **body})
        assert reply.status_code == 201, reply.text
        return reply.json()

    async def paused(self, destination_id: str, timeout: float = 20) -> dict:
        """The destination as the API shows it, once it is paused (the service pauses it
        just after recording the sync that failed)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            shown = (await self.api.get(f"{self.base}/{destination_id}")).json()
            if shown["status"] == "paused" or asyncio.get_running_loop().time() > deadline:
                return shown
            await asyncio.sleep(0.05)

    async def synced(self, destination_id: str, count: int = 1, timeout: float = 60) -> list[Sync]:
        """The destination's syncs, newest first, once `count` of them have finished."""

        def check() -> list[Sync] | None:
            found = syncs.recent(
                self.db, self.workspace_id, self.audience.audience_id, destination_id
            )
            finished = [s for s in found if s.done]
            return finished if len(finished) >= count else None

        return await eventually(check, timeout=timeout)


def metric(name: str, **labels: str) -> float:
    """A sample of the process's metrics, as Prometheus would scrape it (0 if absent)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


@asynccontextmanager
async def harness(
    db: ClickHouse,
    redis_url: str,  # noqa: F811
    data_dir: Path,
    checkpoint: Checkpoint = _no_checkpoint,
    config: DestinationsConfig | None = None,
    private_networks: bool = True,
) -> AsyncIterator[Harness]:
    settings = Settings(data_dir=data_dir, destination_private_networks=private_networks)
    client = redis_support.client(redis_url)
    broker = RedisBroker(redis_url, graceful_timeout=30.0, logger=None)
    http = guard.client(settings)
    await ensure_groups(client, GROUPS)
    syncer = Syncer(db, http, crypto.vault(settings), FAST, checkpoint)
    config = config or DestinationsConfig(claim_idle_ms=300, lock_wait_seconds=2.0)
    DestinationsService(db, client, broker, syncer, config).register(consumer_name("dest"))
    ws, key = workspaces.create(db, "Shop", "custom")
    aud = audience(db, ws.workspace_id, cohort(db, ws.workspace_id, "gold", "person:plan = gold"))
    app = create_app(ApiContext(settings, db, client, broker))
    api = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://api",
        headers={"Authorization": f"Bearer {key}"},
    )
    await broker.start()
    try:
        yield Harness(db, client, broker, api, ws.workspace_id, aud)
    finally:
        await broker.stop()
        await api.aclose()
        await http.aclose()
        await client.aclose()
