"""Prefixed ULIDs (`aud_01H8…`): sortable by creation time, readable in logs, and typed by
their prefix so that an audience id is never mistaken for a cohort id."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from ulid import ULID

PREFIXES = ("ws", "coh", "aud", "run", "dst", "req", "syn")
_ID = re.compile(r"^(ws|coh|aud|run|dst|req|syn)_[0-9A-HJKMNP-TV-Z]{26}$")


def new_id(prefix: str) -> str:
    assert prefix in PREFIXES, prefix
    return f"{prefix}_{ULID()}"


def stable_id(prefix: str, at: datetime, *parts: str) -> str:
    """The same id for the same inputs: a ULID whose time is `at` and whose randomness comes
    from hashing `parts`, so that work requested twice (two tickers, one tick) is one row."""
    assert prefix in PREFIXES, prefix
    millis = int(at.timestamp() * 1000)
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()[:10]
    return f"{prefix}_{ULID.from_bytes(millis.to_bytes(6, 'big') + digest)}"


def is_id(value: str, prefix: str) -> bool:
    return bool(_ID.match(value)) and value.startswith(prefix + "_")
