"""Meta Custom Audiences on the real service: a 25,000-member first sync in three sessioned
batches, a crash between batches resumed without re-sending, throttling retried, a revoked
token pausing the destination, and rejected rows retried at the next sync."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from gurulu.common.store import syncs
from gurulu.destinations import ledger
from gurulu.destinations.identifiers import sha256_hex
from gurulu.destinations.platforms.meta import Meta
from gurulu.destinations.service import DestinationsConfig
from tests.destinations.fakes import MetaFake, Reply
from tests.integration.destinations.conftest import harness, metric

MEMBERS = 25_000


def meta(fake: MetaFake, **extra) -> dict:
    return {"audience_id": "2385", "access_token": fake.token, "api_base": fake.url, **extra}


def email_hash(i: int) -> str:
    return sha256_hex(f"person.{i}@example.com")


def crash_once_at(step: str | None) -> tuple[Callable[[str], None], list[str]]:
    """A checkpoint that loses the destinations process the first time the sync reaches
    `step` (never, for None), and the steps it crashed at."""
    crashes: list[str] = []

    def checkpoint(reached: str) -> None:
        if reached == step and not crashes:
            crashes.append(reached)
            raise ConnectionError(f"destinations process lost at {reached}")

    return checkpoint, crashes


async def test_a_first_sync_of_25000_members_is_three_batches_of_one_session(
    db, redis, redis_url, tmp_path
):
    async with harness(db, redis_url, tmp_path) as h:
        h.people(0, MEMBERS)
        await h.refresh()
        with MetaFake() as fake:
            started = time.perf_counter()
            made = await h.connect("meta_custom_audience", meta(fake))
            [sync] = await h.synced(made["id"], timeout=120)
            took = time.perf_counter() - started
    print(f"\nfirst Meta sync of {MEMBERS:,} members: {took:.2f} s end to end")
    assert fake.violations == []
    assert [
        (b["method"], b["rows"], b["batch_seq"], b["last_batch_flag"]) for b in fake.batches
    ] == [
        ("POST", 10_000, 1, False),
        ("POST", 10_000, 2, False),
        ("POST", 5_000, 3, True),
    ]
    assert {b["estimated_num_total"] for b in fake.batches} == {MEMBERS}
    assert len({b["session_id"] for b in fake.batches}) == 1
    assert (sync.status, sync.added, sync.batches, sync.skipped) == ("succeeded", MEMBERS, 3, 0)
    assert (email_hash(7), "") in fake.members["2385"] and len(fake.members["2385"]) == MEMBERS


async def test_a_sync_that_crashes_between_batches_resumes_without_resending(
    db, redis, redis_url, tmp_path
):
    crash, crashes = crash_once_at("add:1")
    async with harness(db, redis_url, tmp_path, crash) as h:
        h.people(0, MEMBERS)
        await h.refresh()
        with MetaFake() as fake:
            made = await h.connect("meta_custom_audience", meta(fake))
            [sync] = await h.synced(made["id"], timeout=120)
    assert crashes == ["add:1"]
    assert [b["batch_seq"] for b in fake.batches] == [1, 2, 3]  # each batch exactly once
    assert fake.violations == [] and len(fake.members["2385"]) == MEMBERS
    assert (sync.status, sync.added, sync.batches, sync.attempt) == ("succeeded", MEMBERS, 3, 1)


async def test_throttling_is_retried_honouring_retry_after(db, redis, redis_url, tmp_path):
    async with harness(db, redis_url, tmp_path) as h:
        h.people(0, 3)
        await h.refresh()
        with MetaFake() as fake:
            throttled = {"error": {"message": "User request limit reached", "code": 17,
                                   "error_subcode": 2446079}}  # fmt: skip
            fake.script(Reply(429, headers={"retry-after": "1"}), Reply(400, throttled))
            started = time.monotonic()
            made = await h.connect("meta_custom_audience", meta(fake))
            [sync] = await h.synced(made["id"])
            waited = time.monotonic() - started
    assert sync.status == "succeeded" and sync.added == 3
    assert len(fake.requests) == 3 and waited >= 1.0
    assert fake.violations == []


async def test_a_revoked_token_pauses_the_destination_and_the_api_says_why(
    db, redis, redis_url, tmp_path
):
    async with harness(db, redis_url, tmp_path) as h:
        h.people(0, 3)
        await h.refresh()
        with MetaFake() as fake:
            made = await h.connect("meta_custom_audience", meta(fake, access_token="EAAB-revoked"))
            [sync] = await h.synced(made["id"])
            shown = await h.paused(made["id"])
            # A new token and a resume: it catches up at once.
            fixed = await h.api.patch(
                f"{h.base}/{made['id']}", json={"config": {"access_token": fake.token}}
            )
            resumed = await h.api.patch(f"{h.base}/{made['id']}", json={"status": "active"})
            latest = (await h.synced(made["id"], 2))[0]
    assert len(fake.requests) == 2  # a permanent error is not retried
    assert sync.status == "failed" and "code 190" in sync.error
    assert shown["status"] == "paused" and "code 190" in shown["paused_reason"]
    assert fixed.json()["credentials"] == {"access_token": "…0001"}
    assert resumed.json()["paused_reason"] is None and resumed.json()["status"] == "active"
    assert (latest.trigger, latest.status, latest.added) == ("resumed", "succeeded", 3)


async def test_repeated_failed_syncs_pause_the_destination(db, redis, redis_url, tmp_path):
    config = DestinationsConfig(claim_idle_ms=300, lock_wait_seconds=2, failures_before_pause=2)
    async with harness(db, redis_url, tmp_path, config=config) as h:
        h.people(0, 2)
        await h.refresh()
        with MetaFake() as fake:
            fake.script(*[Reply(500, {"error": {"message": "unknown", "code": 2}})] * 6)
            made = await h.connect("meta_custom_audience", meta(fake))
            await h.synced(made["id"])
            await h.refresh()
            [second, first] = await h.synced(made["id"], 2)
            shown = await h.paused(made["id"])
    assert (first.status, second.status) == ("failed", "failed")
    assert "gave up after 3 attempts" in second.error
    assert shown["status"] == "paused" and shown["paused_reason"].startswith("2 syncs in a row")


async def test_rejected_rows_are_kept_with_the_reason_and_retried_next_sync(
    db, redis, redis_url, tmp_path
):
    before = _meta_metrics()
    async with harness(db, redis_url, tmp_path) as h:
        h.people(0, 4)
        h.people(4, 1, email="")  # no identifier at all: skipped
        await h.refresh()
        with MetaFake() as fake:
            fake.invalid = {email_hash(1), email_hash(2)}
            made = await h.connect("meta_custom_audience", meta(fake))
            [first] = await h.synced(made["id"])
            fake.invalid = set()
            await h.refresh()
            second = (await h.synced(made["id"], 2))[0]
            history = (await h.api.get(f"{h.base}/{made['id']}/syncs")).json()["data"]
    assert (first.status, first.added, first.rejected, first.skipped) == ("partial", 2, 2, 1)
    assert first.skipped_reasons == {"no email or phone": 1}
    assert {r["person_id"] for r in first.rejected_sample} == {"p000001", "p000002"}
    assert all("invalid entry" in r["reason"] for r in first.rejected_sample)
    assert (second.status, second.added, second.rejected, second.skipped) == ("succeeded", 2, 0, 1)
    assert len(fake.members["2385"]) == 4 and fake.violations == []
    assert history[1]["rejected_sample"][0]["reason"].startswith("Meta: invalid entry")
    moved = {name: count - before[name] for name, count in _meta_metrics().items()}
    assert moved == {
        "syncs succeeded": 1, "syncs partial": 1, "syncs failed": 0,
        "add accepted": 4, "add rejected": 2, "add skipped": 2,
        "remove accepted": 0, "remove rejected": 0, "remove skipped": 0,
        "deliveries ok": 1, "deliveries partial": 1,
    }  # fmt: skip


def _meta_metrics() -> dict[str, float]:
    """The destination metrics of Meta, as Prometheus would scrape them."""
    platform = {"platform": "meta_custom_audience"}
    found = {
        f"syncs {status}": metric("gurulu_destination_syncs_total", **platform, status=status)
        for status in ("succeeded", "partial", "failed")
    }
    for change in ("add", "remove"):
        for outcome in ("accepted", "rejected", "skipped"):
            found[f"{change} {outcome}"] = metric(
                "gurulu_destination_rows_total", **platform, change=change, outcome=outcome
            )
    for outcome in ("ok", "partial"):
        found[f"deliveries {outcome}"] = metric(
            "gurulu_destination_deliveries_total", **platform, outcome=outcome
        )
    return found


async def test_a_crash_between_recording_people_and_the_batch_does_not_resend_it(
    db, redis, redis_url, tmp_path
):
    crash, crashes = crash_once_at("marked:add:2")  # between the two writes of batch 2
    async with harness(db, redis_url, tmp_path, crash) as h:
        h.people(0, MEMBERS)
        await h.refresh()
        with MetaFake() as fake:
            made = await h.connect("meta_custom_audience", meta(fake))
            [sync] = await h.synced(made["id"], timeout=120)
    assert crashes == ["marked:add:2"]
    assert [b["batch_seq"] for b in fake.batches] == [1, 2, 3] and fake.violations == []
    assert (sync.status, sync.added, sync.batches) == ("succeeded", MEMBERS, 3)


async def test_a_batch_recovered_after_a_crash_keeps_its_skipped_people_in_the_totals(
    db, redis, redis_url, tmp_path, monkeypatch
):
    """Pages of 4: page 1 holds two people with an email and two without; the process dies
    after the two were recorded as held by Meta and before the batch's record."""
    monkeypatch.setattr(Meta, "limit", 4)
    crash, crashes = crash_once_at("marked:add:1")  # between the two writes of batch 1
    async with harness(db, redis_url, tmp_path, crash) as h:
        h.people(0, 2)
        h.people(2, 2, email="")
        h.people(4, 3)
        await h.refresh()
        with MetaFake() as fake:
            made = await h.connect("meta_custom_audience", meta(fake))
            [sync] = await h.synced(made["id"], timeout=120)
            history = (await h.api.get(f"{h.base}/{made['id']}/syncs")).json()["data"]
    assert crashes == ["marked:add:1"]
    assert [(b["batch_seq"], b["rows"]) for b in fake.batches] == [(1, 2), (2, 3)]
    assert (sync.status, sync.added, sync.skipped, sync.batches) == ("succeeded", 5, 2, 2)
    assert sync.skipped_reasons == {"no email or phone": 2}
    assert history[0]["skipped_reasons"] == {"no email or phone": 2}


async def test_rejections_meta_does_not_name_leave_the_whole_batch_to_be_offered_again(
    db, redis, redis_url, tmp_path
):
    async with harness(db, redis_url, tmp_path) as h:
        h.people(0, 4)
        await h.refresh()
        with MetaFake() as fake:
            fake.invalid, fake.sample_limit = {email_hash(1), email_hash(3)}, 0
            made = await h.connect("meta_custom_audience", meta(fake))
            [first] = await h.synced(made["id"])
            fake.invalid = set()
            await h.refresh()
            second = (await h.synced(made["id"], 2))[0]
    # Which two of the four were refused is unknown: none is recorded as acknowledged.
    assert (first.status, first.added, first.rejected) == ("partial", 2, 2)
    [row] = first.rejected_sample
    assert row["person_id"] == "" and row["change"] == "add"
    assert row["reason"].startswith("2 entries rejected without being named")
    assert "offered again" in row["reason"]
    # So the next sync offers all four again (adds are idempotent at Meta).
    assert (second.status, second.to_add, second.added, second.rejected) == (
        "succeeded", 4, 4, 0
    )  # fmt: skip
    assert [b["rows"] for b in fake.batches] == [4, 4]
    assert len(fake.members["2385"]) == 4 and fake.violations == []


def _pages_with_nobody_to_send(h) -> None:  # type: ignore[no-untyped-def]
    """20 people in pages of 4 (Meta's limit lowered for the test): pages 1, 3 and 5
    hold nobody with an identifier, pages 2 and 4 are sent."""
    for first in (0, 8, 16):
        h.people(first, 4, email="")
    for first in (4, 12):
        h.people(first, 4)


@pytest.mark.parametrize("crash_at", [None, "add:1", "add:2", "add:3", "marked:add:4"])
async def test_pages_with_nobody_to_send_leave_the_session_contiguous_and_closed(
    db, redis, redis_url, tmp_path, monkeypatch, crash_at
):
    monkeypatch.setattr(Meta, "limit", 4)
    crash, crashes = crash_once_at(crash_at)
    async with harness(db, redis_url, tmp_path, crash) as h:
        _pages_with_nobody_to_send(h)
        await h.refresh()
        with MetaFake() as fake:
            made = await h.connect("meta_custom_audience", meta(fake))
            [sync] = await h.synced(made["id"])
    assert crashes == ([crash_at] if crash_at else [])
    assert [
        (b["method"], b["rows"], b["batch_seq"], b["last_batch_flag"]) for b in fake.batches
    ] == [("POST", 4, 1, False), ("POST", 4, 2, True)]
    assert {b["estimated_num_total"] for b in fake.batches} == {20}
    assert (sync.status, sync.added, sync.skipped, sync.batches) == ("succeeded", 8, 12, 5)
    assert fake.violations == [] and len(fake.members["2385"]) == 8


async def test_a_change_whose_last_sendable_page_is_its_first_closes_the_session(
    db, redis, redis_url, tmp_path, monkeypatch
):
    monkeypatch.setattr(Meta, "limit", 4)
    async with harness(db, redis_url, tmp_path) as h:
        h.people(0, 4)
        h.people(4, 8, email="")
        await h.refresh()
        with MetaFake() as fake:
            made = await h.connect("meta_custom_audience", meta(fake))
            [sync] = await h.synced(made["id"])
    assert [(b["batch_seq"], b["last_batch_flag"]) for b in fake.batches] == [(1, True)]
    assert (sync.status, sync.added, sync.skipped, sync.batches) == ("succeeded", 4, 8, 3)


@pytest.mark.parametrize("write", ["mark", "record_batch"])
async def test_a_store_write_failing_once_after_meta_accepted_a_batch_does_not_resend_it(
    db, redis, redis_url, tmp_path, monkeypatch, write
):
    """The ledger write after the platform's answer fails once (a transient store error):
    it is retried in place, so the batch is not sent again."""
    module = ledger if write == "mark" else syncs
    real, failures = getattr(module, write), []

    def fails_once(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not failures:
            failures.append(write)
            raise RuntimeError("Code: 209. DB::NetException: Timeout exceeded while writing")
        return real(*args, **kwargs)

    def found_half_recorded(*args, **kwargs):  # type: ignore[no-untyped-def]
        count = real_marked(*args, **kwargs)
        resumed.extend([count] if count else [])
        return count

    real_marked, resumed = ledger.marked, []
    monkeypatch.setattr(module, write, fails_once)
    monkeypatch.setattr(ledger, "marked", found_half_recorded)
    async with harness(db, redis_url, tmp_path) as h:
        h.people(0, 3)
        await h.refresh()
        with MetaFake() as fake:
            made = await h.connect("meta_custom_audience", meta(fake))
            [sync] = await h.synced(made["id"])
    # Retried in place: the sync was not abandoned and resumed from a half-recorded batch.
    assert failures == [write] and resumed == []
    assert [(b["batch_seq"], b["rows"]) for b in fake.batches] == [(1, 3)]  # sent once
    assert len(fake.requests) == 1 and fake.violations == []
    assert (sync.status, sync.added, sync.batches, sync.attempt) == ("succeeded", 3, 1, 1)


async def test_members_who_leave_are_removed_with_delete_in_a_session_of_their_own(
    db, redis, redis_url, tmp_path
):
    async with harness(db, redis_url, tmp_path) as h:
        h.people(0, 5)
        h.people(5, 1, phone="+1 (650) 555-1212")
        await h.refresh()
        with MetaFake() as fake:
            made = await h.connect("meta_custom_audience", meta(fake))
            await h.synced(made["id"])
            h.people(1, 2, plan="silver", email="changed@example.com")  # two leave
            h.people(5, 1, plan="silver")  # and one with a phone
            await h.refresh()
            second = (await h.synced(made["id"], 2))[0]
    [add, remove] = fake.batches
    assert (add["method"], add["rows"]) == ("POST", 6)
    # The remove sends exactly the identifiers that were added, though an email changed.
    assert remove["method"] == "DELETE" and sorted(remove["data"]) == sorted(
        [(email_hash(1), ""), (email_hash(2), ""), (email_hash(5), sha256_hex("16505551212"))]
    )
    assert (remove["batch_seq"], remove["last_batch_flag"], remove["estimated_num_total"]) == (
        1, True, 3
    )  # fmt: skip
    assert remove["session_id"] != add["session_id"]
    assert fake.members["2385"] == {(email_hash(i), "") for i in (0, 3, 4)}
    assert (second.status, second.added, second.removed, second.to_remove) == (
        "succeeded", 0, 3, 3
    )  # fmt: skip
