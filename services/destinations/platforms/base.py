"""What every platform adapter shares: the batch it is given, the answer it returns, the two
kinds of failure it may raise, and the delivery loop that retries the transient ones.

An adapter turns one batch into one request (or a few, when the platform asks for rejected
rows to be left out) and classifies the answer by the platform's own rules: a `Transient`
failure (429, 5xx, timeouts, throttling codes) is retried with exponential backoff and
jitter, honouring `Retry-After`; a `Permanent` one is not retried, and when it means the
destination cannot work as configured (bad credentials, an endpoint gone) it asks for the
destination to be paused. Rows the platform rejects come back in the answer, by person.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from gurulu.common import metrics

from ..guard import PrivateAddress

Change = Literal["add", "remove"]


@dataclass(frozen=True)
class Row:
    person_id: str
    email_sha256: str = ""
    phone_sha256: str = ""


@dataclass(frozen=True)
class Batch:
    audience_id: str
    run_id: str
    sync_id: str
    change: Change
    seq: int
    last: bool
    total: int
    occurred_at: datetime
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Answer:
    """Rows the platform rejected, by person id, with its reason; and rejections it
    counted but did not attribute to rows (Meta samples only some)."""

    rejected: dict[str, str] = field(default_factory=dict)
    unattributed: int = 0


class Transient(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Permanent(Exception):
    def __init__(self, message: str, pause: bool = False) -> None:
        super().__init__(message)
        self.pause = pause


class Platform(Protocol):
    type: str
    limit: int

    async def send(self, batch: Batch) -> Answer: ...


@dataclass(frozen=True)
class DeliveryPolicy:
    attempts: int = 6
    backoff_seconds: float = 1.0
    max_wait_seconds: float = 120.0


def retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds, from either of its forms."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(parsed.timestamp() - time.time(), 0.0) if parsed else None


def transport_failure(error: httpx.HTTPError) -> Transient | Permanent:
    if isinstance(error, PrivateAddress):  # not where this installation sends: pause
        return Permanent(str(error), pause=True)
    kind = "timed out" if isinstance(error, httpx.TimeoutException) else "could not connect"
    return Transient(f"the request {kind} ({type(error).__name__})")


async def deliver(platform: Platform, batch: Batch, policy: DeliveryPolicy) -> Answer:
    """Send a batch, retrying transient failures; the last failure propagates."""
    backoff = wait_random_exponential(
        multiplier=policy.backoff_seconds, max=policy.max_wait_seconds
    )

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, Transient) and error.retry_after is not None:
            return min(error.retry_after, policy.max_wait_seconds)
        return backoff(state)

    retrying = AsyncRetrying(
        retry=retry_if_exception_type(Transient),
        stop=stop_after_attempt(policy.attempts),
        wait=wait,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await _send(platform, batch)
    raise AssertionError("unreachable: tenacity re-raises the last failure")


async def _send(platform: Platform, batch: Batch) -> Answer:
    try:
        answer = await platform.send(batch)
    except Transient:
        metrics.DESTINATION_DELIVERIES.labels(platform.type, "transient_error").inc()
        raise
    except Permanent:
        metrics.DESTINATION_DELIVERIES.labels(platform.type, "permanent_error").inc()
        raise
    outcome = "partial" if answer.rejected or answer.unattributed else "ok"
    metrics.DESTINATION_DELIVERIES.labels(platform.type, outcome).inc()
    return answer
