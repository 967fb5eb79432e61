"""The streams between services: publishing messages and consuming them in groups.

Every consumer is two FastStream subscribers in the same group: one reads new entries,
the other claims entries another consumer left pending longer than `claim_idle_ms` (it
died, or its handler failed and left the entry unacknowledged). Handlers acknowledge
explicitly; an entry is acknowledged only once its effect is recorded.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from faststream import AckPolicy
from faststream.redis import RedisBroker, StreamSub
from gurulu.common.messages import Message

STREAM_MAXLEN = 100_000
Handler = Callable[..., Awaitable[None]]


def consumer_name(service: str, index: int = 0) -> str:
    """Unique per process and slot, stable for the process's lifetime."""
    return f"{service}-{socket.gethostname()}-{os.getpid()}-{index}"


async def publish(broker: RedisBroker, stream: str, message: Message) -> None:
    await broker.publish(message.model_dump(mode="json"), stream=stream, maxlen=STREAM_MAXLEN)


def consume(
    broker: RedisBroker,
    stream: str,
    group: str,
    consumer: str,
    make_handler: Callable[[], Handler],
    claim_idle_ms: int,
    polling_ms: int = 1000,
) -> list[Any]:
    """Register a consumer of `stream` in `group`: new entries, and abandoned ones."""
    fresh = StreamSub(stream, group=group, consumer=consumer, polling_interval=polling_ms)
    claims = StreamSub(
        stream,
        group=group,
        consumer=f"{consumer}-claims",
        min_idle_time=claim_idle_ms,
        polling_interval=polling_ms,
    )
    return [
        broker.subscriber(stream=sub, ack_policy=AckPolicy.MANUAL)(make_handler())
        for sub in (fresh, claims)
    ]
