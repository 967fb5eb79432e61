"""The snapshotter's stream handler: each succeeded refresh re-folds its day's row of
`audience_changes_daily`. The fold recomputes the day from the runs, so a message seen
twice, or out of order, leaves the same row."""

from __future__ import annotations

import asyncio

from faststream.redis import RedisBroker, RedisStreamMessage

from gurulu.common import logs, metrics
from gurulu.common.clickhouse import ClickHouse
from gurulu.common.messages import REFRESHED_STREAM, SNAPSHOTTER_GROUP, AudienceRefreshed
from gurulu.common.streams import consume
from gurulu.snapshotter.daily import fold

log = logs.get("gurulu.snapshotter")


class Snapshotter:
    def __init__(self, db: ClickHouse, broker: RedisBroker, claim_idle_ms: int = 60_000) -> None:
        self.db = db
        self.broker = broker
        self.claim_idle_ms = claim_idle_ms

    def register(self, consumer: str) -> None:
        def make_handler():
            async def on_audience_refreshed(
                event: AudienceRefreshed, message: RedisStreamMessage
            ) -> None:
                await self.handle(event, message)

            return on_audience_refreshed

        consume(
            self.broker,
            REFRESHED_STREAM,
            SNAPSHOTTER_GROUP,
            consumer,
            make_handler,
            self.claim_idle_ms,
        )

    async def handle(self, event: AudienceRefreshed, message: RedisStreamMessage) -> None:
        if event.status != "succeeded" or event.evaluated_at is None:
            await message.ack()
            return
        day = event.evaluated_at.date()
        try:
            await asyncio.to_thread(fold, self.db, event.workspace_id, event.audience_id, day)
        except Exception as error:
            metrics.SNAPSHOTS.labels("failed").inc()
            log.warning(
                "snapshot.failed",
                audience_id=event.audience_id,
                run_id=event.run_id,
                workspace_id=event.workspace_id,
                error=str(error),
            )
            return  # left pending: claimed again after the idle timeout
        metrics.SNAPSHOTS.labels("folded").inc()
        await message.ack()
