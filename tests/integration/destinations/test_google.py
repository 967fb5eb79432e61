"""Google Customer Match through the Data Manager API on the real service: ingest and
remove with Google's normalisation, members the API refuses rejected by name and retried,
and bad credentials pausing the destination."""

from __future__ import annotations

from gurulu.destinations.identifiers import sha256_hex
from tests.destinations.fakes import GoogleFake, Reply
from tests.integration.destinations.conftest import harness

LIST = ("1234567890", "987654")


def google(fake: GoogleFake, **extra) -> dict:
    return {
        "customer_id": "123-456-7890",
        "product_destination_id": LIST[1],
        "access_token": fake.token,
        "api_base": fake.url,
        "default_country": "US",
        **extra,
    }


async def test_members_are_ingested_then_removed_with_googles_normalisation(
    db, redis, redis_url, tmp_path
):
    async with harness(db, redis_url, tmp_path) as h:
        h.people(0, 3)
        h.people(3, 1, email=" Cloudy.SanFrancisco+Shopping@Gmail.com", phone="(800)555-0100")
        await h.refresh()
        with GoogleFake() as fake:
            fake.script(
                Reply(429, {"error": {"status": "RESOURCE_EXHAUSTED"}}, {"retry-after": "0"})
            )
            made = await h.connect("google_customer_match", google(fake))
            [first] = await h.synced(made["id"])
            cloudy = frozenset(
                {sha256_hex("cloudysanfrancisco@gmail.com"), sha256_hex("+18005550100")}
            )
            assert cloudy in fake.members[LIST] and len(fake.members[LIST]) == 4
            h.people(3, 1, plan="silver", email="changed@example.com")
            await h.refresh()
            second = (await h.synced(made["id"], 2))[0]
    assert (first.status, first.added) == ("succeeded", 4)
    # The remove sends the identifiers that were added, though the email changed since.
    assert (second.added, second.removed) == (0, 1) and cloudy not in fake.members[LIST]
    assert [b["verb"] for b in fake.batches] == ["ingest", "remove"] and fake.violations == []


async def test_refused_members_are_rejected_by_name_and_retried_at_the_next_sync(
    db, redis, redis_url, tmp_path
):
    async with harness(db, redis_url, tmp_path) as h:
        h.people(0, 5)
        await h.refresh()
        with GoogleFake() as fake:
            fake.invalid = {sha256_hex("person.3@example.com")}
            made = await h.connect("google_customer_match", google(fake))
            [first] = await h.synced(made["id"])
            fake.invalid = set()
            await h.refresh()
            second = (await h.synced(made["id"], 2))[0]
    assert (first.status, first.added, first.rejected) == ("partial", 4, 1)
    [row] = first.rejected_sample
    assert row == {
        "person_id": "p000003",
        "change": "add",
        "reason": "Google: Invalid hashed value.",
    }
    assert (second.status, second.added) == ("succeeded", 1)
    assert len(fake.members[LIST]) == 5 and fake.violations == []


async def test_bad_credentials_pause_the_destination(db, redis, redis_url, tmp_path):
    async with harness(db, redis_url, tmp_path) as h:
        h.people(0, 2)
        await h.refresh()
        with GoogleFake() as fake:
            made = await h.connect(
                "google_customer_match", google(fake, access_token="ya29.expired")
            )
            [sync] = await h.synced(made["id"])
            shown = await h.paused(made["id"])
    assert sync.status == "failed" and "UNAUTHENTICATED" in sync.error
    assert shown["status"] == "paused" and "401" in shown["paused_reason"]


async def test_more_than_10000_members_go_in_requests_of_10000_both_ways(
    db, redis, redis_url, tmp_path
):
    async with harness(db, redis_url, tmp_path) as h:
        h.people(0, 10_003)
        await h.refresh()
        with GoogleFake() as fake:
            made = await h.connect("google_customer_match", google(fake))
            [first] = await h.synced(made["id"], timeout=120)
            assert len(fake.members[LIST]) == 10_003
            h.people(0, 10_001, plan="silver")  # all but two leave
            await h.refresh()
            second = (await h.synced(made["id"], 2, timeout=120))[0]
    assert [(b["verb"], b["members"]) for b in fake.batches] == [
        ("ingest", 10_000),
        ("ingest", 3),
        ("remove", 10_000),
        ("remove", 1),
    ]
    assert (first.status, first.added, first.batches) == ("succeeded", 10_003, 2)
    assert (second.status, second.added, second.removed) == ("succeeded", 0, 10_001)
    assert fake.members[LIST] == {
        frozenset({sha256_hex(f"person.{i}@example.com")}) for i in (10_001, 10_002)
    }
