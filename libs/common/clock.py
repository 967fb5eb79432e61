"""UTC time, at microsecond precision, the one clock the stores agree on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, as the API shows every timestamp."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def boundary(at: datetime, interval: timedelta) -> datetime:
    """The start of the interval `at` falls in, aligned to the Unix epoch (so hourly ticks
    fall on the hour)."""
    return EPOCH + ((at - EPOCH) // interval) * interval
