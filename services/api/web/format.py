"""How the web app writes numbers, times and run facts for people: thousands separators,
UTC times relative to now ("3 min ago") with the exact ISO time kept for a `title`, and
refresh reasons, destination kinds, sync triggers, statuses, errors and pause reasons in
plain words. Pure functions, registered as Jinja
filters, so every page and every live fragment says things the same way."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from gurulu.common.clock import iso, utcnow

_REASONS = {
    "created": "First refresh",
    "hourly_tick": "Scheduled",  # every GURULU_TICK_INTERVAL_SECONDS, an hour by default
    "manual": "Refresh now",
    "catch_up": "Catch-up",
}
_STATUSES = {
    "queued": "Queued",
    "running": "Running",
    "succeeded": "Succeeded",
    "failed": "Failed",
    "active": "Active",
    "paused": "Paused",
    "archived": "Archived",
    "partial": "Partly synced",
}
_KINDS = {
    "webhook": "Webhook",
    "meta_custom_audience": "Meta Custom Audience",
    "google_customer_match": "Google Customer Match",
}
_TRIGGERS = {
    "connected": "Connected",
    "refresh": "After a refresh",
    "resumed": "Resumed",
    "manual": "Sync now",
}
_MODES = {
    "mirror": "Mirror: adds who joins, removes who leaves",
    "add_only": "Add only: never removes anyone",
}
_FAILED_IN_A_ROW = re.compile(r"^(\d+) syncs in a row failed; the last: (.*)$", re.DOTALL)
_BY_A_USER = "paused by a user"  # what `destinations.update` records
_GAVE_UP = re.compile(r"^gave up after (\d+) attempts?: (.*)$", re.DOTALL)
# ClickHouse reports errors as "Code: N. …"; the few a marketer may meet, said plainly.
_CLICKHOUSE = {
    "159": "the query took too long",
    "241": "ClickHouse ran out of memory",
    "210": "ClickHouse could not be reached",
    "209": "ClickHouse did not answer in time",
}
_CODE = re.compile(r"Code: (\d+)\.")


def number(value: int | float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,}"


def signed(value: int) -> str:
    """`+12`, `−3` (a real minus sign) or `0`."""
    if value > 0:
        return f"+{value:,}"
    if value < 0:
        return f"\u2212{-value:,}"
    return "0"


def plural(count: int, one: str, many: str | None = None) -> str:
    word = one if count == 1 else (many or one + "s")
    return f"{number(count)} {word}"


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """A UTC time relative to now: "just now", "3 min ago", "in 12 min", "5 days ago"."""
    if value is None:
        return "never"
    now = now or utcnow()
    seconds = (now - value).total_seconds()
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 45:
        return "in a moment" if future else "just now"
    amount = _amount(seconds)
    return f"in {amount}" if future else f"{amount} ago"


def _amount(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    hours = round(seconds / 3600)
    if hours < 24:
        return f"{hours} h"
    days = round(seconds / 86400)
    if days < 60:
        return "1 day" if days == 1 else f"{days} days"
    months = round(days / 30)
    return f"{months} months" if months < 24 else f"{round(days / 365)} years"


_UNITS = (("week", 7 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def every(seconds: int) -> str:
    """How often something recurs, in words: "every hour", "every 15 minutes"."""
    for unit, size in _UNITS:
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"every {unit}" if count == 1 else f"every {count} {unit}s"
    return f"every {seconds} seconds"


def iso_time(value: datetime | None) -> str:
    return iso(value) or ""


def exact(value: datetime | None) -> str:
    """The full UTC time, for a `title`: 2026-12-02 12:00:05 UTC."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def day(value: date) -> str:
    return f"{value.day} {value.strftime('%b')}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def reason(value: str) -> str:
    return _REASONS.get(value, value.replace("_", " ").capitalize())


def status(value: str) -> str:
    return _STATUSES.get(value, value.capitalize())


def kind(value: str) -> str:
    return _KINDS.get(value, value.replace("_", " ").capitalize())


def trigger(value: str) -> str:
    return _TRIGGERS.get(value, value.replace("_", " ").capitalize())


def mode(value: str) -> str:
    return _MODES.get(value, value.replace("_", " ").capitalize())


def host(url: str) -> str:
    """A URL's host (and port): where a webhook goes, without a path that may hold a token."""
    parts = urlsplit(url)
    return parts.netloc.rpartition("@")[2] or "—"


def pause_reason(reason: str | None) -> str:
    """Why a destination is paused, and what brings it back, in a sentence or two."""
    text = (reason or "").strip()
    if not text or text == _BY_A_USER:
        return "Paused by someone in your workspace. Nothing is sent until it is resumed."
    failed = _FAILED_IN_A_ROW.match(text)
    if failed:
        count, last = failed.groups()
        return (
            f"Paused after {count} failed syncs in a row. The last one said: {_sentence(last)}"
            " Resume it once that is fixed; it catches up in one sync."
        )
    return (
        f"Paused because the destination cannot accept it: {_sentence(text)}"
        " Fix the cause, then resume it; it catches up in one sync."
    )


def plain_error(error: str | None) -> str:
    """A run's error as one sentence a marketer can read; the raw text stays available
    beside it for whoever has to dig further."""
    if not error:
        return ""
    text = error.strip()
    gave_up = _GAVE_UP.match(text)
    if gave_up:
        tries, cause = gave_up.groups()
        return f"Gave up after {tries} tries: {_cause(cause)}"
    return _sentence(_cause(text))


def _cause(text: str) -> str:
    code = _CODE.search(text)
    if code and code.group(1) in _CLICKHOUSE:
        return _sentence(_CLICKHOUSE[code.group(1)])
    if code:
        return "ClickHouse refused the query (see the details)."
    return _sentence(text.splitlines()[0][:300])


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


FILTERS = {
    "number": number,
    "signed": signed,
    "plural": plural,
    "ago": ago,
    "every": every,
    "iso": iso_time,
    "exact": exact,
    "day": day,
    "duration": duration,
    "reason": reason,
    "status": status,
    "plain_error": plain_error,
    "kind": kind,
    "trigger": trigger,
    "mode": mode,
    "pause_reason": pause_reason,
    "host": host,
}
