"""Webhooks signed per Standard Webhooks 1.0.

Each batch is one POST of `{type: "audience.members_changed", timestamp, data: {audience_id,
run_id, joined, left}}`, where joined or left lists the batch's people with their hashed
identifiers. The `webhook-id` is the same for every delivery of one batch of one sync, so a
receiver can tell a retry from a new message; `webhook-timestamp` is the time of the
attempt, and `webhook-signature` is `v1,` + base64(HMAC-SHA256(key, "{id}.{ts}.{body}")).
A 2xx answer delivers the whole batch (there are no per-row errors); 410 means the endpoint
is gone, and the destination is paused; 408, 429 and 5xx are retried.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

import httpx
import orjson

from gurulu.common.clock import iso
from gurulu.common.destination_config import WEBHOOK_SECRET_PREFIX, WebhookConfig

from .base import Answer, Batch, Permanent, Row, Transient, retry_after, transport_failure

EVENT_TYPE = "audience.members_changed"


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(WEBHOOK_SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def message_id(batch: Batch) -> str:
    return f"msg_{batch.sync_id}_{batch.change}_{batch.seq}"


def _person(row: Row) -> dict[str, str]:
    person = {"person_id": row.person_id}
    if row.email_sha256:
        person["email_sha256"] = row.email_sha256
    if row.phone_sha256:
        person["phone_sha256"] = row.phone_sha256
    return person


def payload(batch: Batch) -> bytes:
    people = [_person(row) for row in batch.rows]
    data = {
        "audience_id": batch.audience_id,
        "run_id": batch.run_id,
        "joined": people if batch.change == "add" else [],
        "left": people if batch.change == "remove" else [],
    }
    return orjson.dumps({"type": EVENT_TYPE, "timestamp": iso(batch.occurred_at), "data": data})


class Webhook:
    type = "webhook"

    def __init__(
        self,
        config: WebhookConfig,
        http: httpx.AsyncClient,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.limit = config.batch_size
        self.http = http
        self.clock = clock

    async def send(self, batch: Batch) -> Answer:
        body = payload(batch)
        msg_id, timestamp = message_id(batch), int(self.clock())
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self.config.secret, msg_id, timestamp, body),
        }
        try:
            response = await self.http.post(
                self.config.url, content=body, headers=headers, timeout=self.config.timeout_seconds
            )
        except httpx.HTTPError as error:
            raise transport_failure(error) from error
        return _classify(response)


def _classify(response: httpx.Response) -> Answer:
    status = response.status_code
    if 200 <= status < 300:
        return Answer()
    said = f"the endpoint answered {status}"
    if status == 410:
        raise Permanent(f"{said} (Gone): it asked to be disabled", pause=True)
    if status in (401, 403):
        raise Permanent(f"{said}: it refused our signature or credentials", pause=True)
    if status in (408, 429) or status >= 500:
        raise Transient(said, retry_after(response))
    raise Permanent(said)
