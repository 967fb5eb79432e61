"""Webhook destinations end to end on the real service: signed batches, deltas after
refreshes, add-only mode, stable ids across retries, pausing an endpoint that is gone, and
refusing private addresses where the installation says so."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime

import httpx
import pytest

from gurulu.common.destination_config import WebhookConfig
from gurulu.destinations.platforms import build
from gurulu.destinations.platforms.base import (
    Answer,
    Batch,
    DeliveryPolicy,
    Permanent,
    Row,
    deliver,
)
from gurulu.destinations.platforms.webhook import Webhook
from tests.destinations.fakes import Reply, WebhookFake
from tests.integration.destinations.conftest import WEBHOOK_SECRET, harness, metric


def hook(fake: WebhookFake, **extra) -> dict:
    return {"url": f"{fake.url}/hooks/gurulu", "secret": WEBHOOK_SECRET, **extra}


async def test_a_webhook_gets_the_whole_audience_then_who_joined_and_left(
    db, redis, redis_url, tmp_path
):
    async with harness(db, redis_url, tmp_path) as h:
        h.people(0, 5)
        await h.refresh()
        with WebhookFake(WEBHOOK_SECRET) as fake:
            made = await h.connect("webhook", hook(fake, batch_size=2))
            [first] = await h.synced(made["id"])
            assert (first.status, first.added, first.removed, first.batches) == (
                "succeeded",
                5,
                0,
                3,
            )
            assert first.trigger == "connected" and made["first_sync_id"] == first.sync_id
            assert fake.members == {f"p{i:06d}" for i in range(5)}
            joined = fake.messages[0]["data"]["joined"][0]
            assert (
                set(joined) == {"person_id", "email_sha256"} and len(joined["email_sha256"]) == 64
            )

            h.people(0, 2, plan="silver")  # two leave
            h.people(10, 1)  # one joins
            run = await h.refresh()
            latest = (await h.synced(made["id"], 2))[0]
        assert (latest.run_id, latest.trigger, latest.added, latest.removed) == (
            run.run_id,
            "refresh",
            1,
            2,
        )
        assert fake.members == {"p000002", "p000003", "p000004", "p000010"}
        assert fake.violations == []
        left = [m for m in fake.messages if m["data"]["left"]]
        assert {p["person_id"] for m in left for p in m["data"]["left"]} == {"p000000", "p000001"}


async def test_add_only_never_removes(db, redis, redis_url, tmp_path):
    async with harness(db, redis_url, tmp_path) as h:
        h.people(0, 3)
        with WebhookFake(WEBHOOK_SECRET) as fake:
            made = await h.connect("webhook", hook(fake), mode="add_only")
            assert made["first_sync_id"] is None  # no refresh yet: the first one syncs it
            await h.refresh()
            await h.synced(made["id"])
            h.people(0, 3, plan="silver")
            h.people(3, 1)
            await h.refresh()
            latest = (await h.synced(made["id"], 2))[0]
        assert (latest.added, latest.removed, latest.to_remove) == (1, 0, 0)
        assert fake.members == {"p000000", "p000001", "p000002", "p000003"}
        assert all(not m["data"]["left"] for m in fake.messages) and fake.violations == []


async def test_a_retried_delivery_keeps_its_webhook_id(db, redis, redis_url, tmp_path):
    async with harness(db, redis_url, tmp_path) as h:
        h.people(0, 2)
        await h.refresh()
        with WebhookFake(WEBHOOK_SECRET) as fake:
            fake.script(Reply(503, headers={"retry-after": "0"}), Reply(200, delay=3.0))
            made = await h.connect("webhook", hook(fake, timeout_seconds=0.5))
            [sync] = await h.synced(made["id"])
        assert sync.status == "succeeded" and sync.added == 2
        [(message_id, tries)] = fake.attempts.items()
        assert tries == 3 and fake.delivered[message_id] == 1  # 503, a timeout, then delivered
        assert message_id == f"msg_{sync.sync_id}_add_1" and fake.violations == []


async def test_an_endpoint_that_is_gone_pauses_the_destination_with_the_reason(
    db, redis, redis_url, tmp_path
):
    async with harness(db, redis_url, tmp_path) as h:
        h.people(0, 2)
        await h.refresh()
        with WebhookFake(WEBHOOK_SECRET) as fake:
            fake.script(Reply(410))
            made = await h.connect("webhook", hook(fake))
            [sync] = await h.synced(made["id"])
            shown = await h.paused(made["id"])
            h.people(5, 1)
            await h.refresh()  # a paused destination is not synced
            await h.refresh()
        assert sync.status == "failed" and "410" in sync.error
        assert shown["status"] == "paused" and "410" in shown["paused_reason"]
        assert len(fake.requests) == 1 and fake.members == set()
        history = (await h.api.get(f"{h.base}/{made['id']}/syncs")).json()["data"]
        assert [s["status"] for s in history] == ["failed"]


async def test_a_private_address_is_refused_before_connecting_and_pauses_the_destination(
    db, redis, redis_url, tmp_path
):
    async with harness(db, redis_url, tmp_path, private_networks=False) as h:
        h.people(0, 2)
        await h.refresh()
        with WebhookFake(WEBHOOK_SECRET) as fake:
            made = await h.connect("webhook", hook(fake))
            [sync] = await h.synced(made["id"])
            shown = await h.paused(made["id"])
        assert fake.requests == []  # nothing reached the receiver on 127.0.0.1
        assert sync.status == "failed" and "127.0.0.1" in sync.error
        assert shown["status"] == "paused"
        assert "private or reserved address" in shown["paused_reason"]


@pytest.mark.parametrize("status", [429, 502, 504])
async def test_throttling_answers_are_retried_after_the_time_the_endpoint_asks(status):
    """429, 502 and 504 with `Retry-After` are retried no sooner than asked (the policy's own
    backoff would retry in milliseconds), with the same webhook-id, and land once."""
    sent_at: list[float] = []

    async def stamp(request: httpx.Request) -> None:
        sent_at.append(time.monotonic())

    def deliveries(outcome: str) -> float:
        return metric("gurulu_destination_deliveries_total", platform="webhook", outcome=outcome)

    policy = DeliveryPolicy(attempts=4, backoff_seconds=0.001, max_wait_seconds=10.0)
    ok, retried = deliveries("ok"), deliveries("transient_error")
    with WebhookFake(WEBHOOK_SECRET) as fake:
        fake.script(
            Reply(status, headers={"retry-after": "1"}),
            Reply(status, headers={"retry-after": "2"}),
        )
        config = WebhookConfig(url=f"{fake.url}/hooks/gurulu", secret=WEBHOOK_SECRET)
        async with httpx.AsyncClient(event_hooks={"request": [stamp]}) as http:
            answer = await deliver(Webhook(config, http), _batch(), policy)
    assert answer == Answer()
    waits = [later - earlier for earlier, later in itertools.pairwise(sent_at)]
    assert len(waits) == 2 and 1.0 <= waits[0] < 1.9 and 2.0 <= waits[1] < 2.9, waits
    [(message_id, tries)] = fake.attempts.items()
    assert (message_id, tries, fake.delivered[message_id]) == ("msg_syn_1_add_1", 3, 1)
    assert (deliveries("ok"), deliveries("transient_error")) == (ok + 1, retried + 2)


def _batch() -> Batch:
    at = datetime(2026, 6, 15, 12, tzinfo=UTC)
    return Batch("aud_1", "run_1", "syn_1", "add", 1, True, 2, at, (Row("p1"), Row("p2")))


async def test_a_stored_url_that_cannot_be_sent_to_pauses_the_destination_at_its_next_sync():
    """A destination saved before its URL was checked as strictly (port 99999): its
    configuration no longer validates when a sync builds its adapter, which is a permanent
    failure that pauses it, rather than a crash of every attempt until it is abandoned."""
    stored = {"url": "http://127.0.0.1:99999/", "secret": WEBHOOK_SECRET}
    async with httpx.AsyncClient() as http:
        with pytest.raises(Permanent) as refused:
            build("webhook", stored, {}, http)
    assert refused.value.pause
    assert str(refused.value).startswith("the destination's configuration is not valid: url:")
    assert "Port out of range" in str(refused.value)
