"""The destinations service's stream handlers: each succeeded `AudienceRefreshed` syncs
every active destination of its audience; each `SyncRequested` (a destination connected,
resumed, or synced by hand) syncs that one.

Consumers of the `destinations` group on both streams are interchangeable. A Redis lock per
destination lets one sync of a destination run at a time across all of them, so two
messages never send the same delta twice. A message is acknowledged once every sync it
asked for is recorded as finished; a crash or a store error leaves it pending, so another
consumer claims it after an idle timeout and resumes the syncs where their landed batches
end. A sync that fails for good is recorded as failed and the next one retries what it did
not deliver. A destination is paused, with the reason shown, when the platform says it
cannot work as configured, or after `failures_before_pause` failed syncs in a row.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime

import redis.asyncio as aioredis
from faststream.redis import RedisBroker, RedisStreamMessage

from gurulu.common import locks, logs
from gurulu.common.clickhouse import ClickHouse
from gurulu.common.clock import utcnow
from gurulu.common.ids import stable_id
from gurulu.common.messages import (
    DESTINATION_SYNC_STREAM,
    DESTINATIONS_GROUP,
    REFRESHED_STREAM,
    AudienceRefreshed,
    SyncRequested,
)
from gurulu.common.store import destinations, syncs
from gurulu.common.store.destinations import Destination
from gurulu.common.store.syncs import Sync
from gurulu.common.streams import consume

from .pause import pause
from .sync import Outcome, Syncer

log = logs.get("gurulu.destinations")


@dataclass(frozen=True)
class DestinationsConfig:
    max_deliveries: int = 5
    claim_idle_ms: int = 60_000
    lock_ttl_seconds: float = 60.0
    lock_wait_seconds: float = 30.0
    failures_before_pause: int = 3


@dataclass(frozen=True)
class Job:
    """One sync to carry out: which destination, under which id, up to which run."""

    workspace_id: str
    audience_id: str
    destination_id: str
    sync_id: str
    run_id: str
    trigger: str
    requested_at: datetime
    refreshed_at: datetime | None = None


class DestinationsService:
    def __init__(
        self,
        db: ClickHouse,
        redis: aioredis.Redis,
        broker: RedisBroker,
        syncer: Syncer,
        config: DestinationsConfig | None = None,
    ) -> None:
        self.db = db
        self.redis = redis
        self.broker = broker
        self.syncer = syncer
        self.config = config or DestinationsConfig()

    def register(self, consumer: str) -> None:
        def on_refreshed():
            async def on_audience_refreshed(
                event: AudienceRefreshed, message: RedisStreamMessage
            ) -> None:
                await self.handle_refreshed(event, message)

            return on_audience_refreshed

        def on_requested():
            async def on_sync_requested(request: SyncRequested, message: RedisStreamMessage):
                await self.handle_requested(request, message)

            return on_sync_requested

        idle = self.config.claim_idle_ms
        consume(self.broker, REFRESHED_STREAM, DESTINATIONS_GROUP, consumer, on_refreshed, idle)
        consume(
            self.broker, DESTINATION_SYNC_STREAM, DESTINATIONS_GROUP, consumer, on_requested, idle
        )

    async def handle_refreshed(self, event: AudienceRefreshed, message: RedisStreamMessage):
        if event.status != "succeeded":
            await message.ack()
            return
        found = await asyncio.to_thread(
            destinations.of_audience, self.db, event.workspace_id, event.audience_id, "active"
        )
        at = event.finished_at or event.requested_at
        jobs = [
            Job(
                event.workspace_id,
                event.audience_id,
                d.destination_id,
                stable_id("syn", at, d.destination_id, event.run_id),
                event.run_id,
                "refresh",
                at,
                event.finished_at,
            )
            for d in found
        ]
        await self._handle(jobs, message)

    async def handle_requested(self, request: SyncRequested, message: RedisStreamMessage):
        job = Job(
            request.workspace_id,
            request.audience_id,
            request.destination_id,
            request.sync_id,
            request.run_id,
            request.trigger,
            request.requested_at,
        )
        await self._handle([job], message)

    async def _handle(self, jobs: list[Job], message: RedisStreamMessage) -> None:
        deliveries = await message.get_delivery_count()
        if deliveries > self.config.max_deliveries:
            await asyncio.gather(*(self._abandon(job, deliveries) for job in jobs))
            await message.ack()
            return
        results = await asyncio.gather(*(self._sync(job) for job in jobs), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        for job, result in zip(jobs, results, strict=True):
            if isinstance(result, BaseException):
                _bound(job).warning(
                    "destination.sync_interrupted", error=str(result) or type(result).__name__
                )
        if not failures:
            await message.ack()  # else left pending: claimed again after the idle timeout

    async def _sync(self, job: Job) -> None:
        """One sync of a destination at a time, across replicas; a sync that finds the
        destination's lock taken past the wait raises `locks.Busy`, and its message is
        claimed again later."""
        key = f"gurulu:lock:destination-sync:{job.destination_id}"
        config = self.config
        async with locks.held(self.redis, key, config.lock_ttl_seconds, config.lock_wait_seconds):
            await self._sync_locked(job)

    async def _sync_locked(self, job: Job) -> None:
        destination = await asyncio.to_thread(
            destinations.get, self.db, job.workspace_id, job.audience_id, job.destination_id
        )
        sync = await asyncio.to_thread(
            syncs.get, self.db, job.workspace_id, job.audience_id, job.sync_id
        )
        if sync is not None and sync.done:
            return
        if destination is None or destination.status != "active":
            if sync is not None:  # queued before the destination was paused or removed
                await asyncio.to_thread(syncs.save, self.db, _cancelled(sync, destination))
            return
        sync = _started(sync, job)
        outcome = await self.syncer.run(destination, sync)
        await self._after(destination, outcome)

    async def _after(self, destination: Destination, outcome: Outcome) -> None:
        sync = outcome.sync
        bound = _bound(sync).bind(platform=destination.type)
        bound.info(
            "destination.synced",
            status=sync.status,
            added=sync.added,
            removed=sync.removed,
            skipped=sync.skipped,
            rejected=sync.rejected,
            batches=sync.batches,
            error=sync.error or None,
        )
        reason = outcome.pause_reason
        if reason is None and sync.status == "failed":
            failed = await asyncio.to_thread(
                syncs.trailing_failures,
                self.db,
                sync.workspace_id,
                sync.audience_id,
                sync.destination_id,
                self.config.failures_before_pause,
            )
            if failed >= self.config.failures_before_pause:
                reason = f"{failed} syncs in a row failed; the last: {sync.error}"
        if reason is not None:
            why = "permanent" if outcome.pause_reason else "repeated"
            await pause(self.db, self.redis, destination, reason, why)

    async def _abandon(self, job: Job, deliveries: int) -> None:
        """A message that kept failing: record its unfinished sync as failed and let go
        (the next sync of the destination delivers whatever this one did not)."""
        with contextlib.suppress(Exception):
            sync = await asyncio.to_thread(
                syncs.get, self.db, job.workspace_id, job.audience_id, job.sync_id
            )
            if sync is not None and not sync.done:
                error = f"abandoned after {deliveries - 1} interrupted attempts"
                failed = sync.but(status="failed", error=error, finished_at=utcnow())
                await asyncio.to_thread(syncs.save, self.db, failed)
        _bound(job).error("destination.sync_abandoned", deliveries=deliveries)


def _started(sync: Sync | None, job: Job) -> Sync:
    if sync is not None:
        return sync
    return Sync(
        job.workspace_id,
        job.audience_id,
        job.destination_id,
        job.sync_id,
        job.run_id,
        job.trigger,
        "running",
        job.requested_at,
        refreshed_at=job.refreshed_at,
    )


def _cancelled(sync: Sync, destination: Destination | None) -> Sync:
    why = "the destination was removed" if destination is None else "the destination is paused"
    return sync.but(status="failed", error=f"not run: {why}", finished_at=utcnow())


def _bound(item: Job | Sync):  # type: ignore[no-untyped-def]
    return log.bind(
        workspace_id=item.workspace_id,
        audience_id=item.audience_id,
        destination_id=item.destination_id,
        sync_id=item.sync_id,
        run_id=item.run_id,
    )
