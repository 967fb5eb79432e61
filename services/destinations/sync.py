"""One sync of one destination: bring what the destination has to the audience's members.

1. The sync record says `running`, with a new attempt; the delta is staged in ClickHouse
   under (sync, attempt) — adds, and in mirror mode removes — and the record says `staged`
   with the counts. A crash before that stages afresh under the next attempt.
2. The staged adds, then removes, are read a page at a time (the platform's limit, keyset
   on person_id) and each page is one batch: identifiers are looked up and hashed for the
   page only, the batch is delivered (transient failures retried), and once the platform
   has acknowledged it, its people are recorded in `destination_members` and the batch in
   `destination_batches`. A page with nobody to send (no identifiers) is recorded with its
   skipped people and not sent. The platform's own sequence (Meta's `batch_seq`, the
   webhook-id) counts only batches sent, from 1, and the last batch sent is flagged last:
   a page is held until the next page with somebody to send has been read and identified,
   and the pages with nobody between them are recorded after it, so the ledger stays in
   page order.
3. The record says `succeeded`, `partial` (the platform rejected rows) or `failed`, with
   totals summed from the landed batches.

A sync resumed after a crash skips the batches recorded as landed and carries on with the
same batch numbers (and so the same `webhook-id`s and Meta `batch_seq`s: the count of
recorded batches that sent anybody). A batch whose people were recorded but whose record
was not (a crash between the two writes) is recognised by its people and not sent again;
its record is written then, with its people identified again for who was skipped and why.

The writes after a platform accepted a batch (its people, then its record) are retried in
place with backoff (`StoreRetry`), so a transient store error there does not make the batch
be sent again. What remains is inherent: a process that dies after the platform answered
and before those writes land sends that batch again when the sync resumes. It goes with the
same batch number, so the same `webhook-id` (a receiver can recognise it) and the same Meta
`session_id`/`batch_seq`; adds and removes are idempotent at Meta and Google.

Rejected and skipped people are not recorded as acknowledged, so the next sync offers them
again; when a platform counts rejections it does not name (Meta samples only some), none of
that batch's people is recorded, its accepted count is what was sent less every rejection,
and its rejected sample says so.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import httpx
from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt, wait_random_exponential

from gurulu.common import logs, metrics
from gurulu.common.clickhouse import ClickHouse
from gurulu.common.clock import utcnow
from gurulu.common.crypto import CannotDecrypt, Vault
from gurulu.common.store import people, syncs
from gurulu.common.store.destinations import Destination
from gurulu.common.store.syncs import Landed, Sync

from . import ledger
from .identifiers import PROPERTY_KEYS, Identity, identify
from .platforms import RULES, build, default_country
from .platforms.base import (
    Answer,
    Batch,
    Change,
    DeliveryPolicy,
    Permanent,
    Platform,
    Row,
    Transient,
    deliver,
)

Checkpoint = Callable[[str], None]
T = TypeVar("T")
log = logs.get("gurulu.destinations")
CHANGES: tuple[Change, ...] = ("add", "remove")
NOT_SENT_BEFORE = "no identifier was sent when they were added"


def _no_checkpoint(step: str) -> None:
    return None


@dataclass(frozen=True)
class StoreRetry:
    """How the store writes after a platform accepted a batch are retried before the sync
    gives up (and, resumed later, sends the batch again)."""

    attempts: int = 6
    backoff_seconds: float = 0.25
    max_wait_seconds: float = 10.0


@dataclass(frozen=True)
class _Page:
    """One page of a change's staged rows, and the ledger's batch number of it: who of it
    can be sent, who is skipped and why, or how many of it were recorded before a crash."""

    change: Change
    number: int
    rows: tuple[Row, ...]
    sendable: list[Row]
    skipped: Counter[str] = field(default_factory=Counter)
    recorded: int = 0


@dataclass(frozen=True)
class Outcome:
    sync: Sync
    pause_reason: str | None = None


class Syncer:
    def __init__(
        self,
        db: ClickHouse,
        http: httpx.AsyncClient,
        vault: Vault,
        policy: DeliveryPolicy | None = None,
        checkpoint: Checkpoint = _no_checkpoint,
        store_retry: StoreRetry | None = None,
    ) -> None:
        self.db = db
        self.http = http
        self.vault = vault
        self.policy = policy or DeliveryPolicy()
        self.checkpoint = checkpoint
        self.store_retry = store_retry or StoreRetry()

    async def run(self, destination: Destination, sync: Sync) -> Outcome:
        """Carry out the sync; store errors propagate (the caller retries the same sync)."""
        try:
            secrets = self.vault.open(destination.credentials)
            platform = build(destination.type, destination.config, secrets, self.http)
        except (Permanent, CannotDecrypt) as error:
            return Outcome(await self._finish(destination, sync, str(error)), str(error))
        sync = await self._stage(destination, sync)
        try:
            for change in CHANGES:
                await self._change(platform, destination, sync, change)
        except Permanent as error:
            reason = str(error) if error.pause else None
            return Outcome(await self._finish(destination, sync, str(error)), reason)
        except Transient as error:
            tries = self.policy.attempts
            failure = f"gave up after {tries} attempts: {error}"
            return Outcome(await self._finish(destination, sync, failure))
        return Outcome(await self._finish(destination, sync))

    async def _stage(self, destination: Destination, sync: Sync) -> Sync:
        if sync.staged:
            return sync
        sync = sync.but(
            status="running", attempt=sync.attempt + 1, started_at=sync.started_at or utcnow()
        )
        await asyncio.to_thread(syncs.save, self.db, sync)
        add, remove = await asyncio.to_thread(
            ledger.stage,
            self.db,
            sync.workspace_id,
            sync.audience_id,
            sync.destination_id,
            sync.sync_id,
            sync.attempt,
            destination.mode == "mirror",
        )
        sync = sync.but(staged=True, to_add=add, to_remove=remove)
        await asyncio.to_thread(syncs.save, self.db, sync)
        self.checkpoint("staged")
        return sync

    async def _change(
        self, platform: Platform, destination: Destination, sync: Sync, change: Change
    ) -> None:
        """Send one change page by page. A page with somebody to send is held until the
        next such page is found (or the change ends), so that the platform's sequence
        counts only batches actually sent and the last one sent is flagged last; the pages
        with nobody to send in between are recorded after it, keeping the ledger in page
        order for a resume."""
        total = sync.to_add if change == "add" else sync.to_remove
        landed = await asyncio.to_thread(
            syncs.landed, self.db, sync.workspace_id, sync.destination_id, sync.sync_id
        )
        done = [batch for batch in landed if batch.change == change]
        number, after = len(done), (done[-1].last_person_id if done else "")
        sent = sum(1 for batch in done if batch.sent > 0)  # the platform's batch_seq so far
        held: _Page | None = None
        behind: list[_Page] = []  # pages after the held one with nobody to send
        while number * platform.limit < total:
            number += 1
            page = await self._read(platform, destination, sync, change, number, after)
            if page is None:
                break
            after = page.rows[-1].person_id
            if page.recorded:  # it landed before a crash; only its record is missing
                sent += 1  # (only ever the first page read: nothing is held yet)
                await self._record(platform, sync, page, page.recorded, Answer())
            elif not page.sendable and held is None:
                await self._record(platform, sync, page, 0, Answer())
            elif not page.sendable:  # kept by its last row only: a page is 10,000 people
                behind.append(replace(page, rows=page.rows[-1:]))
            else:
                if held is not None:
                    sent += 1
                    await self._send(platform, sync, held, sent, False, total, behind)
                held, behind = page, []
        if held is not None:
            await self._send(platform, sync, held, sent + 1, True, total, behind)

    async def _read(
        self,
        platform: Platform,
        destination: Destination,
        sync: Sync,
        change: Change,
        number: int,
        after: str,
    ) -> _Page | None:
        """The next page of staged rows, identified (or found already recorded)."""
        ws, dest = sync.workspace_id, sync.destination_id
        rows = await asyncio.to_thread(
            ledger.page,
            self.db,
            ws,
            dest,
            sync.sync_id,
            sync.attempt,
            change,
            after,
            platform.limit,
        )
        if not rows:
            return None
        recorded = await asyncio.to_thread(
            ledger.marked, self.db, ws, dest, sync.sync_id, change, number
        )
        sendable, skipped = await self._identify(platform, destination, change, rows)
        if recorded:  # identified again only for its skipped people: it is not sent
            return _Page(change, number, tuple(rows), [], skipped, recorded)
        return _Page(change, number, tuple(rows), sendable, skipped)

    async def _send(
        self,
        platform: Platform,
        sync: Sync,
        page: _Page,
        seq: int,
        last: bool,
        total: int,
        behind: list[_Page],
    ) -> None:
        """Deliver a page as the platform's batch `seq`, record what landed, then record
        the pages behind it that had nobody to send."""
        batch = Batch(
            sync.audience_id,
            sync.run_id,
            sync.sync_id,
            page.change,
            seq,
            last,
            total,
            sync.refreshed_at or sync.requested_at,
            tuple(page.sendable),
        )
        answer = await deliver(platform, batch, self.policy)
        ws, dest = sync.workspace_id, sync.destination_id
        acked = _acknowledged(page.sendable, answer)
        await self._after_delivery(
            ledger.mark, self.db, ws, dest, sync.sync_id, page.change, page.number, acked
        )
        self.checkpoint(f"marked:{page.change}:{page.number}")
        await self._record(platform, sync, page, len(page.sendable), answer)
        rejected = len(answer.rejected) + answer.unattributed
        accepted = max(len(page.sendable) - rejected, 0)
        metrics.DESTINATION_ROWS.labels(platform.type, page.change, "accepted").inc(accepted)
        metrics.DESTINATION_ROWS.labels(platform.type, page.change, "rejected").inc(rejected)
        for skipped in behind:
            await self._record(platform, sync, skipped, 0, Answer())

    async def _identify(
        self, platform: Platform, destination: Destination, change: Change, staged: list[Row]
    ) -> tuple[list[Row], Counter[str]]:
        """The page's rows with their hashed identifiers, and the reasons for the people
        who have none (a webhook takes them anyway: it is keyed by person id)."""
        skipped: Counter[str] = Counter()
        webhook = platform.type == "webhook"
        if change == "remove":
            for row in staged:
                if not (webhook or row.email_sha256 or row.phone_sha256):
                    skipped[NOT_SENT_BEFORE] += 1
            return [r for r in staged if webhook or r.email_sha256 or r.phone_sha256], skipped
        ids = [row.person_id for row in staged]
        found = await asyncio.to_thread(
            people.properties_of, self.db, destination.workspace_id, ids, PROPERTY_KEYS
        )
        rules, country = RULES[destination.type], default_country(destination.config)
        rows = []
        for person_id in ids:
            identity = identify(found.get(person_id, {}), rules, country)
            if isinstance(identity, Identity):
                rows.append(Row(person_id, identity.email_sha256, identity.phone_sha256))
            elif webhook:
                rows.append(Row(person_id))
            else:
                skipped[identity] += 1
        return rows, skipped

    async def _record(
        self, platform: Platform, sync: Sync, page: _Page, sent: int, answer: Answer
    ) -> None:
        """Record a page in the ledger: what was sent of it, what the platform said, who
        was skipped and why. Written last, so that a resume carries on after it."""
        sample = [
            {"person_id": person, "change": page.change, "reason": reason}
            for person, reason in answer.rejected.items()
        ]
        if answer.unattributed:
            more = " more" if answer.rejected else ""
            reason = (
                f"{answer.unattributed}{more} entries rejected without being named: which rows"
                " landed is unknown, so all of this batch's are offered again at the next sync"
            )
            sample.append({"person_id": "", "change": page.change, "reason": reason})
        rejected = len(answer.rejected) + answer.unattributed
        landed = Landed(
            page.change,
            page.number,
            page.rows[-1].person_id,
            sent,
            max(sent - rejected, 0),
            rejected,
            page.skipped.total(),
            dict(page.skipped),
            sample[: syncs.SAMPLE_LIMIT],
            utcnow(),
        )
        ws, dest = sync.workspace_id, sync.destination_id
        await self._after_delivery(syncs.record_batch, self.db, ws, dest, sync.sync_id, landed)
        count = page.skipped.total()
        metrics.DESTINATION_ROWS.labels(platform.type, page.change, "skipped").inc(count)
        self.checkpoint(f"{page.change}:{page.number}")

    async def _after_delivery(self, write: Callable[..., T], *args: Any) -> T:
        """A ledger write that must land once a platform accepted a batch: retried with
        backoff and jitter, so that a transient store error does not cause a resend."""
        retry = self.store_retry

        def warn(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "destination.ledger_write_retried",
                write=getattr(write, "__name__", "write"),
                attempt=state.attempt_number,
                error=type(error).__name__,
            )

        retrying = AsyncRetrying(
            stop=stop_after_attempt(retry.attempts),
            wait=wait_random_exponential(
                multiplier=retry.backoff_seconds, max=retry.max_wait_seconds
            ),
            before_sleep=warn,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await asyncio.to_thread(write, *args)
        raise AssertionError("unreachable: tenacity re-raises the last failure")

    async def _finish(self, destination: Destination, sync: Sync, error: str = "") -> Sync:
        landed = await asyncio.to_thread(
            syncs.landed, self.db, sync.workspace_id, sync.destination_id, sync.sync_id
        )
        reasons: Counter[str] = Counter()
        for batch in landed:
            reasons.update(batch.skipped_reasons)
        rejected = sum(b.rejected for b in landed)
        status = "failed" if error else ("partial" if rejected else "succeeded")
        done = sync.but(
            status=status,
            added=sum(b.accepted for b in landed if b.change == "add"),
            removed=sum(b.accepted for b in landed if b.change == "remove"),
            skipped=reasons.total(),
            skipped_reasons=dict(reasons),
            rejected=rejected,
            rejected_sample=[row for b in landed for row in b.rejected_sample][
                : syncs.SAMPLE_LIMIT
            ],
            batches=len(landed),
            error=error[:2000],
            started_at=sync.started_at or utcnow(),
            finished_at=utcnow(),
        )
        await asyncio.to_thread(syncs.save, self.db, done)
        _observe(destination.type, done)
        return done


def _acknowledged(sent: list[Row], answer: Answer) -> list[Row]:
    """The rows to record as held by the platform. When it rejected some it did not name,
    which rows landed is unknown: none is recorded, and the next sync offers them all again
    (adds and removes are idempotent at every platform)."""
    if answer.unattributed:
        return []
    return [row for row in sent if row.person_id not in answer.rejected]


def _observe(platform: str, sync: Sync) -> None:
    metrics.DESTINATION_SYNCS.labels(platform, sync.status).inc()
    if sync.started_at and sync.finished_at:
        took = (sync.finished_at - sync.started_at).total_seconds()
        metrics.DESTINATION_SYNC_DURATION.labels(platform).observe(max(took, 0.0))
    if sync.refreshed_at and sync.finished_at and sync.status != "failed":
        lag = (sync.finished_at - sync.refreshed_at).total_seconds()
        metrics.DESTINATION_SYNC_LAG.labels(platform).observe(max(lag, 0.0))
