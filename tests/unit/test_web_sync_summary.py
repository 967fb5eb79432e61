"""A sync's summary block, as the destination pages render it: a failed sync says what
happens next, unless the destination is paused (its reason says what to do instead)."""

from __future__ import annotations

from datetime import UTC, datetime

from gurulu.api.destination_schemas import SyncPublic
from gurulu.api.web.rendering import _environment

AT = datetime(2026, 12, 4, 12, tzinfo=UTC)


def summary(status: str, error: str | None, paused: bool) -> str:
    sync = SyncPublic(
        sync_id="syn_1", destination_id="dst_1", run_id="run_1", trigger="refresh",
        status=status, to_add=3, to_remove=0, added=0, removed=0, skipped=0,
        skipped_reasons={}, rejected=0, rejected_sample=[], batches=0, error=error,
        requested_at=AT, started_at=AT, finished_at=AT, duration_seconds=13.5,
    )  # fmt: skip
    macros = _environment().get_template("partials/destination_macros.html").module
    return str(macros.sync_summary(sync, paused=paused))  # type: ignore[attr-defined]


def test_a_failed_sync_says_nothing_is_lost_and_what_to_do():
    shown = summary("failed", "gave up after 6 attempts: the endpoint answered 501", False)
    assert "Gave up after 6 tries: The endpoint answered 501." in shown
    assert "Nothing is lost: whoever was not delivered is offered again at the next sync" in shown
    assert "Press Sync now to try at once." in shown


def test_a_paused_destination_or_a_sync_that_went_well_has_no_such_line():
    assert "Nothing is lost" not in summary("failed", "the endpoint answered 410", True)
    assert "Nothing is lost" not in summary("succeeded", None, False)
